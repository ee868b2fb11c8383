"""DAVIS video-object-segmentation measures: region similarity J, boundary F-measure F, and J&F.

Definitions follow the DAVIS benchmark (Perazzi et al. 2016, Pont-Tuset et al. 2017):

- J is the intersection over union of the predicted and ground-truth masks; 1.0 when both are empty.
- F compares 1-pixel-wide boundary maps: a boundary pixel of one mask counts as matched when a
  boundary pixel of the other lies within ``ceil(bound_th * image diagonal)`` pixels (a disk).
  Precision = matched predicted boundary / predicted boundary, recall likewise for the ground truth,
  F = 2PR / (P + R). Both boundaries empty gives 1.0; exactly one empty gives 0.0.
- A sequence is scored per object (mean over frames), then averaged over objects; J&F = (J + F) / 2.

Inputs are numpy arrays; nothing here touches torch or Qt, so ``masklet eval`` and the benchmarks
share one implementation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

FrameMasks = np.ndarray | Mapping[int, np.ndarray]


def _as_bool(mask: np.ndarray, name: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) mask, got shape {mask.shape}")
    return mask.astype(bool, copy=False)


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred_b, gt_b = _as_bool(pred, "pred"), _as_bool(gt, "gt")
    if pred_b.shape != gt_b.shape:
        raise ValueError(f"pred {pred_b.shape} and gt {gt_b.shape} masks differ in size")
    return pred_b, gt_b


def region_similarity(pred: np.ndarray, gt: np.ndarray) -> float:
    """J: IoU of two (H, W) boolean masks, 1.0 when both are empty."""
    pred_b, gt_b = _check_pair(pred, gt)
    union = np.count_nonzero(pred_b | gt_b)
    if union == 0:
        return 1.0
    return float(np.count_nonzero(pred_b & gt_b) / union)


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """1-pixel boundary of a (H, W) mask: pixels whose right, lower or lower-right neighbour differs.

    The last row only compares to the right, the last column only downwards, and the corner pixel
    is never a boundary; this is the DAVIS ``seg2bmap`` convention at the mask's own resolution.
    """
    seg = _as_bool(mask, "mask")
    right = np.zeros_like(seg)
    down = np.zeros_like(seg)
    diag = np.zeros_like(seg)
    right[:, :-1] = seg[:, 1:]
    down[:-1, :] = seg[1:, :]
    diag[:-1, :-1] = seg[1:, 1:]
    bmap = (seg ^ right) | (seg ^ down) | (seg ^ diag)
    bmap[-1, :] = seg[-1, :] ^ right[-1, :]
    bmap[:, -1] = seg[:, -1] ^ down[:, -1]
    bmap[-1, -1] = False
    return bmap


def _disk(radius: int) -> np.ndarray:
    span = np.arange(-radius, radius + 1)
    yy, xx = np.meshgrid(span, span, indexing="ij")
    return (xx * xx + yy * yy <= radius * radius).astype(np.uint8)


def boundary_tolerance(height: int, width: int, bound_th: float = 0.008) -> int:
    """Match radius in pixels: ``bound_th`` itself when >= 1, else ceil(bound_th * diagonal)."""
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * math.hypot(height, width)))


def boundary_f_measure(pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008) -> float:
    """F: boundary F-measure of two (H, W) masks with the DAVIS tolerance (see the module docstring)."""
    pred_b, gt_b = _check_pair(pred, gt)
    radius = boundary_tolerance(*pred_b.shape, bound_th=bound_th)
    pred_edge = boundary_map(pred_b)
    gt_edge = boundary_map(gt_b)
    n_pred = int(np.count_nonzero(pred_edge))
    n_gt = int(np.count_nonzero(gt_edge))
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0
    kernel = _disk(radius)
    gt_near = cv2.dilate(gt_edge.astype(np.uint8), kernel).astype(bool)
    pred_near = cv2.dilate(pred_edge.astype(np.uint8), kernel).astype(bool)
    precision = np.count_nonzero(pred_edge & gt_near) / n_pred
    recall = np.count_nonzero(gt_edge & pred_near) / n_gt
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


@dataclass
class ObjectScores:
    """Per-frame J and F of one object over the evaluated frames."""

    obj_id: int
    j_per_frame: list[float] = field(default_factory=list)
    f_per_frame: list[float] = field(default_factory=list)

    @property
    def j_mean(self) -> float:
        return float(np.mean(self.j_per_frame)) if self.j_per_frame else float("nan")

    @property
    def f_mean(self) -> float:
        return float(np.mean(self.f_per_frame)) if self.f_per_frame else float("nan")

    @property
    def jf_mean(self) -> float:
        return (self.j_mean + self.f_mean) / 2

    @property
    def j_recall(self) -> float:
        """Fraction of frames with J > 0.5 (the DAVIS 'recall' statistic)."""
        return float(np.mean(np.asarray(self.j_per_frame) > 0.5)) if self.j_per_frame else float("nan")


@dataclass
class SequenceScores:
    """Scores of one sequence: objects are weighted equally, frames equally within an object."""

    objects: list[ObjectScores]

    @property
    def j_mean(self) -> float:
        return float(np.mean([o.j_mean for o in self.objects])) if self.objects else float("nan")

    @property
    def f_mean(self) -> float:
        return float(np.mean([o.f_mean for o in self.objects])) if self.objects else float("nan")

    @property
    def jf_mean(self) -> float:
        return (self.j_mean + self.f_mean) / 2


def _object_mask(frame: FrameMasks, obj_id: int, shape: tuple[int, int] | None) -> np.ndarray | None:
    if isinstance(frame, Mapping):
        mask = frame.get(obj_id)
        if mask is None:
            return None if shape is None else np.zeros(shape, dtype=bool)
        return _as_bool(mask, f"mask of object {obj_id}")
    labels = np.asarray(frame)
    if labels.ndim != 2:
        raise ValueError(f"a label map must be 2-D (H, W), got shape {labels.shape}")
    return labels == obj_id


def _frame_ids(frame: FrameMasks) -> set[int]:
    if isinstance(frame, Mapping):
        return {int(k) for k, v in frame.items() if v is not None and np.any(v)}
    values = np.unique(np.asarray(frame))
    return {int(v) for v in values if v != 0}


def _frame_shape(frame: FrameMasks) -> tuple[int, int] | None:
    if isinstance(frame, Mapping):
        for mask in frame.values():
            if mask is not None:
                return tuple(np.asarray(mask).shape[:2])  # type: ignore[return-value]
        return None
    return tuple(np.asarray(frame).shape[:2])  # type: ignore[return-value]


def evaluate_sequence(pred: Sequence[FrameMasks], gt: Sequence[FrameMasks], *,
                      obj_ids: Sequence[int] | None = None, bound_th: float = 0.008,
                      exclude_first_last: bool = False) -> SequenceScores:
    """Score a predicted sequence against ground truth.

    Each frame of ``pred``/``gt`` is either an (H, W) integer label map (0 = background) or a mapping
    ``obj_id -> (H, W) bool mask`` (a missing object is an empty mask). ``obj_ids`` defaults to every
    object present in the ground truth of any frame. ``exclude_first_last`` drops the first and last
    frame as the official DAVIS semi-supervised evaluation does (the first frame holds the prompt).
    """
    if len(pred) != len(gt):
        raise ValueError(f"prediction has {len(pred)} frames but ground truth has {len(gt)}")
    if not gt:
        raise ValueError("empty sequence: nothing to evaluate")
    frames = list(range(len(gt)))
    if exclude_first_last:
        if len(frames) < 3:
            raise ValueError("exclude_first_last needs at least 3 frames")
        frames = frames[1:-1]
    if obj_ids is None:
        ids: set[int] = set()
        for frame in gt:
            ids |= _frame_ids(frame)
        obj_ids = sorted(ids)
    results = [ObjectScores(int(i)) for i in obj_ids]
    for t in frames:
        shape = _frame_shape(gt[t]) or _frame_shape(pred[t])
        if shape is None:
            raise ValueError(f"frame {t}: neither prediction nor ground truth gives a mask size")
        for scores in results:
            g = _object_mask(gt[t], scores.obj_id, shape)
            p = _object_mask(pred[t], scores.obj_id, shape)
            assert g is not None and p is not None
            if p.shape != g.shape:
                raise ValueError(f"frame {t}, object {scores.obj_id}: pred {p.shape} and gt {g.shape} differ")
            scores.j_per_frame.append(region_similarity(p, g))
            scores.f_per_frame.append(boundary_f_measure(p, g, bound_th))
    return SequenceScores(results)
