"""Work around PySide6 6.12 on CPython 3.11: every void Qt method called from Python drops a reference
to ``None`` that it never took (the bindings treat ``None`` as immortal, which it is only from 3.12 on).

Measured here (PySide6 6.12.0, CPython 3.11.7): ``widget.update()`` in a loop lowers
``sys.getrefcount(None)`` by exactly one per call, and the process aborts with "Fatal Python error:
none_dealloc" once it reaches zero — about 60,000 void calls after the window opens (a few minutes of
playback or scrubbing). Giving ``None`` a huge reference count makes it as immortal as 3.12 makes it.
"""

from __future__ import annotations

import ctypes
import sys

IMMORTAL_BOOST = 1 << 40  # no session makes 10^12 calls; the count stays far below its 2^63 limit


def make_none_immortal() -> bool:
    """Raise ``None``'s reference count once (CPython < 3.12 only); True if it did."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    if sys.getrefcount(None) > IMMORTAL_BOOST // 2:
        return False  # already done (e.g. a second import path)
    # ob_refcnt is the first field of every object in release builds; the GIL is held here.
    ctypes.c_ssize_t.from_address(id(None)).value += IMMORTAL_BOOST
    return True
