"""Tools ▸ Evaluate against ground truth: the dialog offers masklet eval's options (same defaults), each
reaches evaluate_project, and a DAVIS 2016 folder (0/255 masks) gets the binary option, not an error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox
from pytestqt.qtbot import QtBot

from app.cli import build_parser
from app.domain.evaluate import evaluate_project
from app.domain.export_common import DAVIS_PALETTE
from app.domain.project import Project
from app.ui.evaluation import EvaluationDialog
from app.ui.main_window import MainWindow
from tests.ui.conftest import N, box_mask, disc_mask

VOID_ROWS = slice(110, 126)  # a void band across the disc
LATE = (slice(180, 210), slice(20, 50))  # object 3, on the ground truth from frame 5 only


def scores(result: object) -> dict[int, tuple[list[float], list[float]]]:
    return {o.obj_id: (list(o.j_per_frame), list(o.f_per_frame)) for o in result.objects}


def write_gt(folder: Path) -> Path:
    """DAVIS 2017 style: disc 1, box 2, a void band, object 3 appearing late."""
    folder.mkdir(parents=True)
    for t in range(N):
        labels = np.zeros(disc_mask(0).shape, np.uint8)
        labels[disc_mask(t)] = 1
        labels[box_mask(t)] = 2
        labels[VOID_ROWS] = 255
        if t >= 5:
            labels[LATE] = 3
        png = Image.fromarray(labels, mode="P")
        png.putpalette(DAVIS_PALETTE)
        png.save(folder / f"{t:05d}.png")
    return folder


def write_binary_gt(folder: Path) -> Path:
    """DAVIS 2016 style: greyscale PNGs holding 0 and 255, one object."""
    folder.mkdir(parents=True)
    for t in range(N):
        Image.fromarray(disc_mask(t).astype(np.uint8) * 255, mode="L").save(folder / f"{t:05d}.png")
    return folder


def fill(project: Project) -> None:
    """Predictions that each option changes the score of: the disc drifts from frame 12 on, and the box's
    mask also covers the disc's upper half (so the overlap rule decides who keeps those pixels; the box's
    mask is the larger, so smaller-on-top differs from higher-id)."""
    project.add_object("disc")
    project.add_object("box")
    for t in range(N):
        disc = np.roll(disc_mask(t), 0 if t < 12 else 20, axis=1)
        spill = disc_mask(t).copy()
        spill[120:] = False
        project.set_frame_masks(t, {1: disc, 2: box_mask(t) | spill})


@pytest.fixture
def dialog(qtbot: QtBot, clip: Path, tmp_path: Path) -> Iterator[EvaluationDialog]:
    with Project.create(tmp_path / "eval.masklet", clip) as project:
        fill(project)
        dlg = EvaluationDialog(project)
        qtbot.addWidget(dlg)
        dlg.show()
        qtbot.waitExposed(dlg)
        yield dlg


def type_folder(qtbot: QtBot, dialog: EvaluationDialog, folder: Path) -> None:
    """Type the folder into the field and press Return (the dialog's default button: Evaluate)."""
    field = dialog.folder
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(field, Qt.Key.Key_Delete)
    qtbot.keyClicks(field, str(folder))
    qtbot.keyClick(field, Qt.Key.Key_Return)


def click_box(qtbot: QtBot, box: QCheckBox) -> None:
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(9, box.height() // 2))  # the indicator


def choose(qtbot: QtBot, combo: QComboBox, value: object) -> None:
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Home)
    for _ in range(combo.count()):
        if combo.currentData() == value:
            return
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentData() == value


def evaluate(qtbot: QtBot, dialog: EvaluationDialog) -> object:
    dialog.result = None
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.run_button.isEnabled() and dialog.task is not None
                    and dialog.task.finished, timeout=30_000)
    assert dialog.result is not None, dialog.status.text()
    return dialog.result


def test_dialog_defaults_are_masklet_eval_defaults(dialog: EvaluationDialog) -> None:
    args = build_parser().parse_args(["eval", "P.masklet", "--gt", "GT"])
    cli = {"keep_first_last": args.keep_first_last, "void": args.void, "objects": args.objects,
           "binary_gt": args.binary_gt, "overlap": None if args.overlap == "none" else args.overlap}
    assert dialog.options() == cli
    overlaps = [dialog.overlap.itemData(i) for i in range(dialog.overlap.count())]
    assert [o or "none" for o in overlaps] == ["higher-id", "lower-id", "smaller-on-top", "none"]
    for overlap in overlaps:  # each is a choice of masklet eval --overlap
        args = build_parser().parse_args(["eval", "P.masklet", "--gt", "GT", "--overlap", overlap or "none"])
        assert (None if args.overlap == "none" else args.overlap) == overlap
    assert [dialog.void.itemData(i) for i in range(dialog.void.count())] == ["background", "ignore", "object"]
    objects = [dialog.objects.itemData(i) for i in range(dialog.objects.count())]
    assert objects == ["first-frame", "all-frames"]


