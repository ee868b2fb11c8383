"""End-to-end: drive the real window with mouse input and actions, assert on the stored masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.domain.tracking import Direction
from app.ui.main_window import MainWindow
from tests.ui.conftest import (
    ARTIFACTS,
    DISC_R,
    N,
    box_mask,
    box_rect,
    centroid_distance,
    disc_center,
    disc_mask,
    iou,
    precision,
)


def view_point(window: MainWindow, x: float, y: float):  # noqa: ANN201 (QPoint)
    return window.canvas.mapFromScene(QPointF(x, y))


def click(window: MainWindow, x: float, y: float, button=Qt.MouseButton.LeftButton) -> None:  # noqa: ANN001
    QTest.mouseClick(window.canvas.viewport(), button, Qt.KeyboardModifier.NoModifier,
                     view_point(window, x, y))


def drag(window: MainWindow, x0: float, y0: float, x1: float, y1: float) -> None:
    viewport = window.canvas.viewport()
    start, end = view_point(window, x0, y0), view_point(window, x1, y1)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(viewport, (start + end) / 2)
    QTest.mouseMove(viewport, end)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def wait_mask(qtbot: QtBot, window: MainWindow, frame: int, obj_id: int, previous=None) -> np.ndarray:  # noqa: ANN001
    project = window.session.project

    def changed() -> bool:
        mask = project.mask(frame, obj_id)
        return mask is not None and (previous is None or not np.array_equal(mask, previous))

    qtbot.waitUntil(changed, timeout=20_000)
    return project.mask(frame, obj_id)


def wait_idle(qtbot: QtBot, window: MainWindow, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: not window.tracking.running, timeout=timeout)


def test_open_video_creates_project_next_to_it_and_titles_the_window(window: MainWindow, clip: Path) -> None:
    assert window.open_path(clip)
    assert "shapes.mp4" in window.windowTitle() and "shapes.masklet" in window.windowTitle()
    assert (clip.parent / "shapes.masklet").is_file()
    assert window.timeline.slider.maximum() == N - 1
    assert window.files.recent_files() == [str(clip.resolve())]


def test_two_objects_clicks_box_propagate_both_ways_refine_undo_export(
        qtbot: QtBot, window: MainWindow, clip: Path, tmp_path: Path) -> None:
    assert window.open_path(clip)
    session = window.session
    mid = N // 2
    window.viewer.show_frame(mid)
    # Object 1: a positive click inside the disc (no object yet: the click creates one).
    cx, cy = disc_center(mid)
    click(window, cx, cy)
    disc = wait_mask(qtbot, window, mid, 1)
    assert [o.id for o in session.objects] == [1]
    assert disc[cy, cx] and precision(disc, disc_mask(mid)) > 0.8
    assert window.canvas.marker_count() == 1
    # Object 2: new object (N key), then a box drawn around the cyan box.
    QTest.keyClick(window, Qt.Key.Key_N)
    assert session.active_id == 2
    x0, y0, x1, y1 = box_rect(mid)
    drag(window, x0 - 3, y0 - 3, x1 + 3, y1 + 3)
    box = wait_mask(qtbot, window, mid, 2)
    assert session.prompts[(mid, 2)].box is not None
    assert iou(box, box_mask(mid)) > 0.5
    # A negative (right) click far from the disc on object 1 must not add the background.
    QTest.keyClick(window, Qt.Key.Key_1)
    assert session.active_id == 1
    before_negative = session.project.mask(mid, 1)
    click(window, 20, 220, Qt.MouseButton.RightButton)
    qtbot.waitUntil(lambda: session.prompts[(mid, 1)].labels == (1, 0))
    qtbot.waitUntil(lambda: not session.waiting_for_engine, timeout=20_000)
    after_negative = session.project.mask(mid, 1)
    assert not after_negative[220, 20]
    # Undo restores exactly the mask before the negative click.
    session.undo_stack.undo()
    assert np.array_equal(session.project.mask(mid, 1), before_negative)
    assert session.prompts[(mid, 1)].labels == (1,)
    session.undo_stack.redo()
    assert np.array_equal(session.project.mask(mid, 1), after_negative)

    # Propagate both ways from the middle: every frame gets both objects, on the right pixels.
    assert session.propagate(Direction.BOTH)
    wait_idle(qtbot, window)
    for obj_id in (1, 2):
        assert session.mask_frames[obj_id] == set(range(N))
    for t in (0, N - 1):
        # The disc moves 3 px per frame: a mask that stayed put would be 36 px off by the ends.
        assert precision(session.project.mask(t, 1), disc_mask(t)) > 0.6
        assert centroid_distance(session.project.mask(t, 1), disc_mask(t)) < DISC_R / 2
        assert iou(session.project.mask(t, 2), box_mask(t)) > 0.5

    # Refine on frame 3: a click there updates that frame at once, then re-propagate forward.
    window.viewer.show_frame(3)
    old3 = session.project.mask(3, 1)
    click(window, *disc_center(3))
    new3 = wait_mask(qtbot, window, 3, 1, previous=old3)
    assert (3, 1) in session.prompts and precision(new3, disc_mask(3)) > 0.8
    # "Up to the next prompted frame": frames 3..mid, both ends included, and no further.
    with qtbot.waitSignal(window.tracking.finished, timeout=60_000) as finished:
        assert session.propagate(Direction.FORWARD, until_prompt=True)
    assert finished.args == [mid - 3 + 1, False]

    # Export COCO through the worker task; the file decodes to the stored masks.
    task = window.files.export("coco", tmp_path / "out.json")
    qtbot.waitUntil(lambda: task.finished, timeout=60_000)
    data = json.loads((tmp_path / "out.json").read_text())
    assert len(data["annotations"]) == sum(len(session.mask_frames[o]) for o in (1, 2))
    assert not window.errors, window.errors


def test_brush_and_eraser_edit_the_mask_and_become_its_prompt(qtbot: QtBot, window: MainWindow,
                                                              clip: Path) -> None:
    assert window.open_path(clip)
    session = window.session
    click(window, *disc_center(0))
    before = wait_mask(qtbot, window, 0, 1)
    qtbot.waitUntil(lambda: not session.waiting_for_engine, timeout=20_000)
    window.actions["tool_brush"].trigger()
    window.brush_size.setValue(6)
    drag(window, 150, 200, 190, 200)  # paint a stroke away from the disc
    painted = session.project.mask(0, 1)
    assert painted[200, 170] and not before[200, 170]
    prompt = session.prompts[(0, 1)]
    assert prompt.mask is not None and np.array_equal(prompt.mask, painted)
    window.actions["tool_eraser"].trigger()
    drag(window, 160, 200, 180, 200)
    assert not session.project.mask(0, 1)[200, 170]
    session.undo_stack.undo()
    assert session.project.mask(0, 1)[200, 170]
    session.undo_stack.undo()
    assert np.array_equal(session.project.mask(0, 1), before)


def test_cancel_keeps_the_frames_already_computed(qtbot: QtBot, slow_window: MainWindow, clip: Path) -> None:
    window = slow_window
    assert window.open_path(clip)
    session = window.session
    session.add_point(0, *disc_center(0), True)
    wait_mask(qtbot, window, 0, 1)
    assert session.propagate(Direction.FORWARD)
    assert not window.actions["undo"].isEnabled() and window.actions["cancel"].isEnabled()
    qtbot.waitUntil(lambda: len(session.mask_frames[1]) >= 5, timeout=20_000)
    with qtbot.waitSignal(window.tracking.finished, timeout=20_000) as finished:
        window.actions["cancel"].trigger()
    done, cancelled = finished.args
    assert cancelled
    kept = session.project.frames_with_masks(1)
    assert 5 <= len(kept) < N and kept == list(range(len(kept)))
    assert done >= len(kept) - 1
    assert window.fake_engine.frames_computed < N
    # The app stays usable: a new propagation backward from the end works.
    window.viewer.show_frame(N - 1)
    session.add_point(N - 1, *disc_center(N - 1), True)
    wait_mask(qtbot, window, N - 1, 1)
    assert session.propagate(Direction.BACKWARD, target=N - 4)
    wait_idle(qtbot, window)
    assert {N - 4, N - 3, N - 2}.issubset(session.mask_frames[1])


def test_delete_object_asks_and_undo_brings_masks_back(qtbot: QtBot, slow_window: MainWindow, clip: Path,
                                                       monkeypatch) -> None:  # noqa: ANN001
    from app.ui import dialogs

    window = slow_window
    assert window.open_path(clip)
    session = window.session
    session.add_point(2, *disc_center(2), True)
    wait_mask(qtbot, window, 2, 1)
    monkeypatch.setattr(dialogs, "confirm", lambda *a: False)
    window.actions["delete_object"].trigger()
    assert session.object_info(1) is not None
    monkeypatch.setattr(dialogs, "confirm", lambda *a: True)
    window.actions["delete_object"].trigger()
    assert session.objects == [] and session.project.masks_on_frame(2) == {}
    session.undo_stack.undo()
    assert session.object_info(1) is not None and session.project.mask(2, 1) is not None
    assert (2, 1) in session.prompts


def test_object_edits_are_undoable_and_hidden_objects_are_not_drawn(qtbot: QtBot, slow_window: MainWindow,
                                                                    clip: Path) -> None:
    window = slow_window
    assert window.open_path(clip)
    session = window.session
    session.add_point(0, *disc_center(0), True)
    wait_mask(qtbot, window, 0, 1)
    panel = window.objects_panel
    panel.name_edit.setText("ball")
    panel.name_edit.editingFinished.emit()
    assert session.object_info(1).name == "ball"
    panel.color_requested.emit(1, "#00ff00")
    window.viewer.refresh_frame()
    cx, cy = disc_center(0)
    shown = window.canvas._frame._array
    assert tuple(shown[cy, cx]) != tuple(session.project.video.frame(0)[cy, cx])
    window.actions["toggle_hidden"].trigger()
    assert session.object_info(1).hidden
    shown = window.canvas._frame._array
    assert tuple(shown[cy, cx]) == tuple(session.project.video.frame(0)[cy, cx])
    for _ in range(3):
        session.undo_stack.undo()
    info = session.object_info(1)
    assert (info.name, info.hidden) == ("Object 1", False) and info.color != "#00ff00"


def test_reopening_the_video_restores_the_work(qtbot: QtBot, slow_window: MainWindow, clip: Path) -> None:
    window = slow_window
    assert window.open_path(clip)
    window.session.add_point(0, *disc_center(0), True)
    mask = wait_mask(qtbot, window, 0, 1)
    window.session.close_project()
    assert window.open_path(clip)
    assert np.array_equal(window.session.project.mask(0, 1), mask)
    assert (0, 1) in window.session.prompts


def test_errors_become_dialogs_and_the_app_stays_usable(qtbot: QtBot, window: MainWindow, clip: Path,
                                                        tmp_path: Path) -> None:
    bad_video = tmp_path / "broken.mp4"
    bad_video.write_bytes(b"this is not a video")
    assert not window.open_path(bad_video)
    assert window.errors and "broken.mp4" in window.errors[-1][1]
    bad_ckpt = tmp_path / "bad.pt"
    bad_ckpt.write_bytes(b"junk")
    engine_before = window.tracking.engine_name
    from app.ui.worker import EngineSpec

    with qtbot.waitSignal(window.tracking.engine_failed, timeout=20_000):
        window.load_engine(EngineSpec(None, str(bad_ckpt), "cpu"))
    assert "bad.pt" in window.errors[-1][1] or "checkpoint" in window.errors[-1][1].lower()
    assert window.tracking.engine_name == engine_before
    assert window.open_path(clip)
    window.session.add_point(0, *disc_center(0), True)
    wait_mask(qtbot, window, 0, 1)


def test_shortcuts_dialog_lists_every_shortcut(qtbot: QtBot, window: MainWindow) -> None:
    from app.ui.actions import ACTIONS, ShortcutsDialog

    dialog = ShortcutsDialog(window)
    qtbot.addWidget(dialog)
    keys = {dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())}
    for spec in ACTIONS:
        if spec.shortcuts:
            assert ", ".join(spec.shortcuts) in keys
            assert window.actions[spec.name].shortcut().toString()


def test_render_main_window_to_png_artifact(qtbot: QtBot, window: MainWindow, clip: Path) -> None:
    assert window.open_path(clip)
    session = window.session
    session.add_point(5, *disc_center(5), True)
    wait_mask(qtbot, window, 5, 1)
    session.add_object()
    session.set_box(5, tuple(float(v) for v in box_rect(5)))
    wait_mask(qtbot, window, 5, 2)
    window.viewer.show_frame(0)
    assert session.propagate(Direction.FORWARD, target=12)
    wait_idle(qtbot, window)
    window.viewer.show_frame(5)
    qtbot.wait(50)
    ARTIFACTS.mkdir(exist_ok=True)
    out = ARTIFACTS / "main_window.png"
    assert window.grab().save(str(out))
    image = window.grab().toImage()
    assert image.width() >= 1000 and out.stat().st_size > 10_000


def test_first_click_creates_the_object_and_one_undo_removes_both(qtbot: QtBot, slow_window: MainWindow,
                                                                  clip: Path) -> None:
    window = slow_window
    assert window.open_path(clip)
    session = window.session
    click(window, *disc_center(0))
    wait_mask(qtbot, window, 0, 1)
    assert session.undo_stack.count() == 1 and "object" in session.undo_stack.undoText().lower()
    click(window, *disc_center(0), Qt.MouseButton.RightButton)  # the active object gets further clicks
    qtbot.waitUntil(lambda: session.prompts[(0, 1)].labels == (1, 0))
    session.undo_stack.undo()
    session.undo_stack.undo()
    assert session.objects == [] and session.prompts == {}
    session.undo_stack.redo()
    assert [o.id for o in session.objects] == [1] and session.project.mask(0, 1) is not None


def test_out_of_memory_mid_propagation_is_a_dialog_and_keeps_frames(qtbot: QtBot, clip: Path) -> None:
    import torch

    from app.ui.testing import SlowFakeEngine
    from tests.ui.conftest import close_window, make_window

    class RunsOutOfMemory(SlowFakeEngine):
        def propagate_in_video(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
            for i, item in enumerate(super().propagate_in_video(*args, **kwargs)):
                if i == 4:
                    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")
                yield item

    window = make_window(qtbot, lambda spec: RunsOutOfMemory(delay_s=0.0, radius=DISC_R))
    try:
        assert window.open_path(clip)
        session = window.session
        session.add_point(0, *disc_center(0), True)
        wait_mask(qtbot, window, 0, 1)
        with qtbot.waitSignal(window.tracking.finished, timeout=20_000):
            assert session.propagate(Direction.FORWARD)
        assert window.errors[-1][0] == "Tracking failed" and "ran out of memory" in window.errors[-1][1]
        assert session.project.frames_with_masks(1) == [0, 1, 2, 3]
        # Still usable: edits and a new (shorter) propagation work.
        session.add_point(0, disc_center(0)[0] + 5, disc_center(0)[1], True)
        qtbot.waitUntil(lambda: not session.waiting_for_engine, timeout=20_000)
        assert session.propagate(Direction.FORWARD, target=2)
        wait_idle(qtbot, window)
    finally:
        close_window(qtbot, window)


def test_a_correction_click_on_a_propagated_frame_refines_the_mask_shown(qtbot: QtBot,
                                                                        slow_window: MainWindow,
                                                                        clip: Path) -> None:
    window = slow_window
    assert window.open_path(clip)
    session = window.session
    session.add_point(0, *disc_center(0), True)
    wait_mask(qtbot, window, 0, 1)
    assert session.propagate(Direction.FORWARD, target=6)
    wait_idle(qtbot, window)
    window.viewer.show_frame(5)
    shown = session.project.mask(5, 1)
    cx, cy = disc_center(0)  # the fake engine carries frame 0's disc
    click(window, cx - 20, cy, Qt.MouseButton.RightButton)
    refined = wait_mask(qtbot, window, 5, 1, previous=shown)
    prompt = session.prompts[(5, 1)]
    assert prompt.mask is not None and prompt.labels == (0,)
    # A lone negative click would give nothing; with the shown mask as context it removes a part only.
    assert refined.any() and not refined[cy, cx - 20]
    assert not (refined & ~shown).any() and refined.sum() < shown.sum()
    session.undo_stack.undo()
    assert np.array_equal(session.project.mask(5, 1), shown) and (5, 1) not in session.prompts
