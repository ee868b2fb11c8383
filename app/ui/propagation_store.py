"""PropagationStore: starts a propagation for a user command and keeps the caches in step with its frames.

Propagated frames are written into the Project from the worker thread as they arrive (the store is
thread-safe and commits each frame), then announced to the UI thread with their masks, so the UI never
reads them back from disk. A frame stored but never announced (the run failed in between) is read back
from the store when the run ends.

Each run is one undo step (:class:`~app.domain.commands.ReplaceFrames`): what a frame held is captured
just before the run first writes it, and the step is pushed when the run ends (cancelled or failed runs
too: the frames they stored stay, so undoing them must be possible).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from app.domain.commands import ReplaceFrames
from app.domain.tracking import Direction, FrameWriter, PropagationRequest, plan_propagation
from app.ui.project_session import ProjectSession
from app.ui.tracking import TrackingController


class PropagationStore(QObject):
    frame_masks_ready = Signal(int, object)  # a propagated frame: {obj_id: (H, W) bool}, already stored

    def __init__(self, session: ProjectSession, tracking: TrackingController,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.tracking = tracking
        self._run: ReplaceFrames | None = None
        session.project_changed.connect(self._forget_run)
        tracking.mask_ready.connect(self._on_mask_ready)
        tracking.finished.connect(self._on_tracking_finished)

    def propagate(self, direction: Direction, *, target: int | None = None,
                  until_prompt: bool = False) -> bool:
        s = self.session
        p = s.project
        if p is None or not s.editable():  # read-only, or a run is going on
            return False
        if not any(not q.is_empty for q in s.prompts.values()):
            s.status.emit("Nothing to propagate yet: click on an object or draw a box first")
            return False
        prompted = sorted({f for f, _ in s.prompts})
        try:
            requests = plan_propagation(s.current_frame, p.num_frames, direction, target=target,
                                        prompted=prompted, until_prompt=until_prompt)
        except ValueError as exc:
            s.status.emit(str(exc))
            return False
        writer = FrameWriter(p, list(s.prompts.values()), requests, self.tracking.engine_name,
                             self.tracking.model, obj_ids={o.id for o in s.objects})
        in_flight = s.in_flight
        run = ReplaceFrames(s.current_frame, _run_text(direction, s.current_frame, target, until_prompt))

        def store(frame: int, masks: dict[int, np.ndarray], scores: dict,
                  request: PropagationRequest) -> None:  # runs in the worker thread
            run.capture(p, frame, [o for o in masks if o in writer.obj_ids])
            writer.write(frame, masks, scores, request, before_write=in_flight.add)

        self._run = run  # before the start: the worker may store a frame before propagate() returns
        if not self.tracking.propagate(s.engine_prompts(), requests, store):
            self._run = None
            return False
        return True

    def _forget_run(self) -> None:
        self._run = None

    @Slot(int, object)
    def _on_mask_ready(self, frame: int, masks: dict[int, np.ndarray]) -> None:
        s = self.session
        if not s.in_flight.take(frame):
            return
        kept = {o: m for o, m in masks.items() if o in s.mask_frames}
        for oid, mask in kept.items():
            (s.mask_frames[oid].add if mask.any() else s.mask_frames[oid].discard)(frame)
        s.strips_changed.emit()
        self.frame_masks_ready.emit(frame, kept)

    @Slot(int, bool)
    def _on_tracking_finished(self, _done: int, _cancelled: bool) -> None:
        s = self.session
        for frame in sorted(s.in_flight.take_all()):
            if s.project is not None:
                s.reread_masks(frame)
        run, self._run = self._run, None
        if s.project is not None and not s.project.read_only:
            s.project.checkpoint()  # the project file copied alone now holds the whole run
            if run is not None and run.before:
                run.finish(s.project)
                s.push_applied(run)


def _run_text(direction: Direction, start: int, target: int | None, until_prompt: bool) -> str:
    """What Edit ▸ Undo names the run by, e.g. "Propagate forward from frame 12"."""
    if target is not None:
        return f"Propagate from frame {start} to {target}"
    way = {Direction.FORWARD: "forward", Direction.BACKWARD: "backward", Direction.BOTH: "both ways"}
    return f"Propagate {way[direction]}{' to the nearest prompt' if until_prompt else ''} from frame {start}"
