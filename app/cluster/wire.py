"""What travels between a remote engine's actor and its client: masks as COCO run-length codes.

An engine's ``video_res_masks`` are float logits at video resolution, 4 bytes a pixel per object;
every caller (the GUI worker, ``masklet track``, the batch) only thresholds them at 0. So the actor
sends each object's binary mask as compressed COCO RLE (the project's own storage format, typically a
few hundred bytes for a clean mask), the per-object scores, and the low-resolution logits only when the
client asked for them (as float16). The client turns masks back into tensors of the contract's shape
with +1 for the object and -1 elsewhere: logits whose sign is exact and whose size means nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from app.domain import rle
from sam3core.errors import MaskError


@dataclass(frozen=True)
class FramePayload:
    """One engine result on the wire: a frame, its objects in order, their masks and scores."""

    frame: int
    obj_ids: tuple[int, ...]
    height: int
    width: int
    counts: tuple[bytes, ...]             # compressed COCO RLE per object, in obj_ids order
    scores: bytes | None = None           # (N, 1) float32 object-presence logits, or None
    low_res: bytes | None = None          # (N, 1, h, w) float16 logits, only when asked for
    low_res_shape: tuple[int, ...] = ()
    # the engine's optional frame_scores(state, frame) for this result: {obj_id: {"iou": ..., ...}}
    extra: dict[int, dict[str, float | None]] | None = None

    @property
    def nbytes(self) -> int:
        """Bytes of mask data on the wire (what bench/bench_ray.py reports per frame)."""
        return sum(len(c) for c in self.counts) + len(self.scores or b"") + len(self.low_res or b"")


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().float().cpu().numpy()
    return np.asarray(value)


def encode_result(frame: int, obj_ids: Any, video_res_masks: Any, *, obj_scores: Any = None,
                  low_res_masks: Any = None, want_low_res: bool = False,
                  extra: dict[int, dict[str, float | None]] | None = None) -> FramePayload:
    """Engine output ``(N, 1, H, W)`` logits -> payload (binary masks, RLE-compressed)."""
    ids = tuple(int(i) for i in obj_ids)
    logits = _numpy(video_res_masks)
    if logits.ndim != 4 or logits.shape[0] != len(ids):
        raise ValueError(f"video_res_masks of shape {logits.shape} for {len(ids)} object(s)")
    height, width = int(logits.shape[2]), int(logits.shape[3])
    counts = tuple(rle.encode(logits[row, 0] > 0)[0] for row in range(len(ids)))
    scores = None if obj_scores is None else _numpy(obj_scores).astype(np.float32).reshape(-1, 1).tobytes()
    low, low_shape = None, ()
    if want_low_res and low_res_masks is not None:
        array = _numpy(low_res_masks).astype(np.float16)
        low, low_shape = array.tobytes(), tuple(int(s) for s in array.shape)
    return FramePayload(int(frame), ids, height, width, counts, scores, low, low_shape, extra)


def decode_masks(payload: FramePayload) -> np.ndarray:
    """(N, H, W) bool."""
    out = np.zeros((len(payload.obj_ids), payload.height, payload.width), bool)
    for row, counts in enumerate(payload.counts):
        out[row] = rle.decode(counts, payload.height, payload.width)
    return out


def to_logits(payload: FramePayload) -> torch.Tensor:
    """(N, 1, H, W) float32: +1 on the object, -1 elsewhere."""
    binary = torch.from_numpy(decode_masks(payload))
    return (binary.float() * 2.0 - 1.0).unsqueeze(1)


def scores_tensor(payload: FramePayload) -> torch.Tensor:
    """(N, 1) float32 presence logits; if the engine sent none: +10 where the mask is non-empty, else -10."""
    if payload.scores is not None:
        return torch.from_numpy(np.frombuffer(payload.scores, np.float32).reshape(-1, 1).copy())
    present = decode_masks(payload).reshape(len(payload.obj_ids), -1).any(axis=1)
    return torch.where(torch.from_numpy(present), 10.0, -10.0).reshape(-1, 1).float()


def low_res_tensor(payload: FramePayload) -> torch.Tensor:
    """(N, 1, h, w) float32 low-resolution logits, or an empty (N, 1, 0, 0) tensor when not sent."""
    if payload.low_res is None:
        return torch.zeros((len(payload.obj_ids), 1, 0, 0))
    array = np.frombuffer(payload.low_res, np.float16).reshape(payload.low_res_shape)
    return torch.from_numpy(array.astype(np.float32))


def encode_mask(mask: Any) -> tuple[bytes, int, int]:
    """A mask prompt (H, W) bool/float/tensor -> (RLE counts, H, W); > 0 (or True) is the object."""
    array = _numpy(mask)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise MaskError(f"a mask prompt must be (H, W), got shape {tuple(array.shape)}")
    binary = array if array.dtype == bool else array > 0
    return rle.encode(binary)[0], int(array.shape[0]), int(array.shape[1])


def decode_mask(counts: bytes, height: int, width: int) -> torch.Tensor:
    return torch.from_numpy(rle.decode(counts, height, width))
