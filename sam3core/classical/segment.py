"""Clicks and boxes to a mask with GrabCut (colour GMMs + graph cut) at work resolution.

- A box marks everything outside it as sure background and its inside as probable foreground.
- A positive click is a sure-foreground disk; a negative click a sure-background disk, widened to the
  colour-homogeneous patch around it (flood fill), so that one negative click removes a whole region.
- A positive click without a box runs in an adaptive window: GrabCut in a window around the click,
  grown while the object touches the window's edge.
- A further click continues from the previous GrabCut labels and colour models (``GrabCutMemory``)
  instead of starting over.
Only connected components that hold a positive click (or, for a box, the large components inside
it) are kept, and small holes are filled.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from sam3core.classical.state import GrabCutMemory

Point = tuple[float, float, int]  # x, y in work pixels, label 1 = positive, 0 = negative
Box = tuple[float, float, float, float]


def _clip_rect(x0: float, y0: float, x1: float, y1: float, w: int, h: int) -> tuple[int, int, int, int]:
    return (max(0, int(math.floor(x0))), max(0, int(math.floor(y0))),
            min(w, int(math.ceil(x1))), min(h, int(math.ceil(y1))))


def click_radius(h: int, w: int) -> int:
    """Radius of the sure-label disk painted under a click, work pixels."""
    return max(2, round(0.008 * math.hypot(h, w)))


def _flood_patch(image: np.ndarray, x: int, y: int, allowed: np.ndarray, tolerance: int,
                 max_area: int) -> np.ndarray:
    """Colour-homogeneous patch around (x, y) within ``allowed``; empty when it exceeds ``max_area``."""
    h, w = allowed.shape
    ff_mask = np.ones((h + 2, w + 2), np.uint8)
    ff_mask[1:-1, 1:-1] = (~allowed).astype(np.uint8)
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (255 << 8)
    if not allowed[y, x]:
        return np.zeros((h, w), bool)
    cv2.floodFill(image, ff_mask, (x, y), (0, 0, 0), (tolerance,) * 3, (tolerance,) * 3, flags)
    patch = ff_mask[1:-1, 1:-1] == 255
    if np.count_nonzero(patch) > max_area:
        return np.zeros((h, w), bool)
    return patch


def paint_seeds(labels: np.ndarray, image: np.ndarray, points: list[Point],
                candidate: np.ndarray | None) -> None:
    """Paint sure labels for clicks into ``labels`` (h, w) in place.

    Negative clicks also mark the colour patch around them (within the current candidate foreground)
    as sure background, so the region under a negative click goes even when it is larger than the disk.
    """
    h, w = labels.shape
    radius = click_radius(h, w)
    region = candidate if candidate is not None else np.ones((h, w), bool)
    area = max(int(np.count_nonzero(region)), 1)
    for x, y, label in points:
        cx, cy = int(round(min(max(x, 0), w - 1))), int(round(min(max(y, 0), h - 1)))
        if label == 0:
            patch = _flood_patch(image, cx, cy, region, tolerance=18, max_area=max(area // 2, 64))
            labels[patch] = cv2.GC_BGD
            cv2.circle(labels, (cx, cy), radius, cv2.GC_BGD, -1)
    for x, y, label in points:
        cx, cy = int(round(min(max(x, 0), w - 1))), int(round(min(max(y, 0), h - 1)))
        if label == 1:
            cv2.circle(labels, (cx, cy), radius, cv2.GC_FGD, -1)


def _run_grabcut(image: np.ndarray, labels: np.ndarray, crop: tuple[int, int, int, int],
                 iters: int, models: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """GrabCut on ``crop`` of ``image``, updating ``labels`` in place; returns (bgd, fgd) models."""
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
        mode = cv2.GC_EVAL
    cv2.grabCut(np.ascontiguousarray(image[y0:y1, x0:x1]), sub, None, bgd, fgd, iters, mode)
    labels[y0:y1, x0:x1] = sub
    return bgd, fgd


def keep_components(mask: np.ndarray, points: list[Point], box: Box | None) -> np.ndarray:
    """Drop stray blobs: keep components holding a positive click, or large ones inside the box."""
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


def _box_labels(h: int, w: int, box: Box) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    x0, y0, x1, y1 = box
    margin = max(8.0, 0.2 * max(x1 - x0, y1 - y0))
    crop = _clip_rect(x0 - margin, y0 - margin, x1 + margin, y1 + margin, w, h)
    labels = np.full((h, w), cv2.GC_BGD, np.uint8)
    bx0, by0, bx1, by1 = _clip_rect(x0, y0, x1, y1, w, h)
    labels[by0:by1, bx0:bx1] = cv2.GC_PR_FGD
    if (bx0, by0, bx1, by1) == (0, 0, w, h):
        # A box over the whole frame leaves GrabCut no background sample: call the rim probable background.
        rim = max(2, click_radius(h, w))
        labels[:rim, :] = labels[-rim:, :] = cv2.GC_PR_BGD
        labels[:, :rim] = labels[:, -rim:] = cv2.GC_PR_BGD
    return labels, crop


def _grow_from_click(image: np.ndarray, labels: np.ndarray, points: list[Point], iters: int,
                     ) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Adaptive-window GrabCut for clicks without a box; ``labels`` holds the painted seeds."""
    h, w = labels.shape
    pos = np.array([(x, y) for x, y, label in points if label == 1], np.float32)
    cx, cy = pos.mean(axis=0)
    spread = float(np.ptp(pos, axis=0).max()) if len(pos) > 1 else 0.0
    half = max(0.12 * min(h, w), 0.75 * spread + 8)
    seeds = labels.copy()
    models: tuple[np.ndarray, np.ndarray] | None = None
    crop = (0, 0, w, h)
    fg = np.zeros((h, w), bool)
    for _attempt in range(4):
        crop = _clip_rect(cx - half, cy - half, cx + half, cy + half, w, h)
        x0, y0, x1, y1 = crop
        work = seeds.copy()
        window = work[y0:y1, x0:x1]
        # Prior: an object of roughly half the window around the clicks, the window rim is background.
        prior = np.zeros_like(window, np.uint8)
        cv2.circle(prior, (int(cx - x0), int(cy - y0)), int(half * 0.55), 1, -1)
        if fg.any():
            prior |= fg[y0:y1, x0:x1].astype(np.uint8)
        free = window == cv2.GC_PR_BGD
        window[free & (prior > 0)] = cv2.GC_PR_FGD
        rim = max(2, click_radius(h, w) // 2)
        for edge, touches in ((np.s_[:rim, :], y0 > 0), (np.s_[-rim:, :], y1 < h),
                              (np.s_[:, :rim], x0 > 0), (np.s_[:, -rim:], x1 < w)):
            if touches:
                part = window[edge]
                part[part == cv2.GC_PR_BGD] = cv2.GC_BGD
                part[part == cv2.GC_PR_FGD] = cv2.GC_BGD
        models = _run_grabcut(image, work, crop, iters, None)
        fg = np.isin(work, (cv2.GC_FGD, cv2.GC_PR_FGD)) & (seeds != cv2.GC_BGD)
        fg = keep_components(fg, points, None)
        sub = fg[y0:y1, x0:x1]
        ring = max(rim + 1, 3)
        edge_hits = sum(
            int(np.count_nonzero(sub[edge])) for edge, touches in (
                (np.s_[:ring, :], y0 > 0), (np.s_[-ring:, :], y1 < h),
                (np.s_[:, :ring], x0 > 0), (np.s_[:, -ring:], x1 < w)) if touches)
        if edge_hits < 0.02 * max(int(np.count_nonzero(sub)), 1) or crop == (0, 0, w, h):
            labels[:] = work
            break
        half *= 1.7
        labels[:] = work
    assert models is not None
    return models[0], models[1], crop


def segment_prompt(image: np.ndarray, points: list[Point], box: Box | None, iters: int,
                   ) -> tuple[np.ndarray, GrabCutMemory]:
    """A fresh prompt on ``image`` (h, w, 3) RGB uint8 -> ((h, w) bool mask, memory for refinement)."""
    h, w = image.shape[:2]
    if box is not None:
        labels, crop = _box_labels(h, w, box)
        x0, y0, x1, y1 = crop
        for x, y, _label in points:  # clicks outside the box widen the window
            x0, y0 = min(x0, int(x) - 8), min(y0, int(y) - 8)
            x1, y1 = max(x1, int(x) + 8), max(y1, int(y) + 8)
        crop = _clip_rect(x0, y0, x1, y1, w, h)
        paint_seeds(labels, image, points, labels == cv2.GC_PR_FGD)
        models = _run_grabcut(image, labels, crop, iters, None)
        mask = keep_components(np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)), points, box)
    elif any(label == 1 for _x, _y, label in points):
        labels = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
        paint_seeds(labels, image, points, None)
        bgd, fgd, crop = _grow_from_click(image, labels, points, iters)
        models = (bgd, fgd)
        mask = keep_components(np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)), points, None)
    else:
        # Only negative clicks and nothing to refine: the object is empty.
        labels = np.full((h, w), cv2.GC_BGD, np.uint8)
        empty = GrabCutMemory(labels, np.zeros((1, 65)), np.zeros((1, 65)), (0, 0, w, h))
        return np.zeros((h, w), bool), empty
    return mask, GrabCutMemory(labels, models[0], models[1], crop)


