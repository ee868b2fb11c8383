"""SessionController: what the window talks to — the project session, prompt editing and propagation.

Three jobs, three modules: :class:`~app.ui.project_session.ProjectSession` (the open Project, undo stack,
objects and caches; this class is one), :class:`~app.ui.prompt_editing.PromptEditor` (clicks, boxes,
strokes) and :class:`~app.ui.propagation_store.PropagationStore` (propagation runs and their frames).
The engine session itself is derived state in the worker, re-derived from the Project's prompts.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.domain.tracking import Direction
from app.ui.project_session import ProjectSession
from app.ui.prompt_editing import PromptEditor
from app.ui.propagation_store import PropagationStore
from app.ui.tracking import TrackingController


class SessionController(ProjectSession):
    frame_masks_ready = Signal(int, object)  # a propagated frame: {obj_id: (H, W) bool}, already stored

    def __init__(self, tracking: TrackingController, parent: QObject | None = None) -> None:
        super().__init__(tracking, parent)
        self.editing = PromptEditor(self, tracking, self)
        self.propagation = PropagationStore(self, tracking, self)
        self.propagation.frame_masks_ready.connect(self.frame_masks_ready)

    # The window's and the scripts' entry points, by job.
    def add_point(self, frame: int, x: float, y: float, positive: bool) -> None:
        self.editing.add_point(frame, x, y, positive)

    def set_box(self, frame: int, box: tuple[float, float, float, float]) -> None:
        self.editing.set_box(frame, box)

    def clear_prompt(self, frame: int) -> None:
        self.editing.clear_prompt(frame)

    def paint(self, frame: int, points: list[tuple[float, float]], radius: float, *, erase: bool) -> None:
        self.editing.paint(frame, points, radius, erase=erase)

    @property
    def waiting_for_engine(self) -> bool:
        return self.editing.waiting_for_engine

    def propagate(self, direction: Direction, *, target: int | None = None,
                  until_prompt: bool = False) -> bool:
        return self.propagation.propagate(direction, target=target, until_prompt=until_prompt)
