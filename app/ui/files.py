"""Opening, saving, recent files, export and import: the File and Export menus' controller.

Exports and imports run in a background task with a progress dialog; the Project is thread-safe.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from app.domain.export import export_with_report, import_annotations
from app.ui import dialogs
from app.ui.export_dialog import ExportDialog, default_output
from app.ui.file_filters import PROJECT_FILTER, VIDEO_FILTER
from app.ui.project_files import PROJECT_SUFFIX
from app.ui.session import SessionController
from app.ui.tasks import BackgroundTask
from sam3core.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

log = logging.getLogger(__name__)

RECENT_KEY = "recent_files"
MAX_RECENT = 10

def is_project_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == PROJECT_SUFFIX


def is_openable(path: Path) -> bool:
    if path.is_dir():
        return any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir())
    return path.suffix.lower() in (*VIDEO_SUFFIXES, PROJECT_SUFFIX)


class FileController(QObject):
    recent_changed = Signal()
    task_finished = Signal(str, bool, str)   # what, ok, message

    def __init__(self, window: QWidget, session: SessionController) -> None:
        super().__init__(window)
        self.window = window
        self.session = session
        self.task: BackgroundTask | None = None
        self.export_form: ExportDialog | None = None
        session.video_missing.connect(self._locate_video)
        session.locked.connect(self._offer_read_only)

    # -- opening ------------------------------------------------------------------------------
    def open_path(self, path: str | Path) -> bool:
        """Open a video, an image folder or a project, whichever ``path`` is."""
        path = Path(path).expanduser()
        if not path.exists():
            self.session.error.emit("Cannot open", f"{path}: no such file or folder")
            self.forget_recent(path)
            return False
        if not self._no_task() or not self.confirm_discard():
            return False
        ok = self.session.open_project(path) if is_project_file(path) else self.session.open_video(path)
        if ok:
            self.add_recent(path)
        return ok

    def open_video_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open video", self._last_dir(), VIDEO_FILTER)
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self.window, "Open a folder of frames", self._last_dir())
        if path:
            self.open_path(path)

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open project", self._last_dir(), PROJECT_FILTER)
        if path:
            self.open_path(path)

    def _locate_video(self, project_path: str, expected: str) -> None:
        path = dialogs.locate_video(self.window, project_path, expected)
        if path and self.session.open_project(project_path, video_path=path):
            self.add_recent(Path(project_path))

    def _offer_read_only(self, project_path: str, message: str, holder: str) -> None:
        """Another program writes the project: say who, and offer to view (and export) it read-only."""
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.window, "Project in use",
            f"{message}\n\nOpen it read-only? You can view and export it; changes stay with the other "
            "program (File ▸ Save project as… makes a writable copy).", buttons.Open | buttons.Cancel,
            buttons.Open)
        if answer == buttons.Open and self.session.open_project(project_path,
                                                                read_only=f"being written by {holder}"):
            self.add_recent(Path(project_path))

    def confirm_discard(self) -> bool:
        """Before the open project is closed: True when nothing unsaved would be lost."""
        project = self.session.project
        if project is None or project.path is not None or not self.session.objects:
            return True
        answer = dialogs.ask_unsaved(self.window)
        if answer == "save":
            self.save_as_dialog()
            return project.path is not None
        return answer == "discard"

    def _last_dir(self) -> str:
        recent = self.recent_files()
        return str(Path(recent[0]).parent) if recent else str(Path.home())

    # -- saving -------------------------------------------------------------------------------
    def save(self) -> None:
        project = self.session.project
        if project is None:
            return
        if project.path is None:
            self.save_as_dialog()
        else:
            self.session.status.emit(f"All changes are saved in {project.path}")

    def save_as_dialog(self) -> None:
        project = self.session.project
        if project is None:
            return
        default = project.path or project.video_path.with_suffix(PROJECT_SUFFIX)
        path, _ = QFileDialog.getSaveFileName(self.window, "Save project as", str(default), PROJECT_FILTER)
        if path:
            if not path.lower().endswith(PROJECT_SUFFIX):
                path += PROJECT_SUFFIX
            if self.session.save_as(path):
                self.add_recent(Path(path))

    def save_copy_dialog(self) -> None:
        project = self.session.project
        if project is None:
            return
        source = project.path or project.video_path.with_suffix(PROJECT_SUFFIX)
        default = source.with_name(f"{source.stem}-copy{PROJECT_SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save a copy of the project", str(default),
                                              PROJECT_FILTER)
        if path:
            if not path.lower().endswith(PROJECT_SUFFIX):
                path += PROJECT_SUFFIX
            self.session.save_copy(path)

    # -- recent files -------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = QSettings().value(RECENT_KEY, [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: Path) -> None:
        entry = str(path.resolve())
        items = [entry] + [p for p in self.recent_files() if p != entry]
        QSettings().setValue(RECENT_KEY, items[:MAX_RECENT])
        self.recent_changed.emit()

    def forget_recent(self, path: Path) -> None:
        entry = str(path.resolve())
        QSettings().setValue(RECENT_KEY, [p for p in self.recent_files() if p != entry])
        self.recent_changed.emit()

    def fill_recent_menu(self, menu: QMenu) -> None:
        menu.clear()
        recent = self.recent_files()
        for index, item in enumerate(recent):
            action = menu.addAction(f"&{index + 1}  {Path(item).name}" if index < 9 else Path(item).name)
            action.setToolTip(item)
            action.triggered.connect(lambda _=False, p=item: self.open_path(p))
        if not recent:
            menu.addAction("(none)").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear list").triggered.connect(
                lambda: (QSettings().setValue(RECENT_KEY, []), self.recent_changed.emit()))

    # -- export / import ----------------------------------------------------------------------
    def export_dialog(self, fmt: str) -> ExportDialog | None:
        """The export's form (output and options, as ``masklet export`` has them); it exports on OK."""
        project = self.session.project
        if project is None:
            return None
        dialog = ExportDialog(fmt, default_output(fmt, project.video_path), self.window)
        dialog.accepted.connect(lambda: self._export_from(dialog))
        dialog.finished.connect(dialog.deleteLater)
        self.export_form = dialog
        dialog.open()
        return dialog

    def _export_from(self, dialog: ExportDialog) -> None:
        out = dialog.output()
        if dialog.kind == "file" and Path(out).exists() and not dialogs.confirm(
                self.window, "Replace file", f"{out} exists. Replace it?"):
            return
        self.export(dialog.fmt, out, **dialog.options())

    def export(self, fmt: str, out: str | Path, **options: object) -> BackgroundTask | None:
        """``options``: keywords of export_with_report (app/domain/export_options.py lists them)."""
        project = self.session.project
        if project is None or not self._no_task():
            return None
        notes: list[str] = []

        def describe(report) -> str:  # noqa: ANN001 - WriteReport
            return f"Exported {fmt.upper()}: {report.describe()}" + "".join(f"; note: {n}" for n in notes)

        def run(progress) -> object:  # noqa: ANN001 - the task's progress callback
            return export_with_report(project, fmt, out, progress=progress, notes=notes,
                                      **options)  # type: ignore[arg-type]

        return self._run(f"Exporting {fmt.upper()}", run, describe)

    def import_dialog(self) -> None:
        if self.session.project is None:
            return
        path, chosen = QFileDialog.getOpenFileName(
            self.window, "Import annotations", self._last_dir(),
            "COCO JSON (*.json);;DAVIS: any PNG in the annotation folder (*.png);;"
            "MOTS txt (*.txt);;YOLO segmentation: the dataset's data.yaml (*.yaml *.yml)")
        if path:
            suffix = Path(path).suffix.lower()
            fmt = {".json": "coco", ".txt": "mots", ".yaml": "yolo", ".yml": "yolo"}.get(suffix, "davis")
            self.import_(fmt, str(Path(path).parent) if fmt == "davis" else path)

    def import_(self, fmt: str, path: str | Path) -> BackgroundTask | None:
        project = self.session.project
        if project is None or not self._no_task() or not self.session.idle("import"):
            return None
        return self._run(f"Importing {fmt.upper()}",
                         lambda progress: import_annotations(project, fmt, path, progress=progress),
                         lambda s: f"Imported {s.masks} masks on {s.frames} frames "
                                   f"({len(s.created)} new objects){s.skipped()}")

    def stop_task(self) -> None:
        """The window closes: cancel a running export or import and wait for its thread, so the
        project's database is not closed under it (an import rolls back when cancelled)."""
        if self.task is not None and not self.task.finished and not self.task.abandon():
            log.warning("%s did not stop within 10 s of closing", self.task.title)

    def _no_task(self) -> bool:
        if self.task is not None and not self.task.finished:
            self.session.status.emit(f"{self.task.title} is still running")
            return False
        return True

    def _run(self, title: str, fn, describe) -> BackgroundTask:  # noqa: ANN001
        task = BackgroundTask(title, fn, self.window)
        task.done.connect(lambda result: self._task_done(title, describe(result)))
        task.failed.connect(lambda message: self._task_failed(title, message))
        self.task = task
        task.start()
        return task

    def _task_done(self, title: str, message: str) -> None:
        self.session.status.emit(message)
        self.task_finished.emit(title, True, message)

    def _task_failed(self, title: str, message: str) -> None:
        if message != "cancelled":
            self.session.error.emit(f"{title} failed", message)
        self.task_finished.emit(title, False, message)
