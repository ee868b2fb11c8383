"""Clicks and boxes to a mask with GrabCut (colour GMMs + graph cut) at work resolution.

- A box marks everything outside it as sure background and its inside as probable foreground.
- A positive click is a sure-foreground disk; a negative click a sure-background disk, widened to the
  colour-homogeneous patch around it (flood fill), so that one negative click removes a whole region.
- A positive click without a box runs in an adaptive window: GrabCut in a window around the click,
  grown while the object touches the window's edge. (The engine cuts a first prompt of clicks alone
  in a box guessed around them instead, :func:`click_box`.)
- A further click continues from the previous GrabCut labels and colour models (``GrabCutMemory``)
  instead of starting over.
Only connected components that hold a positive click (or, for a box, the large components inside
it) are kept, and small holes are filled.
"""

from __future__ import annotations

import cv2
import numpy as np

from sam3core.classical.boxcut import box_tightness, cut_box_resampled
from sam3core.classical.grabcut import (
    Box,
    Point,
    click_pixel,
    click_radius,
    clip_rect,
    fill_holes,
    grabcut_pool,
    keep_components,
    pieces_at,
    run_grabcut,
)
from sam3core.classical.propagate import BINS, colour_index
from sam3core.classical.state import GrabCutMemory

# GrabCut iterations of the cut continued from a corrected mask (_grow_from_mask). Its models start
# from the mask and its window is about twice the mask's: one step measured as good as four on the
# corrections (share below 0.8 0.552 against 0.550) at less latency (docs/classical.md).
GROW_ITERS = 1

__all__ = ["Box", "Point", "box_tightness", "click_box", "click_radius", "fill_holes", "keep_components",
           "memory_from_mask", "negative_step", "paint_seeds", "refine_prompt", "segment_prompt"]


def _flood_patch(image: np.ndarray, x: int, y: int, allowed: np.ndarray, tolerance: int,
                 max_area: int) -> np.ndarray:
    """Colour-homogeneous patch around (x, y) within ``allowed``; empty when it exceeds ``max_area``."""
    h, w = allowed.shape
    ff_mask = np.ones((h + 2, w + 2), np.uint8)
    ff_mask[1:-1, 1:-1] = (~allowed).astype(np.uint8)
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (255 << 8)
    if not allowed[y, x]:
        return np.zeros((h, w), bool)
    cv2.floodFill(image.copy(), ff_mask, (x, y), (0, 0, 0), (tolerance,) * 3, (tolerance,) * 3, flags)
    patch = ff_mask[1:-1, 1:-1] == 255
    if np.count_nonzero(patch) > max_area:
        return np.zeros((h, w), bool)
    return patch


