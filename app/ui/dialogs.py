"""Dialogs: engine/model choice (with download), confirmations and small questions.

``confirm`` and ``ask_frame`` are module functions so tests can replace them (no modal loops there).
"""

from __future__ import annotations

from pathlib import Path

import qtawesome as qta
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.file_filters import CHECKPOINT_FILTER, VIDEO_FILTER
from app.ui.remote_box import RemoteEngineBox
from app.ui.tasks import BackgroundTask
from app.ui.worker import EngineSpec


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    buttons = QMessageBox.StandardButton
    return QMessageBox.question(parent, title, text, buttons.Yes | buttons.No, buttons.No) == buttons.Yes


def ask_frame(parent: QWidget | None, current: int, last: int) -> int | None:
    value, ok = QInputDialog.getInt(parent, "Propagate to frame",
                                    f"Propagate from frame {current} to frame (0–{last}):",
                                    current, 0, last)
    return value if ok else None


def locate_video(parent: QWidget | None, project_path: str, expected: str) -> str | None:
    """Ask where a project's moved video is now; None if the user gives up."""
    QMessageBox.information(parent, "Video moved",
                            f"The video of {Path(project_path).name} is no longer at\n{expected}\n\n"
                            "Please show where it is now.")
    path, _ = QFileDialog.getOpenFileName(parent, f"Where is {Path(expected).name}?",
                                          str(Path(project_path).parent), VIDEO_FILTER)
    return path or None


