"""Which past results condition the current frame: spatial memories + object pointers.

The tracker asks a :class:`MemoryBank` (one object's conditioning / non-conditioning results) for the
frames it needs; the bank may have evicted a memory feature and recompute it on request.
"""

from __future__ import annotations

from typing import Protocol

import torch

from sam3core.sam.inference_state import FrameMemory, ObjectState, Session
from sam3core.sam.tracking_config import TrackerConfig


class MemoryBank(Protocol):
    """One object's results as seen by the tracking step."""

    cond: dict[int, FrameMemory]
    non_cond: dict[int, FrameMemory]

    def memory_of(self, frame_idx: int, entry: FrameMemory) -> tuple[torch.Tensor, torch.Tensor]:
        """Spatial memory (1, C_mem, H, W) float32 and its position encoding, on the compute device."""
        ...


class MemoryEncodings(Protocol):
    """What gathering memory needs of the tracker model (:class:`~sam3core.sam.tracker.TrackerModel`)."""

    config: TrackerConfig
    mem_dim: int
    maskmem_tpos_enc: torch.Tensor  # (num_maskmem, 1, 1, C_mem) temporal encodings of spatial memories

    @property
    def device(self) -> torch.device: ...

    def obj_ptr_pos_enc(self, positions: list[int], max_ptrs: int, device: torch.device) -> torch.Tensor: ...


class MemoryRecompute(Protocol):
    """What :class:`ObjectBank` needs of the predictor (:class:`~sam3core.sam.predictor.SamPredictor`)."""

    def encode_entry(self, session: Session, obj: ObjectState, frame_idx: int,
                     entry: FrameMemory) -> None: ...


class ObjectBank:
    """A :class:`MemoryBank` over one object of a predictor session: evicted memories are recomputed by
    the predictor (bit-identical) and touched in the session's LRU."""

    def __init__(self, predictor: MemoryRecompute, session: Session, obj: ObjectState) -> None:
        self.predictor, self.session, self.obj = predictor, session, obj
        self.cond, self.non_cond = obj.cond, obj.non_cond

    def memory_of(self, frame_idx: int, entry: FrameMemory) -> tuple[torch.Tensor, torch.Tensor]:
        session = self.session
        if entry.maskmem_features is None:  # evicted earlier: recompute it, bit-identical
            self.predictor.encode_entry(session, self.obj, frame_idx, entry)
            session.stats.memory_recomputes += 1
        key = (self.obj.obj_id, frame_idx)
        if key in session.memory_lru:
            session.memory_lru.move_to_end(key)
        assert entry.maskmem_features is not None and session.maskmem_pos_enc is not None
        # memories are stored in bfloat16 like the reference; attention runs on their exact float32 value
        return entry.maskmem_features.to(session.device).float(), session.maskmem_pos_enc.to(session.device)


def select_cond_frames(frame_idx: int, cond: dict[int, FrameMemory], max_frames: int,
                       keep_first: bool = False) -> tuple[dict[int, FrameMemory], dict[int, FrameMemory]]:
    """Split conditioning frames into the (at most ``max_frames``) temporally closest ones and the rest.

    The closest frame before and the closest at-or-after ``frame_idx`` are always taken (and with
    ``keep_first`` the earliest one before it), then the nearest others.
    """
    if max_frames == -1 or len(cond) <= max_frames:
        return cond, {}
    if max_frames < 2:
        raise ValueError("at least 2 conditioning frames must be allowed in attention")
    chosen: dict[int, FrameMemory] = {}
    if keep_first:
        first = min((t for t in cond if t < frame_idx), default=None)
        if first is None:
            first = max((t for t in cond if t > frame_idx), default=None)
        if first is not None:
            chosen[first] = cond[first]
    before = max((t for t in cond if t < frame_idx), default=None)
    if before is not None:
        chosen[before] = cond[before]
    after = min((t for t in cond if t >= frame_idx), default=None)
    if after is not None:
        chosen[after] = cond[after]
    rest = sorted((t for t in cond if t not in chosen), key=lambda t: abs(t - frame_idx))
    for t in rest[:max_frames - len(chosen)]:
        chosen[t] = cond[t]
    return chosen, {t: v for t, v in cond.items() if t not in chosen}


def memory_score(object_score_logits: torch.Tensor, iou_score: torch.Tensor) -> float:
    """Memory-selection score: object score mapped to 0..1 when present (else 0) times predicted IoU."""
    norm = torch.where(object_score_logits > 0, object_score_logits.sigmoid() * 2 - 1,
                       torch.zeros_like(object_score_logits))
    return float((norm * iou_score).mean())


