"""PromptEditor: clicks, boxes, brush strokes and clearing on the active object, as undoable commands.

A click or box becomes the frame's new prompt (a :class:`~app.domain.commands.SetPrompt`); the worker
computes its mask and the answer is matched to the command by a token, so a late answer lands in the
right undo step even when the user undid or edited meanwhile. A brush stroke edits the stored mask
directly (a :class:`~app.domain.commands.SetMask`); the frame's clicks and box stay with it, and the
engine takes the painted mask as it is (``ProjectSession.engine_prompts``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from app.domain.commands import SetMask, SetPrompt
from app.domain.model import Prompt
from app.domain.prompt_edits import box_prompt, click_prompt
from app.domain.provenance import prompt_origin
from app.ui.compose import paint_stroke
from app.ui.project_session import ProjectSession
from app.ui.tracking import TrackingController
from app.ui.undo import DomainCommand
from sam3core.errors import PromptError
from sam3core.validate import check_prompt

NOTHING_IN_BOX = "Nothing found in the box — try a click inside the object"


class PromptEditor(QObject):
    # True as soon as a prompt waits for its mask (the first click on a frame encodes it: seconds on a
    # CPU), False once every answer (or failure) is in: the window shows it is busy meanwhile.
    waiting_changed = Signal(bool)

    def __init__(self, session: ProjectSession, tracking: TrackingController,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.tracking = tracking
        self._pending: dict[int, DomainCommand] = {}  # token -> the SetPrompt waiting for its mask
        self._token = 0
        tracking.prompt_result.connect(self._on_prompt_result)
        tracking.prompt_done.connect(self._on_prompt_done)
        session.project_changed.connect(self._forget_pending)

    @property
    def waiting_for_engine(self) -> bool:
        """True while a prompt's mask is still being computed (for scripted use: tests, self-check)."""
        return bool(self._pending)

    def _forget_pending(self) -> None:
        self.session.clicking.clear()
        if self._pending:
            self._pending.clear()
            self.waiting_changed.emit(False)

    def _clicking_from_pending(self) -> None:
        """The prompts whose click the engine is still answering (the session feeds their masks as is)."""
        self.session.clicking = {(c.command.prompt.frame, c.command.prompt.obj_id)
                                 for c in self._pending.values() if isinstance(c.command, SetPrompt)}

    @Slot(int)
    def _on_prompt_done(self, token: int) -> None:
        """The worker is done with ``token``: without a result (an engine error) it waits no more."""
        if self._pending.pop(token, None) is not None:
            self._clicking_from_pending()
            if not self._pending:
                self.waiting_changed.emit(False)

    @contextlib.contextmanager
    def _target(self, text: str) -> Iterator[int]:
        """The active object; one is created when there is none, as a user clicking would expect.

        The creation and the edit then form one undo step ("Add object and point"), 0 if it failed.
        """
        s = self.session
        create = s.active_id == 0 or s.object_info(s.active_id) is None
        if not create:
            yield s.active_id
            return
        s.undo_stack.beginMacro(f"New object: {text.lower()}")
        try:
            yield s.add_object()
        finally:
            s.undo_stack.endMacro()

    def _checked(self, points: object = None, labels: object = None, box: object = None) -> bool:
        """The shared prompt check (sam3core.validate) before anything is stored; a refusal is shown."""
        assert self.session.project is not None
        height, width = self.session.project.size
        try:
            check_prompt(points, labels, box, width=width, height=height)
        except PromptError as exc:
            self.session.status.emit(f"Not added: {exc}")
            return False
        return True

    def _decodable(self, frame: int) -> bool:
        """A damaged frame shows no picture: nothing may be annotated on it (the engine would see a
        neighbour's picture there)."""
        project = self.session.project
        if project is not None and frame in project.video.damaged_frames:
            self.session.status.emit(f"Frame {frame} is damaged and cannot be decoded: annotate the frames "
                                     "around it; tracking passes over it")
            return False
        return True

    def add_point(self, frame: int, x: float, y: float, positive: bool) -> None:
        if not self.session.editable() or not self._decodable(frame) or \
                not self._checked([[x, y]], [1 if positive else 0]):
            return
        text = "Add point" if positive else "Add negative point"
        with self._target(text) as obj:
            if obj:
                self._push_prompt(self._click_prompt(frame, obj, x, y, positive), text)

    def _click_prompt(self, frame: int, obj: int, x: float, y: float, positive: bool) -> Prompt:
        base = self.session.prompts.get((frame, obj))
        shown = None
        if base is None:  # the mask on screen becomes the click's context (app.domain.prompt_edits)
            assert self.session.project is not None
            shown = self.session.project.mask(frame, obj)
        return click_prompt(base, frame, obj, x, y, positive, shown)

    def set_box(self, frame: int, box: tuple[float, float, float, float]) -> None:
        if not self.session.editable() or not self._decodable(frame):
            return
        x0, y0, x1, y1 = box
        assert self.session.project is not None
        height, width = self.session.project.size
        # A drag may run past the frame's edge: the box is what it covers of the frame.
        new_box = (max(0.0, min(x0, x1)), max(0.0, min(y0, y1)), min(float(width), max(x0, x1)),
                   min(float(height), max(y0, y1)))
        if not self._checked(box=new_box):
            return
        with self._target("Draw box") as obj:
            if obj:
                self._push_prompt(box_prompt(self.session.prompts.get((frame, obj)), frame, obj, new_box),
                                  "Draw box")

    def clear_prompt(self, frame: int) -> None:
        s = self.session
        if not s.editable() or (frame, s.active_id) not in s.prompts:
            return
        s.push(SetPrompt(Prompt(frame, s.active_id), text="Clear prompt"))

    def paint(self, frame: int, points: list[tuple[float, float]], radius: float, *, erase: bool) -> None:
        """A brush/eraser stroke on the active object's mask; it becomes the frame's mask prompt."""
        s = self.session
        if not s.editable() or not points or not self._decodable(frame):
            return
        assert s.project is not None
        text = "Erase" if erase else "Paint"
        with self._target(text) as obj:
            if not obj:
                return
            current = s.project.mask(frame, obj)
            if current is None:
                current = np.zeros(s.project.size, bool)
            edited = paint_stroke(current, points, radius, erase=erase)
            if not np.array_equal(edited, current):
                s.push(SetMask(frame, obj, edited, text=text))

    def _push_prompt(self, prompt: Prompt, text: str) -> None:
        wrapper = self.session.push(SetPrompt(prompt, text=text))
        if wrapper is None:
            return
        self._token += 1
        first = not self._pending
        self._pending[self._token] = wrapper
        key = (prompt.frame, prompt.obj_id)
        self.session.clicking.add(key)
        self.tracking.segment(self.session.engine_prompts(), key, self._token)
        if first:
            self.waiting_changed.emit(True)

    @Slot(int, int, object, int)
    def _on_prompt_result(self, frame: int, obj_id: int, mask: np.ndarray, token: int) -> None:
        project = self.session.project
        wrapper = self._pending.pop(token, None)
        self._clicking_from_pending()
        if wrapper is not None and not self._pending:
            self.waiting_changed.emit(False)
        if wrapper is None or project is None or wrapper.project is not project:
            return
        command = wrapper.command
        assert isinstance(command, SetPrompt)
        if wrapper.active:
            if self.session.object_info(obj_id) is None:
                return
            command.set_result(project, mask, prompt_origin(command.prompt, self.tracking.engine_name,
                                                            self.tracking.model))
            if command.prompt.box is not None and not mask.any():
                # An empty answer looks like nothing happened: say why, and what usually works instead.
                self.session.status.emit(NOTHING_IN_BOX)
        else:
            command.result = mask  # undone meanwhile: redo will restore this answer
        # A later edit of the same prompt captured the mask before this answer: keep its undo exact.
        for later in self._pending.values():
            before = getattr(later.command, "before", None)
            if before is not None and before.prompt == command.prompt and \
                    (later.command.prompt.frame, later.command.prompt.obj_id) == (frame, obj_id):
                before.mask = mask
