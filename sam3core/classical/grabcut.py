"""GrabCut primitives shared by the click and box cuts: the call itself, and the clean-up of its result."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

Point = tuple[float, float, int]  # x, y in work pixels, label 1 = positive, 0 = negative
Box = tuple[float, float, float, float]
Crop = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, x1/y1 exclusive
Models = tuple[np.ndarray, np.ndarray]  # GrabCut's (bgd, fgd) GMMs, (1, 65) float64 each


# Two worker threads (started on first use) for GrabCut runs that do not depend on each other: the
# target machine has 2 cores, and OpenCV releases the GIL inside grabCut. Only a caller outside the
# pool ever waits on a job, never a job on another, so the small pool cannot deadlock.
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="grabcut")


def grabcut_pool() -> ThreadPoolExecutor:
    return _POOL


def clip_rect(x0: float, y0: float, x1: float, y1: float, w: int, h: int) -> Crop:
    return (max(0, int(math.floor(x0))), max(0, int(math.floor(y0))),
            min(w, int(math.ceil(x1))), min(h, int(math.ceil(y1))))


def click_radius(h: int, w: int) -> int:
    """Radius of the sure-label disk painted under a click, work pixels."""
    return max(2, round(0.008 * math.hypot(h, w)))


def click_pixel(x: float, y: float, w: int, h: int) -> tuple[int, int]:
    """The pixel (column, row) a click at (x, y) lands on, clamped into a (h, w) image."""
    return int(round(min(max(x, 0), w - 1))), int(round(min(max(y, 0), h - 1)))


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


def keep_components(mask: np.ndarray, points: list[Point], box: Box | None,
                    previous: np.ndarray | None = None) -> np.ndarray:
    """Drop stray blobs: keep components holding a positive click, or large ones inside the box, or
    large ones holding part of ``previous`` (the mask a click corrects: a click on a part the mask
    missed adds that part and keeps the rest, even where the two do not touch).

    "Large" is at least 15 % of the largest component. A 3x3 opening first removes the 1-pixel
    threads GrabCut leaves along blurred colour edges.
    """
    opened = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    mask = opened.astype(bool) if opened.any() else mask
    count, comp, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return _filled(mask, points)
    keep = np.zeros(count, bool)
    h, w = mask.shape
    for x, y, label in points:
        if label == 1:
            cx, cy = click_pixel(x, y, w, h)
            keep[comp[cy, cx]] = True
    areas = stats[1:, cv2.CC_STAT_AREA]
    large = np.concatenate([[False], areas >= 0.15 * areas.max()])
    if box is not None or not keep[1:].any():
        keep |= large
    elif previous is not None:
        held = np.zeros(count, bool)
        held[np.unique(comp[mask & previous])] = True
        keep |= large & held
    keep[0] = False
    return _filled(keep[comp], points)


def _filled(mask: np.ndarray, points: list[Point]) -> np.ndarray:
    """``mask`` with its small holes filled, except a hole under a negative click: the annotator made
    it (a negative click inside a false area takes out at least its own disk, where filling undid it
    and the same click changed nothing however often it was given)."""
    filled = fill_holes(mask)
    negatives = [click_pixel(x, y, mask.shape[1], mask.shape[0]) for x, y, label in points if label == 0]
    if not negatives or not (filled & ~mask).any():
        return filled
    return filled & ~pieces_at(filled & ~mask, negatives, connectivity=4)


def pieces_at(mask: np.ndarray, pixels: list[tuple[int, int]], connectivity: int = 8,
              radius: int = 0) -> np.ndarray:
    """The connected pieces of ``mask`` (h, w) bool holding one of ``pixels`` (column, row), or
    reaching within ``radius`` (a square) of one. (h, w) bool."""
    count, comp = cv2.connectedComponents(mask.astype(np.uint8), connectivity=connectivity)
    held = np.zeros(count, bool)
    for cx, cy in pixels:
        held[np.unique(comp[max(0, cy - radius):cy + radius + 1, max(0, cx - radius):cx + radius + 1])] = True
    held[0] = False
    return held[comp]


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




_COMPONENTS = 5  # GMM components per model in OpenCV's GrabCut; a model is (coefs 5, means 5x3, covs 5x9)


def first_models(lab: np.ndarray, labels: np.ndarray, crop: Crop) -> Models:
    """The colour models :func:`run_grabcut` with one iteration from ``labels`` would return, without
    its graph cut (whose labels the core cut of a box throws away).

    OpenCV's own k-means start (a 0-iteration call), then its first iteration's two model steps done
    here: each pixel to its most likely component, then each component's weight, mean and covariance
    -- the same double operations in the same order on integer colours, so the models come out
    bit-identical (checked on every DAVIS frame-0 box, tests/test_classical_box.py). Anything unusual
    (one class, a degenerate covariance) takes the plain call instead.
    """
    x0, y0, x1, y1 = crop
    sub_lab = np.ascontiguousarray(lab[y0:y1, x0:x1])
    sub = np.ascontiguousarray(labels[y0:y1, x0:x1])
    fg = ((sub == cv2.GC_FGD) | (sub == cv2.GC_PR_FGD)).reshape(-1)
    if fg.all() or not fg.any() or min(int(fg.sum()), int((~fg).sum())) < _COMPONENTS:
        return run_grabcut(lab, labels.copy(), crop, 1, None, lab=True)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # as run_grabcut: the k-means start draws from OpenCV's (per-thread) RNG
    try:
        cv2.grabCut(sub_lab, sub.copy(), None, bgd, fgd, 0, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return run_grabcut(lab, labels.copy(), crop, 1, None, lab=True)
    colours = sub_lab.reshape(-1, 3).astype(np.float64)
    learnt = []
    for model, part in ((bgd, colours[~fg]), (fgd, colours[fg])):
        new = _learn(part, _which_component(model, part))
        if new is None:
            return run_grabcut(lab, labels.copy(), crop, 1, None, lab=True)
        learnt.append(new)
    return learnt[0], learnt[1]


def log_density(model: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(N,) natural log of the density of the GrabCut GMM ``model`` (1, 65) at colours ``x`` (N, 3):
    the weighted sum over its components, as GrabCut's data term uses it (-inf where none applies)."""
    coefs, mean, cov = _split(model)
    out = np.full(len(x), -np.inf)
    for k in range(_COMPONENTS):
        c = cov[k].reshape(3, 3)
        det = float(np.linalg.det(c))
        if coefs[k] <= 0 or not det > 0:
            continue
        d = x - mean[k]
        maha = np.einsum("ni,ij,nj->n", d, np.linalg.inv(c), d)
        out = np.logaddexp(out, np.log(coefs[k]) - 0.5 * np.log(det) - 0.5 * maha)
    return out


