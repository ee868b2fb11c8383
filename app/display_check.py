"""Before the window starts: is there a display to show it on, and can Qt's X11 plugin load?

Without a display Qt ends the process with *could not load the Qt platform plugin "xcb"*, the same
words it uses when the plugin's system libraries are missing, so users install packages that cannot
help. This check runs first and names the real cause. Qt-free, and the inputs are parameters, so the
choice of message is unit-tested (tests/test_display_check.py).
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

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
    "    {install}\n"
    "(QT_DEBUG_PLUGINS=1 masklet shows what Qt itself fails to load.)"
)


def _loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def _xcb_plugin() -> Path | None:
    """PySide6's xcb platform plugin, found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        plugin = Path(folder) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def missing_xcb_libraries() -> list[str]:
    """Sonames the xcb plugin cannot load here; [] when it loads.

    Loading the plugin itself resolves its dependencies exactly as Qt will (the wheel's own library
    folder included), so a library found only there is not reported missing. dlopen names only the
    first library it misses, so the known ones are each tried as well.
    """
    plugin = _xcb_plugin()
    first = None
    if plugin is not None:
        try:
            ctypes.CDLL(str(plugin))
            return []
        except OSError as exc:
            first = str(exc).split(":")[0].strip()
    missing = [soname for soname in XCB_LIBRARIES if not _loadable(soname)]
    if first and first.startswith("lib") and ".so" in first and first not in missing:
        missing.append(first)
    return missing


def _platform_name(environ: Mapping[str, str]) -> str:
    """The first platform QT_QPA_PLATFORM asks for ("xcb", "wayland", "offscreen", ...; "" = Qt picks)."""
    value = environ.get("QT_QPA_PLATFORM", "").strip()
    return value.split(";")[0].split(":")[0].strip().lower()


def display_problem(environ: Mapping[str, str], platform: str = sys.platform,
                    missing_libraries: Callable[[], list[str]] = missing_xcb_libraries) -> str | None:
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
    missing = missing_libraries()
    if not missing:
        return None
    known = [XCB_LIBRARIES[soname] for soname in missing if soname in XCB_LIBRARIES]
    unknown = [soname for soname in missing if soname not in XCB_LIBRARIES]
    steps = [f"sudo apt-get install {' '.join(known)}"] if known else []
    if unknown:  # a library this list does not know: the system can tell its package
        steps.append(f"the package of {', '.join(unknown)} (`apt-file search {unknown[0]}` names it)")
    install = "\n    ".join(steps)
    return MISSING_LIBRARIES.format(display=repr(x11), libraries=", ".join(missing), install=install)
