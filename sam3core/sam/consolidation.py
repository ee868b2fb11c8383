"""Bookkeeping of prompted frames: merging them across objects (SAM 3) and clearing around them.

SAM 2.1 merges each object's prompt results on its own. SAM 3 treats the objects of a session as one batch:
a frame that received a prompt for any object becomes a prompted frame of every object. Objects without a
prompt there keep their current result on it (or an empty mask when they have none), the frame is no longer
re-tracked for them, and every object's memory of the frame is encoded from masks made non-overlapping
across objects.
"""

from __future__ import annotations

import contextlib
from typing import Protocol

import torch
import torch.nn.functional as F

from sam3core.sam.inference_state import FrameFeatures, FrameMemory, ObjectState, Session
from sam3core.sam.tracker import NO_OBJ_SCORE, TrackerModel, non_overlapping
from sam3core.sam.tracking_config import TrackerConfig


class SessionTracker(Protocol):
    """What consolidation needs of the predictor (:class:`~sam3core.sam.predictor.SamPredictor`)."""

    config: TrackerConfig
    model: TrackerModel

    def autocast(self) -> contextlib.AbstractContextManager: ...

    def frame_features(self, session: Session, frame_idx: int) -> FrameFeatures: ...

    def step(self, session: Session, obj: ObjectState, frame_idx: int, *, is_init_cond_frame: bool,
             reverse: bool, mask_inputs: torch.Tensor | None = None) -> FrameMemory: ...

    def keep_memory(self, session: Session, obj: ObjectState, frame_idx: int, entry: FrameMemory,
                    features: torch.Tensor, pos: torch.Tensor) -> None: ...


def clearing_applies(config: TrackerConfig, session: Session) -> bool:
    """Whether prompted frames clear the non-conditioning results around them in this session."""
    return config.clear_non_cond_mem_around_input and (
        config.clear_non_cond_mem_for_multi_obj or len(session.objects) <= 1)


def clear_around(config: TrackerConfig, session: Session, frame_idx: int) -> None:
    """Forget (SAM 2.1) or hide from look-ups (SAM 3) the tracked results within num_maskmem frames."""
    span = config.memory_temporal_stride_for_eval * config.num_maskmem
    frames = range(frame_idx - span, frame_idx + span + 1)
    for obj in session.objects.values():
        if config.clear_hides_from_lookups_only:
            obj.hidden.update(t for t in frames if t in obj.non_cond)
            continue
        for t in frames:
            obj.non_cond.pop(t, None)


# an object without any result on a consolidated frame is taken as present with an empty mask
_ABSENT_OBJECT_SCORE = 10.0


def _current(obj: ObjectState, temp: dict[int, FrameMemory], frame_idx: int) -> FrameMemory | None:
    """The object's newest visible result on a frame: unmerged prompt result, then the memory bank."""
    out = temp.get(frame_idx) or obj.cond.get(frame_idx)
    return out if out is not None else obj.visible_non_cond(frame_idx)


def _empty_entry(predictor: SessionTracker, session: Session, frame_idx: int) -> FrameMemory:
    """Placeholder of an object with no result on the frame: no-object logits, pointer of an empty mask."""
    size = predictor.config.image_size
    empty = torch.zeros(1, 1, size, size, device=session.device)
    # a scratch object: the pointer comes from an initial conditioning step that reads no memory
    scratch = predictor.step(session, ObjectState(-1), frame_idx, is_init_cond_frame=True, reverse=False,
                              mask_inputs=empty)
    side = predictor.config.low_res_mask_size
    return FrameMemory(logits=torch.full((1, 1, side, side), NO_OBJ_SCORE), obj_ptr=scratch.obj_ptr,
                       object_score_logits=torch.full((1, 1), _ABSENT_OBJECT_SCORE))


def consolidate_frame(predictor: SessionTracker, session: Session, frame_idx: int, is_cond: bool) -> None:
    """Store one prompted frame for every object, with memories encoded after the non-overlap constraint."""
    objects = list(session.objects.values())
    entries: list[FrameMemory] = []
    for obj in objects:
        out = _current(obj, obj.temp_cond if is_cond else obj.temp_non_cond, frame_idx)
        if out is None:
            out = _empty_entry(predictor, session, frame_idx)
        # a new entry: the object's earlier result object may still be referenced elsewhere
        entries.append(FrameMemory(logits=out.pred_masks, obj_ptr=out.obj_ptr,
                                   object_score_logits=out.object_score_logits, mask_from_pts=True,
                                   eff_iou_score=out.eff_iou_score, pinned=True))
    size = predictor.config.image_size
    low_res = torch.cat([e.pred_masks for e in entries], dim=0).to(session.device)  # (N, 1, h, w)
    high_res = F.interpolate(low_res, size=(size, size), mode="bilinear", align_corners=False)
    high_res = non_overlapping(high_res)  # (N, 1, S, S)
    feats = predictor.frame_features(session, frame_idx)
    with predictor.autocast():
        for i, (obj, entry) in enumerate(zip(objects, entries, strict=True)):
            features, pos = predictor.model.encode_memory(feats, high_res[i:i + 1],
                                                          entry.object_score_logits.to(session.device), True)
            predictor.keep_memory(session, obj, frame_idx, entry, features, pos)
            (obj.cond if is_cond else obj.non_cond)[frame_idx] = entry
            if is_cond:
                obj.non_cond.pop(frame_idx, None)
            obj.hidden.discard(frame_idx)


def consolidate_prompted_frames(predictor: SessionTracker, session: Session, clear: bool) -> None:
    """Merge every object's unmerged prompt results, frame by frame across objects."""
    for is_cond in (False, True):
        temps = [obj.temp_cond if is_cond else obj.temp_non_cond for obj in session.objects.values()]
        for frame_idx in sorted({t for temp in temps for t in temp}):
            consolidate_frame(predictor, session, frame_idx, is_cond)
            if clear:
                clear_around(predictor.config, session, frame_idx)
        for temp in temps:
            temp.clear()
