"""Zoom keeps what the user looks at in place: the wheel about the cursor, the keys about the centre."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow


def scene_at(window: MainWindow, view: QPointF) -> QPointF:
    """The scene (video pixel) point under a viewport position, without integer rounding."""
    inverse, ok = window.canvas.viewportTransform().inverted()
    assert ok
    return inverse.map(view)


def wheel(window: MainWindow, at: QPointF, steps: int) -> None:
    viewport = window.canvas.viewport()
    event = QWheelEvent(at, QPointF(viewport.mapToGlobal(at.toPoint())), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)
    QApplication.sendEvent(viewport, event)


def zoomed_in(qtbot: QtBot, window: MainWindow, clip: Path) -> None:
    """A view where the frame is larger than the viewport both ways, so every point can stay put."""
    assert window.open_path(clip)
    canvas = window.canvas
    canvas.setFocus()
    qtbot.waitUntil(canvas.hasFocus)
    canvas.zoom_by(6.0)
    qtbot.wait(20)  # the scroll bars that the zoom brings are laid out
    size = canvas.viewport().size()
    w, h = canvas.image_size()
    assert w * canvas.zoom() > size.width() + 200 and h * canvas.zoom() > size.height() + 200


def distance(a: QPointF, b: QPointF) -> float:
    return ((a.x() - b.x()) ** 2 + (a.y() - b.y()) ** 2) ** 0.5


def test_wheel_zoom_keeps_the_point_under_the_cursor(qtbot: QtBot, window: MainWindow, clip: Path) -> None:
    zoomed_in(qtbot, window, clip)
    canvas = window.canvas
    size = canvas.viewport().size()
    # Off-centre positions, both ways: near the top-left and near the bottom-right of the view.
    for at, steps in ((QPointF(size.width() * 0.2, size.height() * 0.25), 1),
                      (QPointF(size.width() * 0.8, size.height() * 0.7), 1),
                      (QPointF(size.width() * 0.3, size.height() * 0.8), -1)):
        # The cursor arrives there first, as it would before a real wheel turn.
        QTest.mouseMove(canvas.viewport(), at.toPoint())
        before_zoom, before = canvas.zoom(), scene_at(window, at)
        wheel(window, at, steps)
        assert canvas.zoom() != before_zoom
        # Screen pixels the point moved: within about 1 px.
        moved = distance(before, scene_at(window, at)) * canvas.zoom()
        assert moved <= 1.5, (at, steps, moved)


def test_ctrl_plus_and_minus_zoom_about_the_view_centre(qtbot: QtBot, window: MainWindow, clip: Path) -> None:
    zoomed_in(qtbot, window, clip)
    canvas = window.canvas
    size = canvas.viewport().size()
    centre = QPointF(size.width() / 2, size.height() / 2)
    # The mouse rests off-centre over the view: keyboard zoom must still keep the centre.
    QTest.mouseMove(canvas.viewport(), QPoint(int(size.width() * 0.1), int(size.height() * 0.1)))
    for key in (Qt.Key.Key_Equal, Qt.Key.Key_Minus):
        before_zoom, before = canvas.zoom(), scene_at(window, centre)
        QTest.keyClick(canvas, key, Qt.KeyboardModifier.ControlModifier)
        assert canvas.zoom() != before_zoom, key
        moved = distance(before, scene_at(window, centre)) * canvas.zoom()
        assert moved <= 1.5, (key, moved)


def test_first_wheel_turn_from_fit_keeps_the_point_although_scroll_bars_appear(
        qtbot: QtBot, window: MainWindow, clip: Path) -> None:
    assert window.open_path(clip)
    canvas = window.canvas
    qtbot.wait(20)
    size = canvas.viewport().size()
    w, h = canvas.image_size()
    assert w * canvas.zoom() <= size.width() + 1 and h * canvas.zoom() <= size.height() + 1  # fitted
    # A point the frame can keep in place once it overflows the view both ways after one step.
    at = QPointF(size.width() * 0.5 + 20, size.height() * 0.3)
    QTest.mouseMove(canvas.viewport(), at.toPoint())
    before = scene_at(window, at)
    wheel(window, at, 1)
    qtbot.wait(20)
    assert canvas.horizontalScrollBar().isVisible() and canvas.verticalScrollBar().isVisible()
    moved = distance(before, scene_at(window, at)) * canvas.zoom()
    assert moved <= 1.5, moved
