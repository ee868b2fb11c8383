"""Blend object masks over a video frame for display. Pure numpy/OpenCV, so it is cheap to benchmark.

Only the bounding box of each mask is touched, which keeps a 1920x1080 frame with several objects
well under a display frame's budget (see bench/bench_compose.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Layer:
    """One object's mask to draw: (H, W) bool mask in video pixels and an RGB colour."""

    mask: np.ndarray
    color: tuple[int, int, int]


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"colour {color!r} is not #rrggbb")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x, y, w, h) of the non-zero pixels, or None for an empty mask."""
    as_u8 = mask.view(np.uint8) if mask.dtype == np.bool_ else mask.astype(np.uint8, copy=False)
    x, y, w, h = cv2.boundingRect(as_u8)
    return None if w == 0 or h == 0 else (x, y, w, h)


def compose(frame: np.ndarray, layers: Sequence[Layer], *, opacity: float = 0.5, outline: bool = False,
            outline_width: int = 2) -> np.ndarray:
    """Return a new (H, W, 3) uint8 RGB image: ``frame`` with every layer drawn in order.

    ``opacity`` in [0, 1] sets the fill strength; with ``outline`` only the mask contours are drawn
    (fully opaque) so the pixels under the object stay visible.
    """
    out = np.array(frame, dtype=np.uint8, copy=True, order="C")
    alpha = float(min(1.0, max(0.0, opacity)))
    height, width = out.shape[:2]
    for layer in layers:
        mask = layer.mask if layer.mask.dtype == np.bool_ else layer.mask.astype(bool)
        if mask.shape != (height, width):
            raise ValueError(f"mask of shape {mask.shape} does not match the frame's {(height, width)}")
        box = _bbox(mask)
        if box is None:
            continue
        x, y, w, h = box
        roi = out[y:y + h, x:x + w]
        m = mask[y:y + h, x:x + w]
        if outline:
            m_u8 = m.astype(np.uint8)
            contours, _ = cv2.findContours(m_u8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(roi, contours, -1, layer.color, outline_width, lineType=cv2.LINE_8)
            continue
        if alpha <= 0.0:
            continue
        # OpenCV's saturating scalar add and masked copy avoid numpy's slow broadcast/where paths.
        r, g, b = layer.color
        blended = cv2.add(cv2.addWeighted(roi, 1.0 - alpha, roi, 0.0, 0.0),
                          (r * alpha, g * alpha, b * alpha, 0.0))
        cv2.copyTo(blended, m.view(np.uint8), roi)  # roi is a view of ``out``: written in place
    return out


def downscale(rgb: np.ndarray, masks: dict[int, np.ndarray], scale: float
              ) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Frame and masks resized by ``scale`` < 1 (what a zoomed-out view shows) before composing."""
    height, width = rgb.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR)
    small_masks = {k: cv2.resize(np.ascontiguousarray(m).view(np.uint8), size,
                                 interpolation=cv2.INTER_NEAREST).view(bool) for k, m in masks.items()}
    return small, small_masks


def compose_naive(frame: np.ndarray, layers: Sequence[Layer], *, opacity: float = 0.5) -> np.ndarray:
    """Straightforward full-frame float blending; the baseline :func:`compose` is measured against."""
    out = frame.astype(np.float32)
    for layer in layers:
        weight = layer.mask.astype(np.float32)[..., None] * opacity
        out = out * (1.0 - weight) + np.asarray(layer.color, np.float32) * weight
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def paint_stroke(mask: np.ndarray, points: Sequence[tuple[float, float]], radius: float, *,
                 erase: bool) -> np.ndarray:
    """A copy of the (H, W) bool ``mask`` with a round brush stroke through ``points`` added or erased."""
    canvas = mask.astype(np.uint8)
    value = 0 if erase else 1
    r = max(1, int(round(radius)))
    pts = [(int(round(x)), int(round(y))) for x, y in points]
    if len(pts) == 1:
        cv2.circle(canvas, pts[0], r, value, thickness=-1)
    for a, b in zip(pts, pts[1:]):
        cv2.line(canvas, a, b, value, thickness=2 * r, lineType=cv2.LINE_8)
        cv2.circle(canvas, b, r, value, thickness=-1)
    if pts:
        cv2.circle(canvas, pts[0], r, value, thickness=-1)
    return canvas.astype(bool)
