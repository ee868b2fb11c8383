"""The first run without a model: a one-time offer to download SAM 2.1-tiny or to go on with the
no-weights classical engine. Tracking ▸ Get a model… shows the same offer again at any time.

The download runs in a background task (the UI never waits on it), reports progress, stops between
two chunks when cancelled and keeps what arrived: the next download resumes from there
(:func:`app.models_catalog.download_model`). :func:`download` is the network boundary tests replace.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import models_catalog
from app.models_catalog import CHECKPOINT_SUFFIXES, Progress
from app.paths import models_dir
from app.ui.tasks import BackgroundTask

CHOICE_KEY = "engine/first_run_choice"  # "download", "classical" or "closed": the offer was made
OFFERED_MODEL = "sam2.1_hiera_tiny"


def download(name: str, progress: Progress) -> Path:
    """The network boundary of the offer (tests replace it): the real, resumable download."""
    return models_catalog.download_model(name, progress)


def should_offer() -> bool:
    """True on a first run with no model at all: never offered, no checkpoint remembered, none on disk."""
    settings = QSettings()
    if settings.value(CHOICE_KEY) or str(settings.value("engine/checkpoint", "") or ""):
        return False
    folder = models_dir()
    try:
        has_files = folder.is_dir() and any(p.suffix.lower() in CHECKPOINT_SUFFIXES for p in folder.iterdir())
    except OSError:  # an unreadable models folder is the same as an empty one here
        has_files = False
    return not has_files


def _mb(kib: int) -> str:
    return f"{kib / 1024:.0f} MB"


class ModelOfferDialog(QDialog):
    """Download SAM 2.1-tiny, or go on without weights; ``model_ready(path)`` once a file is there."""

    model_ready = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = models_catalog.model_spec(OFFERED_MODEL)
        self.setWindowTitle("Get a model")
        self.task: BackgroundTask | None = None
        intro = QLabel(
            f"<b>No model is installed.</b><br><br>Masklet works without one: the <i>classical</i> engine "
            "needs no weights, but its masks follow colours and edges only.<br><br>"
            f"<b>SAM 2.1-tiny</b> (about {self.spec.approx_mb} MB from the Hugging Face Hub) gives far "
            "better masks and runs on a CPU. The download can be cancelled and resumed later.<br><br>"
            f"You can come back to this choice at any time: {GET_MODEL_MENU_PATH}")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        self.download_button = QPushButton(f"Download SAM 2.1-tiny ({self.spec.approx_mb} MB)")
        self.download_button.setDefault(True)
        self.classical_button = QPushButton("Continue without weights (classical)")
        self.cancel_button = QPushButton("Cancel download")
        self.progress = QProgressBar()
        self.progress.setFormat("%p %")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for widget in (self.cancel_button, self.progress):
            widget.hide()
        row = QHBoxLayout()
        row.addWidget(self.download_button)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        row.addWidget(self.classical_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(row)
        self.download_button.clicked.connect(self._download)
        self.cancel_button.clicked.connect(self._cancel)
        self.classical_button.clicked.connect(self._classical)
        self.setMinimumWidth(520)  # height: what the text needs (grows when the progress shows)
        # No network probe here (the UI thread never waits on the network): offline, Download fails
        # within milliseconds with what to do instead.
        kept = models_catalog.partial_download_bytes(OFFERED_MODEL) // 1024
        if kept:
            self.download_button.setText(f"Resume download ({_mb(kept)} of {self.spec.approx_mb} MB here)")
        if QSettings().value(CHOICE_KEY) is None:
            QSettings().setValue(CHOICE_KEY, "closed")  # offered once: a later launch does not ask again

    @property
    def downloading(self) -> bool:
        return self.task is not None and not self.task.finished

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setStyleSheet("color: #c0392b" if error else "")
        self.status.setText(text)

    def _busy(self, on: bool) -> None:
        self.download_button.setVisible(not on)
        self.cancel_button.setVisible(on)
        self.classical_button.setEnabled(not on)
        self.progress.setVisible(on or self.progress.value() > 0)

    def _download(self) -> None:
        if self.downloading:
            return
        self.progress.setRange(0, 0)  # busy until the first bytes say how many there are
        self._say(f"Downloading {self.spec.filename} from {self.spec.repo_id}…")
        self._busy(True)
        self.task = BackgroundTask(f"Downloading {self.spec.name}",
                                   lambda progress: download(self.spec.name, progress), self, dialog=False)
        self.task.progress.connect(self._on_progress)
        self.task.done.connect(self._on_done)
        self.task.failed.connect(self._on_failed)
        self.task.start()

    def _on_progress(self, done_kib: int, total_kib: int) -> None:
        if total_kib > 0:
            self.progress.setRange(0, total_kib)
            self.progress.setValue(min(done_kib, total_kib))
            self._say(f"Downloading {self.spec.filename}: {_mb(done_kib)} of {_mb(total_kib)}")

    def _cancel(self) -> None:
        if self.task is not None:
            self.task.cancel_event.set()  # the download stops before its next chunk
            self._say("Cancelling…")

    def _on_done(self, path: object) -> None:
        self._busy(False)
        QSettings().setValue(CHOICE_KEY, "download")
        self._say(f"Downloaded to {path}")
        self.model_ready.emit(str(path))
        self.accept()

    def _on_failed(self, message: str) -> None:
        self._busy(False)
        kept = models_catalog.partial_download_bytes(OFFERED_MODEL) // 1024
        if message == "cancelled":
            here = f" {_mb(kept)} of {self.spec.approx_mb} MB are kept;" if kept else ""
            self._say(f"Download cancelled.{here} Download again to resume where it stopped.")
        else:
            self._say(message, error=True)
        self.download_button.setText(f"Resume download ({_mb(kept)} here)" if kept else
                                     f"Download SAM 2.1-tiny ({self.spec.approx_mb} MB)")

    def _classical(self) -> None:
        QSettings().setValue(CHOICE_KEY, "classical")
        self.accept()

    def reject(self) -> None:
        self._cancel()  # closing the window stops a download too (its bytes are kept for a resume)
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self._cancel()
        super().closeEvent(event)


# The action that shows this offer again (app/ui/actions.py, "get_model"); named in the offer's text.
GET_MODEL_MENU_PATH = "Tracking ▸ Get a model…"