def refine_prompt(image: np.ndarray, memory: GrabCutMemory, new_points: list[Point], all_points: list[Point],
                  box: Box | None, iters: int) -> tuple[np.ndarray, GrabCutMemory]:
    """Continue GrabCut from ``memory`` with further clicks: earlier labels and colour models are kept."""
    h, w = image.shape[:2]
    labels = memory.labels.copy()
    current = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    paint_seeds(labels, image, new_points, current)
    x0, y0, x1, y1 = memory.crop
    pad = 4 * click_radius(h, w)
    for x, y, label in new_points:
        if label == 1 and not (x0 <= x < x1 and y0 <= y < y1):
            x0, y0 = min(x0, int(x) - pad), min(y0, int(y) - pad)
            x1, y1 = max(x1, int(x) + pad), max(y1, int(y) + pad)
    crop = _clip_rect(x0, y0, x1, y1, w, h)
    models = _run_grabcut(image, labels, crop, iters, (memory.bgd_model, memory.fgd_model))
    mask = keep_components(np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)), all_points, box)
    return mask, GrabCutMemory(labels, models[0], models[1], crop)


def memory_from_mask(mask: np.ndarray) -> GrabCutMemory:
    """Start a click session from an existing (e.g. tracked) mask: its pixels are probable foreground."""
    h, w = mask.shape
    labels = np.where(mask, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    ys, xs = np.nonzero(mask)
    if xs.size:
        bw, bh = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
        m = max(8, int(0.3 * max(bw, bh)))
        crop = _clip_rect(xs.min() - m, ys.min() - m, xs.max() + 1 + m, ys.max() + 1 + m, w, h)
    else:
        crop = (0, 0, w, h)
    return GrabCutMemory(labels, np.zeros((1, 65)), np.zeros((1, 65)), crop)
