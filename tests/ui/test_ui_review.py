"""Review and QA in the window: the lanes show stored confidence/provenance/reviews, doubtful-frame
navigation, the doubtful list, review mode and its counts, the guard on re-propagation, evaluation."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from app.cli import main
from app.domain import review as review_domain
from app.domain.evaluate import evaluate_project
from app.domain.export_common import DAVIS_PALETTE
from app.domain.project import Project
from app.domain.quality import FrameScore, MaskInfo, Origin
from app.domain.tracking import Direction
from app.ui import review as review_ui
from app.ui.main_window import MainWindow
from app.ui.strip_render import BAND_HEAT, BAND_PROVENANCE, BAND_REVIEW
from app.ui.timeline import ROW_GAP, ROW_HEIGHT
from tests.ui.conftest import DISC_R, N, box_mask, disc_center, disc_mask

DOUBTFUL = {1: (5, 17), 2: (11,)}


def _score(obj: int, t: int) -> FrameScore:
    if t in DOUBTFUL[obj]:
        return FrameScore(8.0, iou=0.3) if obj == 1 else FrameScore(0.1, iou=0.9)
    return FrameScore(8.0, iou=0.9)


def fill(window: MainWindow, qtbot: QtBot, clip: Path) -> Project:
    """Two objects tracked on every frame with known confidences; frame 3 of the disc painted."""
    assert window.open_path(clip)
    s = window.session
    s.add_object("disc")
    s.add_object("box")
    project = s.project
    for t in range(N):
        infos = [MaskInfo(t, o, Origin("tracked", "classical", "", 0), _score(o, t)) for o in (1, 2)]
        project.set_frame_masks(t, {1: disc_mask(t), 2: box_mask(t)}, infos=infos)
    project.set_mask(3, 1, disc_mask(3), info=MaskInfo(3, 1, Origin("painted")))
    window.quality.flush()
    qtbot.wait(120)
    return project


def lane_color(window: MainWindow, row: int, frame: int, band: tuple[int, int]) -> QColor:
    strips = window.timeline.strips
    image = strips.grab().toImage()
    x = int((frame + 0.5) * strips.width() / N)
    y = ROW_GAP + row * (ROW_HEIGHT + ROW_GAP) + (band[0] + band[1]) // 2
    return image.pixelColor(x, y)


def is_red(c: QColor) -> bool:
    return c.red() > 180 and c.green() < 90 and c.blue() < 90


def is_green(c: QColor) -> bool:
    return c.green() > 150 and c.red() < 130


def test_lanes_show_the_stored_confidence_provenance_and_reviews(qtbot: QtBot, window: MainWindow,
                                                                 clip: Path) -> None:
    project = fill(window, qtbot, clip)
    for row, obj in enumerate((1, 2)):
        for t in range(2, N):
            color = lane_color(window, row, t, BAND_HEAT)
            assert is_red(color) == (t in DOUBTFUL[obj]), (obj, t, color.name())
        assert is_green(lane_color(window, row, 8, BAND_HEAT))
    assert lane_color(window, 0, 3, BAND_PROVENANCE).name() == "#ff77ff"  # painted
    assert lane_color(window, 0, 4, BAND_PROVENANCE).name() == "#333333"  # tracked: no mark
    review_domain.review(project, 9, [1])
    window.quality.flush()
    assert lane_color(window, 0, 9, BAND_REVIEW).name() == "#ffffff"
    assert lane_color(window, 1, 9, BAND_REVIEW).name() == "#333333"
    project.set_mask(9, 1, disc_mask(10))  # the reviewed mask changed: orange
    window.quality.flush()
    assert lane_color(window, 0, 9, BAND_REVIEW).name() == "#ff851b"
    strips = window.timeline.strips
    assert "confidence 0.30 (doubtful)" in strips.describe(5, 0) and "tracked" in strips.describe(5, 0)


def test_doubtful_navigation_and_threshold(qtbot: QtBot, window: MainWindow, clip: Path) -> None:
    fill(window, qtbot, clip)
    a, viewer = window.actions, window.viewer
    visits = []
    for _ in range(4):
        a["doubt_next"].trigger()
        visits.append(viewer.frame)
    assert visits == [5, 11, 17, 17]  # the last press finds nothing further and stays
    a["doubt_prev"].trigger()
    assert viewer.frame == 11
    window.session.update_object(2, hidden=True)  # hidden objects are not navigated to
    qtbot.wait(50)
    viewer.user_seek(0)
    a["doubt_next"].trigger()
    a["doubt_next"].trigger()
    assert viewer.frame == 17
    window.session.update_object(2, hidden=False)
    window.review_panel.threshold.setValue(0.95)  # now every scored frame is doubtful
    viewer.user_seek(0)
    a["doubt_next"].trigger()
    assert viewer.frame == 1 and window.quality.threshold == 0.95


def test_doubtful_list_is_sorted_and_jumps(qtbot: QtBot, window: MainWindow, clip: Path) -> None:
    fill(window, qtbot, clip)
    window.actions["review_panel"].trigger()
    window.review.refresh_panel()
    table = window.review_panel.doubts_table
    rows = [(int(table.item(r, 0).text()), table.item(r, 1).text().split()[0], float(table.item(r, 2).text()))
            for r in range(table.rowCount())]
    assert [(f, o) for f, o, _ in rows] == [(11, "2"), (5, "1"), (17, "1")]  # least confident first
    assert rows[0][2] < rows[1][2] == rows[2][2]
    table.sortItems(0)  # by frame
    assert [int(table.item(r, 0).text()) for r in range(3)] == [5, 11, 17]
    table.cellClicked.emit(1, 0)
    assert window.viewer.frame == 11 and window.session.active_id == 2


def test_review_mode_accepts_fixes_counts_and_undoes(qtbot: QtBot, window: MainWindow, clip: Path) -> None:
    project = fill(window, qtbot, clip)
    s, a, panel = window.session, window.actions, window.review_panel
    window.viewer.user_seek(0)
    a["review_mode"].trigger()
    assert window.review.active and window.review_dock.isVisible()
    a["review_accept"].trigger()
    assert window.viewer.frame == 1  # on to the next frame to review
    s.select_object(1)
    cx, cy = disc_center(1)
    s.paint(1, [(cx + DISC_R + 2, cy)], 4, erase=False)  # fix the disc a little
    qtbot.wait(50)
    a["review_accept"].trigger()
    verdicts = {k: r.verdict for k, r in review_domain.current_reviews(project).items()}
    assert verdicts == {(0, 1): "accepted", (0, 2): "accepted", (1, 1): "fixed", (1, 2): "accepted"}
    assert window.viewer.frame == 2
    a["review_accept_object"].trigger()  # only the active object (the disc) on frame 2
    window.review.refresh_panel()
    assert "Project: 2 of 24 frames reviewed" in panel.summary.text()
    objects = [[panel.objects_table.item(r, c).text() for c in range(4)] for r in range(2)]
    assert objects[0][:3] == ["1  disc", "3 of 24", "2"] and objects[1][:3] == ["2  box", "2 of 24", "1"]
    s.undo_stack.undo()
    assert (2, 1) not in review_domain.current_reviews(project)
    a["review_mode"].trigger()
    assert not window.review.active


def test_repropagation_keeps_or_replaces_reviewed_masks_after_asking(qtbot: QtBot, window: MainWindow,
                                                                      clip: Path, monkeypatch) -> None:  # noqa: ANN001
    asked: list[int] = []
    policy = {"value": "keep"}
    monkeypatch.setattr(review_ui, "ask_reviewed_policy",
                        lambda parent, count: asked.append(count) or policy["value"])
    assert window.open_path(clip)
    s = window.session
    cx, cy = disc_center(0)
    s.add_point(0, cx, cy, True)
    qtbot.waitUntil(lambda: s.project.mask(0, s.active_id) is not None, timeout=20_000)
    assert s.propagate(Direction.FORWARD)
    qtbot.waitUntil(lambda: not window.tracking.running, timeout=60_000)
    project, obj = s.project, s.active_id
    infos = {i.frame: i for i in review_domain.mask_infos(project, obj_id=obj)}
    assert sorted(infos) == list(range(N))  # the GUI's propagation stores who made each frame
    assert infos[0].origin.kind == "prompted" and infos[0].origin.detail == "1 positive click"
    assert infos[0].origin.engine == window.tracking.engine_name
    assert {infos[t].origin.kind for t in range(1, N)} == {"tracked"}
    assert {infos[t].origin.source_frame for t in range(1, N)} == {0}
    assert all(infos[t].score is not None for t in range(N))
    person = disc_mask(6) & ~box_mask(6)
    person[:, :disc_center(6)[0]] = False  # a person's (odd) accepted shape: the right half only
    project.set_mask(6, obj, person)
    review_domain.review(project, 6, [obj])
    window.quality.flush()
    own_7 = project.mask(7, obj)
    window.viewer.user_seek(0)
    assert s.propagate(Direction.FORWARD)
    qtbot.waitUntil(lambda: not window.tracking.running, timeout=60_000)
    assert asked == [1]
    # the engine went on from the reviewed mask: frame 7 follows it, no longer the engine's own answer
    # (measured: own answer 2376 px, the reviewed half 1255 px, frame 7 then 1304 px)
    assert np.count_nonzero(project.mask(7, obj)) < 0.7 * np.count_nonzero(own_7)
    assert np.array_equal(project.mask(6, obj), person) and (6, obj) in review_domain.current_reviews(project)
    qtbot.waitUntil(lambda: getattr(window, "reviewed_changes", None) is not None, timeout=5000)
    table = window.reviewed_changes.table
    assert table.rowCount() == 1 and table.item(0, 0).text() == "6"
    assert table.item(0, 4).text() == "kept reviewed"
    assert float(table.item(0, 2).text()) < 0.8
    policy["value"] = None  # cancel: nothing runs
    window.viewer.user_seek(0)
    assert not s.propagate(Direction.FORWARD) and not window.tracking.running
    policy["value"] = "replace"
    window.reviewed_changes = None
    window.viewer.user_seek(0)
    assert s.propagate(Direction.FORWARD)
    qtbot.waitUntil(lambda: not window.tracking.running, timeout=60_000)
    assert not np.array_equal(project.mask(6, obj), person)
    assert (6, obj) in review_domain.stale_reviews(project)
    qtbot.waitUntil(lambda: window.reviewed_changes is not None, timeout=5000)
    assert window.reviewed_changes.table.item(0, 4).text() == "replaced"


def _write_gt(folder: Path) -> None:
    folder.mkdir(parents=True)
    for t in range(N):
        labels = np.zeros(disc_mask(0).shape, np.uint8)
        labels[disc_mask(t)] = 1
        labels[box_mask(t)] = 2
        png = Image.fromarray(labels, mode="P")
        png.putpalette(DAVIS_PALETTE)
        png.save(folder / f"{t:05d}.png")


def test_evaluation_dialog_numbers_equal_masklet_eval(qtbot: QtBot, window: MainWindow, clip: Path,
                                                      tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gt = tmp_path / "gt" / "shapes"
    _write_gt(gt)
    path = tmp_path / "eval.masklet"
    with Project.create(path, clip) as project:
        project.add_object("disc")
        project.add_object("box")
        for t in range(N):
            shift = 0 if t < 12 else 40  # the disc drifts off the truth from frame 12 on
            project.set_frame_masks(t, {1: np.roll(disc_mask(t), shift, axis=1), 2: box_mask(t)})
    capsys.readouterr()
    assert main(["eval", str(path), "--gt", str(gt)]) == 0
    cli = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert window.open_path(path)
    window.actions["evaluate"].trigger()
    dialog = window.evaluation
    task = dialog.run(gt)
    assert task is not None
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=30_000)
    shown = dialog.cell_texts()
    assert [row[2:5] for row in shown[:2]] == [row[2:5] for row in cli[:2]]  # J, F, J&F per object
    assert shown[2][2:5] == cli[2][-3:]  # the overall row
    direct = evaluate_project(window.session.project, gt, **dialog.options())
    assert [o.j_per_frame for o in direct.objects] == [o.j_per_frame for o in dialog.result.objects]
    window.quality.flush()
    qtbot.wait(100)
    assert window.quality.showing_scores and "J vs shapes" in window.timeline.heat_label.text()
    frames = dialog.frames
    assert is_green(lane_color(window, 0, frames[2], BAND_HEAT))
    assert is_red(lane_color(window, 0, 20, BAND_HEAT)) and is_green(lane_color(window, 1, 20, BAND_HEAT))
    assert "J 1.000" in window.timeline.strips.describe(frames[2], 0)
    window.actions["clear_evaluation"].trigger()
    assert not window.quality.showing_scores
    assert re.match(r"lanes: confidence", window.timeline.heat_label.text())


def test_review_keys_work_as_key_presses(qtbot: QtBot, window: MainWindow, clip: Path) -> None:
    """The table's shortcuts reach their actions from real key presses on the canvas (not only trigger())."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    project = fill(window, qtbot, clip)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    target = window.viewer.canvas
    target.setFocus()
    window.viewer.user_seek(0)
    QTest.keyClick(target, Qt.Key.Key_Period)
    assert window.viewer.frame == 5
    QTest.keyClick(target, Qt.Key.Key_Period)
    assert window.viewer.frame == 11
    QTest.keyClick(target, Qt.Key.Key_Comma)
    assert window.viewer.frame == 5
    window.actions["review_mode"].trigger()
    QTest.keyClick(target, Qt.Key.Key_Y)
    assert {(5, 1), (5, 2)} <= set(review_domain.current_reviews(project))
