"""Launch (issue 17, item 5): the first frame is on screen before the engine (torch) loads, and a
reopened project shows the frame the user left it on. (The first frame before the frame index:
tests/ui/test_ui_video_open.py.)"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.ui import main_window
from app.ui.canvas import Canvas
from app.ui.main_window import MainWindow
from app.ui.testing import SlowFakeEngine
from tests.ui.conftest import N, close_window, make_window


def test_reopening_a_project_shows_the_frame_it_was_left_on(qtbot: QtBot, clip: Path) -> None:
    window = make_window(qtbot, lambda spec: SlowFakeEngine(delay_s=0.0))
    try:
        assert window.open_path(clip)
        window.canvas.setFocus()
        for _ in range(7):
            QTest.keyClick(window.canvas, Qt.Key.Key_Right)
        assert window.viewer.frame == 7
        window.session.close_project()
        assert window.open_path(clip)  # the video again: its project reopens
        assert window.viewer.frame == 7 and window.timeline.spin.value() == 7
        assert window.session.current_frame == 7
        QTest.keyClick(window.canvas, Qt.Key.Key_End)
        project_path = window.session.project.path
        window.session.close_project()
        assert window.open_path(project_path)  # the project file itself
        assert window.viewer.frame == N - 1
    finally:
        close_window(qtbot, window)
    second = make_window(qtbot, lambda spec: SlowFakeEngine(delay_s=0.0))  # a new window (a new run)
    try:
        assert second.open_path(clip) and second.viewer.frame == N - 1
    finally:
        close_window(qtbot, second)


def test_the_first_frame_is_drawn_before_the_engine_is_built(qtbot: QtBot, clip: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """run_gui opens the video before the event loop, and the engine (which imports torch in the worker
    thread, holding the GIL for about a second) is built only after the canvas's first paint."""
    from app.ui import launch

    seen: dict[str, object] = {}

    def window() -> MainWindow | None:
        found = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        return found[0] if found else None

    drawn: list[int] = []  # appended on the UI thread each time the canvas is given a frame
    real_set_image = Canvas.set_image

    def set_image(self: Canvas, *args: object, **kwargs: object) -> None:
        drawn.append(1)
        real_set_image(self, *args, **kwargs)

    def factory(spec: object) -> SlowFakeEngine:  # runs in the worker thread
        seen["frames drawn when the engine was built"] = len(drawn)
        return SlowFakeEngine(delay_s=0.0)

    monkeypatch.setattr(Canvas, "set_image", set_image)
    monkeypatch.setattr(main_window, "default_engine_factory", factory)

    def close_when_ready() -> None:
        w = window()
        if w is not None and w.tracking.engine_name:
            w.close()

    run_gui_bounded(launch, str(clip), close_when_ready)
    assert seen["frames drawn when the engine was built"] >= 1


# How long run_gui may take before every window is closed (never hang the suite).
HANG_GUARD_MS = 30_000


def run_gui_bounded(launch: object, path: str, poll: Callable[[], None]) -> None:
    """``launch.run_gui(path)`` with ``poll`` called every 20 ms in its event loop and every window
    closed after HANG_GUARD_MS. Both timers are objects stopped when run_gui returns: a bare
    ``QTimer.singleShot`` outlives the test, and closing all windows 30 s later closed a later test's
    window (and so its project's database) in the middle of that test."""
    poller = QTimer()
    poller.setInterval(20)
    poller.timeout.connect(poll)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.setInterval(HANG_GUARD_MS)
    guard.timeout.connect(QApplication.closeAllWindows)
    poller.start()
    guard.start()
    try:
        assert launch.run_gui(path) == 0  # type: ignore[attr-defined]
    finally:
        poller.stop()
        guard.stop()


def test_the_launch_tests_timers_end_with_them(qtbot: QtBot, clip: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the hang guard of a run_gui test closed every window 30 s later, so a later test's
    window closed in mid-test and the test read its closed project ("Cannot operate on a closed
    database"). Now the guard (shortened here) and the poller stop when run_gui returns."""
    from app.ui import launch

    monkeypatch.setattr(main_window, "default_engine_factory", lambda spec: SlowFakeEngine(delay_s=0.0))
    monkeypatch.setattr(sys.modules[__name__], "HANG_GUARD_MS", 1500)

    def close_when_ready() -> None:
        for w in QApplication.topLevelWidgets():
            if isinstance(w, MainWindow) and w.isVisible() and w.tracking.engine_name:
                w.close()

    run_gui_bounded(launch, str(clip), close_when_ready)
    later = make_window(qtbot, lambda spec: SlowFakeEngine(delay_s=0.0))  # the next test's window
    try:
        assert later.open_path(clip)
        qtbot.wait(HANG_GUARD_MS + 1000)
        assert later.isVisible() and later.session.project is not None
        assert later.session.project.frames_with_masks(1) == []  # its database is still open
    finally:
        close_window(qtbot, later)


def test_the_window_module_does_not_import_torch() -> None:
    """What the window needs before its first paint loads without torch (seconds to import): a
    subprocess imports the window module and reports whether torch came along."""
    import subprocess

    code = "import sys, app.ui.main_window; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2], check=True)
    assert out.stdout.strip() == "False"
