"""Undo that shows what it changes, Ctrl+Z from the frame number box, a propagation as one undo step,
and brush strokes that keep the frame's clicks — all driven with real key and mouse events."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.domain.review import mask_info
from app.domain.tracking import Direction
from app.ui.main_window import MainWindow
from tests.ui.conftest import N, disc_center
from tests.ui.test_ui_window import click, drag, wait_idle, wait_mask

CTRL = Qt.KeyboardModifier.ControlModifier


def settle(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.session.waiting_for_engine, timeout=20_000)


def first_mask(qtbot: QtBot, window: MainWindow, clip: Path):  # noqa: ANN201 (the window's session)
    """Open ``clip``, click the disc on frame 0 and wait until its mask is stored and nothing is pending."""
    assert window.open_path(clip)
    click(window, *disc_center(0))
    wait_mask(qtbot, window, 0, 1)
    settle(qtbot, window)
    return window.session


def focus_spin(qtbot: QtBot, window: MainWindow):  # noqa: ANN201 (the frame number QSpinBox)
    window.activateWindow()
    spin = window.timeline.spin
    spin.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is spin, timeout=5_000)
    return spin


def snapshot(window: MainWindow) -> dict:
    """Every stored mask and its provenance, comparable with ==."""
    p = window.session.project
    out = {}
    for frame in range(p.num_frames):
        for obj_id, mask in p.masks_on_frame(frame).items():
            info = mask_info(p, frame, obj_id)
            out[(frame, obj_id)] = (mask.tobytes(), info)
    return out


def test_ctrl_z_in_the_frame_number_box_undoes_and_ctrl_shift_z_redoes(qtbot: QtBot, slow_window: MainWindow,
                                                                       clip: Path) -> None:
    window = slow_window
    session = first_mask(qtbot, window, clip)
    spin = focus_spin(qtbot, window)
    QTest.keyClicks(spin, "3")  # the box's own text changes: its undo must still not take Ctrl+Z
    assert session.undo_stack.index() == 1
    qtbot.keyClick(spin, Qt.Key.Key_Z, CTRL)
    assert session.undo_stack.index() == 0
    assert session.project.mask(0, 1) is None and not session.objects
    # A macro (the click that created the object) is traced through its children to its frame.
    assert "Undid: New object: add point on frame 0" in window.statusBar().currentMessage()
    qtbot.keyClick(spin, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert session.undo_stack.index() == 1 and session.project.mask(0, 1) is not None
    qtbot.keyClick(spin, Qt.Key.Key_Z, CTRL)
    qtbot.keyClick(spin, Qt.Key.Key_Y, CTRL)  # the other redo key
    assert session.undo_stack.index() == 1
    assert QApplication.focusWidget() is spin  # focus stays where the user typed


def test_undo_of_an_edit_on_frame_5_from_frame_0_goes_to_frame_5_and_outlines_it(
        qtbot: QtBot, slow_window: MainWindow, clip: Path) -> None:
    window = slow_window
    assert window.open_path(clip)
    session = window.session
    window.viewer.show_frame(5)
    click(window, *disc_center(5))
    wait_mask(qtbot, window, 5, 1)
    settle(qtbot, window)
    window.actions["tool_brush"].trigger()
    window.brush_size.setValue(5)
    drag(window, 150, 200, 190, 200)  # a stroke on frame 5, away from the disc
    assert session.project.mask(5, 1)[200, 170]
    window.actions["tool_prompt"].trigger()
    window.viewer.show_frame(0)
    spin = focus_spin(qtbot, window)
    assert spin.value() == 0
    qtbot.keyClick(spin, Qt.Key.Key_Z, CTRL)
    # The stroke is undone on frame 5, and frame 5 is what the window now shows.
    assert not session.project.mask(5, 1)[200, 170]
    assert window.viewer.frame == 5 and spin.value() == 5 and window.timeline.slider.value() == 5
    assert "Undid: Paint on frame 5" in window.statusBar().currentMessage()
    # The pixels that changed (the stroke) are outlined on the canvas, briefly.
    item = window.undo_view.flash_item
    assert item is not None and item.scene() is window.canvas.scene()
    rect = item.path().boundingRect()
    assert 145 <= rect.left() <= 152 and 188 <= rect.right() <= 196 and 193 <= rect.top() <= 200
    qtbot.waitUntil(lambda: window.undo_view.flash_item is None, timeout=5_000)
    assert item not in window.canvas.scene().items()
    # Redo from elsewhere comes back to frame 5 as well.
    window.viewer.show_frame(12)
    qtbot.keyClick(spin, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert session.project.mask(5, 1)[200, 170] and window.viewer.frame == 5
    assert "Redid: Paint on frame 5" in window.statusBar().currentMessage()


def test_a_propagation_is_one_undo_step_that_restores_the_masks_it_replaced(
        qtbot: QtBot, slow_window: MainWindow, clip: Path) -> None:
    window = slow_window
    session = first_mask(qtbot, window, clip)
    clicked = snapshot(window)
    assert session.propagate(Direction.FORWARD)
    wait_idle(qtbot, window)
    assert session.mask_frames[1] == set(range(N))
    # A correction on frame 10, then a second run from there replaces frames 10..N-1.
    window.viewer.show_frame(10)
    old10 = session.project.mask(10, 1)
    click(window, *disc_center(10))
    wait_mask(qtbot, window, 10, 1, previous=old10)
    settle(qtbot, window)
    corrected = snapshot(window)
    steps = session.undo_stack.index()
    assert session.propagate(Direction.FORWARD)
    wait_idle(qtbot, window)
    second_run = snapshot(window)
    assert session.undo_stack.index() == steps + 1
    assert "Propagate forward from frame 10" in session.undo_stack.undoText()
    assert second_run[(20, 1)] != corrected[(20, 1)]  # the run did replace them
    window.viewer.show_frame(2)
    QTest.keyClick(window, Qt.Key.Key_Z, CTRL)
    assert snapshot(window) == corrected  # masks and their provenance, every frame
    assert window.viewer.frame == 10 and "14 frames, 10–23" in window.statusBar().currentMessage()
    QTest.keyClick(window, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert snapshot(window) == second_run
    # Undo the second run, the correction and the first run: frames 1.. hold no mask again.
    for _ in range(3):
        QTest.keyClick(window, Qt.Key.Key_Z, CTRL)
    assert snapshot(window) == clicked and set(clicked) == {(0, 1)}
    qtbot.waitUntil(lambda: session.mask_frames[1] == {0}, timeout=5_000)  # the timeline's strip too
    assert not window.errors, window.errors


def test_a_brush_stroke_keeps_the_clicks_and_undo_restores_mask_and_clicks(
        qtbot: QtBot, window: MainWindow, clip: Path) -> None:
    """The classical engine (the slow fake one without it): fed the painted mask and then the clicks
    again, its GrabCut refinement dropped every painted pixel, so the stroke must reach it as it is."""
    assert window.open_path(clip)
    session = window.session
    cx, cy = disc_center(0)
    click(window, cx, cy)
    wait_mask(qtbot, window, 0, 1)
    settle(qtbot, window)
    click(window, cx - 8, cy + 4)
    qtbot.waitUntil(lambda: len(session.prompts[(0, 1)].points) == 2, timeout=20_000)
    settle(qtbot, window)
    clicked = session.prompts[(0, 1)]
    before = session.project.mask(0, 1)
    # The frame repaints at most ~25 times a second (viewer.MIN_REPAINT_S): wait for that repaint.
    qtbot.waitUntil(lambda: window.canvas.marker_count() == 2, timeout=2_000)
    QTest.keyClick(window, Qt.Key.Key_B)  # the brush tool, by its key
    window.brush_size.setValue(6)
    drag(window, cx + 20, cy, cx + 50, cy)  # extend the object beyond the disc's right edge
    painted = session.project.mask(0, 1)
    assert painted[cy, cx + 40] and not before[cy, cx + 40]
    prompt = session.prompts[(0, 1)]
    assert prompt.points == clicked.points and prompt.labels == clicked.labels
    assert prompt.mask is not None and np.array_equal(prompt.mask, painted)
    assert np.array_equal(session.project.prompt(0, 1).mask, painted)
    qtbot.waitUntil(lambda: window.canvas.marker_count() == 2, timeout=2_000)  # the clicks still drawn
    # A propagation over the painted frame keeps the stroke there, and the next frame carries it.
    assert session.propagate(Direction.FORWARD)
    wait_idle(qtbot, window)
    assert np.array_equal(session.project.mask(0, 1), painted)
    assert session.project.mask(1, 1)[cy, cx + 40] and session.project.mask(1, 1)[cy, cx]
    QTest.keyClick(window, Qt.Key.Key_Z, CTRL)  # the propagation
    QTest.keyClick(window, Qt.Key.Key_Z, CTRL)  # the stroke
    assert np.array_equal(session.project.mask(0, 1), before)
    restored = session.prompts[(0, 1)]
    assert restored == clicked and restored.mask is None
    assert session.project.prompt(0, 1) == clicked and session.project.prompt(0, 1).mask is None
    qtbot.waitUntil(lambda: window.canvas.marker_count() == 2, timeout=2_000)
    QTest.keyClick(window, Qt.Key.Key_Z, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(session.project.mask(0, 1), painted)
    assert session.prompts[(0, 1)].points == clicked.points
    assert np.array_equal(session.prompts[(0, 1)].mask, painted)
    # A click after the stroke refines the painted mask (it is the click's context, not ignored).
    window.actions["tool_prompt"].trigger()
    click(window, cx + 40, cy, Qt.MouseButton.RightButton)
    qtbot.waitUntil(lambda: len(session.prompts[(0, 1)].points) == 3, timeout=20_000)
    settle(qtbot, window)
    refined = session.project.mask(0, 1)
    assert not refined[cy, cx + 40] and refined[cy, cx]
    assert np.array_equal(session.prompts[(0, 1)].mask, painted)
    assert not window.errors, window.errors
