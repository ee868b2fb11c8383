"""Work around PySide6 6.12.0 on CPython 3.11: every void Qt method called from Python drops a reference
to ``None`` that it never took (the bindings treat ``None`` as immortal, which it is only from 3.12 on).

Measured here (PySide6 6.12.0, CPython 3.11.7): ``widget.update()`` in a loop lowers
``sys.getrefcount(None)`` by exactly one per call, and the process aborts with "Fatal Python error:
none_dealloc" once it reaches zero — about 60,000 void calls after the window opens (a few minutes of
playback or scrubbing). PySide6 6.11.3 does not do it. pyproject.toml excludes 6.12.0, but a user's
environment may still hold it, so the bug is probed for (one void call on a plain QObject) rather than
guessed from a version number, and only then is ``None`` given a huge reference count, as immortal as
3.12 makes it.
"""

from __future__ import annotations

import ctypes
import sys

IMMORTAL_BOOST = 1 << 40  # no session makes 10^12 calls; the count stays far below its 2^63 limit
PROBE_CALLS = 8


def none_refcount_leaks() -> bool:
    """True if void PySide6 calls lower ``None``'s reference count (the 6.12.0 bug)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(PROBE_CALLS):
        probe.setObjectName("probe")  # a void method: returns None
    return before - sys.getrefcount(None) >= PROBE_CALLS


def make_none_immortal() -> bool:
    """Raise ``None``'s reference count once if this PySide6 leaks it (CPython < 3.12); True if it did."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    if sys.getrefcount(None) > IMMORTAL_BOOST // 2:
        return False  # already done (e.g. a second import path)
    if not none_refcount_leaks():
        return False
    # ob_refcnt is the first field of every object in release builds; the GIL is held here.
    ctypes.c_ssize_t.from_address(id(None)).value += IMMORTAL_BOOST
    return True
