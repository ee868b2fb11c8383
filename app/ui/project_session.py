"""ProjectSession: the open Project, its undo stack, the objects, and caches for painting.

The Project is the truth: every edit goes through a domain command (undoable) pushed with
:meth:`ProjectSession.push`, and the session keeps small caches (objects, prompts, which frames have
masks) updated from the Project's change events so the widgets can repaint without touching the
database on every paint. Prompt editing (:mod:`app.ui.prompt_editing`) and the storing of propagated
frames (:mod:`app.ui.propagation_store`) build on it; :mod:`app.ui.session` composes the three.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QWidget

from app.domain.commands import AddObject, DeleteObject, UpdateObject
from app.domain.commands import Command as DomainCmd
from app.domain.model import ObjectInfo, Prompt
from app.domain.project import Project, ProjectError, ProjectLockedError, VideoMissingError
from app.domain.prompt_edits import engine_prompt
from app.domain.tracking import PromptKey, PromptSet
from app.domain.video_compat import needs_reader_check
from app.ui.last_frame import remember_frame, remembered_frame
from app.ui.project_files import candidate_paths, open_or_create_for_video
from app.ui.tasks import BackgroundTask
from app.ui.tracking import TrackingController
from app.ui.undo import DomainCommand
from app.ui.worker import EngineSpec

log = logging.getLogger(__name__)


class _ProjectEvents(QObject):
    """Project listener -> Qt signal; queued to the UI thread when the worker thread writes."""

    changed = Signal(str, object, object)

    def __call__(self, kind: str, frame: int | None, obj_id: int | None) -> None:
        self.changed.emit(kind, frame, obj_id)


class InFlightFrames:
    """Frames a running propagation has stored but not yet announced (thread-safe).

    Their "mask" events are skipped: the masks come with the worker's announcement instead, so the UI
    thread never reads them back from disk (and never waits on the store's lock while the worker commits).
    """

    def __init__(self) -> None:
        self._frames: set[int] = set()
        self._lock = threading.Lock()

    def add(self, frame: int) -> None:
        with self._lock:
            self._frames.add(frame)

    def __contains__(self, frame: object) -> bool:
        with self._lock:
            return frame in self._frames

    def take(self, frame: int) -> bool:
        """Remove ``frame``; whether it was in flight."""
        with self._lock:
            if frame not in self._frames:
                return False
            self._frames.discard(frame)
            return True

    def take_all(self) -> set[int]:
        with self._lock:
            frames, self._frames = self._frames, set()
            return frames


class ProjectSession(QObject):
    project_changed = Signal()           # a project was opened or closed
    project_saved = Signal()             # the open project now lives in another file (Save as)
    objects_changed = Signal()
    active_object_changed = Signal(int)  # 0 = none
    frame_changed = Signal(int)          # masks or prompts of a frame changed; -1 = possibly all
    strips_changed = Signal()
    status = Signal(str)
    error = Signal(str, str)             # title, message
    video_missing = Signal(str, str)     # project path, the video's recorded path
    locked = Signal(str, str, str)       # project path, message, who writes it: read-only is offered

    def __init__(self, tracking: TrackingController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tracking = tracking
        self.project: Project | None = None
        self.undo_stack = QUndoStack(self)
        self.active_id = 0
        self._current_frame = 0
        self.objects: list[ObjectInfo] = []
        self.prompts: PromptSet = {}
        self.mask_frames: dict[int, set[int]] = {}
        self.autosave_note = ""
        self.in_flight = InFlightFrames()
        self.clicking: set[PromptKey] = set()  # prompts whose click the engine is answering (PromptEditor)
        self.opening: BackgroundTask | None = None  # an old project's frame check, running
        self._events = _ProjectEvents()
        self._events.changed.connect(self._on_project_event)
        tracking.engine_ready.connect(self._on_engine_ready)

    # -- project lifecycle --------------------------------------------------------------------
    def open_video(self, path: str | Path) -> bool:
        """Open a video or frame folder; its project file is found or created next to it."""
        if not self._may_open():
            return False
        video = Path(path)

        def opened(result: tuple[Project, str]) -> None:
            project, note = result
            self._set_project(project)
            self.autosave_note = note
            self.status.emit(note)

        slow = any(c.exists() and needs_reader_check(c) for c in candidate_paths(video)) \
            if video.exists() else False
        return self._open(lambda progress=None: open_or_create_for_video(video, progress=progress),
                          opened, "Cannot open video", slow=slow)

    def open_project(self, path: str | Path, video_path: str | Path | None = None, *,
                     read_only: bool | str = False) -> bool:
        """Open a project file. An old one (made by the older frame reader) is checked in a worker
        thread first; then True means the opening started, and it shows once the check has decided."""
        if not self._may_open():
            return False

        def opened(project: Project) -> None:
            self._set_project(project)
            self.autosave_note = f"Read-only: {project.read_only_reason}" if project.read_only else \
                f"Every change is saved in {project.path}"
            self.status.emit(self.autosave_note)

        return self._open(lambda progress=None: Project.open(path, video_path=video_path, read_only=read_only,
                                                             progress=progress),
                          opened, "Cannot open project", path=str(path), slow=needs_reader_check(Path(path)))

    # -- opening: at once, or (an old project's frame check) in a worker thread ------------------
    def _may_open(self) -> bool:
        if self.opening is not None:
            self.status.emit("Still checking the frames of an older project: wait, or cancel it")
            return False
        return self.idle("open another file")

    def _open(self, open_: Callable[..., object], opened: Callable[[Any], None], title: str, *,
              path: str | None = None, slow: bool) -> bool:
        """Run ``open_`` here, or when ``slow`` in a BackgroundTask with a cancellable progress dialog
        (the frame check decodes the video up to its last mask: minutes on a long one). Until it ends the
        project is neither shown nor editable; then ``opened`` gets it, or the failure is reported as a
        synchronous open reports it."""
        if not slow:
            try:
                return self._opened(open_(), opened, title, path)
            except (ProjectError, OSError, sqlite3.Error) as exc:
                return self._opened(exc, opened, title, path)

        def work(progress: Callable[[int, int], None]) -> object:
            try:
                return open_(progress)
            except (ProjectError, OSError, sqlite3.Error) as exc:  # reported below, as when synchronous
                return exc

        parent = self.parent()
        task = BackgroundTask("Checking video frames", work, parent if isinstance(parent, QWidget) else None)
        if task.dialog is not None:
            task.dialog.setLabelText("This project was made with an older Masklet: checking that its masks "
                                     "sit on the same pictures with the exact frame reader…")
        self.opening = task

        def done(result: object) -> None:
            if self.opening is not task:  # given up (window closed): nobody wants it any more
                if isinstance(result, Project):
                    result.close()
                return
            self.opening = None
            self._opened(result, opened, title, path)

        def failed(message: str) -> None:
            if self.opening is task:
                self.opening = None
                if message == "cancelled":
                    self.status.emit("Opening cancelled: the project was left as it was")
                else:
                    self.error.emit(title, message)

        task.done.connect(done)
        task.failed.connect(failed)
        task.start()
        self.status.emit("Checking the video frames of an older project…")
        return True

    def _opened(self, result: object, opened: Callable[[Any], None], title: str, path: str | None) -> bool:
        if isinstance(result, ProjectLockedError):
            return self._locked(result)
        if isinstance(result, VideoMissingError) and path is not None:
            self.video_missing.emit(path, str(result.expected_path))
            return False
        if isinstance(result, (ProjectError, OSError, sqlite3.Error)):
            self.error.emit(title, str(result))
            return False
        opened(result)
        return True

    def cancel_opening(self) -> None:
        """Stop an opening in progress and wait for its thread (the window closes): nothing is changed,
        or, if the check had just ended, the project it opened is closed again when it arrives."""
        task, self.opening = self.opening, None
        if task is not None:
            task.abandon()

    def _locked(self, exc: ProjectLockedError) -> bool:
        """Another writer holds the project: this window's own project is simply kept; else the user is
        offered to open it read-only (``locked``)."""
        current = self.project.path if self.project is not None else None
        if exc.held_by_this_process and current is not None and current == exc.project_path.resolve():
            self.status.emit(f"{current.name} is already open here")
            return True
        holder = exc.owner.describe() if exc.owner is not None else "another program"
        self.locked.emit(str(exc.project_path), str(exc), holder)
        return False

    def save_copy(self, path: str | Path) -> bool:
        """File ▸ Save a copy…: a consistent snapshot in one file; work goes on in this project."""
        if self.project is None:
            return False
        try:
            copy = self.project.save_copy(path, overwrite=True)  # the file dialog asked about replacing
        except (OSError, RuntimeError, ProjectError, sqlite3.Error) as exc:
            self.error.emit("Cannot save a copy", str(exc))
            return False
        self.status.emit(f"Saved a copy as {copy}; you keep working in {self.project.path or 'memory'}")
        return True

    def save_as(self, path: str | Path) -> bool:
        if self.project is None or not self.idle("save"):
            return False
        try:
            self.project.save_as(path)
        except (OSError, RuntimeError, ProjectError, sqlite3.Error) as exc:
            self.error.emit("Cannot save project", str(exc))
            return False
        self.autosave_note = f"Every change is saved in {self.project.path}"
        self.project_saved.emit()
        self.status.emit(f"Saved as {self.project.path}")
        return True

    def close_project(self) -> None:
        self.cancel_opening()
        if self.project is None:
            return
        remember_frame(self._place(self.project), self._current_frame)
        self.tracking.set_video(None)
        self.project.unsubscribe(self._events)
        self.project.close()
        self.project = None
        self.undo_stack.clear()
        self._reload()
        self.project_changed.emit()

    def idle(self, what: str) -> bool:
        """Whether no propagation runs; otherwise says so in the status bar (``what``: the refused act)."""
        if self.tracking.running:
            self.status.emit(f"Propagation is running: cancel it (Esc) to {what}")
            return False
        return True

    def editable(self) -> bool:
        if self.project is not None and self.project.read_only:
            self.status.emit(f"Read-only ({self.project.read_only_reason}): File ▸ Save project as… makes "
                             "a writable copy")
            return False
        return self.project is not None and self.idle("edit prompts")

    def _set_project(self, project: Project) -> None:
        self.close_project()
        self.project = project
        project.subscribe(self._events)
        self._reload()
        self.active_id = self.objects[0].id if self.objects else 0
        self.tracking.set_video(project.video)
        # Where the user left it; after the video: the worker encodes that frame ahead of a first click.
        count, _exact = project.video.frame_count_hint()  # never waits for the frame index
        self.current_frame = min(max(0, remembered_frame(self._place(project)) or 0), max(0, count - 1))
        self.project_changed.emit()
        self.active_object_changed.emit(self.active_id)
        if project.notes:  # e.g. masks of an older project moved to the exact frame numbers
            self.error.emit("Video frames checked", "\n\n".join(project.notes))

    @staticmethod
    def _place(project: Project) -> Path:
        """What the last frame is remembered by: the project file, or the video of one in memory."""
        return project.path or project.video_path

    @property
    def current_frame(self) -> int:
        return self._current_frame

    @current_frame.setter
    def current_frame(self, frame: int) -> None:
        """The frame on screen; the tracker encodes it ahead of a click once the user rests on it."""
        self._current_frame = frame
        if self.project is not None:
            self.tracking.prefetch_later(frame)

    # -- caches -------------------------------------------------------------------------------
    def _reload(self) -> None:
        p = self.project
        self.objects = p.objects() if p else []
        self.prompts = {(q.frame, q.obj_id): q for q in p.prompts()} if p else {}
        self.mask_frames = {o.id: set(p.frames_with_masks(o.id)) for o in self.objects} if p else {}
        if self.active_id not in {o.id for o in self.objects}:
            self.active_id = self.objects[0].id if self.objects else 0
        self.objects_changed.emit()
        self.strips_changed.emit()
        self.frame_changed.emit(-1)

    @Slot(str, object, object)
    def _on_project_event(self, kind: str, frame: int | None, obj_id: int | None) -> None:
        p = self.project
        if p is None:
            return
        if kind == "prompt" and frame is not None and obj_id is not None:
            prompt = p.prompt(frame, obj_id)
            if prompt is None:
                self.prompts.pop((frame, obj_id), None)
            else:
                self.prompts[(frame, obj_id)] = prompt
        elif kind == "mask" and frame is not None:
            if frame in self.in_flight:
                return
            self.reread_masks(frame, obj_id)
            return
        elif kind == "engine":
            return
        else:  # objects added/changed/deleted, restores, imports: re-read everything
            before = self.active_id
            self._reload()
            if self.active_id != before:
                self.active_object_changed.emit(self.active_id)
            return
        self.strips_changed.emit()
        self.frame_changed.emit(frame if frame is not None else -1)

    def reread_masks(self, frame: int, obj_id: int | None = None) -> None:
        """Update the mask caches of ``frame`` (one object or all) from the store."""
        assert self.project is not None
        areas = {r.obj_id: r.area for r in self.project.mask_records(frame)}
        for oid, frames in self.mask_frames.items():
            if obj_id is not None and oid != obj_id:
                continue
            (frames.add if areas.get(oid, 0) > 0 else frames.discard)(frame)
        self.strips_changed.emit()
        self.frame_changed.emit(frame)

    # -- objects ------------------------------------------------------------------------------
    def object_info(self, obj_id: int) -> ObjectInfo | None:
        return next((o for o in self.objects if o.id == obj_id), None)

    def select_object(self, obj_id: int) -> None:
        if obj_id != self.active_id and self.object_info(obj_id) is not None:
            self.active_id = obj_id
            self.active_object_changed.emit(obj_id)

    def add_object(self, name: str | None = None, category: str = "object") -> int:
        command = AddObject(name, category)
        if not self.push(command):
            return 0
        assert command.info is not None
        self.select_object(command.info.id)
        return command.info.id

    def update_object(self, obj_id: int, **fields: object) -> None:
        info = self.object_info(obj_id)
        if info is None or all(getattr(info, k) == v for k, v in fields.items()):
            return
        self.push(UpdateObject(obj_id, **fields))

    def delete_object(self, obj_id: int) -> None:
        if self.object_info(obj_id) is not None and self.idle("delete objects"):
            self.push(DeleteObject(obj_id))

    def push(self, command: DomainCmd) -> DomainCommand | None:
        """Apply a domain command and put it on the undo stack; None if there is no project or it failed."""
        if self.project is None:
            return None
        wrapper = DomainCommand(self.project, command, self.error.emit)
        if not wrapper.apply_first():
            return None
        self.undo_stack.push(wrapper)
        return wrapper

    def push_applied(self, command: DomainCmd) -> DomainCommand:
        """Put an edit that is in the Project already (a propagation's frames) on the undo stack."""
        assert self.project is not None
        wrapper = DomainCommand(self.project, command, self.error.emit)
        wrapper.active = True  # QUndoStack's first redo is skipped: nothing is written twice
        self.undo_stack.push(wrapper)
        return wrapper

    def engine_prompts(self) -> PromptSet:
        """The prompts as the engine is given them: a mask painted after a frame's clicks alone (the
        clicks stay stored and drawn), as ``masklet track`` does. A prompt whose click is being computed
        (``clicking``) goes as it is: its mask is that click's context, and its answer is not stored yet."""
        out = dict(self.prompts)
        if self.project is None:
            return out
        for key, prompt in out.items():
            if key not in self.clicking and prompt.mask is not None and \
                    (prompt.points or prompt.box is not None):
                out[key] = engine_prompt(prompt, self.project.mask(*key))
        return out

    def prompt_keys_on(self, frame: int) -> list[Prompt]:
        return [q for (f, _), q in self.prompts.items() if f == frame]

    def prompt_frames(self, obj_id: int) -> list[int]:
        return sorted(f for f, o in self.prompts if o == obj_id)

    # -- engine -------------------------------------------------------------------------------
    def load_engine(self, spec: EngineSpec) -> None:
        self.tracking.load_engine(spec)

    @Slot(str, str)
    def _on_engine_ready(self, name: str, device: str) -> None:
        if self.project is not None and self.project.engine != name:
            try:
                self.project.engine = name
            except Exception:  # remembering the engine is a convenience; never fail on it
                log.warning("could not store the engine name", exc_info=True)
