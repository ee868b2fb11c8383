"""Carry masks from frame to frame: dense optical flow, warping, and re-detection of lost objects.

The flow is computed once per frame pair from the *new* frame to the previous one (backward flow),
so every pixel of the new frame looks up where it came from: pixels that came from outside the
frame or from another object's area simply do not inherit the mask, which handles leaving the frame
and being occluded without holes.

An object whose warped mask vanishes is *lost*. Its colour model (quantised-RGB histograms of the
object and its surroundings, kept from the frames where it was seen) is then checked on every new
frame: a compact region whose colours are much more likely object than background, of a plausible
size, and entering through the border it left by (or near where it disappeared) brings it back.
"""

from __future__ import annotations

import cv2
import numpy as np

from sam3core.classical.state import FLOW_PRESETS, ColourModel

BINS = 8  # per channel -> 512 colours; coarse enough that noise does not scatter an object


class FlowField:
    """DIS optical flow between work-resolution grey frames."""

    def __init__(self, preset: str) -> None:
        self._dis = cv2.DISOpticalFlow_create(FLOW_PRESETS[preset])

    def backward(self, new_grey: np.ndarray, old_grey: np.ndarray) -> np.ndarray:
        """(h, w, 2) float32 flow f with new(x) ~ old(x + f(x))."""
        return self._dis.calc(new_grey, old_grey, None)


def object_shift(old_half: np.ndarray, new_half: np.ndarray, mask_half: np.ndarray,
                 radius: int) -> tuple[float, float] | None:
    """Translation (dx, dy) of the object under ``mask_half`` from the old to the new frame.

    Masked template matching on half-resolution grey frames; it catches fast motion of small
    objects that coarse-to-fine flow misses. None when no position matches well.
    """
    box = bounding_box(mask_half)
    if box is None:
        return None
    h, w = mask_half.shape
    x0, y0, x1, y1 = box
    if (x1 - x0) < 4 or (y1 - y0) < 4:
        return None
    sx0, sy0 = max(0, x0 - radius), max(0, y0 - radius)
    sx1, sy1 = min(w, x1 + radius), min(h, y1 + radius)
    template = old_half[y0:y1, x0:x1].astype(np.float32)
    tmask = mask_half[y0:y1, x0:x1].astype(np.float32)
    region = new_half[sy0:sy1, sx0:sx1].astype(np.float32)
    score = cv2.matchTemplate(region, template, cv2.TM_SQDIFF, mask=tmask)
    min_val, _max_val, (mx, my), _ = cv2.minMaxLoc(score)
    rmse = float(np.sqrt(max(min_val, 0.0) / max(float(tmask.sum()), 1.0)))
    if rmse > 28:  # grey levels; a true match differs by noise, blur and deformation only
        return None
    return float(sx0 + mx - x0), float(sy0 + my - y0)


