"""The outline tool in the real window: real mouse and key events on the canvas, checked in the stored
mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.domain.outline import trace
from app.ui.canvas import Tool
from app.ui.main_window import MainWindow
from tests.ui.conftest import disc_center


def at(window: MainWindow, x: float, y: float):  # noqa: ANN201 (QPoint)
    return window.canvas.mapFromScene(QPointF(x, y))


def drag(window: MainWindow, start: tuple[float, float], end: tuple[float, float]) -> None:
    viewport = window.canvas.viewport()
    a, b = at(window, *start), at(window, *end)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    QTest.mouseMove(viewport, (a + b) / 2)
    QTest.mouseMove(viewport, b)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


def masked_window(qtbot: QtBot, window: MainWindow, clip: Path) -> np.ndarray:
    """The clip open, object 1 clicked on frame 0, the outline tool chosen with its key (P)."""
    assert window.open_path(clip)
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     at(window, *disc_center(0)))
    project = window.session.project
    qtbot.waitUntil(lambda: project.mask(0, 1) is not None and not window.session.waiting_for_engine,
                    timeout=20_000)
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, Qt.Key.Key_P)
    assert window.canvas.tool is Tool.OUTLINE and window.actions["tool_outline"].isChecked()
    return project.mask(0, 1)


def rightmost(window: MainWindow) -> tuple[tuple[int, int], tuple[float, float]]:
    outline = window.outline_editor.outline
    ring = int(np.argmax([r.points[:, 0].max() for r in outline.rings]))
    ref = (ring, int(np.argmax(outline.rings[ring].points[:, 0])))
    return ref, outline.vertex(ref)


def test_dragging_a_vertex_moves_the_stored_boundary_and_undo_restores_it(qtbot: QtBot, window: MainWindow,
                                                                          clip: Path) -> None:
    before = masked_window(qtbot, window, clip)
    editor, session = window.outline_editor, window.session
    # The outline shown is the stored mask's, holes and all, with a manageable number of vertices.
    assert editor.outline.rings and 4 <= editor.outline.vertex_count < 200
    assert np.array_equal(editor.outline.rings[0].points, trace(before).rings[0].points)
    ref, (x, y) = rightmost(window)
    assert not before[int(y), int(x) + 10]
    drag(window, (x, y), (x + 15, y))
    edited = session.project.mask(0, 1)
    assert edited[int(y), int(x) + 10]  # the boundary followed the vertex
    assert np.array_equal(edited | before, edited) and (edited ^ before).sum() < 400  # only there
    # It is the frame's mask prompt, exactly as a brush stroke's mask is.
    prompt = session.prompts[(0, 1)]
    assert prompt.mask is not None and np.array_equal(prompt.mask, edited)
    assert window.actions["undo"].text() == "&Undo Move outline vertex"
    # The outline keeps the user's vertex where it was dropped (not re-traced).
    qtbot.wait(100)
    assert np.hypot(*np.subtract(editor.outline.vertex(ref), (x + 15, y))) < 1.0  # 1 px = a screen px / 3
    window.actions["undo"].trigger()
    assert np.array_equal(session.project.mask(0, 1), before)
    qtbot.waitUntil(lambda: rightmost(window)[1][0] < x + 1, timeout=5_000)  # the outline follows the undo
    window.actions["redo"].trigger()
    assert np.array_equal(session.project.mask(0, 1), edited)


def test_press_on_an_edge_adds_a_vertex_and_right_click_or_delete_removes_one(
        qtbot: QtBot, window: MainWindow, clip: Path) -> None:
    before = masked_window(qtbot, window, clip)
    editor, project = window.outline_editor, window.session.project
    count = editor.outline.vertex_count
    ring = editor.outline.rings[0].points
    k = int(np.argmax(ring[:, 1]))  # the bottom vertex; the edge after it
    mid = (ring[k] + ring[(k + 1) % len(ring)]) / 2
    drag(window, tuple(mid), (mid[0], mid[1] + 12))
    assert editor.outline.vertex_count == count + 1
    bulged = project.mask(0, 1)
    assert bulged[int(mid[1]) + 8, int(mid[0])] and not before[int(mid[1]) + 8, int(mid[0])]
    assert window.actions["undo"].text() == "&Undo Add outline vertex"
    # Right-click on the new vertex: gone, and the bulge with it.
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier,
                     at(window, mid[0], mid[1] + 12))
    assert editor.outline.vertex_count == count
    assert not project.mask(0, 1)[int(mid[1]) + 8, int(mid[0])]
    # Select a vertex with a click, then Delete: one vertex fewer, and the mask loses a corner there.
    ref, (x, y) = rightmost(window)
    shown, steps = project.mask(0, 1), window.session.undo_stack.count()
    # A click a little beside the vertex selects it and leaves it (and the mask) where it was.
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     at(window, x + 1.5, y))
    assert editor.selected == ref and editor.outline.vertex(ref) == (x, y)
    assert window.session.undo_stack.count() == steps and np.array_equal(project.mask(0, 1), shown)
    QTest.keyClick(window.canvas, Qt.Key.Key_Delete)
    assert editor.outline.vertex_count == count - 1
    cut = project.mask(0, 1)
    assert (shown & ~cut).any() and not (cut & ~shown).any()
    assert window.actions["undo"].text() == "&Undo Delete outline vertex"
    window.actions["undo"].trigger()
    assert np.array_equal(project.mask(0, 1), shown)


def test_the_outline_follows_the_frame_and_clicks_add_no_points(qtbot: QtBot, window: MainWindow,
                                                                clip: Path) -> None:
    masked_window(qtbot, window, clip)
    editor, session = window.outline_editor, window.session
    points = session.prompts[(0, 1)].points
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     at(window, 300, 20))  # far from the outline: nothing happens
    assert session.prompts[(0, 1)].points == points and editor.selected is None
    window.actions["next_frame"].trigger()  # frame 1 has no mask yet
    qtbot.waitUntil(lambda: not editor.outline.rings, timeout=5_000)
    window.actions["prev_frame"].trigger()
    qtbot.waitUntil(lambda: bool(editor.outline.rings), timeout=5_000)
    QTest.keyClick(window.canvas, Qt.Key.Key_Q)  # back to the prompt tool: the outline goes
    assert window.canvas.tool is Tool.PROMPT and not editor.outline.rings


def test_an_erased_hole_is_a_ring_whose_vertex_drags_the_hole_wider(qtbot: QtBot, window: MainWindow,
                                                                     clip: Path) -> None:
    masked_window(qtbot, window, clip)
    editor, project = window.outline_editor, window.session.project
    cx, cy = disc_center(0)
    window.actions["tool_eraser"].trigger()
    window.brush_size.setValue(6)
    drag(window, (cx - 2, cy), (cx + 2, cy))  # a hole in the middle of the disc
    holed = project.mask(0, 1)
    assert not holed[cy, cx]
    QTest.keyClick(window.canvas, Qt.Key.Key_P)
    holes = [i for i, r in enumerate(editor.outline.rings) if r.is_hole]
    assert len(holes) == 1
    ring = editor.outline.rings[holes[0]].points
    k = int(np.argmax(ring[:, 0]))
    x, y = ring[k]
    assert cx + 5 < x < cx + 11
    drag(window, (x, y), (x + 8, y))
    widened = project.mask(0, 1)
    assert holed[int(y), int(x) + 4] and not widened[int(y), int(x) + 4]
    assert not (widened & ~holed).any()  # the hole only grew
    window.actions["undo"].trigger()
    assert np.array_equal(project.mask(0, 1), holed)
