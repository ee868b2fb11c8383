"""Boundary refinement of a re-detected mask, masks to logits, and the no-overlap rule.

Refinement (used when a lost object is found again by colour): the mask's eroded core is sure
foreground, everything beyond a band around its outline is sure background, and GrabCut (colour GMMs
learnt on the *new* frame from these labels) decides the band. A result that keeps too little of the
mask, or adds pixels of colours the object does not have, is rejected in favour of the mask, which
keeps a bad colour model from eating the frame.

Logits are the signed distance to the mask outline in work pixels times ``logit_scale``, clipped to
±10: positive inside, and bilinear upsampling of this field gives a smooth full-resolution outline.

No overlap: where several objects claim a pixel, it goes to (1) an object prompted on that frame over
one that is not, and among prompted ones to the smaller prompt (box area, else mask area), then
(2) the larger logit (deeper inside its own mask), then (3) the object listed first (earlier in
session order). Losers get a logit of -10 there.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from sam3core.classical.grabcut import fill_holes

LOGIT_LIMIT = 10.0


def refine_band(image: np.ndarray, warped: np.ndarray, band_frac: float, iters: int,
                colour_prob: np.ndarray | None = None, ref_area: float = 0.0) -> np.ndarray:
    """Narrow-band GrabCut around ``warped`` (h, w) bool on ``image`` (h, w, 3) -> (h, w) bool.

    ``colour_prob`` (h, w) float, the object's long-term colour model evaluated on this frame, widens
    the decision to nearby pixels that look like the object (entering the frame, fast deformation,
    re-emerging from behind another; how far follows ``ref_area``, its usual area) and vetoes pixels
    whose colour the object never had (a mask dragged along the background).
    """
    area = int(np.count_nonzero(warped))
    if iters <= 0 or area < 16:
        return warped
    h, w = warped.shape
    band = int(np.clip(round(band_frac * math.sqrt(area)), 2, 16))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    m8 = warped.astype(np.uint8)
    core = cv2.erode(m8, kernel).astype(bool)
    grown = cv2.dilate(m8, kernel).astype(bool)
    if colour_prob is not None:
        # Colour-guided growth: the object-coloured region connected to the mask, within the
        # object's usual size, so a mostly hidden or entering object grows back in a frame or two.
        far = int(np.clip(round(0.8 * math.sqrt(max(area, ref_area))), 2 * band, 96))
        near = cv2.dilate(m8, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * far + 1, 2 * far + 1)))
        coloured = ((colour_prob > 0.9) & (near > 0)) | grown
        count, comp = cv2.connectedComponents(coloured.astype(np.uint8), connectivity=8)
        touching = np.zeros(count, bool)
        touching[np.unique(comp[warped])] = True
        touching[0] = False
        reach = touching[comp] | grown
    else:
        reach = grown
    ys, xs = np.nonzero(reach)
    pad = 2 * band
    x0, y0 = max(0, int(xs.min()) - pad), max(0, int(ys.min()) - pad)
    x1, y1 = min(w, int(xs.max()) + 1 + pad), min(h, int(ys.max()) + 1 + pad)
    sl = np.s_[y0:y1, x0:x1]
    labels = np.full((y1 - y0, x1 - x0), cv2.GC_BGD, np.uint8)
    labels[grown[sl]] = cv2.GC_PR_BGD
    labels[warped[sl]] = cv2.GC_PR_FGD
    labels[core[sl]] = cv2.GC_FGD
    plausible = warped
    if colour_prob is not None:
        prob = colour_prob[sl]
        labels[reach[sl] & ~warped[sl] & (prob > 0.9)] = cv2.GC_PR_FGD
        veto = prob < 0.03
        labels[veto] = cv2.GC_BGD
        plausible = warped.copy()
        plausible[sl] &= ~veto
    core_sub = labels == cv2.GC_FGD
    if not np.isin(labels, (cv2.GC_BGD, cv2.GC_PR_BGD)).any() or not core_sub.any():
        return plausible
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's k-means start draws from OpenCV's global RNG: keep results reproducible
    try:
        cv2.grabCut(np.ascontiguousarray(image[sl]), labels, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return plausible  # degenerate colour statistics (e.g. a flat patch): keep the flow result
    refined = np.zeros_like(warped)
    refined[sl] = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    core_full = np.zeros_like(warped)
    core_full[sl] = core_sub
    refined = _keep_core_components(refined, core_full)
    # Sanity: the refinement may not drop most of the carried mask, and what it adds must look like
    # the object (by its colour model, or be modest without one) - else the colour model leaked.
    kept = np.count_nonzero(refined & plausible) / max(int(np.count_nonzero(plausible)), 1)
    added = refined & ~plausible
    n_added = int(np.count_nonzero(added))
    if colour_prob is not None:
        leaked = n_added > 0 and float(colour_prob[added].mean()) < 0.5
    else:
        leaked = n_added > np.count_nonzero(plausible)
    if kept < 0.5 or leaked:
        return plausible
    return fill_holes(refined)


def _keep_core_components(mask: np.ndarray, core: np.ndarray) -> np.ndarray:
    count, comp = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return mask
    keep = np.zeros(count, bool)
    keep[np.unique(comp[core & mask])] = True
    keep[0] = False
    if not keep.any():
        return mask
    return keep[comp]


def signed_distance_logits(mask: np.ndarray, scale: float) -> np.ndarray:
    """(h, w) bool -> (h, w) float32 logits: ±(distance to the outline) * scale, clipped to ±10."""
    if not mask.any():
        return np.full(mask.shape, -LOGIT_LIMIT, np.float32)
    if mask.all():
        return np.full(mask.shape, LOGIT_LIMIT, np.float32)
    m8 = mask.astype(np.uint8)
    inside = cv2.distanceTransform(m8, cv2.DIST_L2, 3)
    outside = cv2.distanceTransform(1 - m8, cv2.DIST_L2, 3)
    # Pixels on either side of the outline sit at ±1; shifting by 0.5 puts the zero level halfway.
    signed = np.where(mask, inside - 0.5, 0.5 - outside)
    return np.clip(signed * scale, -LOGIT_LIMIT, LOGIT_LIMIT).astype(np.float32)


def resolve_overlaps(logits: np.ndarray, prompt_extent: np.ndarray) -> np.ndarray:
    """Apply the no-overlap rule to (N, H, W) logits. Returns a new array.

    ``prompt_extent`` (N,) float: for an object prompted on this frame the area its prompt covers
    (box area, else its mask area; any unit shared by all objects), NaN for one that is not prompted.
    """
    if logits.shape[0] <= 1:
        return logits
    positive = logits > 0
    contested = positive.sum(axis=0) > 1
    if not contested.any():
        return logits
    prompted = ~np.isnan(prompt_extent)
    # Prompted objects outrank tracked ones, and the more specific (smaller) prompt outranks the
    # larger one: a box drawn around an object in front of another wins over the other's box.
    rank = np.zeros(len(prompt_extent))
    if prompted.any():
        order = np.argsort(np.where(prompted, prompt_extent, np.inf), kind="stable")
        for position, k in enumerate(order[: int(prompted.sum())]):
            rank[k] = 1000.0 * (len(order) - position)
    score = np.where(positive, logits + rank[:, None, None], -np.inf)
    winner = np.argmax(score, axis=0)  # the first index on ties: the earlier object
    out = logits.copy()
    for k in range(logits.shape[0]):
        lose = contested & positive[k] & (winner != k)
        out[k][lose] = -LOGIT_LIMIT
    return out
