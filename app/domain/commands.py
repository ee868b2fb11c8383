"""Undoable edits of a project. Qt-free: the GUI wraps each Command in a QUndoCommand.

``do`` is also the redo: the first ``do`` records what it needs to undo, later ones repeat the edit
exactly (same object id, same prompt, same mask). Each ``do``/``undo`` is one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from app.domain.model import ObjectInfo, Prompt
from app.domain.project import ObjectSnapshot, Project
from app.domain.quality import MaskInfo, Origin
from app.domain.review import mask_info, set_infos
from app.domain.rle import MaskRecord


class Command:
    """Base of every undoable edit; ``text`` is what Edit ▸ Undo shows."""

    text = ""

    def where(self) -> tuple[int, int | None] | None:
        """The frame (and object) the edit changes, for the window to show on undo/redo; None: none."""
        return None

    def do(self, project: Project) -> None:
        raise NotImplementedError

    def undo(self, project: Project) -> None:
        raise NotImplementedError


class AddObject(Command):
    def __init__(self, name: str | None = None, category: str = "object", color: str | None = None,
                 obj_id: int | None = None) -> None:
        self.name, self.category, self.color, self.obj_id = name, category, color, obj_id
        self.text = f"Add {name}" if name else "Add object"
        self.info: ObjectInfo | None = None

    def do(self, project: Project) -> None:
        self.info = project.add_object(self.name, self.category, self.color,
                                       self.obj_id if self.info is None else self.info.id)
        self.obj_id = self.info.id

    def undo(self, project: Project) -> None:
        assert self.info is not None, "undo before do"
        project.delete_object(self.info.id)


class UpdateObject(Command):
    def __init__(self, obj_id: int, **fields: object) -> None:
        self.obj_id, self.fields = obj_id, fields
        self.text = "Rename object" if set(fields) == {"name"} else "Change object"
        self.before: dict[str, object] | None = None

    def do(self, project: Project) -> None:
        info = project.object(self.obj_id)
        self.before = {key: getattr(info, key) for key in self.fields}
        project.update_object(self.obj_id, **self.fields)

    def undo(self, project: Project) -> None:
        assert self.before is not None, "undo before do"
        project.update_object(self.obj_id, **self.before)


class DeleteObject(Command):
    """Deletes the object with its prompts and masks; undo puts all of it back."""

    def __init__(self, obj_id: int) -> None:
        self.obj_id = obj_id
        self.text = f"Delete object {obj_id}"
        self.snapshot: ObjectSnapshot | None = None

    def do(self, project: Project) -> None:
        with project.batch():
            self.snapshot = project.object_snapshot(self.obj_id)
            project.delete_object(self.obj_id)

    def undo(self, project: Project) -> None:
        assert self.snapshot is not None, "undo before do"
        project.restore_object(self.snapshot)


@dataclass
class _FrameState:
    prompt: Prompt | None
    mask: np.ndarray | None
    info: MaskInfo | None = None  # provenance/confidence of that mask (undo puts it back too)


def _capture(project: Project, frame: int, obj_id: int) -> _FrameState:
    return _FrameState(project.prompt(frame, obj_id), project.mask(frame, obj_id),
                       mask_info(project, frame, obj_id))


def _restore(project: Project, frame: int, obj_id: int, state: _FrameState) -> None:
    with project.batch():
        if state.prompt is None:
            project.clear_prompt(frame, obj_id)
        else:
            project.set_prompt(state.prompt)
        project.set_mask(frame, obj_id, state.mask, info=state.info)


class SetPrompt(Command):
    """Replace the prompt of (frame, object). Undo restores the previous prompt AND the frame's mask.

    The engine's answer usually arrives after ``do``: hand it to :meth:`set_result`, which stores it
    and lets redo put it back without running the engine again.
    """

    def __init__(self, prompt: Prompt, mask: np.ndarray | None = None, text: str = "") -> None:
        self.prompt, self.result = prompt, mask
        self.result_info: MaskInfo | None = None
        self.text = text or ("Clear prompt" if prompt.is_empty else "Edit prompt")
        self.before: _FrameState | None = None

    def where(self) -> tuple[int, int | None]:
        return self.prompt.frame, self.prompt.obj_id

    def do(self, project: Project) -> None:
        frame, obj_id = self.prompt.frame, self.prompt.obj_id
        with project.batch():
            if self.before is None:
                self.before = _capture(project, frame, obj_id)
            project.set_prompt(self.prompt)
            if self.result is not None:
                project.set_mask(frame, obj_id, self.result, info=self.result_info)

    def set_result(self, project: Project, mask: np.ndarray | None, origin: Origin | None = None) -> None:
        """Store the engine's answer; ``origin`` (kind "prompted") says which engine gave it."""
        self.result = mask
        self.result_info = None if origin is None else MaskInfo(self.prompt.frame, self.prompt.obj_id, origin)
        project.set_mask(self.prompt.frame, self.prompt.obj_id, mask, info=self.result_info)

    def undo(self, project: Project) -> None:
        assert self.before is not None, "undo before do"
        _restore(project, self.prompt.frame, self.prompt.obj_id, self.before)


