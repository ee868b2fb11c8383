"""glibc heap policy for the predictor: model work recycles heap memory, idle time gives it back.

On this kind of machine a first touch of a fresh page costs about a microsecond (a page fault, and in
a VM often an exit to the host). With glibc's defaults the image encoder's and memory attention's
multi-MB activations are mmap'ed and unmapped on every call: measured on the SAM 2.1-tiny image encoder
at 1024 px with a 1 MB mmap threshold, 670k page faults and 2.9 s per frame; with the heap below,
no faults and 1.9 s. The modules keep their large temporaries in blocks of <= 16 MB (see
``hiera.BLOCK_ELEMENTS`` and ``attention.SCORE_BLOCK_ELEMENTS``), so the heap's high-water mark stays
near the real working set; :func:`trim_heap` returns its free pages after every propagated frame (a
frame refaults its ~400 MB of temporaries: ~4% of its time) and when a propagation ends.

Everything here is a no-op off glibc (macOS, Windows, musl).
"""

from __future__ import annotations

import ctypes
import mmap
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where tensors are handled: the frame reader uses this module too
    import torch

_M_TRIM_THRESHOLD = -1  # glibc mallopt parameters
_M_MMAP_THRESHOLD = -3
_MMAP_BLOCK = 32 << 20  # glibc's largest mmap threshold; blocks above it are unmapped when freed
_KEEP_FREED = 1 << 30  # free memory at the top of the heap is kept (not trimmed on every free())
_OFF_HEAP_MIN = 256 << 10  # smaller kept tensors stay in the heap


def _glibc() -> Any:
    if sys.platform != "linux":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None  # else not glibc


_LIBC = _glibc()


def recycle_heap() -> None:
    """Serve blocks up to 32 MB from the heap and keep freed ones for the next frame or click.

    Fixing the thresholds also stops glibc from moving them as blocks are freed, which made the resident
    size depend on the order of past allocations.
    """
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, _MMAP_BLOCK)
        _LIBC.mallopt(_M_TRIM_THRESHOLD, _KEEP_FREED)


def trim_heap() -> None:
    """Give the heap's free pages back to the OS (after a propagation; the next frame refaults them)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def off_heap(tensor: torch.Tensor) -> torch.Tensor:
    """A CPU copy of ``tensor`` in its own anonymous mapping (freed with the tensor), for results kept
    across frames (cached image features, spatial memories).

    Kept inside the heap, such blocks land between a frame's temporaries and pin those regions for as long
    as they live, so the next frame's temporaries go to fresh memory above them: measured, the heap's
    high-water mark drifted 100-350 MB above the live size. Other devices and small tensors are returned
    unchanged.
    """
    import torch

    if tensor.device.type != "cpu" or tensor.numel() * tensor.element_size() < _OFF_HEAP_MIN:
        return tensor
    buffer = mmap.mmap(-1, tensor.numel() * tensor.element_size())
    out = torch.frombuffer(buffer, dtype=tensor.dtype).view(tensor.shape)
    return out.copy_(tensor)
