"""SessionController: the open Project, its undo stack and the bridge to the tracking worker.

The Project is the truth: every edit goes through a domain command (undoable), every engine answer
is written into the Project, and the engine session is re-derived from the Project's prompts. The
controller keeps small caches (prompts, which frames have masks) updated from the Project's change
events so the widgets can repaint without touching the database on every paint.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QUndoStack

from app.domain.commands import AddObject, DeleteObject, SetMask, SetPrompt, UpdateObject
from app.domain.commands import Command as DomainCmd
from app.domain.model import ObjectInfo, Prompt
from app.domain.project import Project, ProjectError, VideoMissingError
from app.ui.compose import paint_stroke
from app.ui.project_files import open_or_create_for_video
from app.ui.tracking import Direction, TrackingController, plan_propagation
from app.ui.undo import DomainCommand
from app.ui.worker import EngineSpec, PromptSet

log = logging.getLogger(__name__)


class _ProjectEvents(QObject):
    """Project listener -> Qt signal; queued to the UI thread when the worker thread writes."""

    changed = Signal(str, object, object)

    def __call__(self, kind: str, frame: int | None, obj_id: int | None) -> None:
        self.changed.emit(kind, frame, obj_id)


class SessionController(QObject):
    project_changed = Signal()           # a project was opened or closed
    project_saved = Signal()             # the open project now lives in another file (Save as)
    objects_changed = Signal()
    active_object_changed = Signal(int)  # 0 = none
    frame_changed = Signal(int)          # masks or prompts of a frame changed; -1 = possibly all
    strips_changed = Signal()
    status = Signal(str)
    error = Signal(str, str)             # title, message
    video_missing = Signal(str, str)     # project path, the video's recorded path
    frame_masks_ready = Signal(int, object)  # a propagated frame: {obj_id: (H, W) bool}, already stored

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
        self._events = _ProjectEvents()
        self._events.changed.connect(self._on_project_event)
        self._pending: dict[int, DomainCommand] = {}
        self._token = 0
        # Frames a running propagation has stored but not yet announced: their "mask" events are skipped
        # and the masks come with mask_ready instead, so the UI thread never reads them back from disk
        # (and never waits on the store's lock while the worker commits).
        self._in_flight: set[int] = set()
        self._in_flight_lock = threading.Lock()
        tracking.prompt_result.connect(self._on_prompt_result)
        tracking.mask_ready.connect(self._on_mask_ready)
        tracking.finished.connect(self._on_tracking_finished)
        tracking.engine_ready.connect(self._on_engine_ready)

    # -- project lifecycle --------------------------------------------------------------------
    def open_video(self, path: str | Path) -> bool:
        """Open a video or frame folder; its project file is found or created next to it."""
        if not self._can_switch():
            return False
        try:
            project, note = open_or_create_for_video(Path(path))
        except (ProjectError, OSError, sqlite3.Error) as exc:
            self.error.emit("Cannot open video", str(exc))
            return False
        self._set_project(project)
        self.autosave_note = note
        self.status.emit(note)
        return True

    def open_project(self, path: str | Path, video_path: str | Path | None = None) -> bool:
        if not self._can_switch():
            return False
        try:
            project = Project.open(path, video_path=video_path)
        except VideoMissingError as exc:
            self.video_missing.emit(str(path), str(exc.expected_path))
            return False
        except (ProjectError, OSError, sqlite3.Error) as exc:
            self.error.emit("Cannot open project", str(exc))
            return False
        self._set_project(project)
        self.autosave_note = f"Every change is saved in {project.path}"
        return True

    def save_as(self, path: str | Path) -> bool:
        if self.project is None or not self._idle("save"):
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
        if self.project is None:
            return
        self.tracking.set_video(None)
        self.project.unsubscribe(self._events)
        self.project.close()
        self.project = None
        self.undo_stack.clear()
        self._pending.clear()
        self._reload()
        self.project_changed.emit()

    def _can_switch(self) -> bool:
        return self._idle("open another file")

    def _idle(self, what: str) -> bool:
        if self.tracking.running:
            self.status.emit(f"Propagation is running: cancel it (Esc) to {what}")
            return False
        return True

    def _set_project(self, project: Project) -> None:
        self.close_project()
        self.project = project
        project.subscribe(self._events)
        self._reload()
        self.active_id = self.objects[0].id if self.objects else 0
        self.tracking.set_video(project.video)
        self.current_frame = 0  # after the video: the worker encodes frame 0 ahead of a first click
        self.project_changed.emit()
        self.active_object_changed.emit(self.active_id)
        if project.notes:  # e.g. masks of an older project moved to the exact frame numbers
            self.error.emit("Video frames checked", "\n\n".join(project.notes))

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
            with self._in_flight_lock:
                if frame in self._in_flight:
                    return
            areas = {r.obj_id: r.area for r in p.mask_records(frame)}
            for oid, frames in self.mask_frames.items():
                if obj_id is not None and oid != obj_id:
                    continue
                (frames.add if areas.get(oid, 0) > 0 else frames.discard)(frame)
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

    @property
    def waiting_for_engine(self) -> bool:
        """True while a prompt's mask is still being computed (for scripted use: tests, self-check)."""
        return bool(self._pending)

    # -- objects ------------------------------------------------------------------------------
    def object_info(self, obj_id: int) -> ObjectInfo | None:
        return next((o for o in self.objects if o.id == obj_id), None)

    def select_object(self, obj_id: int) -> None:
        if obj_id != self.active_id and self.object_info(obj_id) is not None:
            self.active_id = obj_id
            self.active_object_changed.emit(obj_id)

    def add_object(self, name: str | None = None, category: str = "object") -> int:
        command = AddObject(name, category)
        if not self._push(command):
            return 0
        assert command.info is not None
        self.select_object(command.info.id)
        return command.info.id

    def update_object(self, obj_id: int, **fields: object) -> None:
        info = self.object_info(obj_id)
        if info is None or all(getattr(info, k) == v for k, v in fields.items()):
            return
        self._push(UpdateObject(obj_id, **fields))

    def delete_object(self, obj_id: int) -> None:
        if self.object_info(obj_id) is not None and self._idle("delete objects"):
            self._push(DeleteObject(obj_id))

    # -- prompts and masks --------------------------------------------------------------------
    @contextlib.contextmanager
    def _target(self, text: str) -> Iterator[int]:
        """The active object; one is created when there is none, as a user clicking would expect.

        The creation and the edit then form one undo step ("Add object and point"), 0 if it failed.
        """
        create = self.active_id == 0 or self.object_info(self.active_id) is None
        if not create:
            yield self.active_id
            return
        self.undo_stack.beginMacro(f"New object: {text.lower()}")
        try:
            yield self.add_object()
        finally:
            self.undo_stack.endMacro()

    def add_point(self, frame: int, x: float, y: float, positive: bool) -> None:
        if not self._editable():
            return
        text = "Add point" if positive else "Add negative point"
        with self._target(text) as obj:
            if obj:
                self._push_prompt(self._click_prompt(frame, obj, x, y, positive), text)

    def _click_prompt(self, frame: int, obj: int, x: float, y: float, positive: bool) -> Prompt:
        """The frame's prompt plus one click.

        A first click on a frame that already shows a mask (propagated, painted, imported) corrects
        that mask: the mask goes into the prompt as context, as a SAM refinement click expects — a lone
        negative click would otherwise produce an empty mask. Later clicks keep that context.
        """
        base = self.prompts.get((frame, obj))
        if base is None:
            assert self.project is not None
            shown = self.project.mask(frame, obj)
            base = Prompt(frame, obj, mask=shown if shown is not None and shown.any() else None)
        return replace(base, points=(*base.points, (float(x), float(y))),
                       labels=(*base.labels, 1 if positive else 0))

    def set_box(self, frame: int, box: tuple[float, float, float, float]) -> None:
        if not self._editable():
            return
        x0, y0, x1, y1 = box
        new_box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        with self._target("Draw box") as obj:
            if obj:
                base = self.prompts.get((frame, obj)) or Prompt(frame, obj)
                self._push_prompt(replace(base, box=new_box, mask=None), "Draw box")

    def clear_prompt(self, frame: int) -> None:
        if not self._editable() or (frame, self.active_id) not in self.prompts:
            return
        self._push(SetPrompt(Prompt(frame, self.active_id), text="Clear prompt"))

    def paint(self, frame: int, points: list[tuple[float, float]], radius: float, *, erase: bool) -> None:
        """A brush/eraser stroke on the active object's mask; it becomes the frame's mask prompt."""
        if not self._editable() or not points:
            return
        assert self.project is not None
        text = "Erase" if erase else "Paint"
        with self._target(text) as obj:
            if not obj:
                return
            current = self.project.mask(frame, obj)
            if current is None:
                current = np.zeros(self.project.size, bool)
            edited = paint_stroke(current, points, radius, erase=erase)
            if not np.array_equal(edited, current):
                self._push(SetMask(frame, obj, edited, text=text))

    def _editable(self) -> bool:
        return self.project is not None and self._idle("edit prompts")

    def _push_prompt(self, prompt: Prompt, text: str) -> None:
        wrapper = self._push(SetPrompt(prompt, text=text))
        if wrapper is None:
            return
        self._token += 1
        self._pending[self._token] = wrapper
        self.tracking.segment(self.prompts, (prompt.frame, prompt.obj_id), self._token)

    def _push(self, command: DomainCmd) -> DomainCommand | None:
        if self.project is None:
            return None
        wrapper = DomainCommand(self.project, command, self.error.emit)
        if not wrapper.apply_first():
            return None
        self.undo_stack.push(wrapper)
        return wrapper

    @Slot(int, int, object, int)
    def _on_prompt_result(self, frame: int, obj_id: int, mask: np.ndarray, token: int) -> None:
        wrapper = self._pending.pop(token, None)
        if wrapper is None or self.project is None or wrapper.project is not self.project:
            return
        command = wrapper.command
        assert isinstance(command, SetPrompt)
        if wrapper.active:
            if self.object_info(obj_id) is None:
                return
            command.set_result(self.project, mask)
        else:
            command.result = mask  # undone meanwhile: redo will restore this answer
        # A later edit of the same prompt captured the mask before this answer: keep its undo exact.
        for later in self._pending.values():
            before = getattr(later.command, "before", None)
            if before is not None and before.prompt == command.prompt and \
                    (later.command.prompt.frame, later.command.prompt.obj_id) == (frame, obj_id):
                before.mask = mask

    # -- tracking -----------------------------------------------------------------------------
    def propagate(self, direction: Direction, *, target: int | None = None,
                  until_prompt: bool = False) -> bool:
        p = self.project
        if p is None or not self._idle("start another"):
            return False
        if not any(not q.is_empty for q in self.prompts.values()):
            self.status.emit("Nothing to propagate yet: click on an object or draw a box first")
            return False
        prompted = sorted({f for f, _ in self.prompts})
        try:
            requests = plan_propagation(self.current_frame, p.num_frames, direction, target=target,
                                        prompted=prompted, until_prompt=until_prompt)
        except ValueError as exc:
            self.status.emit(str(exc))
            return False
        ids = {o.id for o in self.objects}
        project = p

        def store(frame: int, masks: dict[int, np.ndarray]) -> None:  # runs in the worker thread
            kept = {o: m for o, m in masks.items() if o in ids}
            if kept:
                with self._in_flight_lock:
                    self._in_flight.add(frame)
                project.set_frame_masks(frame, kept)

        return self.tracking.propagate(self.prompts, requests, store)

    @Slot(int, object)
    def _on_mask_ready(self, frame: int, masks: dict[int, np.ndarray]) -> None:
        with self._in_flight_lock:
            if frame not in self._in_flight:
                return
            self._in_flight.discard(frame)
        kept = {o: m for o, m in masks.items() if o in self.mask_frames}
        for oid, mask in kept.items():
            (self.mask_frames[oid].add if mask.any() else self.mask_frames[oid].discard)(frame)
        self.strips_changed.emit()
        self.frame_masks_ready.emit(frame, kept)

    @Slot(int, bool)
    def _on_tracking_finished(self, _done: int, _cancelled: bool) -> None:
        # A frame stored but never announced (the run failed in between) is read back from the store.
        with self._in_flight_lock:
            leftover, self._in_flight = self._in_flight, set()
        for frame in sorted(leftover):
            self._on_project_event("mask", frame, None)

    def load_engine(self, spec: EngineSpec) -> None:
        self.tracking.load_engine(spec)

    @Slot(str, str)
    def _on_engine_ready(self, name: str, device: str) -> None:
        if self.project is not None and self.project.engine != name:
            try:
                self.project.engine = name
            except Exception:  # remembering the engine is a convenience; never fail on it
                log.warning("could not store the engine name", exc_info=True)

    def prompt_keys_on(self, frame: int) -> list[Prompt]:
        return [q for (f, _), q in self.prompts.items() if f == frame]

    def prompt_frames(self, obj_id: int) -> list[int]:
        return sorted(f for f, o in self.prompts if o == obj_id)
