"""Adding objects and prompts never resizes the canvas or moves the picture under the user's clicks."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QDockWidget, QToolBar
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow
from tests.ui.conftest import H, W
from tests.ui.test_ui_window import click, wait_mask


def _geometry(window: MainWindow) -> tuple:
    canvas = window.canvas
    dock = window.findChild(QDockWidget, "objects_dock")
    corner = canvas.mapFromScene(QPointF(0, 0)), canvas.mapFromScene(QPointF(W, H))
    return (canvas.size().toTuple(), canvas.transform(), corner[0].toTuple(), corner[1].toTuple(),
            window.timeline.height(), dock.width())


def test_adding_objects_keeps_the_canvas_still(qtbot: QtBot, window: MainWindow, clip: Path) -> None:
    assert window.open_path(clip)
    qtbot.waitUntil(lambda: window.canvas.image_size() == (W, H))
    qtbot.wait(50)
    before = _geometry(window)
    session = window.session
    for k in range(5):
        session.add_object(name=f"a rather long object name number {k + 1} to widen any label")
        click(window, 60 + 40 * k, 60 + 30 * k)
        wait_mask(qtbot, window, 0, session.active_id)
        qtbot.wait(100)  # strips and panel refresh on timers
        assert _geometry(window) == before, f"layout changed after object {k + 1}"
    assert len(session.objects) == 5
    strips = window.timeline.strips
    assert strips.minimumHeight() > window.timeline.strips_area.height()  # the rows scroll instead


def test_engine_button_keeps_its_short_text_while_a_run_disables_it(window: MainWindow) -> None:
    button = window.findChild(QToolBar, "main_toolbar").widgetForAction(window.actions["engine"])
    assert button.text() == "Engine…"
    window._set_running(True)
    assert button.text() == "Engine…"
    window._set_running(False)
    assert button.text() == "Engine…"