class SetMask(Command):
    """A brush/eraser edit: the new mask is stored and also becomes the frame's mask prompt.

    The frame's clicks and box stay in the prompt (drawn, and the base of the next click): the painted
    mask replaces only its mask. Being the frame's stored mask too, it is given to the engine as it is
    (``prompt_edits.engine_prompt``); a later click refines it. Undo puts back the exact prompt and mask.
    """

    def __init__(self, frame: int, obj_id: int, mask: np.ndarray, text: str = "Paint mask") -> None:
        self.frame, self.obj_id = frame, obj_id
        self.mask = np.array(mask, dtype=bool)
        self.text = text
        self.before: _FrameState | None = None
        # stamped once: a redo puts back the same provenance, time included
        self.info = MaskInfo(frame, obj_id, Origin("painted", detail=text.lower()))

    def where(self) -> tuple[int, int | None]:
        return self.frame, self.obj_id

    def do(self, project: Project) -> None:
        with project.batch():
            if self.before is None:
                self.before = _capture(project, self.frame, self.obj_id)
            base = self.before.prompt
            prompt = Prompt(self.frame, self.obj_id, mask=self.mask) if base is None else \
                replace(base, mask=self.mask)
            project.set_prompt(prompt)
            project.set_mask(self.frame, self.obj_id, self.mask, info=self.info)

    def undo(self, project: Project) -> None:
        assert self.before is not None, "undo before do"
        _restore(project, self.frame, self.obj_id, self.before)


@dataclass(frozen=True)
class _Stored:
    """A stored mask kept encoded (a propagation's hundreds of frames stay small) with its record."""

    record: MaskRecord | None
    info: MaskInfo | None


def _stored(project: Project, frame: int, obj_id: int) -> _Stored:
    return _Stored(project.mask_record(frame, obj_id), mask_info(project, frame, obj_id))


def _put_back(project: Project, states: dict[tuple[int, int], _Stored]) -> None:
    with project.batch():
        for (frame, obj_id), state in sorted(states.items(), key=lambda item: item[0]):
            if not project.has_object(obj_id):
                continue
            if state.record is None:
                project.set_mask(frame, obj_id, None)
            else:
                project.write_records([state.record])  # forgets the key's provenance; put back below
        infos = [s.info for (f, o), s in states.items()
                 if s.info is not None and s.record is not None and project.has_object(o)]
        if infos:
            set_infos(project, infos)


class ReplaceFrames(Command):
    """A propagation's writes as one undo step: undo puts back what every frame it wrote held before
    (mask, provenance, or no mask), redo the run's masks.

    The run is already stored when this is pushed: :meth:`capture` runs before each frame is written (in
    the thread that writes it), :meth:`finish` once the run has ended; the first ``do`` then changes
    nothing.
    """

    def __init__(self, start: int, text: str = "Propagate") -> None:
        self.start = start
        self.text = text
        self.before: dict[tuple[int, int], _Stored] = {}
        self.after: dict[tuple[int, int], _Stored] | None = None

    def capture(self, project: Project, frame: int, obj_ids: list[int]) -> None:
        """Remember what ``frame`` holds for ``obj_ids`` before the run first writes it."""
        for obj_id in obj_ids:
            if (frame, obj_id) not in self.before:
                self.before[(frame, obj_id)] = _stored(project, frame, obj_id)

    def finish(self, project: Project) -> None:
        self.after = {key: _stored(project, *key) for key in self.before}

    @property
    def frames(self) -> list[int]:
        return sorted({frame for frame, _ in self.before})

    def where(self) -> tuple[int, int | None]:
        return self.start, None

    def do(self, project: Project) -> None:
        if self.after is None:
            self.finish(project)  # pushed as it stands: it is stored already
            return
        _put_back(project, self.after)

    def undo(self, project: Project) -> None:
        if self.after is None:
            self.finish(project)
        _put_back(project, self.before)


class UndoStack:
    """A linear history; ``push`` runs the command. ``limit`` bounds memory (oldest dropped)."""

    def __init__(self, project: Project, limit: int = 200) -> None:
        self.project = project
        self.limit = limit
        self._done: list[Command] = []
        self._undone: list[Command] = []

    def push(self, command: Command) -> None:
        command.do(self.project)
        self._done.append(command)
        self._undone.clear()
        del self._done[:-self.limit]

    def can_undo(self) -> bool:
        return bool(self._done)

    def can_redo(self) -> bool:
        return bool(self._undone)

    def undo_text(self) -> str:
        return self._done[-1].text if self._done else ""

    def redo_text(self) -> str:
        return self._undone[-1].text if self._undone else ""

    def undo(self) -> None:
        if not self._done:
            raise IndexError("nothing to undo")
        command = self._done.pop()
        command.undo(self.project)
        self._undone.append(command)

    def redo(self) -> None:
        if not self._undone:
            raise IndexError("nothing to redo")
        command = self._undone.pop()
        command.do(self.project)
        self._done.append(command)

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
