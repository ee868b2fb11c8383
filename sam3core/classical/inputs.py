"""Validation of prompt arguments: anything wrong raises a :mod:`sam3core.errors` type saying what and why."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sam3core.classical.state import ClassicalSession
from sam3core.engine import check_frame_index, check_object_id
from sam3core.errors import MaskError, PromptError


def _to_numpy(value: Any, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PromptError(
            f"{name} must be numeric (list, numpy array or tensor), got {type(value).__name__}"
        ) from exc


def check_session(state: Any) -> ClassicalSession:
    if not isinstance(state, ClassicalSession):
        raise TypeError(
            f"inference_state must come from ClassicalEngine.init_state, got {type(state).__name__}"
        )
    return state


def check_frame(state: ClassicalSession, frame_idx: Any) -> int:
    return check_frame_index(frame_idx, state.num_frames)


def check_obj_id(obj_id: Any) -> int:
    return check_object_id(obj_id)


def parse_points(state: ClassicalSession, points: Any, labels: Any,
                 rel_coordinates: bool) -> list[tuple[float, float, int]]:
    """Clicks in video pixels as (x, y, label) with label 1 = positive, 0 = negative."""
    if points is None and labels is None:
        return []
    if (points is None) != (labels is None):
        raise PromptError("points and labels must be given together")
    pts = _to_numpy(points, "points")
    labs = _to_numpy(labels, "labels").reshape(-1)
    if pts.size == 0 and labs.size == 0:
        return []
    if pts.ndim not in (2, 3) or pts.shape[-1] != 2:
        raise PromptError(f"points must have shape (N, 2) or (1, N, 2), got {pts.shape}")
    pts = pts.reshape(-1, 2)
    if len(pts) != len(labs):
        raise PromptError(f"{len(pts)} points but {len(labs)} labels")
    if not np.isfinite(pts).all():
        raise PromptError("points contain NaN or infinity")
    bad = set(np.unique(labs).tolist()) - {0.0, 1.0}
    if bad:
        raise PromptError(f"labels must be 1 (positive) or 0 (negative), got {sorted(bad)}")
    if rel_coordinates:
        if (pts < -0.01).any() or (pts > 1.01).any():
            raise PromptError("relative point coordinates must lie in [0, 1] (pass rel_coordinates=False "
                             "for pixel coordinates)")
        pts = pts * np.array([state.width, state.height])
    else:
        slack = 2.0
        if ((pts < -slack).any() or (pts[:, 0] > state.width + slack).any()
                or (pts[:, 1] > state.height + slack).any()):
            raise PromptError(f"point outside the {state.width}x{state.height} frame")
    pts[:, 0] = np.clip(pts[:, 0], 0, state.width - 1)
    pts[:, 1] = np.clip(pts[:, 1], 0, state.height - 1)
    return [(float(x), float(y), int(lab)) for (x, y), lab in zip(pts, labs)]


def parse_box(state: ClassicalSession, box: Any,
              rel_coordinates: bool) -> tuple[float, float, float, float] | None:
    """A box in video pixels (x0, y0, x1, y1), clipped to the frame; None passes through."""
    if box is None:
        return None
    arr = _to_numpy(box, "box").reshape(-1)
    if arr.size != 4:
        raise PromptError(f"box must have 4 numbers (x0, y0, x1, y1), got {arr.size}")
    if not np.isfinite(arr).all():
        raise PromptError("box contains NaN or infinity")
    if rel_coordinates:
        arr = arr * np.array([state.width, state.height, state.width, state.height])
    x0, y0, x1, y1 = arr.tolist()
    x0, x1 = max(0.0, min(x0, x1)), min(float(state.width), max(x0, x1))
    y0, y1 = max(0.0, min(y0, y1)), min(float(state.height), max(y0, y1))
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise PromptError(f"box {box!r} is empty or lies outside the {state.width}x{state.height} frame")
    return (x0, y0, x1, y1)


def parse_mask(state: ClassicalSession, mask: Any) -> np.ndarray:
    """A user mask as (H, W) bool in video pixels (> 0 is the object); another size is a MaskError."""
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    arr = np.asarray(mask)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise MaskError(f"mask must be 2-D (H, W), got shape {np.asarray(mask).shape}")
    if arr.shape != (state.height, state.width):
        # never resized (sam3core.engine): a mask of another size is almost always the wrong one
        raise MaskError(f"mask of shape {arr.shape} does not match the video's {state.height}x{state.width} "
                        "frames")
    if arr.dtype != bool:
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise MaskError(f"mask must be bool or numbers, got dtype {arr.dtype}")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise MaskError("mask holds NaN or infinity")
        arr = arr > 0
    return arr