def paint_seeds(labels: np.ndarray, image: np.ndarray, points: list[Point],
                candidate: np.ndarray | None, earlier: list[Point] | None = None) -> None:
    """Paint sure labels for clicks into ``labels`` (h, w) in place.

    Negative clicks also mark the colour patch around them (within the current candidate foreground)
    as sure background, so the region under a negative click goes even when it is larger than the disk
    -- unless the patch holds a positive click given after the negative one (``points`` in click
    order): a white curtain and the white shirt in front of it form one patch, and a later click on
    the shirt says that it stays. The patch is also cut where it comes nearer to a positive click
    than to the negative one, so a same-coloured object part beside the removed region stays.
    """
    h, w = labels.shape
    radius = click_radius(h, w)
    region = candidate if candidate is not None else np.ones((h, w), bool)
    area = max(int(np.count_nonzero(region)), 1)
    pixels = [(*click_pixel(x, y, w, h), label) for x, y, label in points]
    positives = np.array([(px, py) for px, py, label in pixels + [(x, y, lab) for x, y, lab in earlier or []]
                          if label == 1], np.float32).reshape(-1, 2)
    for i, (cx, cy, label) in enumerate(pixels):
        if label == 0:
            patch = _flood_patch(image, cx, cy, region, tolerance=18, max_area=h * w)
            if any(patch[py, px] for px, py, later in pixels[i + 1:] if later == 1):
                patch[:] = False
            # The patch is this click's only on its own side: pixels nearer to a positive click
            # (a same-coloured part of the object, the shorts beside the curtain) stay undecided --
            # except for positive clicks right beside this one, which it overrides.
            apart = positives[np.hypot(positives[:, 0] - cx, positives[:, 1] - cy) > 5 * radius]
            if patch.any() and len(apart):
                ys, xs = np.nonzero(patch)
                to_neg = np.hypot(xs - cx, ys - cy)
                dx, dy = xs[:, None] - apart[None, :, 0], ys[:, None] - apart[None, :, 1]
                to_pos = np.min(np.hypot(dx, dy), axis=1)
                patch[ys[to_pos <= to_neg], xs[to_pos <= to_neg]] = False
            if np.count_nonzero(patch) > max(area // 2, 64):
                patch[:] = False  # a patch that large is not one region the click could mean
            labels[patch] = cv2.GC_BGD
            cv2.circle(labels, (cx, cy), radius, cv2.GC_BGD, -1)
    for x, y, label in points:
        cx, cy = click_pixel(x, y, w, h)
        if label == 1:
            cv2.circle(labels, (cx, cy), radius, cv2.GC_FGD, -1)


def _box_labels(h: int, w: int, box: Box) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    x0, y0, x1, y1 = box
    margin = max(8.0, 0.2 * max(x1 - x0, y1 - y0))
    crop = clip_rect(x0 - margin, y0 - margin, x1 + margin, y1 + margin, w, h)
    labels = np.full((h, w), cv2.GC_BGD, np.uint8)
    bx0, by0, bx1, by1 = clip_rect(x0, y0, x1, y1, w, h)
    labels[by0:by1, bx0:bx1] = cv2.GC_PR_FGD
    if (bx0, by0, bx1, by1) == (0, 0, w, h):
        # A box over the whole frame leaves GrabCut no background sample: call the rim probable background.
        rim = max(2, click_radius(h, w))
        labels[:rim, :] = labels[-rim:, :] = cv2.GC_PR_BGD
        labels[:, :rim] = labels[:, -rim:] = cv2.GC_PR_BGD
    return labels, crop


def _colour_region(image: np.ndarray, points: list[Point], negatives: np.ndarray) -> np.ndarray:
    """First guess of the object under positive clicks: pixels whose colour is more typical of the
    patches around the clicks than of the whole frame, connected to a click. (h, w) bool."""
    h, w = image.shape[:2]
    idx = colour_index(image)
    patch = np.zeros((h, w), np.uint8)
    radius = 2 * click_radius(h, w)
    for x, y, label in points:
        if label == 1:
            cv2.circle(patch, (int(round(x)), int(round(y))), radius, 1, -1)
    fg = np.bincount(idx[patch > 0], minlength=BINS**3).astype(np.float32)
    bg = np.bincount(idx.ravel(), minlength=BINS**3).astype(np.float32)
    ratio = (fg / max(fg.sum(), 1.0)) / (fg / max(fg.sum(), 1.0) + bg / bg.sum() + 1e-6)
    prob = cv2.GaussianBlur(ratio[idx].astype(np.float32), (0, 0), 1.5)
    region = ((prob > 0.5) & ~negatives).astype(np.uint8)
    region = cv2.morphologyEx(region, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, comp = cv2.connectedComponents(region, connectivity=8)
    keep = np.zeros(count, bool)
    for x, y, label in points:
        if label == 1:
            keep[comp[min(max(int(round(y)), 0), h - 1), min(max(int(round(x)), 0), w - 1)]] = True
    keep[0] = False
    return keep[comp] | (patch > 0)


def _click_links(points: list[Point], negatives: np.ndarray) -> np.ndarray:
    """Bands joining successive positive clicks: what lies between two clicks on one object is
    probably part of it (a shirt between a click on the face and one on the shorts). (h, w) bool."""
    h, w = negatives.shape
    band = np.zeros((h, w), np.uint8)
    pos = np.array([(min(max(x, 0), w - 1), min(max(y, 0), h - 1)) for x, y, label in points if label == 1],
                   np.float32).reshape(-1, 2)
    if len(pos) < 2:
        return band > 0
    # An ellipse around the clicks, about as wide as a third of their spread: clicks on the top and
    # the bottom of a person cover the body between them without reaching far to the sides.
    lo, hi = pos.min(axis=0), pos.max(axis=0)
    spread = float(max(hi - lo))
    pad = max(2 * click_radius(h, w), 0.2 * spread)
    centre = (int(round((lo[0] + hi[0]) / 2)), int(round((lo[1] + hi[1]) / 2)))
    axes = (int(round((hi[0] - lo[0]) / 2 + pad)), int(round((hi[1] - lo[1]) / 2 + pad)))
    cv2.ellipse(band, centre, axes, 0, 0, 360, 1, -1)
    return (band > 0) & ~negatives


def _grow_from_click(image: np.ndarray, labels: np.ndarray, points: list[Point], iters: int,
                     ) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Adaptive-window GrabCut for clicks without a box; ``labels`` holds the painted seeds.

    The colour region connected to the clicks is the prior (probable foreground) and sets the
    window; while the result touches the window's edge the window grows.
    """
    h, w = labels.shape
    seeds = labels.copy()
    links = _click_links(points, seeds == cv2.GC_BGD)
    prior = _colour_region(image, points, seeds == cv2.GC_BGD) | links
    limit = 0.45 * min(h, w)  # a colour region larger than this is background bleeding in
    pos = np.array([(x, y) for x, y, label in points if label == 1], np.float32)

    def extent(region: np.ndarray) -> tuple[float, float, float]:
        # The window covers the region and every positive click: (centre x, centre y, half side).
        ys, xs = np.nonzero(region)
        xs = np.concatenate([xs.astype(np.float32), pos[:, 0]])
        ys = np.concatenate([ys.astype(np.float32), pos[:, 1]])
        side = float(max(xs.max() - xs.min(), ys.max() - ys.min()))
        return (float(xs.min() + xs.max()) / 2, float(ys.min() + ys.max()) / 2,
                max(0.08 * min(h, w), 1.3 * side / 2 + 6))

    cx, cy, half = extent(prior)
    if half > limit:
        prior = links.copy()
        for x, y in pos:
            cv2.circle(prior.view(np.uint8), (int(x), int(y)), int(0.075 * min(h, w)), 1, -1)
        cx, cy, half = extent(prior)
        half = max(half, 0.15 * min(h, w))
    models: tuple[np.ndarray, np.ndarray] | None = None
    crop = (0, 0, w, h)
    for _attempt in range(3):
        crop = clip_rect(cx - half, cy - half, cx + half, cy + half, w, h)
        x0, y0, x1, y1 = crop
        work = seeds.copy()
        window = work[y0:y1, x0:x1]
        free = window == cv2.GC_PR_BGD
        window[free & prior[y0:y1, x0:x1]] = cv2.GC_PR_FGD
        rim = max(2, click_radius(h, w) // 2)
        for edge, touches in ((np.s_[:rim, :], y0 > 0), (np.s_[-rim:, :], y1 < h),
                              (np.s_[:, :rim], x0 > 0), (np.s_[:, -rim:], x1 < w)):
            if touches:
                part = window[edge]
                part[(part == cv2.GC_PR_BGD) | (part == cv2.GC_PR_FGD)] = cv2.GC_BGD
        models = run_grabcut(image, work, crop, iters, None)
        fg = keep_components(np.isin(work, (cv2.GC_FGD, cv2.GC_PR_FGD)), points, None)
        labels[:] = work
        sub = fg[y0:y1, x0:x1]
        ring = rim + 2
        edge_hits = sum(
            int(np.count_nonzero(sub[edge])) for edge, touches in (
                (np.s_[:ring, :], y0 > 0), (np.s_[-ring:, :], y1 < h),
                (np.s_[:, :ring], x0 > 0), (np.s_[:, -ring:], x1 < w)) if touches)
        if edge_hits < 0.02 * max(int(np.count_nonzero(sub)), 1) or crop == (0, 0, w, h):
            break
        prior = fg
        half *= 1.6
    assert models is not None
    return models[0], models[1], crop


def click_box(points: list[Point], h: int, w: int, share: float) -> Box | None:
    """The box a first prompt of clicks alone is cut in, clipped to the (h, w) frame (None without a
    positive click): a square of ``share`` of the frame's shorter side centred on the positive clicks,
    widened where they spread further to their extent plus 15 % of it on each side.

    A click alone, cut in a window grown from it, keeps only the colour patch under it (frame-0 J 0.21
    over 51 DAVIS sequences, often the click's disk alone); cut as a box of half the shorter side it
    finds the object's other parts too (0.54): docs/classical.md, "A first click is cut as a box".
    """
    pos = [(x, y) for x, y, label in points if label == 1]
    if not pos:
        return None
    xs, ys = [x for x, _ in pos], [y for _, y in pos]
    # Clicks on several parts say where the object is: widening their extent by the single click's
    # whole margin took in the neighbours (dog.mp4: a click on the back and one on the head gave the
    # woman's arm and top too).
    half_x = max(share * min(h, w), 1.3 * (max(xs) - min(xs))) / 2
    half_y = max(share * min(h, w), 1.3 * (max(ys) - min(ys))) / 2
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    return (max(0.0, cx - half_x), max(0.0, cy - half_y), min(float(w), cx + half_x),
            min(float(h), cy + half_y))


def segment_prompt(image: np.ndarray, points: list[Point], box: Box | None, iters: int,
                   tight: bool = True) -> tuple[np.ndarray, GrabCutMemory]:
    """A fresh prompt on ``image`` (h, w, 3) RGB uint8 -> ((h, w) bool mask, memory for refinement).

    ``tight=False``: ``box`` is a guess (:func:`click_box`), not drawn tightly around the object."""
    h, w = image.shape[:2]
    if box is not None:
        labels, crop = _box_labels(h, w, box)
        x0, y0, x1, y1 = crop
        for x, y, _label in points:  # clicks outside the box widen the window
            x0, y0 = min(x0, int(x) - 8), min(y0, int(y) - 8)
            x1, y1 = max(x1, int(x) + 8), max(y1, int(y) + 8)
        crop = clip_rect(x0, y0, x1, y1, w, h)
        paint_seeds(labels, image, points, labels == cv2.GC_PR_FGD)
        mask, labels, models = cut_box_resampled(image, labels, crop, box, points, iters, tight)
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
    paint_seeds(labels, image, new_points, current, earlier=all_points)
    x0, y0, x1, y1 = memory.crop
    pad = 4 * click_radius(h, w)
    for x, y, label in new_points:
        cx, cy = click_pixel(x, y, w, h)
        if label == 1 and box is None and not current[cy, cx]:
            return _regrow(image, labels, current, all_points, max(iters, 3), memory)
        if label == 1 and not (x0 <= x < x1 and y0 <= y < y1):
            x0, y0 = min(x0, int(x) - pad), min(y0, int(y) - pad)
            x1, y1 = max(x1, int(x) + pad), max(y1, int(y) + pad)
    crop = clip_rect(x0, y0, x1, y1, w, h)

    def continued() -> tuple[np.ndarray, GrabCutMemory]:
        models = run_grabcut(image, labels, crop, iters, (memory.bgd_model, memory.fgd_model))
        mask = keep_components(np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)), all_points, box, current)
        return mask, GrabCutMemory(labels, models[0], models[1], crop)

    if box is None or not any(label == 1 for _x, _y, label in new_points):
        return continued()
    # A positive click in a box says "this is object": when the box's colour models had lost the
    # object, a fresh cut seeded by every click fits the box better than continuing. The two cuts are
    # independent: the continued one runs in a worker thread meanwhile.
    job = grabcut_pool().submit(continued)
    fresh = segment_prompt(image, all_points, box, max(iters, 3))
    result = job.result()
    if box_tightness(fresh[0], box) > box_tightness(result[0], box):
        return fresh
    return result


def _regrow(image: np.ndarray, labels: np.ndarray, current: np.ndarray, all_points: list[Point], iters: int,
            old: GrabCutMemory) -> tuple[np.ndarray, GrabCutMemory]:
    """A positive click the mask missed usually lies on a part of another colour, which the stored
    foreground model does not know: segment all clicks afresh (the window then spans every click)
    and keep what the mask already held, except where the new seeds say background.

    A negative click on the mask among them removes its region as a refinement would (GrabCut
    continued from the mask with every seed), not only the colour patch under it: a negative click
    on a neighbour's hair and a positive one on the object's shirt, given together to a tracked mask
    (as the window does), kept most of the hair."""
    h, w = labels.shape
    old_crop = old.crop
    job = grabcut_pool().submit(_grow_from_mask, image, labels, current, all_points, GROW_ITERS, old)
    fresh, memory = segment_prompt(image, all_points, None, iters)
    fresh |= job.result()
    kept = current & (labels != cv2.GC_BGD)
    if any(label == 0 and current[click_pixel(x, y, w, h)[::-1]] for x, y, label in all_points):
        refined = labels.copy()
        run_grabcut(image, refined, old_crop, iters, (old.bgd_model, old.fgd_model))
        kept &= np.isin(refined, (cv2.GC_FGD, cv2.GC_PR_FGD))
    grown = memory.labels.copy()
    grown[kept & (grown == cv2.GC_PR_BGD)] = cv2.GC_PR_FGD
    mask = keep_components(fresh | kept, all_points, None, kept)
    crop = clip_rect(min(old_crop[0], memory.crop[0]), min(old_crop[1], memory.crop[1]),
                      max(old_crop[2], memory.crop[2]), max(old_crop[3], memory.crop[3]), w, h)
    return mask, GrabCutMemory(grown, memory.bgd_model, memory.fgd_model, crop)


def _grow_from_mask(image: np.ndarray, labels: np.ndarray, current: np.ndarray, points: list[Point],
                    iters: int, old: GrabCutMemory) -> np.ndarray:
    """What GrabCut continued from the mask (its colours as the object's) adds at the positive clicks.

    A click on a missed part whose colours the mask already has (a rider's red jacket above a red
    motorbike against the sky) is found this way where the click alone, cut in a window the part
    fills, finds nothing (DAVIS motocross-jump: a click on the jacket added 57 pixels).
    Only the grown pieces that hold a positive click count. (h, w) bool."""
    h, w = labels.shape
    x0, y0, x1, y1 = old.crop
    # Around a click the window reaches half the mask's window: the missed part can be large.
    pad = max(4 * click_radius(h, w), (max(x1 - x0, y1 - y0) + 1) // 2)
    clicks = [click_pixel(x, y, w, h) for x, y, label in points if label == 1]
    for cx, cy in clicks:
        x0, y0, x1, y1 = min(x0, cx - pad), min(y0, cy - pad), max(x1, cx + pad + 1), max(y1, cy + pad + 1)
    work = labels.copy()
    run_grabcut(image, work, clip_rect(x0, y0, x1, y1, w, h), iters, (old.bgd_model, old.fgd_model))
    return pieces_at(np.isin(work, (cv2.GC_FGD, cv2.GC_PR_FGD)) & ~current, clicks)


def memory_from_mask(mask: np.ndarray) -> GrabCutMemory:
    """Start a click session from an existing (e.g. tracked) mask: its pixels are probable foreground."""
    h, w = mask.shape
    labels = np.where(mask, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    ys, xs = np.nonzero(mask)
    if xs.size:
        bw, bh = xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
        m = max(8, int(0.3 * max(bw, bh)))
        crop = clip_rect(xs.min() - m, ys.min() - m, xs.max() + 1 + m, ys.max() + 1 + m, w, h)
    else:
        crop = (0, 0, w, h)
    return GrabCutMemory(labels, np.zeros((1, 65)), np.zeros((1, 65)), crop)


SEPARATE_PART = 0.05  # of the shown mask: a part this large behind a thin neck is not the clicked region
COLLAPSED_CUT = 0.25  # of the shown mask: a negative step's cut keeping less has collapsed (half is a choice)


def _disk_at(h: int, w: int, cx: int, cy: int, radius: int) -> np.ndarray:
    """(h, w) bool: a click's disk."""
    disk = np.zeros((h, w), np.uint8)
    cv2.circle(disk, (cx, cy), radius, 1, -1)
    return disk > 0


def negative_step(mask: np.ndarray, memory: GrabCutMemory, clicks: list[Point],
                  shown: np.ndarray, image: np.ndarray | None = None) -> np.ndarray:
    """A step with negative clicks takes away from the ``shown`` mask the region under them, and
    nothing else: apart from the clicked regions no pixel of it is lost, and only what GrabCut's
    ``mask`` holds at a positive click among them is added (nothing, for negative clicks alone).

    GrabCut continued from a mask learns the false area the annotator clicks on as object colour and
    could grow into more of it (scooter-black: a negative click on the parked scooters behind the
    rider took its frame's J from 0.68 to 0.42, the mask flooding every parked scooter); re-learning
    the colours can also drop a distant part of the object, or all of it: with two negative clicks
    on a shirt and an arm leaked into a white dog's mask (dog.mp4), a positive click on the dog
    given with them left a brown patch of its back (4,921 of 24,791 pixels). ``memory``'s labels
    follow, so a later click continues from what is shown. A step of positive clicks alone returns
    ``mask`` as it is.
    """
    h, w = mask.shape
    pixels = [click_pixel(x, y, w, h) for x, y, label in clicks if label == 0]
    if not pixels:
        return mask
    r = click_radius(h, w)
    # A click beside the mask, not on it, points at no region of it: it takes only what its disk
    # covers. (dog.mp4: a negative click meant for a leak between the legs fell on the leash beside
    # it; GrabCut, re-learning its colours, dropped the whole dog, and every piece touching the
    # click's disk -- all of it -- went, leaving the two positive clicks' disks.)
    inside = [(cx, cy) for cx, cy in pixels if shown[cy, cx]]
    taken = pieces_at(shown & ~mask, inside, radius=r)
    if image is not None and np.count_nonzero(mask & shown) < COLLAPSED_CUT * np.count_nonzero(shown):
        # GrabCut dropped most of what is shown: it re-learnt the clicked colours as background and
        # lost the object with them, so what it dropped is no region the click meant. The click's
        # region is then its colour patch (dog.mp4: a negative click on the concrete let in between
        # the dog's legs, the concrete patch, 457 pixels; GrabCut's answer took the whole dog).
        taken = np.zeros((h, w), bool)
        for cx, cy in inside:
            taken |= _flood_patch(image, cx, cy, shown, tolerance=18, max_area=h * w)
            taken |= shown & _disk_at(h, w, cx, cy, r)
    for cx, cy in pixels:
        if not shown[cy, cx]:
            taken |= shown & ~mask & _disk_at(h, w, cx, cy, r)
    # GrabCut may take a whole mask whose colours the click taught it as background, when the clicked
    # part touches the rest of the object (dog.mp4: the woman's shirt and her arm, leaked into the
    # dog's mask; the hand on the dog's head joined them, and two negative clicks removed the dog
    # too). A large thick part joined to the clicked one only through a neck thinner than two click
    # disks is another region: it stays.
    neck = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (4 * r + 1, 4 * r + 1))
    thick = cv2.morphologyEx(taken.astype(np.uint8), cv2.MORPH_OPEN, neck) > 0
    _count, comp, stats, _ = cv2.connectedComponentsWithStats(thick.astype(np.uint8), connectivity=8)
    large = stats[:, cv2.CC_STAT_AREA] >= SEPARATE_PART * np.count_nonzero(shown)
    large[0] = False
    apart = large[comp] & ~pieces_at(thick, pixels, radius=r)
    if apart.any():
        taken = pieces_at(taken & ~apart, pixels, radius=r)
    less = shown & ~taken
    positives = [click_pixel(x, y, w, h) for x, y, label in clicks if label == 1]
    if positives:
        less |= pieces_at(mask, positives)
    memory.labels[np.isin(memory.labels, (cv2.GC_FGD, cv2.GC_PR_FGD)) & ~less] = cv2.GC_PR_BGD
    memory.labels[less & ~np.isin(memory.labels, (cv2.GC_FGD, cv2.GC_PR_FGD))] = cv2.GC_PR_FGD
    return less
