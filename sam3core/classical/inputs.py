"""Validation of prompt arguments: anything wrong raises a ValueError/TypeError that says what and why."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch

from sam3core.classical.state import ClassicalSession


def _to_numpy(value: Any, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be numeric (list, numpy array or tensor), got {type(value).__name__}"
        ) from exc


def check_session(state: Any) -> ClassicalSession:
    if not isinstance(state, ClassicalSession):
        raise TypeError(
            f"inference_state must come from ClassicalEngine.init_state, got {type(state).__name__}"
        )
    return state


def check_frame(state: ClassicalSession, frame_idx: Any) -> int:
    if isinstance(frame_idx, bool) or not isinstance(frame_idx, (int, np.integer)):
        raise TypeError(f"frame_idx must be an int, got {type(frame_idx).__name__}")
    if not 0 <= int(frame_idx) < state.num_frames:
        raise IndexError(f"frame_idx {frame_idx} outside 0..{state.num_frames - 1}")
    return int(frame_idx)


def check_obj_id(obj_id: Any) -> int:
    if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)):
        raise TypeError(f"obj_id must be an int, got {type(obj_id).__name__}")
    return int(obj_id)


def parse_points(state: ClassicalSession, points: Any, labels: Any,
                 rel_coordinates: bool) -> list[tuple[float, float, int]]:
    """Clicks in video pixels as (x, y, label) with label 1 = positive, 0 = negative."""
    if points is None and labels is None:
        return []
    if (points is None) != (labels is None):
        raise ValueError("points and labels must be given together")
    pts = _to_numpy(points, "points")
    labs = _to_numpy(labels, "labels").reshape(-1)
    if pts.size == 0 and labs.size == 0:
        return []
    if pts.ndim not in (2, 3) or pts.shape[-1] != 2:
        raise ValueError(f"points must have shape (N, 2) or (1, N, 2), got {pts.shape}")
    pts = pts.reshape(-1, 2)
    if len(pts) != len(labs):
        raise ValueError(f"{len(pts)} points but {len(labs)} labels")
    if not np.isfinite(pts).all():
        raise ValueError("points contain NaN or infinity")
    bad = set(np.unique(labs).tolist()) - {0.0, 1.0}
    if bad:
        raise ValueError(f"labels must be 1 (positive) or 0 (negative), got {sorted(bad)}")
    if rel_coordinates:
        if (pts < -0.01).any() or (pts > 1.01).any():
            raise ValueError("relative point coordinates must lie in [0, 1] (pass rel_coordinates=False "
                             "for pixel coordinates)")
        pts = pts * np.array([state.width, state.height])
    else:
        slack = 2.0
        if ((pts < -slack).any() or (pts[:, 0] > state.width + slack).any()
                or (pts[:, 1] > state.height + slack).any()):
            raise ValueError(f"point outside the {state.width}x{state.height} frame")
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
        raise ValueError(f"box must have 4 numbers (x0, y0, x1, y1), got {arr.size}")
    if not np.isfinite(arr).all():
        raise ValueError("box contains NaN or infinity")
    if rel_coordinates:
        arr = arr * np.array([state.width, state.height, state.width, state.height])
    x0, y0, x1, y1 = arr.tolist()
    x0, x1 = max(0.0, min(x0, x1)), min(float(state.width), max(x0, x1))
    y0, y1 = max(0.0, min(y0, y1)), min(float(state.height), max(y0, y1))
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise ValueError(f"box {box!r} is empty or lies outside the {state.width}x{state.height} frame")
    return (x0, y0, x1, y1)


def parse_mask(state: ClassicalSession, mask: Any) -> np.ndarray:
    """A user mask as (H, W) bool in video pixels; other sizes are resized (nearest)."""
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().cpu().numpy()
    arr = np.asarray(mask)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {np.asarray(mask).shape}")
    if arr.dtype != bool:
        arr = arr > (0 if np.issubdtype(arr.dtype, np.floating) and arr.min() < 0 else 0.5)
    if arr.shape != (state.height, state.width):
        arr = cv2.resize(arr.astype(np.uint8), (state.width, state.height),
                         interpolation=cv2.INTER_NEAREST).astype(bool)
    return arr
