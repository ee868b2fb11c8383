"""glibc heap tuning for the predictor: low resident memory in propagation, fast repeated clicks.

Everything here is a no-op off glibc (macOS, Windows, musl).
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Iterator
from typing import Any

_M_TRIM_THRESHOLD = -1  # glibc mallopt parameters
_M_MMAP_THRESHOLD = -3
_LARGE_BLOCK = 1 << 20  # mmap threshold outside clicks
_CLICK_BLOCK = 32 << 20  # glibc's largest mmap threshold: a click's decoder blocks come from the heap
_KEEP_FREED = 1 << 30  # trim threshold from a click on: freed heap is kept for the next click
_TRIM_FREED = 128 << 10  # glibc's default trim threshold, back for propagation


def _glibc() -> Any:
    if sys.platform != "linux":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None  # else not glibc


_LIBC = _glibc()


def return_large_blocks_to_os() -> None:
    """Serve heap blocks of 1 MB and more with mmap (glibc), so they go back to the OS when freed.

    glibc raises its mmap threshold as large blocks are freed, after which multi-MB activations of the
    image encoder and memory attention are recycled inside the heap and stay resident: several hundred MB
    more RSS (and a higher peak) for the same work. A fixed threshold costs a few page faults per frame.
    """
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, _LARGE_BLOCK)


@contextlib.contextmanager
def click_heap() -> Iterator[None]:
    """Prompt encoder + decoder blocks (a few MB each) from the heap, reused click after click.

    With mmap'ed blocks every click pays ~200 MB of fresh zeroed pages (about 50k page faults): half the
    latency of a click on a frame whose features are cached. The freed heap stays until propagation.
    """
    if _LIBC is None:
        yield
        return
    _LIBC.mallopt(_M_TRIM_THRESHOLD, _KEEP_FREED)
    _LIBC.mallopt(_M_MMAP_THRESHOLD, _CLICK_BLOCK)
    try:
        yield
    finally:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, _LARGE_BLOCK)


def trim_heap() -> None:
    """Give the heap kept for clicks back to the OS, and trim it on free again, as before any click."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_TRIM_THRESHOLD, _TRIM_FREED)
        _LIBC.malloc_trim(0)
