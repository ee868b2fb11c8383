"""GrabCut primitives shared by the click and box cuts: the call itself, and the clean-up of its result."""

from __future__ import annotations

import math

import cv2
import numpy as np

Point = tuple[float, float, int]  # x, y in work pixels, label 1 = positive, 0 = negative
Box = tuple[float, float, float, float]
Crop = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, x1/y1 exclusive
Models = tuple[np.ndarray, np.ndarray]  # GrabCut's (bgd, fgd) GMMs, (1, 65) float64 each


def clip_rect(x0: float, y0: float, x1: float, y1: float, w: int, h: int) -> Crop:
    return (max(0, int(math.floor(x0))), max(0, int(math.floor(y0))),
            min(w, int(math.ceil(x1))), min(h, int(math.ceil(y1))))


def click_radius(h: int, w: int) -> int:
    """Radius of the sure-label disk painted under a click, work pixels."""
    return max(2, round(0.008 * math.hypot(h, w)))


def run_grabcut(image: np.ndarray, labels: np.ndarray, crop: Crop, iters: int, models: Models | None,
                freeze: bool = False, lab: bool = False) -> Models:
    """GrabCut on ``crop`` of ``image``, updating ``labels`` in place; returns (bgd, fgd) models.

    GrabCut sees the crop in CIE Lab: its colour GMMs separate objects from similar backgrounds
    better there than in RGB (measured on DAVIS boxes, docs/classical.md). ``freeze`` keeps the given
    models fixed (only the graph cut runs); ``lab`` says ``image`` is already in Lab.
    """
    x0, y0, x1, y1 = crop
    sub = np.ascontiguousarray(labels[y0:y1, x0:x1])
    fg = np.isin(sub, (cv2.GC_FGD, cv2.GC_PR_FGD))
    if not fg.any() or fg.all():
        # GrabCut needs samples of both classes; with one class the answer is already decided.
        return models if models is not None else (np.zeros((1, 65)), np.zeros((1, 65)))
    if models is None or not (models[0].any() and models[1].any()):
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        mode = cv2.GC_INIT_WITH_MASK
    else:
        bgd, fgd = models[0].copy(), models[1].copy()
        mode = cv2.GC_EVAL_FREEZE_MODEL if freeze else cv2.GC_EVAL
    cv2.setRNGSeed(0)  # GrabCut's k-means start draws from OpenCV's global RNG: keep results reproducible
    window = np.ascontiguousarray(image[y0:y1, x0:x1])
    colours = window if lab else cv2.cvtColor(window, cv2.COLOR_RGB2LAB)
    try:
        cv2.grabCut(colours, sub, None, bgd, fgd, iters, mode)
    except cv2.error:
        return (bgd, fgd)  # degenerate colour statistics (a flat patch): keep the labels as painted
    labels[y0:y1, x0:x1] = sub
    return bgd, fgd


def keep_components(mask: np.ndarray, points: list[Point], box: Box | None) -> np.ndarray:
    """Drop stray blobs: keep components holding a positive click, or large ones inside the box.

    A 3x3 opening first removes the 1-pixel threads GrabCut leaves along blurred colour edges.
    """
    opened = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    mask = opened.astype(bool) if opened.any() else mask
    count, comp, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return fill_holes(mask)
    keep = np.zeros(count, bool)
    h, w = mask.shape
    for x, y, label in points:
        if label == 1:
            cx, cy = int(round(min(max(x, 0), w - 1))), int(round(min(max(y, 0), h - 1)))
            keep[comp[cy, cx]] = True
    areas = stats[1:, cv2.CC_STAT_AREA]
    if box is not None or not keep[1:].any():
        keep[1:] |= areas >= 0.15 * areas.max()
    keep[0] = False
    return fill_holes(keep[comp])


def fill_holes(mask: np.ndarray, max_frac: float = 0.05) -> np.ndarray:
    """Fill background holes not touching the border and smaller than ``max_frac`` of the mask area."""
    inv = (~mask).astype(np.uint8)
    count, comp, stats, _ = cv2.connectedComponentsWithStats(inv, connectivity=4)
    if count <= 2:
        return mask
    h, w = mask.shape
    limit = max_frac * max(int(np.count_nonzero(mask)), 1)
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    bw, bh = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    interior = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h)
    small = interior & (stats[:, cv2.CC_STAT_AREA] <= limit)
    small[0] = False
    return mask | small[comp]


