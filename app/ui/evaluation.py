"""Tools ▸ Evaluate against ground truth…: J, F and J&F per object, and the per-frame J on the timeline.

The numbers are those of ``masklet eval``: both call :func:`app.domain.evaluate.evaluate_project` with
the same options, in a background thread here. Showing the result puts each object's per-frame J into
its timeline lane's bottom band (red below 0.5), so a researcher sees where the masks depart from the
reference; "Clear" goes back to the engine's confidence.
"""

from __future__ import annotations

import inspect
import logging
import math
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
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

from app.domain.evaluate import evaluate_project
from app.domain.importers import davis_sequence_folder, frame_number
from app.domain.project import Project
from app.ui.tasks import BackgroundTask

log = logging.getLogger(__name__)
LAST_GT_KEY = "evaluate/last_gt"
_PARAMS = inspect.signature(evaluate_project).parameters


def protocol_kwargs(official: bool) -> dict[str, bool]:
    """evaluate_project's keyword for "skip the first and last ground-truth frame" (as masklet eval)."""
    if "keep_first_last" in _PARAMS:
        return {"keep_first_last": not official}
    return {"exclude_first_last": official}


def official_by_default() -> bool:
    """Whatever ``masklet eval`` does without options."""
    return "keep_first_last" in _PARAMS


def scored_frames(result: object, project: Project, gt_dir: Path, official: bool) -> list[int]:
    """The frames the result's per-frame lists refer to, in order."""
    frames = getattr(result, "frames", None)
    if frames:
        return list(frames)
    folder = davis_sequence_folder(gt_dir, project)  # the same listing evaluate_project scores
    listed = sorted(f for f in (frame_number(p.name) for p in folder.iterdir() if p.suffix.lower() == ".png")
                    if f is not None)
    return listed[1:-1] if official else listed


def _fmt(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.3f}"


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
        self.folder = QLineEdit(str(QSettings().value(LAST_GT_KEY, "") or ""), self)
        self.folder.setPlaceholderText("DAVIS annotation folder (PNGs named by frame) or dataset root")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        self.official = QCheckBox("Official DAVIS protocol: skip the first and last annotated frame", self)
        self.official.setChecked(official_by_default())
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
        layout.addWidget(self.official)
        layout.addWidget(self.run_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.on_timeline)
        layout.addWidget(buttons)
        self.resize(560, 420)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Ground-truth annotation folder", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def run(self, folder: str | Path) -> BackgroundTask | None:
        gt = Path(str(folder).strip())
        if not str(folder).strip() or not gt.is_dir():
            self.status.setText(f"{gt}: not a folder; choose the DAVIS annotation folder")
            return None
        QSettings().setValue(LAST_GT_KEY, str(gt))
        self.folder.setText(str(gt))
        self.gt = gt
        official = self.official.isChecked()
        project = self.project
        kwargs = protocol_kwargs(official)
        self.run_button.setEnabled(False)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.status.setText(f"Evaluating against {gt} …")

        def work(progress):  # noqa: ANN001, ANN202  (runs in the task's thread)
            result = evaluate_project(project, gt, progress=progress, **kwargs)
            return result, scored_frames(result, project, gt, official)

        self.task = BackgroundTask("Evaluating", work, self, dialog=False)
        self.task.progress.connect(self._on_progress)
        self.task.done.connect(lambda out: self._on_done(out, gt))
        self.task.failed.connect(self._on_failed)
        self.task.start()
        return self.task

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _on_failed(self, message: str) -> None:
        self.run_button.setEnabled(True)
        self.progress.setVisible(False)
        self.status.setText(f"Cannot evaluate: {message}")

    def _on_done(self, out: tuple, gt: Path) -> None:
        self.run_button.setEnabled(True)
        self.progress.setVisible(False)
        self.result, self.frames = out
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
        notes = list(getattr(self.result, "notes", []) or [])
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