@pytest.mark.parametrize(("widget", "value", "expected"), [
    ("keep_first_last", True, {"keep_first_last": True}),
    ("void", "ignore", {"void": "ignore"}),
    ("void", "object", {"void": "object"}),
    ("objects", "all-frames", {"objects": "all-frames"}),
    ("overlap", "lower-id", {"overlap": "lower-id"}),
    ("overlap", "smaller-on-top", {"overlap": "smaller-on-top"}),
    ("overlap", None, {"overlap": None}),
])
def test_each_option_reaches_evaluate_project(qtbot: QtBot, dialog: EvaluationDialog, tmp_path: Path,
                                              widget: str, value: object, expected: dict) -> None:
    gt = write_gt(tmp_path / "gt" / "shapes")
    project = dialog.project
    default = scores(evaluate_project(project, gt))
    type_folder(qtbot, dialog, gt)  # Return evaluates with the defaults
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=30_000)
    assert scores(dialog.result) == default
    control = getattr(dialog, widget)
    if isinstance(control, QCheckBox):
        click_box(qtbot, control)
        assert control.isChecked() is value
    else:
        choose(qtbot, control, value)
    options = dialog.options()
    assert {k: options[k] for k in expected} == expected
    result = evaluate(qtbot, dialog)
    direct = evaluate_project(project, gt, **expected)
    assert scores(result) == scores(direct)
    assert result.frames == direct.frames
    assert scores(result) != default or result.frames != evaluate_project(project, gt).frames  # it mattered
    rows = dialog.cell_texts()
    assert [int(r[0]) for r in rows[:-1]] == [o.obj_id for o in direct.objects]
    assert [r[2:5] for r in rows[:-1]] == [[f"{o.j_mean:.3f}", f"{o.f_mean:.3f}", f"{o.jf_mean:.3f}"]
                                          for o in direct.objects]


def open_evaluation(window: MainWindow, clip: Path, path: Path) -> EvaluationDialog:
    """A filled project at ``path`` opened in ``window``, with the evaluation dialog shown."""
    with Project.create(path, clip) as project:
        fill(project)
    assert window.open_path(path)
    window.actions["evaluate"].trigger()
    assert window.evaluation is not None
    return window.evaluation


def test_binary_ground_truth_is_offered_and_scored_as_masklet_eval_binary(
        qtbot: QtBot, window: MainWindow, clip: Path, tmp_path: Path) -> None:
    gt = write_binary_gt(tmp_path / "davis2016" / "shapes")
    dialog = open_evaluation(window, clip, tmp_path / "binary.masklet")
    qtbot.waitExposed(dialog)
    assert not dialog.binary.isChecked()
    type_folder(qtbot, dialog, gt)
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=30_000)
    assert dialog.binary.isChecked()
    assert "DAVIS 2016" in dialog.status.text() and "ticked" in dialog.status.text()
    direct = evaluate_project(window.session.project, gt, binary_gt=True)
    assert scores(dialog.result) == scores(direct) and [o.obj_id for o in direct.objects] == [1]
    row = dialog.cell_texts()[0]
    assert row[:5] == ["1", "disc", f"{direct.objects[0].j_mean:.3f}", f"{direct.objects[0].f_mean:.3f}",
                       f"{direct.objects[0].jf_mean:.3f}"]
    # Unticking it is the user's choice: evaluating then says why nothing can be scored, readably.
    click_box(qtbot, dialog.binary)
    assert not dialog.binary.isChecked()
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.run_button.isEnabled() and dialog.task.finished, timeout=30_000)
    text = dialog.status.text()
    assert text.startswith("Cannot evaluate:") and "DAVIS 2016" in text and "Binary masks" in text
    assert "Traceback" not in text and "ImportFormatError" not in text and "--binary-gt" not in text
    assert not dialog.binary.isChecked()


def test_closing_the_window_during_an_evaluation_stops_it_before_the_project_closes(
        qtbot: QtBot, window: MainWindow, clip: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The evaluation reads the project from its own thread; closing the window closed the database
    under it, and its result, arriving after, read the closed project again."""
    from app.ui import evaluation
    from tests.ui.conftest import slow_project_task

    seen: list[str] = []

    monkeypatch.setattr(evaluation, "evaluate_project", slow_project_task(seen))
    gt = write_gt(tmp_path / "gt")
    dialog = open_evaluation(window, clip, tmp_path / "eval.masklet")
    task = dialog.run(gt)
    assert task is not None
    qtbot.wait(200)
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=20_000)
    assert task.wait(5_000)
    qtbot.wait(100)  # a late done/failed signal is delivered now and must not touch the project
    assert seen == ["cancelled"] and dialog.result is None
