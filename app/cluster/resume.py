"""One batch item's tracking: exactly ``masklet track`` when it starts fresh, resumable when it does not.

A fresh item runs :func:`app.domain.tracking.track` itself, so a batch project equals what ``masklet
track`` writes. When a worker died part-way (or the whole batch was stopped and rerun), the item
continues after the last frame already stored in each run of :func:`~app.domain.tracking.plan_track`:
the domain's :class:`~app.domain.tracking.TrackingSession` gets the project's prompts again plus, as a
mask prompt, every object's stored mask on that frame (unless the object has its own prompt there), and
propagates on from there; nothing stored is computed or written twice. Frames after the resume point
come from a memory that starts at that frame, so for a memory tracker they can differ slightly from an
uninterrupted run's (the same as an annotator re-propagating from a frame).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from app.domain.model import Prompt
from app.domain.project import Project
from app.domain.prompts_file import ObjectSpec
from app.domain.tracking import (
    Direction,
    FrameCallback,
    FrameWriter,
    PromptSet,
    PropagationRequest,
    TrackingSession,
    plan_track,
    same_prompt,
    track,
    valid_prompts,
)
from sam3core.engine import Engine

log = logging.getLogger(__name__)


def phase_of(request: PropagationRequest) -> str:
    return "backward" if request.reverse else "forward"


def plan_runs(prompts: list[Prompt], num_frames: int, direction: str) -> list[PropagationRequest]:
    """The runs ``masklet track`` makes: forward from the earliest prompt, backward from the latest."""
    return plan_track(sorted({p.frame for p in prompts}), num_frames, Direction(direction))


@dataclass
class ItemProgress:
    """What is stored of an item: the last frame committed in each run (None: the run has not begun)."""

    last: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    commits: dict[int, int] = field(default_factory=dict)  # frame -> propagated commits, all attempts

    @property
    def started(self) -> bool:
        return bool(self.last)

    def record(self, phase: str, frame: int) -> None:
        if phase != "prompt":
            self.last[phase] = frame
            self.commits[frame] = self.commits.get(frame, 0) + 1


def prompts_match(project: Project, specs: tuple[ObjectSpec, ...] | list[ObjectSpec]) -> bool:
    """Whether the project holds every prompt of ``specs`` unchanged."""
    return all(project.has_object(spec.id) and same_prompt(p, project.prompt(p.frame, p.obj_id))
               for spec in specs for p in spec.prompts)


def _stored_prefix(frames: list[int], stored: set[int]) -> list[int]:
    prefix = []
    for frame in frames:
        if frame not in stored:
            break
        prefix.append(frame)
    return prefix


def stored_progress(project: Project, direction: str) -> ItemProgress:
    """Progress read from the project (a rerun after the batch itself stopped): each run's stored prefix.

    A run has begun once it stored a frame that is not a prompted one (the prompt phase stores those).
    In "both", the backward run's frames from the earliest prompt on were stored by the forward run, so
    it is known to have begun only below that prompt.
    """
    progress = ItemProgress()
    prompts = project.prompts()
    if not prompts:
        return progress
    stored = set(project.frames_stored())
    prompted = {p.frame for p in prompts}
    for request in plan_runs(prompts, project.num_frames, direction):
        frames = list(request.frames(project.num_frames))
        if request.reverse and direction == "both":
            prefix = _stored_prefix([f for f in frames if f < min(prompted)], stored)
        else:
            prefix = _stored_prefix(frames, stored)
            if set(prefix) <= prompted:
                prefix = []
        if prefix:
            progress.last[phase_of(request)] = prefix[-1]
    return progress


def is_finished(project: Project, specs: tuple[ObjectSpec, ...], direction: str, engine_name: str) -> bool:
    """Done earlier: same engine, every prompt of ``specs`` stored unchanged, every run's frames stored."""
    if project.engine != engine_name or not prompts_match(project, specs):
        return False
    stored = set(project.frames_stored())
    return all(set(r.frames(project.num_frames)) <= stored
               for r in plan_runs(project.prompts(), project.num_frames, direction))


def run_item(project: Project, engine: Engine, direction: str, progress: ItemProgress, *,
             on_frame: FrameCallback | None = None, should_stop: Callable[[], bool] | None = None,
             model: str = "") -> int:
    """Track the project's prompts; fresh (``progress`` not started) through ``track``, else resumed.
    Returns the frame results stored by this call; ``progress`` is updated as each is committed."""
    def committed(phase: str, frame: int, done: int, total: int) -> None:
        progress.record(phase, frame)
        if on_frame:
            on_frame(phase, frame, done, total)

    if not progress.started:
        return track(project, engine, direction=direction, on_frame=committed, should_stop=should_stop,
                     model=model)
    prompts: PromptSet = {(p.frame, p.obj_id): p for p in valid_prompts(project, log.warning)}
    num_frames = project.num_frames
    seeded = dict(prompts)
    requests: list[PropagationRequest] = []
    skips: dict[PropagationRequest, int] = {}   # the seed frame of a resumed run: stored already
    done: dict[PropagationRequest, int] = {}
    totals: dict[PropagationRequest, int] = {}
    for planned in plan_runs(list(prompts.values()), num_frames, direction):
        frames = list(planned.frames(num_frames))
        resume_at = progress.last.get(phase_of(planned))
        if resume_at == frames[-1]:
            continue  # this run is complete
        request = planned
        if resume_at is not None:
            request = PropagationRequest(resume_at, planned.reverse, abs(frames[-1] - resume_at))
            for obj_id, mask in project.masks_on_frame(resume_at).items():
                seeded.setdefault((resume_at, obj_id), Prompt(resume_at, obj_id, mask=mask))
            skips[request] = resume_at
        requests.append(request)
        totals[request] = len(frames)
        done[request] = len(frames) - len(request.frames(num_frames)) + (request in skips)
    session = TrackingSession(engine, project.video)
    # Provenance against the real prompts (the seeds are the engine's, not the user's).
    writer = FrameWriter(project, list(prompts.values()), requests, engine.name, model)
    stored = 0
    try:
        with contextlib.closing(session.propagate(seeded, requests, should_stop)) as results:
            for request, frame, masks, scores in results:
                if skips.get(request) == frame:
                    continue
                writer.write(frame, masks, scores, request)
                stored += 1
                done[request] += 1
                committed(phase_of(request), frame, done[request], totals[request])
                if should_stop is not None and should_stop():
                    break
    finally:
        session.close()
        project.checkpoint()
    return stored