def ask_unsaved(parent: QWidget | None) -> str:
    """'save', 'discard' or 'cancel' for annotations that live only in memory."""
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.warning(
        parent, "Annotations not saved",
        "No project file could be created for this video, so its annotations exist only in memory.\n"
        "Save them to a project file?", buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
    return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")


def detect_checkpoint(path: str) -> tuple[str | None, str]:
    """(registry name or None, a line to show) for a checkpoint file."""
    if not path:
        return None, "No checkpoint: the classical engine (no weights) is used"
    if not Path(path).is_file():
        return None, f"{path}: no such file"
    try:
        from sam3core.sam.checkpoint import detect_model_name
    except ImportError:
        return None, "Checkpoint detection is not available in this build"
    try:
        name = detect_model_name(path)
    except Exception as exc:  # CheckpointError and anything a broken file raises
        return None, f"Not usable: {exc}"
    return name, f"Detected model: {name}"


LAST_CHECKPOINT_GROUP = "engine/last_checkpoint"


def _is_sam_name(name: str | None) -> bool:
    return bool(name) and name != "classical"


def about_text() -> str:
    """Help ▸ About: version plus where the log, the models and the settings live (for bug reports)."""
    from app.logs import app_version, log_file_path
    from app.paths import models_dir

    rows = [("Log file", str(log_file_path())), ("Models folder", str(models_dir())),
            ("Settings", QSettings().fileName())]
    table = "".join(f"<tr><td><b>{k}</b>&nbsp;</td><td>{v}</td></tr>" for k, v in rows)
    return (f"<b>Masklet {app_version()}</b><br>Video object annotation with SAM 2.1 / SAM 3 memory trackers "
            f"and a no-weights classical engine.<br><br><table>{table}</table>")


def remember_checkpoint(model: str, path: str) -> None:
    """Keep the last checkpoint used for each model, so switching models does not mean browsing again."""
    QSettings().setValue(f"{LAST_CHECKPOINT_GROUP}/{model}", path)


def remembered_checkpoints() -> dict[str, str]:
    settings = QSettings()
    settings.beginGroup(LAST_CHECKPOINT_GROUP)
    try:
        return {key: str(settings.value(key)) for key in settings.childKeys() if settings.value(key)}
    finally:
        settings.endGroup()


class EngineDialog(QDialog):
    """Choose the classical engine or a checkpoint (type detected), the device, or download a model."""

    def __init__(self, current: EngineSpec, parent: QWidget | None = None, *,
                 in_use: tuple[str, str] | None = None) -> None:
        """``current``: the spec the engine in use was built from; ``in_use``: its (name, device) as the
        worker reported them (the dialog opens on that engine, so OK without changes keeps it)."""
        super().__init__(parent)
        self.setWindowTitle("Engine and model")
        self._current = current
        self._detected: str | None = None
        name, device = in_use or ("", "")
        self.in_use_label = QLabel(f"In use now: <b>{name}</b> on {device}" if name else
                                   "In use now: <i>none loaded yet</i>")
        self.task: BackgroundTask | None = None
        self.classical = QRadioButton("Classical engine (no model weights; works everywhere)")
        self.sam = QRadioButton("SAM 2.1 / SAM 3 checkpoint")
        group = QButtonGroup(self)
        group.addButton(self.classical)
        group.addButton(self.sam)
        self.path_edit = QLineEdit(current.checkpoint or "")
        self.path_edit.setPlaceholderText("path to a .pt / .safetensors checkpoint")
        self.path_edit.editingFinished.connect(self._detect)
        browse = QPushButton(qta.icon("mdi6.folder-open"), "Browse…")
        browse.clicked.connect(self._browse)
        self.detected_label = QLabel()
        self.detected_label.setWordWrap(True)
        self.found = QListWidget()
        self.found.setMaximumHeight(90)
        self.found.itemActivated.connect(lambda item: self._use_path(item.toolTip()))
        self.found.itemClicked.connect(lambda item: self._use_path(item.toolTip()))
        self.device = QComboBox()
        from sam3core.factory import available_devices  # torch: loaded by now, or loaded when asked

        self.device.addItems(["auto", *available_devices()])
        if current.device and self.device.findText(current.device) >= 0:
            self.device.setCurrentText(current.device)
        self.download_name = QComboBox()
        self.download_button = QPushButton(qta.icon("mdi6.download"), "Download")
        self.download_button.clicked.connect(self._download)
        self._fill_catalog()

        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        sam_box = QGroupBox()
        sam_form = QFormLayout(sam_box)
        sam_form.addRow("File", path_row)
        sam_form.addRow("", self.detected_label)
        sam_form.addRow("In models folder", self.found)
        download_box = QGroupBox("Download an official checkpoint (Hugging Face Hub)")
        download_layout = QVBoxLayout(download_box)
        download_row = QHBoxLayout()
        download_row.addWidget(self.download_name, 1)
        download_row.addWidget(self.download_button)
        download_layout.addLayout(download_row)
        self.download_label = QLabel("")
        self.download_label.setWordWrap(True)
        download_layout.addWidget(self.download_label)
        standard = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(standard.Ok | standard.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Device", self.device)
        self.remote = RemoteEngineBox(current.remote, self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.in_use_label)
        layout.addWidget(self.classical)
        layout.addWidget(self.sam)
        layout.addWidget(sam_box)
        layout.addWidget(download_box)
        layout.addLayout(form)
        layout.addWidget(self.remote)
        layout.addWidget(buttons)
        self.remote.toggled.connect(lambda on: self.device.setEnabled(not on))
        self.device.setEnabled(not self.remote.isChecked())
        self.sam.toggled.connect(sam_box.setEnabled)
        uses_sam = (name != "classical") if name else (bool(current.checkpoint) or _is_sam_name(current.name))
        (self.sam if uses_sam else self.classical).setChecked(True)
        sam_box.setEnabled(self.sam.isChecked())
        self._scan()
        self._detect()
        self.resize(560, 500)

    def _fill_catalog(self) -> None:
        try:
            from app.models_catalog import CATALOG
        except ImportError:
            self.download_button.setEnabled(False)
            return
        for spec in CATALOG.values():
            self.download_name.addItem(f"{spec.name}  (~{spec.approx_mb} MB)", spec.name)

    def _scan(self) -> None:
        self.found.clear()
        try:
            from app.models_catalog import scan_models_dir

            entries = scan_models_dir()
        except Exception:  # an unreadable models folder only means an empty list here
            entries = []
        listed = {str(path) for path, _ in entries}
        for name, path in remembered_checkpoints().items():
            if path not in listed and Path(path).is_file():
                entries.append((Path(path), f"{name} (last used)"))
        for path, name in entries:
            self.found.addItem(f"{name} — {path.name}")
            self.found.item(self.found.count() - 1).setToolTip(str(path))
        if not entries:
            self.found.addItem("(no checkpoints found)")

    def _use_path(self, path: str) -> None:
        if path:
            self.path_edit.setText(path)
            self.sam.setChecked(True)
            self._detect()

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a checkpoint", self.path_edit.text(),
                                              CHECKPOINT_FILTER)
        self._use_path(path)

    def _detect(self) -> None:
        path = self.path_edit.text().strip()
        self._detected, text = detect_checkpoint(path)
        if not path and _is_sam_name(self._current.name):
            weights = "random weights (tests and benchmarks only)" if self._current.random_weights else \
                "no checkpoint file"
            text = f"Model {self._current.name} with {weights}; choose a file to load real weights"
        self.detected_label.setText(text)

    def _download(self) -> None:
        name = self.download_name.currentData()
        if not name:
            return
        from app.models_catalog import download_model

        self.download_label.setStyleSheet("")
        self.download_label.setText(f"Downloading {name}…")
        self.download_button.setEnabled(False)
        self.task = BackgroundTask(f"Downloading {name}",
                                   lambda progress: download_model(name, progress), self)
        self.task.done.connect(self._downloaded)
        self.task.failed.connect(self._download_failed)
        self.task.start()

    def _downloaded(self, path: object) -> None:
        self.download_button.setEnabled(True)
        self.download_label.setText(f"Downloaded to {path}")
        self._scan()
        self._use_path(str(path))

    def _download_failed(self, message: str) -> None:
        self.download_button.setEnabled(True)
        self.download_label.setStyleSheet("color: #c0392b")
        self.download_label.setText("Download cancelled; Download again resumes where it stopped"
                                    if message == "cancelled" else message)

    def spec(self) -> EngineSpec:
        device = self.device.currentText()
        device = None if device == "auto" else device
        remote = self.remote.target()
        if remote is not None:
            device = "cuda" if remote.num_gpus else "cpu"
        if self.sam.isChecked() and not self.path_edit.text().strip() and _is_sam_name(self._current.name):
            # A model named without a file (masklet --model NAME --random-weights): OK keeps it.
            return EngineSpec(self._current.name, None, device, self._current.random_weights, remote=remote)
        if self.classical.isChecked() or not self.path_edit.text().strip():
            return EngineSpec(None, None, device, remote=remote)
        return EngineSpec(self._detected, self.path_edit.text().strip(), device, remote=remote)