def _split(model: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = model.reshape(-1)
    k = _COMPONENTS
    return m[:k], m[k:4 * k].reshape(k, 3), m[4 * k:].reshape(k, 9)


def _determinant(c: np.ndarray) -> np.ndarray:
    """Determinants of row-major 3x3 covariances ``c`` (..., 9), in OpenCV's order of operations."""
    c = [c[..., i] for i in range(9)]
    return (c[0] * (c[4] * c[8] - c[5] * c[7]) - c[1] * (c[3] * c[8] - c[5] * c[6])
            + c[2] * (c[3] * c[7] - c[4] * c[6]))


def _which_component(model: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(N,) index of the component of ``model`` most likely to hold each colour of ``x`` (N, 3), as
    OpenCV's ``GMM::whichComponent`` (unweighted densities; the first of equals; 0 when all are 0)."""
    coefs, mean, cov = _split(model)
    c = [cov[:, i] for i in range(9)]
    with np.errstate(divide="ignore", invalid="ignore"):
        d = 1.0 / _determinant(cov)
        # inv[i][j] as OpenCV's inverseCovs[ci][i][j]
        inv = np.stack([
            (c[4] * c[8] - c[5] * c[7]) * d, -(c[1] * c[8] - c[2] * c[7]) * d,
            (c[1] * c[5] - c[2] * c[4]) * d, -(c[3] * c[8] - c[5] * c[6]) * d,
            (c[0] * c[8] - c[2] * c[6]) * d, -(c[0] * c[5] - c[2] * c[3]) * d,
            (c[3] * c[7] - c[4] * c[6]) * d, -(c[0] * c[7] - c[1] * c[6]) * d,
            (c[0] * c[4] - c[1] * c[3]) * d,
        ], axis=1).reshape(-1, 3, 3)
    determ = _determinant(cov)
    best = np.zeros(len(x), np.int64)
    top = np.zeros(len(x))
    for k in range(_COMPONENTS):
        if coefs[k] <= 0:
            continue
        d0, d1, d2 = x[:, 0] - mean[k, 0], x[:, 1] - mean[k, 1], x[:, 2] - mean[k, 2]
        ic = inv[k]
        mult = (d0 * (d0 * ic[0, 0] + d1 * ic[1, 0] + d2 * ic[2, 0])
                + d1 * (d0 * ic[0, 1] + d1 * ic[1, 1] + d2 * ic[2, 1])
                + d2 * (d0 * ic[0, 2] + d1 * ic[1, 2] + d2 * ic[2, 2]))
        p = 1.0 / np.sqrt(determ[k]) * np.exp(-0.5 * mult)
        better = p > top
        best[better] = k
        top[better] = p[better]
    return best


def _learn(x: np.ndarray, comp: np.ndarray) -> np.ndarray | None:
    """(1, 65) model learnt from colours ``x`` (N, 3) in components ``comp`` (N,), as OpenCV's
    ``GMM::endLearning`` (a covariance with determinant <= 1e-6 gets 0.01 added on its diagonal);
    None where OpenCV would refuse the covariance."""
    out = np.zeros(65)
    coefs, mean, cov = _split(out)
    for k in range(_COMPONENTS):
        s = x[comp == k]
        n = len(s)
        if n == 0:
            continue
        inv_n = 1.0 / n
        coefs[k] = n / len(x)
        m = s.sum(axis=0) * inv_n  # integer colours: the sums are exact, whatever their order
        mean[k] = m
        c = ((s.T @ s) * inv_n - np.outer(m, m)).reshape(9)
        if _determinant(c) <= 1e-6:
            c[0] += 0.01
            c[4] += 0.01
            c[8] += 0.01
        if not _determinant(c) > np.finfo(np.float64).eps:
            return None
        cov[k] = c
    return out.reshape(1, 65)
