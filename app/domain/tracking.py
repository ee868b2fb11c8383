"""Headless tracking: feed a project's prompts to an engine, propagate, store every frame as it arrives.

Used by ``masklet track``; every propagated frame is committed before it is reported, so a crash
loses nothing that was reported done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from app.domain.model import Prompt
from app.domain.project import Project
from app.domain.prompts_file import ObjectSpec
from app.domain.provenance import TrackRecorder, prompt_origin, scores_from_output
from app.domain.quality import MaskInfo
from app.domain.review import mask_infos
from sam3core.engine import Engine


class Direction(Enum):
    """Which way a propagation runs from its start frame (the one vocabulary of the UI, CLI and domain)."""

    FORWARD = "forward"
    BACKWARD = "backward"
    BOTH = "both"


DIRECTIONS = tuple(d.value for d in Direction)


@dataclass(frozen=True)
class PropagationRequest:
    """One propagation run: from ``start`` forward or backward over at most ``max_frames`` more frames."""

    start: int
    reverse: bool
    max_frames: int | None = None  # None = to the end (or start) of the video


def plan_propagation(current: int, num_frames: int, direction: Direction, *, target: int | None = None,
                     prompted: list[int] | None = None,
                     until_prompt: bool = False) -> list[PropagationRequest]:
    """Requests for one user command, always starting at ``current``.

    ``target`` stops at that frame; ``until_prompt`` stops at the nearest other prompted frame in the
    direction of travel (or the video's end when there is none).
    """
    if not 0 <= current < num_frames:
        raise ValueError(f"frame {current} outside 0..{num_frames - 1}")
    if target is not None:
        if target == current:
            return []
        return [PropagationRequest(current, target < current, abs(target - current))]
    frames = sorted(set(prompted or []))
    requests = []
    if direction in (Direction.FORWARD, Direction.BOTH):
        ahead = [f for f in frames if f > current] if until_prompt else []
        requests.append(PropagationRequest(current, False, (ahead[0] - current) if ahead else None))
    if direction in (Direction.BACKWARD, Direction.BOTH):
        behind = [f for f in frames if f < current] if until_prompt else []
        requests.append(PropagationRequest(current, True, (current - behind[-1]) if behind else None))
    return requests

# callback(phase, frame, done, total): phase is "prompt", "forward" or "backward".
FrameCallback = Callable[[str, int, int, int], None]


def apply_specs(project: Project, specs: list[ObjectSpec]) -> None:
    """Create or update the objects of a prompts file and store their prompts, in one transaction."""
    with project.batch():
        for spec in specs:
            if project.has_object(spec.id):
                fields: dict[str, Any] = {"category": spec.category}
                if spec.name:
                    fields["name"] = spec.name
                if spec.color:
                    fields["color"] = spec.color
                project.update_object(spec.id, **fields)
            else:
                project.add_object(spec.name, spec.category, spec.color, spec.id)
            for prompt in spec.prompts:
                project.set_prompt(prompt)


def _binary_masks(obj_ids: list[int], video_res_masks: Any) -> dict[int, np.ndarray]:
    """(N, 1, H, W) logits (torch or numpy) -> {obj_id: (H, W) bool}."""
    if hasattr(video_res_masks, "detach"):
        video_res_masks = (video_res_masks.detach() > 0).cpu().numpy()
    else:
        video_res_masks = np.asarray(video_res_masks) > 0
    return {int(obj_id): video_res_masks[i, 0] for i, obj_id in enumerate(obj_ids)}


def _add_prompt(engine: Engine, state: Any, prompt: Prompt) -> tuple:
    if prompt.points or prompt.box is not None:
        points = np.asarray(prompt.points, np.float32).reshape(-1, 2) if prompt.points else None
        labels = np.asarray(prompt.labels, np.int32) if prompt.points else None
        box = None if prompt.box is None else np.asarray(prompt.box, np.float32)
        # Pixel coordinates of the original video (rel_coordinates=False): the seed API's meaning.
        return engine.add_new_points_or_box(state, prompt.frame, prompt.obj_id, points=points, labels=labels,
                                            box=box, clear_old_points=True, rel_coordinates=False)
    return engine.add_new_mask(state, prompt.frame, prompt.obj_id, prompt.mask)


def track(project: Project, engine: Engine, *, direction: str = "forward",
          on_frame: FrameCallback | None = None, should_stop: Callable[[], bool] | None = None,
          model: str = "") -> int:
    """Run every prompt of ``project`` (in frame order) and propagate; returns frames stored.

    ``direction`` "both" runs forward from the earliest prompted frame, then backward from the latest.
    Every stored mask is recorded with its provenance (engine name, ``model``) and the engine's score.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    prompts = project.prompts()
    if not prompts:
        raise ValueError("the project has no prompts to track from")
    state = engine.init_state(video=project.video)
    name = str(getattr(engine, "name", "") or project.engine)
    stored = 0
    for k, prompt in enumerate(prompts):
        frame_idx, obj_ids, _low, video_res = _add_prompt(engine, state, prompt)
        # The answer to a prompt is that object's mask; the others are written by the propagation.
        mask = _binary_masks(list(obj_ids), video_res)[prompt.obj_id]
        info = MaskInfo(frame_idx, prompt.obj_id, prompt_origin(prompt, name, model))
        project.set_frame_masks(frame_idx, {prompt.obj_id: mask}, infos=[info])
        stored += 1
        if on_frame:
            on_frame("prompt", frame_idx, k + 1, len(prompts))
    first, last = prompts[0].frame, max(p.frame for p in prompts)
    runs = []
    if direction in ("forward", "both"):
        runs.append(("forward", first, False, project.num_frames - first))
    if direction in ("backward", "both"):
        runs.append(("backward", last, True, last + 1))
    prompted = {(p.frame, p.obj_id) for p in prompts}
    for phase, start, reverse, total in runs:
        existing = {(i.frame, i.obj_id): i for f in sorted({f for f, _ in prompted})
                    for i in mask_infos(project, frame=f) if (i.frame, i.obj_id) in prompted}
        recorder = TrackRecorder(prompts, name, model, reverse=reverse, start=start, existing=existing)
        results = engine.propagate_in_video(state, start_frame_idx=start, reverse=reverse)
        for done, (frame_idx, obj_ids, _low, video_res, obj_scores) in enumerate(results, start=1):
            scores = scores_from_output(obj_ids, obj_scores)
            project.set_frame_masks(int(frame_idx), _binary_masks(list(obj_ids), video_res),
                                    infos=recorder.infos(int(frame_idx), scores))
            stored += 1
            if on_frame:
                on_frame(phase, int(frame_idx), done, total)
            if should_stop and should_stop():
                return stored
    return stored
