"""One batch item's tracking: exactly ``masklet track`` when it starts fresh, resumable when it does not.

A fresh item runs :func:`app.domain.tracking.track` itself, so a batch project equals what ``masklet
track`` writes. When a worker died part-way (or the whole batch was stopped and rerun), the item
continues after the last frame already stored in each propagation run: a new engine session gets the
project's prompts again plus, as a mask prompt, every object's stored mask on that frame, and
propagates on from there; nothing stored is computed or written twice. Frames after the resume point
come from a memory that starts at that frame, so for a memory tracker they can differ slightly from an
uninterrupted run's (the same as an annotator re-propagating from a frame).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.domain.model import Prompt
from app.domain.project import Project
from app.domain.prompts_file import ObjectSpec
from app.domain.provenance import engine_scores, tracked_provenance
from app.domain.tracking import FrameCallback, PropagationRequest, track
from sam3core.engine import Engine


@dataclass(frozen=True)
class Run:
    """One propagation pass of ``track``: its phase name, first frame, direction and frame count."""

    phase: str
    start: int
    reverse: bool
    total: int

    @property
    def last(self) -> int:
        return self.start - self.total + 1 if self.reverse else self.start + self.total - 1

    def frames(self) -> range:
        return range(self.start, self.last - 1, -1) if self.reverse else range(self.start, self.last + 1)


def plan_runs(prompts: list[Prompt], num_frames: int, direction: str) -> list[Run]:
    """The passes ``track`` makes: forward from the earliest prompt, backward from the latest."""
    first, last = min(p.frame for p in prompts), max(p.frame for p in prompts)
    runs = []
    if direction in ("forward", "both"):
        runs.append(Run("forward", first, False, num_frames - first))
    if direction in ("backward", "both"):
        runs.append(Run("backward", last, True, last + 1))
    return runs


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


def _same_prompt(a: Prompt, b: Prompt | None) -> bool:
    if b is None or a != b:  # masks are left out of Prompt equality
        return False
    if (a.mask is None) != (b.mask is None):
        return False
    return a.mask is None or bool(np.array_equal(a.mask, b.mask))


def prompts_match(project: Project, specs: tuple[ObjectSpec, ...] | list[ObjectSpec]) -> bool:
    """Whether the project holds every prompt of ``specs`` unchanged."""
    return all(project.has_object(spec.id) and _same_prompt(p, project.prompt(p.frame, p.obj_id))
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
    for run in plan_runs(prompts, project.num_frames, direction):
        frames = list(run.frames())
        if run.phase == "backward" and direction == "both":
            frames = [f for f in frames if f < min(prompted)]
            prefix = _stored_prefix(frames, stored)
        else:
            prefix = _stored_prefix(frames, stored)
            if set(prefix) <= prompted:
                prefix = []
        if prefix:
            progress.last[run.phase] = prefix[-1]
    return progress


def is_finished(project: Project, specs: tuple[ObjectSpec, ...], direction: str, engine_name: str) -> bool:
    """Done earlier: same engine, every prompt of ``specs`` stored unchanged, every run's frames stored."""
    if project.engine != engine_name or not prompts_match(project, specs):
        return False
    prompts = project.prompts()
    stored = set(project.frames_stored())
    return all(set(run.frames()) <= stored for run in plan_runs(prompts, project.num_frames, direction))


def _feed(engine: Engine, state: Any, prompt: Prompt) -> None:
    """Give one stored prompt to the engine (pixel coordinates, the seed API's meaning)."""
    if prompt.mask is not None:
        engine.add_new_mask(state, prompt.frame, prompt.obj_id, prompt.mask)
    if prompt.points or prompt.box is not None:
        points = np.asarray(prompt.points, np.float32).reshape(-1, 2) if prompt.points else None
        labels = np.asarray(prompt.labels, np.int32) if prompt.points else None
        box = None if prompt.box is None else np.asarray(prompt.box, np.float32)
        engine.add_new_points_or_box(state, prompt.frame, prompt.obj_id, points=points, labels=labels,
                                     box=box, clear_old_points=True, rel_coordinates=False)


def _masks(obj_ids: list[int], video_res: Any) -> dict[int, np.ndarray]:
    if hasattr(video_res, "cpu"):
        binary = (video_res[:, 0] > 0).cpu().numpy()
    else:
        binary = np.asarray(video_res)[:, 0] > 0
    return {int(obj): binary[row] for row, obj in enumerate(obj_ids)}


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
    prompts = project.prompts()
    name = str(getattr(engine, "name", "") or project.engine)
    runs = plan_runs(prompts, project.num_frames, direction)
    state = engine.init_state(video=project.video)
    for prompt in prompts:
        _feed(engine, state, prompt)
    stored = 0
    for run in runs:
        resume_at = progress.last.get(run.phase)
        if resume_at == run.last:
            continue
        start, skip = run.start, None
        if resume_at is not None:
            for obj_id, mask in project.masks_on_frame(resume_at).items():
                engine.add_new_mask(state, resume_at, obj_id, mask)
            start, skip = resume_at, resume_at
        # Provenance as track records it: the same run and start, the prompts' own records kept.
        (recorder,) = tracked_provenance(project, prompts, [PropagationRequest(run.start, run.reverse)],
                                         name, model).values()
        remaining = abs(run.last - start) + 1
        done = run.total - remaining + (skip is not None)
        frames = engine.propagate_in_video(state, start_frame_idx=start, max_frame_num_to_track=remaining - 1,
                                           reverse=run.reverse)
        try:
            for frame_idx, obj_ids, _low, video_res, obj_scores in frames:
                if int(frame_idx) == skip:  # the seed frame: stored already
                    continue
                scores = engine_scores(engine, state, int(frame_idx), obj_ids, obj_scores)
                project.set_frame_masks(int(frame_idx), _masks(list(obj_ids), video_res),
                                        infos=recorder.infos(int(frame_idx), scores))
                stored += 1
                done += 1
                committed(run.phase, int(frame_idx), done, run.total)
                if should_stop and should_stop():
                    return stored
        finally:
            getattr(frames, "close", lambda: None)()
    return stored
