"""Export ▸ …: where to write, and the same options ``masklet export`` offers (app/domain/export_options).

The output is a path field: a folder that does not exist yet is created by the export (a folder
picker cannot name a new folder), and Browse… only fills the field in.
"""

from __future__ import annotations

from pathlib import Path

import qtawesome as qta
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.export_options import options_for

# fmt -> (dialog title, "file" or "folder", file filter, default suffix)
EXPORTS = {
    "coco": ("Export COCO JSON", "file", "COCO JSON (*.json)", "_coco.json"),
    "davis": ("Export DAVIS PNG folder", "folder", "", "_davis"),
    "ytvis": ("Export YouTube-VIS JSON", "file", "YouTube-VIS JSON (*.json)", "_ytvis.json"),
    "mots": ("Export MOTS folder", "folder", "", "_mots"),
    "yolo": ("Export YOLO segmentation dataset", "folder", "", "_yolo"),
    "sav": ("Export SA-V masklet folder", "folder", "", "_sav"),
    "video": ("Export overlay video", "file", "MP4 video (*.mp4)", "_overlay.mp4"),
}


def default_output(fmt: str, video_path: Path) -> Path:
    stem = video_path.stem if video_path.is_file() else video_path.name
    return video_path.parent / f"{stem}{EXPORTS[fmt][3]}"


class ExportDialog(QDialog):
    """``output()`` and ``options()`` (keywords of export_with_report) once accepted."""

    def __init__(self, fmt: str, default: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fmt = fmt
        title, self.kind, self.file_filter, self.suffix = EXPORTS[fmt]
        self.setWindowTitle(title)
        self.path_edit = QLineEdit(str(default))
        self.path_edit.setMinimumWidth(380)
        browse = QPushButton(qta.icon("mdi6.folder-open"), "Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Folder" if self.kind == "folder" else "File", row)
        if self.kind == "folder":
            note = QLabel("A folder that does not exist yet is created.")
            note.setStyleSheet("color: gray")
            form.addRow("", note)
        self.widgets: dict[str, QCheckBox | QComboBox] = {}
        for option in options_for(fmt):
            if option.choices:
                combo = QComboBox()
                combo.addItems(list(option.choices))
                combo.setCurrentText(option.default)
                combo.setToolTip(option.tip)
                form.addRow(option.label, combo)
                self.widgets[option.name] = combo
            else:
                box = QCheckBox(option.label)
                box.setToolTip(option.tip)
                form.addRow("", box)
                self.widgets[option.name] = box
        standard = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(standard.Ok | standard.Cancel)
        self.export_button = buttons.button(standard.Ok)
        self.export_button.setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.path_edit.textChanged.connect(lambda text: self.export_button.setEnabled(bool(text.strip())))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        current = self.path_edit.text().strip()
        if self.kind == "folder":
            # Qt's folder dialog has "Create New Folder"; a name typed in the field works as well.
            start = Path(current)
            while not start.is_dir() and start != start.parent:
                start = start.parent
            path = QFileDialog.getExistingDirectory(self, self.windowTitle(), str(start))
        else:
            path, _ = QFileDialog.getSaveFileName(self, self.windowTitle(), current, self.file_filter)
        if path:
            self.path_edit.setText(path)

    def output(self) -> str:
        path = self.path_edit.text().strip()
        wanted = Path(self.suffix).suffix  # ".json" / ".mp4"; "" for folders
        if self.kind == "file" and wanted and not path.lower().endswith(wanted):
            path += wanted
        return str(Path(path).expanduser())

    def options(self) -> dict[str, object]:
        return {name: widget.currentText() if isinstance(widget, QComboBox) else widget.isChecked()
                for name, widget in self.widgets.items()}
