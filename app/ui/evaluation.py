"""Tools ▸ Evaluate against ground truth…: J, F and J&F per object, and the per-frame J on the timeline.

The numbers are those of ``masklet eval``: both call :func:`app.domain.evaluate.evaluate_project`, here in
a background thread, and the dialog offers the same options as the command with the same defaults (the
official DAVIS 2017 protocol). A folder of DAVIS 2016 masks (only 0 and 255) would be all void under that
protocol; the dialog notices when the folder is chosen, says so and ticks "Binary masks" rather than
failing. Showing the result puts each object's per-frame J into its timeline lane's bottom band (red
below 0.5), so a researcher sees where the masks depart from the reference; "Clear" goes back to the
engine's confidence.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.evaluate import EVAL_OVERLAPS, OBJECT_SETS, VOID_MODES, evaluate_project, looks_binary
from app.domain.importers import ImportFormatError
from app.domain.project import Project
from app.ui.tasks import BackgroundTask

log = logging.getLogger(__name__)
LAST_GT_KEY = "evaluate/last_gt"

KEEP_LABEL = "Also score the first and last ground-truth frame"
BINARY_LABEL = "Binary masks (DAVIS 2016)"
VOID_LABELS = {"background": "void, scored as background (official)", "ignore": "void, left out of J and F",
               "object": "an object (id 255)"}
OBJECT_LABELS = {"first-frame": "those on the first ground-truth frame (official)",
                 "all-frames": "those on any ground-truth frame"}
OVERLAP_LABELS = {"higher-id": "as the DAVIS export paints them: higher id on top (official)",
                  "lower-id": "as painted with the lower id on top",
                  "smaller-on-top": "as painted with the smaller mask on top",
                  None: "none: each object's own mask"}
# The domain's messages name the command's options; the dialog names its own widgets instead.
CLI_WORDS = {"--binary-gt": f"“{BINARY_LABEL}”", "--keep-first-last": f"“{KEEP_LABEL}”",
             "--objects all-frames": "“Objects scored: those on any ground-truth frame”",
             "--overlap ": "overlap rule "}


def in_dialog_terms(message: str) -> str:
    for cli, words in CLI_WORDS.items():
        message = message.replace(cli, words)
    return message


def _fmt(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.3f}"


def _combo(parent: QWidget, labels: dict, choices: tuple) -> QComboBox:
    combo = QComboBox(parent)
    for choice in choices:
        combo.addItem(labels[choice], choice)
    return combo


class EvaluationDialog(QDialog):
    """Non-modal: choose a DAVIS annotation folder, run, read the table; the lanes show per-frame J."""

    show_scores = Signal(object, str)  # {obj_id: (frames, J)}, caption
    clear_scores = Signal()

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Evaluate against ground truth")
        self.project = project
        self.result: object | None = None
        self.frames: list[int] = []
        self.gt: Path | None = None
        self.task: BackgroundTask | None = None
        self.stopped = False  # the window closed: a result arriving later is not shown
        self.folder = QLineEdit(str(QSettings().value(LAST_GT_KEY, "") or ""), self)
        self.folder.setPlaceholderText("DAVIS annotation folder (PNGs named by frame) or dataset root")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        self.folder.editingFinished.connect(self._folder_chosen)
        # The options of masklet eval, with its defaults (the official protocol: nothing ticked).
        self.keep_first_last = QCheckBox(KEEP_LABEL, self)
        self.binary = QCheckBox(f"{BINARY_LABEL}: any non-zero pixel is object 1", self)
        self.void = _combo(self, VOID_LABELS, VOID_MODES)
        self.objects = _combo(self, OBJECT_LABELS, OBJECT_SETS)
        self.overlap = _combo(self, OVERLAP_LABELS, EVAL_OVERLAPS)
        protocol = QGroupBox("Protocol (default: official DAVIS 2017 semi-supervised)", self)
        form = QFormLayout(protocol)
        form.addRow(self.keep_first_last)
        form.addRow("Pixels of value 255:", self.void)
        form.addRow("Objects scored:", self.objects)
        form.addRow("Overlapping masks:", self.overlap)
        form.addRow(self.binary)
        self.hinted: Path | None = None  # the folder the binary-mask hint was given for
        self.hint = ""
        self.run_button = QPushButton("Evaluate", self)
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(lambda: self.run(self.folder.text()))
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        self.status = QLabel("Same numbers as “masklet eval PROJECT --gt FOLDER”.", self)
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, 6, self)
        self.table.setHorizontalHeaderLabels(["Object", "Name", "J", "F", "J&F", "Frames"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.on_timeline = QCheckBox("Show per-frame J in the timeline lanes", self)
        self.on_timeline.setChecked(True)
        self.on_timeline.toggled.connect(self._timeline_toggled)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(self.folder, 1)
        top.addWidget(browse)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(protocol)
        layout.addWidget(self.run_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.on_timeline)
        layout.addWidget(buttons)
        self.resize(600, 520)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Ground-truth annotation folder", self.folder.text())
        if folder:
            self.folder.setText(folder)
            self._folder_chosen()

    def options(self) -> dict[str, object]:
        """evaluate_project's keyword arguments as the widgets set them (as masklet eval's options)."""
        return {"keep_first_last": self.keep_first_last.isChecked(), "void": self.void.currentData(),
                "objects": self.objects.currentData(), "binary_gt": self.binary.isChecked(),
                "overlap": self.overlap.currentData()}

    def _folder_chosen(self) -> None:
        text = self.folder.text().strip()
        if text:
            self._offer_binary(Path(text))

    def _offer_binary(self, gt: Path) -> None:
        """Once per folder: DAVIS 2016 masks would be all void under the 2017 protocol, so tick
        "Binary masks" and say why; unticking it again afterwards is the user's choice."""
        if gt == self.hinted or self.binary.isChecked() or self.void.currentData() == "object":
            return
        if not gt.is_dir() or not looks_binary(gt, self.project):
            return
        self.hinted = gt
        self.binary.setChecked(True)
        self.hint = (f"{gt.name} holds only 0 and 255 (DAVIS 2016 masks), which the DAVIS 2017 protocol "
                     f"reads as void; “{BINARY_LABEL}” is now ticked: any non-zero pixel is object 1.")
        self.status.setText(self.hint)

    def run(self, folder: str | Path) -> BackgroundTask | None:
        gt = Path(str(folder).strip())
        if not str(folder).strip() or not gt.is_dir():
            self.status.setText(f"{gt}: not a folder; choose the DAVIS annotation folder")
            return None
        QSettings().setValue(LAST_GT_KEY, str(gt))
        self.folder.setText(str(gt))
        if gt != self.hinted:
            self.hint = ""
        self._offer_binary(gt)
        self.gt = gt
        project = self.project
        kwargs = self.options()
        self.run_button.setEnabled(False)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.status.setText(f"Evaluating against {gt} …")

        def work(progress):  # noqa: ANN001, ANN202  (runs in the task's thread)
            try:
                return evaluate_project(project, gt, progress=progress, **kwargs)
            except ImportFormatError as exc:  # the ground truth's fault, not ours: a message, no traceback
                return exc

        self.task = BackgroundTask("Evaluating", work, self, dialog=False)
        self.task.progress.connect(self._on_progress)
        self.task.done.connect(lambda out: self._on_done(out, gt))
        self.task.failed.connect(self._on_failed)
        self.task.start()
        return self.task

    def stop(self) -> None:
        """The window closes: cancel a running evaluation and wait for its thread, so the project's
        database is not closed under it; what it still reports is dropped (it would read the project)."""
        self.stopped = True
        if self.task is not None and not self.task.finished and not self.task.abandon():
            log.warning("the evaluation did not stop within 10 s of closing")

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _on_failed(self, message: str) -> None:
        if self.stopped:
            return
        self.run_button.setEnabled(True)
        self.progress.setVisible(False)
        self.status.setText(f"Cannot evaluate: {in_dialog_terms(message)}")

    def _on_done(self, out: object, gt: Path) -> None:
        if self.stopped:
            return
        if isinstance(out, ImportFormatError):
            self._on_failed(str(out))
            return
        self.run_button.setEnabled(True)
        self.progress.setVisible(False)
        self.result, self.frames = out, list(out.frames)
        names = {o.id: o.name for o in self.project.objects()}
        objects = list(self.result.objects)
        self.table.setRowCount(len(objects) + 1)
        for r, scores in enumerate(objects):
            cells = (str(scores.obj_id), names.get(scores.obj_id, "(not in project)"), _fmt(scores.j_mean),
                     _fmt(scores.f_mean), _fmt(scores.jf_mean), str(len(scores.j_per_frame)))
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        last = len(objects)
        for c, text in enumerate(("all", "(mean over objects)", _fmt(self.result.j_mean),
                                  _fmt(self.result.f_mean), _fmt(self.result.jf_mean), "")):
            item = QTableWidgetItem(text)
            font = item.font()
            font.setBold(True)
            item.setFont(font)
            self.table.setItem(last, c, item)
        notes = [in_dialog_terms(n) for n in self.result.notes] + ([self.hint] if self.hint else [])
        self.status.setText(f"J&F {_fmt(self.result.jf_mean)} against {gt} over {len(self.frames)} frames"
                            + ("".join(f"\n• {n}" for n in notes)))
        self._timeline_toggled(self.on_timeline.isChecked())

    def per_frame_j(self) -> dict[int, tuple[list[int], list[float]]]:
        if self.result is None:
            return {}
        out = {}
        for scores in self.result.objects:
            if len(scores.j_per_frame) == len(self.frames):
                out[scores.obj_id] = (self.frames, list(scores.j_per_frame))
        return out

    def _timeline_toggled(self, on: bool) -> None:
        if on and self.result is not None:
            name = self.gt.name if self.gt else ""
            self.show_scores.emit(self.per_frame_j(), f"lanes: J vs {name} (red < 0.5)")
        elif not on:
            self.clear_scores.emit()

    def cell_texts(self) -> list[list[str]]:
        """The table as shown (for tests and the self-check)."""
        return [[self.table.item(r, c).text() if self.table.item(r, c) else ""
                 for c in range(self.table.columnCount())] for r in range(self.table.rowCount())]
