"""The one tracking session of the GUI and ``masklet track``, Qt-free: prompts in, stored masks out.

The engine's session is derived state: :class:`TrackingSession` brings it in line with a project's
prompts (changed or new prompts are fed incrementally; anything removed forces a reset and a full
re-feed), feeds every prompt the same way (:func:`feed_prompt`), and runs propagations planned by
:func:`plan_propagation` (a user command from the frame on screen) or :func:`plan_track` (the whole
video), yielding each frame's masks. :class:`FrameWriter` stores them; every frame is committed before it
is reported, so a crash or a cancel loses nothing reported done. The GUI's worker thread
(``app/ui/worker.py``) and :func:`track` (``masklet track``) both drive this session.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

import numpy as np

from app.domain.model import Prompt
from app.domain.project import Project
from app.domain.prompt_edits import engine_prompt
from app.domain.prompts_file import ObjectSpec
from app.domain.provenance import TrackRecorder, engine_scores, prompt_origin, tracked_provenance
from app.domain.quality import FrameScore, MaskInfo
from app.domain.review import ReviewGuard
from sam3core.engine import Engine, MaskResult, StopCheck, frame_order
from sam3core.errors import PromptError
from sam3core.validate import check_prompt
from sam3core.video import VideoSource

log = logging.getLogger(__name__)

PromptKey = tuple[int, int]  # (frame, obj_id)
PromptSet = dict[PromptKey, Prompt]
FrameMasks = dict[int, np.ndarray]  # obj_id -> (H, W) bool
FrameScores = dict[int, FrameScore]  # obj_id -> the engine's confidence on a frame
# callback(phase, frame, done, total): phase is "prompt", "forward" or "backward".
FrameCallback = Callable[[str, int, int, int], None]


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

    def frames(self, num_frames: int) -> range:
        """The frames this run visits, in order (the engine contract's rule)."""
        return frame_order(num_frames, self.start, self.max_frames, self.reverse)


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


def plan_track(prompted: list[int], num_frames: int, direction: Direction) -> list[PropagationRequest]:
    """``masklet track``'s runs: forward from the earliest prompted frame, backward from the latest."""
    if not prompted:
        raise ValueError("the project has no prompts to track from")
    requests = []
    if direction in (Direction.FORWARD, Direction.BOTH):
        requests += plan_propagation(min(prompted), num_frames, Direction.FORWARD)
    if direction in (Direction.BACKWARD, Direction.BOTH):
        requests += plan_propagation(max(prompted), num_frames, Direction.BACKWARD)
    return requests


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
                project.set_prompt(continued_prompt(project.prompt(prompt.frame, prompt.obj_id), prompt))


def continued_prompt(stored: Prompt | None, new: Prompt) -> Prompt:
    """The prompt a file's ``new`` one makes on a frame that holds ``stored``: the file's clicks, box or
    mask replace the stored ones, but clicks alone keep a stored mask as their context, as a click on
    that mask does in the window (app/domain/prompt_edits.click_prompt): a refinement click must not
    throw away a first-frame mask from --masks or a brush edit."""
    if stored is None or stored.mask is None or new.mask is not None or new.box is not None:
        return new
    return replace(new, mask=stored.mask)


def masks_of(obj_ids: list[int], video_res_masks: Any) -> FrameMasks:
    """(N, 1, H, W) logits (torch or numpy) in the order of ``obj_ids`` -> {obj_id: (H, W) bool}."""
    if hasattr(video_res_masks, "detach"):
        binary = (video_res_masks.detach()[:, 0] > 0).cpu().numpy()
    else:
        binary = np.asarray(video_res_masks)[:, 0] > 0
    return {int(obj_id): binary[row] for row, obj_id in enumerate(obj_ids)}


def feed_prompt(engine: Engine, state: Any, prompt: Prompt) -> FrameMasks:
    """Give one stored prompt to the engine; every object's mask on its frame.

    A prompt holds a mask, clicks, a box or several: the mask goes first and the clicks (and box) after
    it, so they refine that mask — what the user saw in the window when clicking on a frame that showed
    a mask. Coordinates are video pixels (``rel_coordinates=False``).
    """
    result: MaskResult | None = None
    if prompt.mask is not None:
        result = engine.add_new_mask(state, prompt.frame, prompt.obj_id, np.asarray(prompt.mask, dtype=bool))
    if prompt.points or prompt.box is not None:
        points = np.asarray(prompt.points, np.float32).reshape(-1, 2) if prompt.points else None
        labels = np.asarray(prompt.labels, np.int32) if prompt.points else None
        box = None if prompt.box is None else np.asarray(prompt.box, np.float32)
        result = engine.add_new_points_or_box(state, prompt.frame, prompt.obj_id, points=points,
                                              labels=labels, box=box, clear_old_points=True,
                                              rel_coordinates=False)
    if result is None:
        return {}
    _, obj_ids, _, video_res = result
    return masks_of(list(obj_ids), video_res)


class FrameWriter:
    """Stores propagated frames with their provenance and confidence (app/domain/provenance.py): one
    :class:`TrackRecorder` per request, masks only of the objects in ``obj_ids`` (default: the project's;
    an object deleted since the run started is skipped)."""

    def __init__(self, project: Project, prompts: list[Prompt], requests: list[PropagationRequest],
                 engine: str, model: str = "", obj_ids: set[int] | None = None) -> None:
        self.project = project
        self.obj_ids = {o.id for o in project.objects()} if obj_ids is None else obj_ids
        self.recorders: dict[PropagationRequest, TrackRecorder] = tracked_provenance(
            project, prompts, requests, engine, model)

    def write(self, frame: int, masks: FrameMasks, scores: FrameScores, request: PropagationRequest,
              before_write: Callable[[int], None] | None = None) -> FrameMasks:
        """Store one frame; returns what was stored. ``before_write(frame)`` runs just before the write
        (the GUI marks the frame in flight)."""
        kept = {o: m for o, m in masks.items() if o in self.obj_ids}
        if kept:
            infos = self.recorders[request].infos(frame, {o: scores[o] for o in kept if o in scores})
            if before_write is not None:
                before_write(frame)
            self.project.set_frame_masks(frame, kept, infos=infos)
        return kept


# (the request it belongs to, frame, masks, scores) as TrackingSession.propagate yields it
PropagatedFrame = tuple[PropagationRequest, int, FrameMasks, FrameScores]


def same_prompt(a: Prompt | None, b: Prompt | None) -> bool:
    """Whether two prompts are equal, mask included (a prompt read back from the store is a new object)."""
    if a is b:
        return True
    if a is None or b is None or a != b:
        return False
    if a.mask is None or b.mask is None:
        return a.mask is b.mask
    return a.mask.shape == b.mask.shape and bool(np.array_equal(a.mask, b.mask))


class TrackingSession:
    """One engine session on one video, derived from a set of prompts (see the module docstring)."""

    def __init__(self, engine: Engine | None = None, video: VideoSource | None = None) -> None:
        self.engine = engine
        self.video = video
        self._state: Any = None
        self._fed: PromptSet = {}

    def set_engine(self, engine: Engine) -> None:
        self.close()
        self.engine = engine

    def set_video(self, video: VideoSource | None) -> None:
        self.close()
        self.video = video

    def close(self) -> None:
        """Release the engine session (the next call starts a fresh one, re-fed from the prompts)."""
        if self._state is not None and self.engine is not None:
            with contextlib.suppress(Exception):  # the old session is discarded either way
                self.engine.close(self._state)
        self._state = None
        self._fed = {}

    def _ensure_state(self) -> Any:
        if self.engine is None:
            raise RuntimeError("no engine is loaded")
        if self.video is None:
            raise RuntimeError("no video is open")
        if self._state is None:
            # A damaged frame must not end a run: the engine sees a decodable neighbour there, and
            # propagate() yields nothing for it, so no mask is ever stored with another frame's picture.
            self._state = self.engine.init_state(video=self.video.holding_damaged())
            self._fed = {}
        return self._state

    def sync(self, prompts: PromptSet) -> dict[PromptKey, np.ndarray]:
        """Bring the engine session in line with ``prompts``; the masks of the prompts (re)fed, per key.

        Prompts are fed in (frame, object) order. On an error the session is dropped: it may be half
        updated, and the next call rebuilds it from the prompts.
        """
        state = self._ensure_state()
        assert self.engine is not None
        try:
            if any(k not in prompts for k in self._fed):
                self.engine.reset_state(state)
                self._fed = {}
            out: dict[PromptKey, np.ndarray] = {}
            for key in sorted(k for k, p in prompts.items() if not same_prompt(self._fed.get(k), p)):
                prompt = prompts[key]
                if prompt.is_empty:
                    continue
                masks = feed_prompt(self.engine, state, prompt)
                self._fed[key] = prompt
                if prompt.obj_id in masks:
                    out[key] = masks[prompt.obj_id]
            return out
        except Exception:
            self.close()
            raise

    def segment(self, prompts: PromptSet, key: PromptKey) -> np.ndarray | None:
        """The mask of one (frame, object) prompt now (re-fed even when unchanged: it is asked for)."""
        self._fed.pop(key, None)
        return self.sync(prompts).get(key)

    def prefetch(self, frame: int, should_stop: StopCheck | None = None) -> bool:
        """Encode ``frame`` ahead of a click where the engine has something to encode."""
        state = self._ensure_state()
        assert self.engine is not None
        return self.engine.prefetch_features(state, frame, should_stop=should_stop)

    def total_frames(self, requests: list[PropagationRequest]) -> int:
        if self.video is None:
            raise RuntimeError("no video is open")
        return sum(len(r.frames(self.video.num_frames)) for r in requests)

    def propagate(self, prompts: PromptSet, requests: list[PropagationRequest],
                  should_stop: StopCheck | None = None,
                  follow: Callable[[int, FrameMasks], FrameMasks] | None = None) -> Iterator[PropagatedFrame]:
        """Sync, then run the requests one after the other, yielding (request, frame, masks, scores).

        Stop iterating (close the generator) to cancel after a frame; ``should_stop`` is also asked
        before each request and handed to the engine, which asks it within its frames (the frame
        under way is then not yielded). The engine's generator is always closed (it leaves its
        inference context).
        ``follow(frame, masks)`` (e.g. :meth:`ReviewGuard.to_follow`) may name masks the engine must
        take as its answer on that frame: they are fed as mask prompts and the run goes on from there
        (the frame is not yielded twice), so the frames after it follow them.
        """
        self.sync(prompts)
        state = self._state
        assert self.engine is not None and self.video is not None
        try:
            for request in requests:
                if should_stop is not None and should_stop():
                    return
                end = list(request.frames(self.video.num_frames))[-1:]
                start, limit, skip = request.start, request.max_frames, None
                while start is not None:
                    # Asked inside the engine's frames too: a SAM frame on a CPU takes seconds.
                    stop = {} if should_stop is None else {"should_stop": should_stop}
                    frames = self.engine.propagate_in_video(state, start_frame_idx=start,
                                                            max_frame_num_to_track=limit,
                                                            reverse=request.reverse, **stop)
                    start = None
                    with contextlib.closing(frames):  # type: ignore[type-var]
                        for frame_idx, obj_ids, _, video_res, obj_scores in frames:
                            frame = int(frame_idx)
                            if frame == skip or frame in self.video.damaged_frames:
                                continue  # yielded before the restart / tracked through, never stored
                            scores = engine_scores(self.engine, state, frame, obj_ids, obj_scores)
                            masks = masks_of(list(obj_ids), video_res)
                            wanted = follow(frame, masks) if follow is not None else {}
                            yield request, frame, masks, scores
                            if wanted and end and frame != end[0]:
                                self._condition_on(frame, wanted)
                                start, limit, skip = frame, abs(end[0] - frame), frame
                                break
        except Exception:
            self.close()  # half updated: the next call rebuilds it from the prompts
            raise

    def _condition_on(self, frame: int, masks: FrameMasks) -> None:
        """Give the engine ``masks`` as mask prompts on ``frame``; remembered as fed, so the next sync
        without them rebuilds the session from the user's own prompts."""
        assert self.engine is not None
        for obj_id, mask in sorted(masks.items()):
            prompt = Prompt(frame, obj_id, mask=np.asarray(mask, bool))
            feed_prompt(self.engine, self._state, prompt)
            self._fed[(frame, obj_id)] = prompt


def store_prompt_results(project: Project, session: TrackingSession, prompts: PromptSet,
                         key: PromptKey | None = None, on_frame: FrameCallback | None = None,
                         model: str = "") -> int:
    """Feed ``prompts`` and store each (re)fed prompt's mask for its own object with its provenance, as
    the window stores a click's answer; with ``key`` only that prompt's, fed again even when unchanged (a
    click on it). The other objects' masks on the frame are the propagation's to write. Returns the
    masks stored."""
    if key is not None:
        mask = session.segment(prompts, key)
        results = {} if mask is None else {key: mask}
    else:
        results = session.sync(prompts)
    name = session.engine.name if session.engine is not None else project.engine
    for k, (frame, obj_id) in enumerate(sorted(results)):
        info = MaskInfo(frame, obj_id, prompt_origin(prompts[(frame, obj_id)], name, model))
        project.set_mask(frame, obj_id, results[(frame, obj_id)], info=info)
        if on_frame:
            on_frame("prompt", frame, k + 1, len(results))
    return len(results)


def run_propagation(project: Project, session: TrackingSession, prompts: PromptSet,
                    requests: list[PropagationRequest], on_frame: FrameCallback | None = None,
                    should_stop: StopCheck | None = None, model: str = "",
                    guard: ReviewGuard | None = None) -> int:
    """Run ``requests`` and store every frame as it arrives (:class:`FrameWriter`); the frames stored.
    ``guard`` decides, per frame, what happens to masks a person reviewed (kept or replaced)."""
    name = session.engine.name if session.engine is not None else project.engine
    writer = FrameWriter(project, list(prompts.values()), requests, name, model)
    stored = 0
    done: dict[PropagationRequest, int] = {}
    try:
        follow = guard.to_follow if guard is not None else None
        with contextlib.closing(session.propagate(prompts, requests, should_stop, follow)) as frames:
            for request, frame, masks, scores in frames:
                writer.write(frame, masks if guard is None else guard.filter(frame, masks), scores, request)
                stored += 1
                done[request] = done.get(request, 0) + 1
                if on_frame:
                    phase = "backward" if request.reverse else "forward"
                    on_frame(phase, frame, done[request], len(request.frames(project.num_frames)))
                if should_stop is not None and should_stop():
                    break
    finally:
        project.checkpoint()  # the project file copied alone holds every stored frame
    return stored


def track(project: Project, engine: Engine, *, direction: Direction | str = Direction.FORWARD,
          on_frame: FrameCallback | None = None, should_stop: StopCheck | None = None,
          model: str = "", on_warning: Callable[[str], None] | None = None, reviewed: str = "keep") -> int:
    """``masklet track``: feed every prompt of ``project`` and store their masks
    (:func:`store_prompt_results`), propagate (:func:`plan_track`) and store each frame
    (:func:`run_propagation`); returns the results stored. "both" runs forward from the earliest
    prompted frame, then backward from the latest. Every stored mask is recorded with its provenance
    (engine name, ``model``: the checkpoint's file name) and the engine's confidence. A stored prompt
    that fails the shared check (written by an older version) is skipped with a warning naming it, so
    the other objects still track. A propagated mask that differs from one a person reviewed is left
    out under ``reviewed="keep"`` (the reviewed one stays, as the window's "keep") or stored under
    ``"replace"`` (its review lapses); either way ``on_warning`` is told which frames.
    """
    direction = Direction(direction)
    warn = on_warning or log.warning
    guard = ReviewGuard(project, reviewed)
    prompts: PromptSet = {(p.frame, p.obj_id): p for p in valid_prompts(project, warn)}
    if not prompts:
        raise ValueError("the project has no prompts to track from")
    requests = plan_track(sorted({f for f, _ in prompts}), project.num_frames, direction)
    session = TrackingSession(engine, project.video)
    try:
        stored = store_prompt_results(project, session, prompts, on_frame=on_frame, model=model)
        return stored + run_propagation(project, session, prompts, requests, on_frame, should_stop, model,
                                        guard)
    finally:
        session.close()
        if guard.changes:
            warn(describe_reviewed_changes(guard))


def describe_reviewed_changes(guard: ReviewGuard) -> str:
    """One line for the user: which reviewed masks the tracker's answer differed on, and what was done."""
    frames = sorted({c.frame for c in guard.changes})
    listed = ", ".join(map(str, frames[:20])) + (" ..." if len(frames) > 20 else "")
    count = len(guard.changes)
    if guard.policy == "keep":
        return f"kept {count} reviewed mask(s) where the tracker's answer differed (frames {listed})"
    return f"replaced {count} reviewed mask(s) by the tracker's (frames {listed}); their reviews lapsed"


def valid_prompts(project: Project, warn: Callable[[str], None]) -> list[Prompt]:
    """The project's prompts that pass the shared check, as the engine is given them (a mask painted
    after the clicks alone: :func:`~app.domain.prompt_edits.engine_prompt`, as in the window); each one
    that does not pass is named to ``warn``."""
    height, width = project.size
    kept = []
    for prompt in project.prompts():
        if prompt.points or prompt.box is not None:
            try:
                check_prompt(prompt.points or None, prompt.labels or None, prompt.box, width=width,
                             height=height)
            except PromptError as exc:
                warn(f"{project.path}: skipping the stored prompt of object {prompt.obj_id} on frame "
                     f"{prompt.frame}: {exc}")
                continue
        if prompt.mask is not None:
            prompt = engine_prompt(prompt, project.mask(prompt.frame, prompt.obj_id))
        kept.append(prompt)
    return kept
