"""Export dialogs offer what ``masklet export`` offers and pass it on; a new folder name is accepted
(issue 17, item 8). Driven with real clicks and typing in the dialog the Export menu opens."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDialogButtonBox, QWidget
from pytestqt.qtbot import QtBot

from app.cli import build_parser
from app.domain.export import EXPORT_FORMATS
from app.domain.export_options import EXPORT_OPTIONS
from app.ui.export_dialog import ExportDialog
from app.ui.main_window import MainWindow


def _cli_export_options() -> dict[str, tuple[str, ...]]:
    """dest -> formats, read from `masklet export`'s flags: a help text starting "coco/ytvis:" names
    the formats the flag applies to; no such prefix means every format."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.choices and "export" in a.choices)  # noqa: SLF001 - argparse
    export = sub.choices["export"]
    found = {}
    for action in export._actions:  # noqa: SLF001 - argparse has no public list of a parser's flags
        if not action.option_strings or action.dest in ("help", "format", "out", "video"):
            continue  # --video only relocates the project's video; the window has it open already
        prefix = re.match(r"([a-z/]+):", action.help or "")
        found[action.dest] = tuple(prefix.group(1).split("/")) if prefix else EXPORT_FORMATS
    return found


def test_every_cli_export_option_is_in_the_dialog_of_each_format_it_applies_to(qtbot: QtBot) -> None:
    cli = _cli_export_options()
    assert {o.name: o.formats for o in EXPORT_OPTIONS} == cli
    for fmt in EXPORT_FORMATS:
        dialog = ExportDialog(fmt, Path("/tmp/out"))
        qtbot.addWidget(dialog)
        expected = {name for name, formats in cli.items() if fmt in formats}
        assert set(dialog.widgets) == expected, fmt
        for option in EXPORT_OPTIONS:
            if option.name in expected:
                kind = QComboBox if option.choices else QCheckBox
                assert isinstance(dialog.widgets[option.name], kind)
                assert dialog.widgets[option.name].isVisibleTo(dialog)


def _paint_two_overlapping_objects(window: MainWindow) -> None:
    session = window.session
    session.paint(0, [(100.0, 100.0)], 30, erase=False)   # object 1
    session.add_object()
    session.paint(0, [(130.0, 100.0)], 30, erase=False)   # object 2, overlapping object 1
    assert session.project.mask(0, 1) is not None and session.project.mask(0, 2) is not None


def _open_export(qtbot: QtBot, window: MainWindow, fmt: str) -> ExportDialog:
    window.actions[f"export_{fmt}"].trigger()
    dialog = window.files.export_form
    assert dialog is not None and dialog.fmt == fmt
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    return dialog


def _type_path(dialog: ExportDialog, path: Path) -> None:
    dialog.path_edit.setFocus()
    dialog.path_edit.selectAll()
    QTest.keyClick(dialog.path_edit, Qt.Key.Key_Delete)
    QTest.keyClicks(dialog.path_edit, str(path))


def _click(widget: QWidget) -> None:
    # A check box is as wide as its form row, its label is not: click its box; a button at its centre.
    at = QPoint(8, widget.height() // 2) if isinstance(widget, QCheckBox) else widget.rect().center()
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, pos=at)


def _choose(combo: QComboBox, text: str) -> None:
    combo.setFocus()
    while combo.currentText() != text:  # arrow keys, as a user picks an entry
        before = combo.currentIndex()
        QTest.keyClick(combo, Qt.Key.Key_Down)
        assert combo.currentIndex() != before, f"{text} not offered"


def _export(qtbot: QtBot, window: MainWindow, dialog: ExportDialog) -> None:
    with qtbot.waitSignal(window.files.task_finished, timeout=60_000) as finished:
        _click(dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok))
    assert finished.args[1], finished.args


def test_coco_with_polygons_and_reviewed_only_reach_the_written_file(qtbot: QtBot, window: MainWindow,
                                                                      clip: Path, tmp_path: Path) -> None:
    assert window.open_path(clip)
    _paint_two_overlapping_objects(window)
    dialog = _open_export(qtbot, window, "coco")
    _type_path(dialog, tmp_path / "out" / "with_polygons")  # no suffix typed: .json is added
    _click(dialog.widgets["polygons"])
    assert dialog.widgets["polygons"].isChecked()
    _export(qtbot, window, dialog)
    data = json.loads((tmp_path / "out" / "with_polygons.json").read_text())
    segmentations = [a["segmentation"] for a in data["annotations"]]
    assert len(segmentations) == 2
    assert all(isinstance(s, list) and s and all(len(p) >= 6 for p in s) for s in segmentations), \
        "polygons: lists of x, y coordinates (RLE would be a dict)"

    dialog = _open_export(qtbot, window, "coco")
    assert not dialog.widgets["polygons"].isChecked(), "a new dialog starts from the CLI's defaults"
    _type_path(dialog, tmp_path / "rle.json")
    _click(dialog.widgets["reviewed_only"])
    _export(qtbot, window, dialog)
    data = json.loads((tmp_path / "rle.json").read_text())
    assert data["annotations"] == [], "nothing was reviewed: reviewed-only leaves every mask out"


def test_davis_into_a_new_folder_with_layout_ids_overlap_and_images(qtbot: QtBot, window: MainWindow,
                                                                    clip: Path, tmp_path: Path) -> None:
    assert window.open_path(clip)
    _paint_two_overlapping_objects(window)
    out = tmp_path / "does" / "not" / "exist" / "davis"
    dialog = _open_export(qtbot, window, "davis")
    _type_path(dialog, out)
    _choose(dialog.widgets["davis_layout"], "flat")
    _choose(dialog.widgets["davis_ids"], "raw")
    _choose(dialog.widgets["overlap"], "lower-id")
    _click(dialog.widgets["with_images"])
    _export(qtbot, window, dialog)
    png = out / "Annotations" / "shapes" / "00000.png"
    assert png.is_file(), sorted(str(p.relative_to(out)) for p in out.rglob("*"))[:10]
    assert not (out / "ImageSets").exists(), "flat layout"
    assert (out / "JPEGImages" / "shapes" / "00000.jpg").is_file()
    labels = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
    labels = labels if labels.ndim == 2 else None
    if labels is None:  # an indexed PNG read as colour: read the indices with Pillow
        from PIL import Image

        labels = np.array(Image.open(png))
    assert labels[100, 115] == 1, "overlap lower-id: object 1 keeps the shared pixel"
    assert labels[100, 150] == 2 and labels[100, 80] == 1


@pytest.mark.parametrize("fmt", ["mots", "yolo", "sav"])
def test_the_other_folder_formats_accept_a_new_folder_name(qtbot: QtBot, window: MainWindow, clip: Path,
                                                           tmp_path: Path, fmt: str) -> None:
    assert window.open_path(clip)
    _paint_two_overlapping_objects(window)
    out = tmp_path / "new" / fmt
    dialog = _open_export(qtbot, window, fmt)
    _type_path(dialog, out)
    _export(qtbot, window, dialog)
    assert out.is_dir() and any(out.rglob("*"))