def warp(values: np.ndarray, flow: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Sample (h, w) float32 ``values`` of the old frame at x + flow(x).

    Pixels that come from outside the frame read the old frame's minimum (background for logits):
    what enters the frame is added by the colour-guided refinement, not invented by the warp.
    """
    coords = grid + flow
    return cv2.remap(values, coords[..., 0], coords[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=float(values.min()))


def shift_image(values: np.ndarray, dx: float, dy: float, fill: float) -> np.ndarray:
    """(h, w) float32 ``values`` moved by (dx, dy) pixels; uncovered pixels read ``fill``."""
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(values, m, (values.shape[1], values.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def colour_residual(new_rgb: np.ndarray, old_rgb: np.ndarray) -> np.ndarray:
    """(h, w) float32 largest per-channel absolute difference, lightly smoothed."""
    diff = np.abs(new_rgb.astype(np.int16) - old_rgb.astype(np.int16)).max(axis=2).astype(np.float32)
    return cv2.GaussianBlur(diff, (0, 0), 1.0)


def carry_mask(old_logits: np.ndarray, flow: np.ndarray, grid: np.ndarray, new_rgb: np.ndarray,
               old_rgb: np.ndarray, flow_residual: np.ndarray) -> tuple[np.ndarray, bool]:
    """The object's mask on the new frame: flow-warped, or rigidly shifted where that fits better.

    ``flow_residual`` is :func:`colour_residual` of the new frame and the flow-warped old frame
    (shared by all objects). The shift candidate comes from template matching; the candidate whose
    pixels match the new frame with the smaller mean residual wins. Returns (mask, came from flow).
    """
    by_flow = warp(old_logits, flow, grid) > 0
    mask = old_logits > 0
    old_grey = cv2.cvtColor(old_rgb, cv2.COLOR_RGB2GRAY)
    new_grey = cv2.cvtColor(new_rgb, cv2.COLOR_RGB2GRAY)
    old_half, new_half = cv2.pyrDown(old_grey), cv2.pyrDown(new_grey)
    half = cv2.resize(mask.astype(np.uint8), (old_half.shape[1], old_half.shape[0]),
                      interpolation=cv2.INTER_NEAREST) > 0
    box = bounding_box(half)
    if box is None:
        return by_flow, True
    radius = max(8, round(0.6 * max(box[2] - box[0], box[3] - box[1])))
    shift = object_shift(old_half, new_half, half, radius)
    if shift is None:
        return by_flow, True
    dx, dy = 2 * shift[0], 2 * shift[1]
    by_shift = shift_image(old_logits, dx, dy, float(old_logits.min())) > 0
    if not by_shift.any():
        return by_flow, True
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    moved = cv2.warpAffine(old_rgb, m, (old_rgb.shape[1], old_rgb.shape[0]), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    err_shift = float(colour_residual(new_rgb, moved)[by_shift].mean())
    err_flow = float(flow_residual[by_flow].mean()) if by_flow.any() else np.inf
    if err_shift < 0.8 * err_flow:
        return by_shift, False
    return by_flow, True


def pixel_grid(h: int, w: int) -> np.ndarray:
    """(h, w, 2) float32 pixel coordinates (x, y)."""
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return np.dstack([xs, ys])


def colour_index(image: np.ndarray) -> np.ndarray:
    """(h, w) int32 index of each pixel's quantised RGB colour, 0..BINS**3 - 1."""
    q = (image // (256 // BINS)).astype(np.int32)
    return (q[..., 0] * BINS + q[..., 1]) * BINS + q[..., 2]


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def update_colour_model(model: ColourModel | None, image: np.ndarray, mask: np.ndarray) -> ColourModel | None:
    """Blend the object's colours on this frame into its model (None while it has no pixels)."""
    area = int(np.count_nonzero(mask))
    box = bounding_box(mask)
    if box is None or area < 16:
        return model
    h, w = mask.shape
    x0, y0, x1, y1 = box
    m = max(x1 - x0, y1 - y0)
    ring_box = (max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m))
    idx = colour_index(image)
    fg = np.bincount(idx[mask], minlength=BINS**3).astype(np.float32)
    surround = np.zeros_like(mask)
    surround[ring_box[1]:ring_box[3], ring_box[0]:ring_box[2]] = True
    surround &= ~mask
    # Surroundings tell which colours are ambiguous here; the whole frame adds what is elsewhere.
    bg = (np.bincount(idx[surround], minlength=BINS**3).astype(np.float32)
          + 0.25 * np.bincount(idx[~mask].ravel(), minlength=BINS**3).astype(np.float32))
    fg /= max(fg.sum(), 1.0)
    bg /= max(bg.sum(), 1.0)
    ratio = fg / (fg + bg + 1e-6)
    touches = x0 == 0 or y0 == 0 or x1 == w or y1 == h
    if model is None:
        return ColourModel(ratio.astype(np.float32), fg.astype(np.float32), float(area), box)
    if touches or area < 0.3 * model.ref_area:
        # A sliver (leaving the frame, mostly hidden) is mostly outline pixels: it would teach the
        # model the colours of the background it is blended with.
        return model
    return ColourModel((0.8 * model.ratio_lut + 0.2 * ratio).astype(np.float32),
                       (0.8 * model.fg_hist + 0.2 * fg).astype(np.float32),
                       0.8 * model.ref_area + 0.2 * area, box)


def exit_sides(mask: np.ndarray) -> tuple[bool, bool, bool, bool]:
    """Which frame edges (left, top, right, bottom) the mask's box reaches, within 2% of the size."""
    box = bounding_box(mask)
    if box is None:
        return (False, False, False, False)
    h, w = mask.shape
    margin = max(3, round(0.02 * max(h, w)))
    return (box[0] <= margin, box[1] <= margin, box[2] >= w - margin, box[3] >= h - margin)


def colour_probability(model: ColourModel, image: np.ndarray) -> np.ndarray:
    """(h, w) float32 P(object | colour) on ``image``, lightly smoothed against sensor noise."""
    return cv2.GaussianBlur(model.ratio_lut[colour_index(image)], (0, 0), 1.0)


def redetect(model: ColourModel, image: np.ndarray, taken: np.ndarray, frames_lost: int) -> np.ndarray | None:
    """A (h, w) bool candidate region of a lost object on ``image``, or None.

    ``taken`` marks pixels owned by other objects on this frame.
    """
    h, w = taken.shape
    prob = colour_probability(model, image)
    cand = (prob > 0.75) & ~taken
    cand = cv2.morphologyEx(cand.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, comp, stats, cents = cv2.connectedComponentsWithStats(cand, connectivity=8)
    best, best_score = -1, 0.0
    x0, y0, x1, y1 = model.last_box
    last_c = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    # Hidden objects move on and may have grown (scale change): the search widens with time.
    reach = np.sqrt(model.ref_area) * (2.0 + 0.25 * frames_lost)
    idx = colour_index(image)
    for k in range(1, count):
        area = stats[k, cv2.CC_STAT_AREA]
        if not 0.08 * model.ref_area <= area <= 5.0 * model.ref_area:
            continue
        bx, by = stats[k, cv2.CC_STAT_LEFT], stats[k, cv2.CC_STAT_TOP]
        bw, bh = stats[k, cv2.CC_STAT_WIDTH], stats[k, cv2.CC_STAT_HEIGHT]
        if any(model.exit_sides):
            # It left through an edge: it comes back through that edge.
            touches = (bx == 0, by == 0, bx + bw == w, by + bh == h)
            if not any(t and s for t, s in zip(touches, model.exit_sides)):
                continue
        elif np.linalg.norm(cents[k] - last_c) > reach:
            continue  # it vanished inside the frame (hidden): it comes back near where it was
        # Compact, confidently coloured blobs only: background texture gives ragged, thin regions.
        fill_ratio = area / float(bw * bh)
        region = comp == k
        confidence = float(prob[region].mean())
        if fill_ratio < 0.35 or confidence < 0.85:
            continue
        # The region's colour distribution must resemble the object's (Bhattacharyya coefficient):
        # one uniform background patch of a colour the object also has does not.
        hist = np.bincount(idx[region], minlength=BINS**3).astype(np.float32)
        similarity = float(np.sqrt(hist / hist.sum() * model.fg_hist).sum())
        if similarity < 0.6:
            continue
        score = confidence * area * similarity
        if score > best_score:
            best, best_score = k, score
    if best < 0:
        return None
    return comp == best
