"""No display and missing X11 libraries get different advice (issue 17, item 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.display_check import XCB_LIBRARIES, display_problem, missing_xcb_libraries

ROOT = Path(__file__).resolve().parents[1]


def every_library() -> list[str]:
    return []


def no_library() -> list[str]:
    return list(XCB_LIBRARIES)


def is_no_display(text: str | None) -> bool:
    return text is not None and "there is no display" in text and "xvfb-run" in text \
        and "QT_QPA_PLATFORM=offscreen" in text and "apt-get" not in text


def is_missing_libraries(text: str | None) -> bool:
    return text is not None and "apt-get install" in text and "no display" not in text


@pytest.mark.parametrize("environ", [
    {},                                                   # an SSH session or a container
    {"DISPLAY": "", "WAYLAND_DISPLAY": ""},               # set but empty
    {"QT_QPA_PLATFORM": "xcb"},
    {"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"},  # asks for X11, has only Wayland
    {"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"},      # asks for Wayland, has only X11
])
def test_no_display_says_so_and_not_to_install_libraries(environ: dict[str, str]) -> None:
    # Even with every library missing, the first cause is the missing display.
    assert is_no_display(display_problem(environ, "linux", no_library))


def test_a_display_with_missing_libraries_names_exactly_the_missing_packages() -> None:
    text = display_problem({"DISPLAY": ":1"}, "linux",
                           lambda: ["libxcb-cursor.so.0", "libxkbcommon-x11.so.0"])
    assert is_missing_libraries(text)
    assert "':1'" in text
    assert "sudo apt-get install libxcb-cursor0 libxkbcommon-x11-0\n" in text
    assert "libxcb-icccm4" not in text and "libxcb-keysyms1" not in text


def test_a_library_outside_the_known_list_is_named_too() -> None:
    text = display_problem({"DISPLAY": ":0"}, "linux", lambda: ["libxcb-image.so.0"])
    assert text is not None and "no display" not in text and "apt-file search libxcb-image.so.0" in text


def test_the_real_check_agrees_with_the_plugin_loading_here() -> None:
    # On this machine: whatever it reports, each reported library really cannot be loaded.
    import ctypes

    for soname in missing_xcb_libraries():
        with pytest.raises(OSError):
            ctypes.CDLL(soname)


@pytest.mark.parametrize("environ", [
    {"DISPLAY": ":0"},
    {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"},
    {"WAYLAND_DISPLAY": "wayland-0"},
    {"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "wayland-0"},
])
def test_a_working_display_passes(environ: dict[str, str]) -> None:
    assert display_problem(environ, "linux", every_library) is None


@pytest.mark.parametrize("environ", [
    {"QT_QPA_PLATFORM": "offscreen"}, {"QT_QPA_PLATFORM": "minimal"}, {"QT_QPA_PLATFORM": "offscreen;xcb"},
    {"QT_QPA_PLATFORM": "vnc:size=800x600"},
])
def test_platforms_without_a_display_need_none(environ: dict[str, str]) -> None:
    assert display_problem(environ, "linux", no_library) is None


def test_wayland_sessions_do_not_need_the_xcb_libraries() -> None:
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux", no_library) is None


def test_other_systems_are_left_to_qt() -> None:
    for platform in ("darwin", "win32"):
        assert display_problem({}, platform, no_library) is None


def test_the_libraries_checked_are_the_ones_the_readme_tells_to_install() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"sudo apt-get install {' '.join(XCB_LIBRARIES.values())}" in readme


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland displays are Linux's")
def test_the_window_without_a_display_exits_with_the_advice_not_a_qt_abort(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    environ["MASKLET_HOME"] = str(tmp_path / "home")
    result = subprocess.run([sys.executable, "main.py"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env=environ)
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert is_no_display(result.stderr), result.stderr[-2000:]
    assert "could not load the Qt platform plugin" not in result.stderr
