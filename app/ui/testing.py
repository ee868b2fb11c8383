"""A deliberately slow, geometry-only engine for responsiveness tests and benchmarks.

It implements the full engine API (sam3core/engine.py) without any model: a point prompt gives a
disc around the points, a box gives the filled box, a mask prompt is kept as is, and propagation
carries each object's nearest conditioning mask to every frame, sleeping ``delay_s`` per frame so
the GUI's worker thread is busy the way a real tracker keeps it busy. The sleep comes in ``blocks``
pieces with the run's ``should_stop`` asked between them, as a SAM frame asks it between network blocks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from sam3core.engine import (
    NOTHING_TO_PROPAGATE,
    FrameScores,
    MaskResult,
    PropagationResult,
    RemoveResult,
    StopCheck,
    check_frame_index,
    check_object_id,
    default_start_frame,
    frame_order,
)
from sam3core.errors import EngineInputError, MaskError, ObjectIdError, PromptError
from sam3core.validate import check_prompt
from sam3core.video import VideoSource


@dataclass
class FakeState:
    video: VideoSource
    owns_video: bool = False
    # obj_id -> frame -> (H, W) bool conditioning mask
    cond: dict[int, dict[int, np.ndarray]] = field(default_factory=dict)
    # (frame, obj_id) -> the last mask prompt, the context for clicks that follow on that frame
    mask_prompts: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)


class SlowFakeEngine:
    name = "fake"

    def __init__(self, delay_s: float = 0.02, radius: int = 20, blocks: int = 1) -> None:
        self.delay_s = delay_s
        self.radius = radius
        self.blocks = max(1, blocks)
        self.device = torch.device("cpu")
        self.frames_computed = 0

    def init_state(self, video_path: str | Path | None = None, *, video: VideoSource | None = None,
                   **_: Any) -> FakeState:
        if (video_path is None) == (video is None):
            raise EngineInputError("init_state needs exactly one of video_path or video")
        if video is None:
            return FakeState(video=VideoSource(video_path), owns_video=True)
        return FakeState(video=video)

    def prefetch_features(self, inference_state: FakeState, frame_idx: int,
                          should_stop: StopCheck | None = None) -> bool:
        check_frame_index(frame_idx, inference_state.video.num_frames)
        return False  # nothing to encode: the geometry needs no features

    def frame_scores(self, inference_state: FakeState, frame_idx: int) -> FrameScores:
        check_frame_index(frame_idx, inference_state.video.num_frames)
        return {}  # the geometry has no confidence beyond its object scores

    def close(self, inference_state: FakeState) -> None:
        if inference_state.owns_video:
            inference_state.video.close()

    # -- prompts -----------------------------------------------------------------------------
    def _check(self, state: FakeState, frame_idx: Any, obj_id: Any) -> tuple[int, int]:
        return check_frame_index(frame_idx, state.video.num_frames), check_object_id(obj_id)

    def _result(self, state: FakeState, frame: int) -> MaskResult:
        ids = sorted(o for o, frames in state.cond.items() if frames)
        masks = [self._mask_at(state, o, frame) for o in ids]
        return frame, ids, torch.empty(0), self._logits(state, masks)

    def _logits(self, state: FakeState, masks: list[np.ndarray]) -> torch.Tensor:
        h, w = state.video.height, state.video.width
        if not masks:
            return torch.zeros((0, 1, h, w))
        stack = torch.from_numpy(np.stack(masks)).float()
        return (stack * 20.0 - 10.0).unsqueeze(1)  # (N, 1, H, W) logits, positive inside

    def add_new_points_or_box(self, inference_state: FakeState, frame_idx: int, obj_id: int,
                              points: Any = None, labels: Any = None, clear_old_points: bool = True,
                              rel_coordinates: bool = True, box: Any = None) -> MaskResult:
        frame_idx, obj_id = self._check(inference_state, frame_idx, obj_id)
        if box is not None and not clear_old_points:
            raise PromptError("a box must come before any click on a frame: use clear_old_points=True")
        h, w = inference_state.video.height, inference_state.video.width
        check_prompt(points, labels, box, width=w, height=h, rel_coordinates=rel_coordinates)
        scale = np.array([w, h], np.float32) if rel_coordinates else np.ones(2, np.float32)
        # Clicks after a mask prompt on this frame edit that mask (positive adds, negative removes a disc).
        context = inference_state.mask_prompts.pop((frame_idx, obj_id), None)
        mask = context.astype(np.uint8) if context is not None and box is None else np.zeros((h, w), np.uint8)
        if box is not None:
            x0, y0, x1, y1 = (np.asarray(box, np.float32).reshape(2, 2) * scale).reshape(-1)
            cv2.rectangle(mask, (int(x0), int(y0)), (int(x1), int(y1)), 1, thickness=-1)
        if points is not None and len(points):
            pts = np.asarray(points, np.float32).reshape(-1, 2) * scale
            labs = np.asarray(labels).reshape(-1)
            for (x, y), lab in zip(pts, labs):
                cv2.circle(mask, (int(x), int(y)), self.radius, int(lab > 0), thickness=-1)
        inference_state.cond.setdefault(obj_id, {})[frame_idx] = mask.astype(bool)
        return self._result(inference_state, frame_idx)

    def add_new_points(self, inference_state: FakeState, frame_idx: int, obj_id: int, points: Any,
                       labels: Any, clear_old_points: bool = True,
                       rel_coordinates: bool = True) -> MaskResult:
        return self.add_new_points_or_box(inference_state, frame_idx, obj_id, points, labels,
                                          clear_old_points=clear_old_points, rel_coordinates=rel_coordinates)

    def add_new_mask(self, inference_state: FakeState, frame_idx: int, obj_id: int, mask: Any) -> MaskResult:
        frame_idx, obj_id = self._check(inference_state, frame_idx, obj_id)
        array = mask.numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
        while array.ndim > 2 and array.shape[0] == 1:
            array = array[0]
        size = (inference_state.video.height, inference_state.video.width)
        if array.shape != size:
            raise MaskError(f"mask of shape {array.shape} does not match the video's {size[0]}x{size[1]} "
                            "frames")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise MaskError("mask holds NaN or infinity")
        inference_state.cond.setdefault(obj_id, {})[frame_idx] = array > 0
        inference_state.mask_prompts[(frame_idx, obj_id)] = array > 0
        return self._result(inference_state, frame_idx)

    # -- propagation -------------------------------------------------------------------------
    def _mask_at(self, state: FakeState, obj_id: int, frame: int) -> np.ndarray:
        frames = state.cond[obj_id]
        nearest = min(frames, key=lambda f: (abs(f - frame), f))
        return frames[nearest]

    def propagate_in_video(self, inference_state: FakeState, start_frame_idx: int | None = None,
                           max_frame_num_to_track: int | None = None, reverse: bool = False,
                           propagate_preflight: bool = False, *,
                           should_stop: StopCheck | None = None) -> Iterator[PropagationResult]:
        prompted = {f for frames in inference_state.cond.values() for f in frames}
        if not prompted:
            raise PromptError(NOTHING_TO_PROPAGATE)
        n = inference_state.video.num_frames
        start = default_start_frame(prompted) if start_frame_idx is None else start_frame_idx
        for frame in frame_order(n, start, max_frame_num_to_track, reverse):
            for _ in range(self.blocks):
                if should_stop is not None and should_stop():
                    return  # the frame under way is dropped, as the contract says
                time.sleep(self.delay_s / self.blocks)
            self.frames_computed += 1
            idx, ids, low, video_res = self._result(inference_state, frame)
            yield idx, ids, low, video_res, torch.full((len(ids), 1), 10.0)  # (N, 1) logits: present

    # -- state -------------------------------------------------------------------------------
    def clear_all_points_in_video(self, inference_state: FakeState) -> None:
        self.reset_state(inference_state)

    def reset_state(self, inference_state: FakeState) -> None:
        inference_state.cond.clear()
        inference_state.mask_prompts.clear()

    def remove_object(self, inference_state: FakeState, obj_id: int, strict: bool = False,
                      need_output: bool = True) -> RemoveResult:
        obj_id = check_object_id(obj_id)
        if obj_id not in inference_state.cond:
            if strict:
                raise ObjectIdError(f"object {obj_id} is not in this session")
            return sorted(inference_state.cond), []
        frames = sorted(inference_state.cond.pop(obj_id))
        for key in [k for k in inference_state.mask_prompts if k[1] == obj_id]:
            del inference_state.mask_prompts[key]
        remaining = sorted(o for o, f in inference_state.cond.items() if f)
        if not need_output or not remaining:
            return remaining, []
        return remaining, [(f, self._result(inference_state, f)[3]) for f in frames]
