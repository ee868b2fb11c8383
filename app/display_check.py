"""Before the window starts: is there a display to show it on, and can Qt's X11 plugin load?

Without a display Qt ends the process with *could not load the Qt platform plugin "xcb"*, the same
words it uses when the plugin's system libraries are missing, so users install packages that cannot
help. This check runs first and names the real cause. Qt-free, and the inputs are parameters, so the
choice of message is unit-tested (tests/test_display_check.py).
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Mapping

# The libraries Qt's xcb plugin needs that the PySide6 wheels do not bring (soname -> Debian package).
XCB_LIBRARIES = {
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}

NO_DISPLAY = (
    "Masklet cannot open its window: there is no display ({detail}; an SSH session, a container or a "
    "service?). Start it on a desktop, over `ssh -X`, or on a virtual display: `xvfb-run -a masklet "
    "VIDEO`. To run the window with no screen at all (scripts, screenshots), set "
    "QT_QPA_PLATFORM=offscreen. The command-line tools (masklet track / export / eval) need no display. "
    "Installing X11 libraries will not help here."
)
MISSING_LIBRARIES = (
    "Masklet cannot open its window: the display is {display}, but Qt's \"xcb\" platform plugin needs "
    "system libraries that are missing: {libraries}. Install them with\n"
    "    sudo apt-get install {packages}\n"
    "(QT_DEBUG_PLUGINS=1 masklet shows what Qt itself fails to load.)"
)


def _loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def _platform_name(environ: Mapping[str, str]) -> str:
    """The first platform QT_QPA_PLATFORM asks for ("xcb", "wayland", "offscreen", ...; "" = Qt picks)."""
    value = environ.get("QT_QPA_PLATFORM", "").strip()
    return value.split(";")[0].split(":")[0].strip().lower()


def display_problem(environ: Mapping[str, str], platform: str = sys.platform,
                    loadable: Callable[[str], bool] = _loadable) -> str | None:
    """What stops the window from starting, as advice for the user; None if nothing is known to."""
    if not platform.startswith("linux"):
        return None
    wanted = _platform_name(environ)
    if wanted and wanted not in ("xcb", "wayland", "wayland-egl"):
        return None  # offscreen, minimal, vnc, eglfs...: no X11 or Wayland display involved
    x11 = environ.get("DISPLAY", "").strip()
    wayland = environ.get("WAYLAND_DISPLAY", "").strip()
    if wanted == "xcb" and not x11:
        return NO_DISPLAY.format(detail="QT_QPA_PLATFORM=xcb but DISPLAY is not set")
    if wanted.startswith("wayland") and not wayland:
        return NO_DISPLAY.format(detail=f"QT_QPA_PLATFORM={wanted} but WAYLAND_DISPLAY is not set")
    if not x11 and not wayland:
        return NO_DISPLAY.format(detail="neither DISPLAY nor WAYLAND_DISPLAY is set")
    uses_xcb = wanted == "xcb" or (not wanted and not wayland)
    if not uses_xcb:
        return None
    missing = [soname for soname in XCB_LIBRARIES if not loadable(soname)]
    if not missing:
        return None
    return MISSING_LIBRARIES.format(display=repr(x11), libraries=", ".join(missing),
                                    packages=" ".join(XCB_LIBRARIES[soname] for soname in missing))