def selected_memory_frames(bank: MemoryBank, frame_idx: int, num_frames: int, reverse: bool, stride: int,
                           max_ptrs: int, threshold: float) -> list[int]:
    """Past non-conditioning frames scoring above ``threshold`` (oldest first), plus the previous frame."""
    if (frame_idx == 0 and not reverse) or (frame_idx == num_frames - 1 and reverse):
        return []
    limit = min(num_frames, max_ptrs)
    if reverse:
        candidates, previous = range(frame_idx + 1, num_frames, stride), frame_idx + 1
    else:
        candidates, previous = range(frame_idx - 1, 0, -stride), frame_idx - 1
    valid: list[int] = []
    for t in candidates:
        entry = bank.non_cond.get(t)
        if entry is None or entry.eff_iou_score is None:
            continue
        if entry.eff_iou_score > threshold:
            valid.insert(0, t)
        if len(valid) >= limit - 1:
            break
    if previous not in valid:
        valid.append(previous)
    return valid


def gather_memory(model: MemoryEncodings, frame_idx: int, bank: MemoryBank, num_frames: int, reverse: bool,
                  batch: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Memory tokens for ``frame_idx`` -> (memory (L, B, C_mem), position (L, B, C_mem), #pointer tokens)."""
    cfg = model.config
    device = model.device
    num_maskmem = cfg.num_maskmem
    if not bank.cond:
        raise RuntimeError("an object without any prompted frame cannot be tracked")
    selected, unselected = select_cond_frames(frame_idx, bank.cond, cfg.max_cond_frames_in_attn,
                                              cfg.keep_first_cond_frame)
    stride = cfg.memory_temporal_stride_for_eval
    valid: list[int] = []
    if cfg.use_memory_selection:
        valid = selected_memory_frames(bank, frame_idx, num_frames, reverse, stride,
                                       cfg.max_obj_ptrs_in_encoder, cfg.mf_threshold)
    # (t_pos, frame, entry): conditioning frames first at t_pos 0, then the previous frames
    picks: list[tuple[int, int, FrameMemory]] = [(0, t, out) for t, out in selected.items()]
    sign = -1 if reverse else 1
    for t_pos in range(1, num_maskmem):
        t_rel = num_maskmem - t_pos  # frames back from the current one
        if cfg.use_memory_selection:
            if t_rel > len(valid):
                continue
            prev = valid[-t_rel]
        elif t_rel == 1:
            prev = frame_idx - sign
        elif not reverse:
            prev = ((frame_idx - 2) // stride) * stride - (t_rel - 2) * stride
        else:
            prev = -(-(frame_idx + 2) // stride) * stride + (t_rel - 2) * stride
        out = bank.non_cond.get(prev) or unselected.get(prev)
        if out is not None:
            picks.append((t_pos, prev, out))

    memories, positions = [], []
    for t_pos, t, out in picks:
        features, pos = bank.memory_of(t, out)
        memories.append(features.flatten(2).permute(2, 0, 1))  # (HW, B, C_mem)
        pos = pos.flatten(2).permute(2, 0, 1) + model.maskmem_tpos_enc[num_maskmem - t_pos - 1]
        positions.append(pos)

    max_ptrs = min(num_frames, cfg.max_obj_ptrs_in_encoder)
    if cfg.only_obj_ptrs_in_the_past_for_eval:
        ptr_cond = {t: out for t, out in selected.items() if (t >= frame_idx if reverse else t <= frame_idx)}
    else:
        ptr_cond = selected
    offsets: list[int] = []
    pointers: list[torch.Tensor] = []
    for t, out in ptr_cond.items():
        offsets.append((frame_idx - t) * sign if cfg.use_signed_tpos_enc_to_obj_ptrs else abs(frame_idx - t))
        pointers.append(out.obj_ptr)
    for t_diff in range(1, max_ptrs):
        if cfg.use_memory_selection:
            if t_diff >= len(valid):
                break
            t = valid[-t_diff]
        else:
            t = frame_idx - t_diff * sign
            if t < 0 or t >= num_frames:
                break
        out = bank.non_cond.get(t) or unselected.get(t)
        if out is not None:
            offsets.append(t_diff)
            pointers.append(out.obj_ptr)

    num_ptr_tokens = 0
    if pointers:
        ptrs = torch.stack([p.to(device) for p in pointers], dim=0)  # (N, B, C)
        ptr_pos = model.obj_ptr_pos_enc(offsets, max_ptrs, device)  # (N, C_mem)
        ptr_pos = ptr_pos.unsqueeze(1).expand(-1, batch, model.mem_dim)
        channels = ptrs.shape[-1]
        if model.mem_dim < channels:
            # a C-wide pointer becomes C // C_mem tokens of width C_mem
            split = channels // model.mem_dim
            ptrs = ptrs.reshape(-1, batch, split, model.mem_dim).permute(0, 2, 1, 3).flatten(0, 1)
            ptr_pos = ptr_pos.repeat_interleave(split, dim=0)
        memories.append(ptrs)
        positions.append(ptr_pos)
        num_ptr_tokens = ptrs.shape[0]
    return torch.cat(memories, dim=0), torch.cat(positions, dim=0), num_ptr_tokens
