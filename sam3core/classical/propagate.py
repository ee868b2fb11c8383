"""Optical flow, the coarse colour model, and re-detection of lost objects.

The flow is computed once per frame pair from the *new* frame to the previous one (backward flow),
so every pixel of the new frame looks up where it came from (:mod:`sam3core.classical.track` warps
the soft maps with it): pixels that came from another object's area do not inherit the mask, nor do
those that came from outside the frame unless the object moves its own way and so may be entering
the view (``track.enters``); this handles leaving the frame and being occluded without holes.

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
        code, finest, refine = FLOW_PRESETS[preset]
        self._dis = cv2.DISOpticalFlow_create(code)
        if finest is not None:
            self._dis.setFinestScale(finest)
        if refine is not None:
            self._dis.setVariationalRefinementIterations(refine)

    def backward(self, new_grey: np.ndarray, old_grey: np.ndarray) -> np.ndarray:
        """(h, w, 2) float32 flow f with new(x) ~ old(x + f(x))."""
        return self._dis.calc(new_grey, old_grey, None)


def flow_trust(backward: np.ndarray, forward: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(h, w) float32 in [0.2, 1]: how far each new pixel's backward flow is confirmed by the forward flow.

    A new pixel x came from x + b(x) on the old frame; the forward flow there should lead back to x.
    Where it does not (occlusions, disocclusions, flow failing on fast or thin parts) the carried
    mask is unreliable and the colour evidence should decide (forward-backward consistency, as in
    Sundaram et al. 2010 and the occlusion handling of ObjectFlow).
    """
    coords = grid + backward
    fwd = cv2.remap(forward, coords[..., 0], coords[..., 1], cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    err = np.linalg.norm(backward + fwd, axis=2)
    tol = 1.0 + 0.1 * np.linalg.norm(backward, axis=2)
    return np.maximum(1.0 / (1.0 + (err / tol) ** 2), 0.2).astype(np.float32)


def pixel_grid(h: int, w: int) -> np.ndarray:
    """(h, w, 2) float32 pixel coordinates (x, y)."""
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return np.dstack([xs, ys])


def colour_index(image: np.ndarray, bins: int = BINS) -> np.ndarray:
    """(h, w) int32 index of each pixel's quantised RGB colour, 0..bins**3 - 1 (``bins`` divides 256)."""
    q = (image // (256 // bins)).astype(np.int32)
    return (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]


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
