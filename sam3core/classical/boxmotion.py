"""Box cuts lose what moves like the background: a motion veto from the prompt frame's neighbour.

GrabCut's box cut keeps background enclosed by the box and the object when it shares the object's
colours -- the water between a swan's neck and body, the fence behind a horse, the sand between a
camel's legs. In a video the next frame tells them apart: they move with the background around the
box, not with the object. The flow from the prompt frame to its neighbour gives two motions, the
object's (median over the cut's core) and the background's (median over a ring around the box); a
pixel of the cut whose motion lies much nearer the background's (``likeness`` >= ``VETO``, the
measure of :func:`sam3core.classical.track.background_motion`) is removed. Where the two motions are
less than 2 px apart towards the next frame, frames further away are tried (``VETO_OFFSETS``); a
still camera on a still object says nothing and the cut is kept.

Measured on the 20 DAVIS 2016 frame-0 boxes (docs/classical.md, "Box cut: motion veto"): box J
0.684 -> 0.735 (blackswan 0.51 -> 0.82, horsejump-high 0.49 -> 0.76, camel 0.62 -> 0.78, cows
0.69 -> 0.79 from a longer baseline), about 10 ms more per box. The moving part of a cut that is
the whole box ("When the cut is the whole box"): 51 sequences' box J 0.739 -> 0.749.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import cv2
import numpy as np

from sam3core.classical.boxcut import inside_odds
from sam3core.classical.grabcut import Box, Point, click_radius, keep_components
from sam3core.classical.propagate import pixel_grid
from sam3core.classical.track import MIN_SEPARATION, two_motion_likeness

VETO_OFFSETS = (1, 2, 3, 4, 6)  # frames from the prompt frame tried in turn until the motions separate
VETO = 0.8  # likeness (-1 object-like .. 1 background-like) from which a pixel of the cut is removed
RING = 0.25  # the background ring's width around the box, as a fraction of the box's side
MOVING_SHARE = 0.15  # of the cut: a part moving apart from the ring this large gives the object's motion
MOVING_FILL = 0.8  # of the box: only a cut covering this much of it is judged by its moving part
BACKGROUND_COLOURED = 0.75  # P(inside the box | colour) up to which a colour counts as the ring's too
KEEP_AT_LEAST = 0.3  # a veto that would remove more than 70 % of the cut is distrusted (motion failed)


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def motion_likeness(flow: np.ndarray, mask: np.ndarray, box: Box, moving_part: bool = False,
                    ) -> np.ndarray | None:
    """(h, w) float32 in [-1, 1]: -1 moves like the cut's core, 1 like the ring around ``box``.

    ``flow`` (h, w, 2) is the flow from the prompt frame to a neighbour frame, ``mask`` (h, w) the
    box cut. None when the motions cannot be told apart (or there is too little of either to measure).
    With ``moving_part`` the object's motion is that of the core's pixels moving at least
    ``MIN_SEPARATION`` px apart from the ring's, when they are at least ``MOVING_SHARE`` of the cut
    (for a cut mostly of background, whose own median moves like the ring); None otherwise.
    """
    h, w = mask.shape
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return None
    inside = np.zeros((h, w), bool)
    inside[y0:y1, x0:x1] = True
    mx, my = max(4, round(RING * (x1 - x0))), max(4, round(RING * (y1 - y0)))
    ring = np.zeros((h, w), bool)
    ring[max(0, y0 - my):y1 + my, max(0, x0 - mx):x1 + mx] = True
    ring &= ~inside
    core = cv2.erode(mask.astype(np.uint8), _disk(3)) > 0
    if np.count_nonzero(core) < 16:
        core = mask
    if moving_part and np.count_nonzero(ring) >= 16:
        apart = np.linalg.norm(flow - np.median(flow[ring], axis=0), axis=2) >= MIN_SEPARATION
        core = core & apart  # not in place: core may be the caller's mask
        if np.count_nonzero(core) < MOVING_SHARE * np.count_nonzero(mask):
            return None
    return two_motion_likeness(flow, core, ring)


MAX_RESIDUAL = 24.0  # median grey-level error of the warped neighbour above which the flow is not used


def _explains(motion: np.ndarray, here: np.ndarray, there: np.ndarray) -> bool:
    """Whether ``there`` warped by ``motion`` looks like ``here`` (median error <= ``MAX_RESIDUAL``)."""
    coords = pixel_grid(*here.shape) + motion
    warped = cv2.remap(there, coords[..., 0], coords[..., 1], cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    residual = np.abs(warped.astype(np.float32) - here.astype(np.float32))
    return float(np.median(residual)) <= MAX_RESIDUAL


def _fills_box(mask: np.ndarray, box: Box) -> bool:
    """Whether ``mask`` covers at least ``MOVING_FILL`` of ``box``: the box itself, not an outline."""
    x0, y0, x1, y1 = (max(0, int(round(v))) for v in box)
    inside = mask[y0:y1, x0:x1]
    return inside.size > 0 and float(inside.mean()) >= MOVING_FILL


def _background_coloured(rgb: np.ndarray, box: Box) -> np.ndarray:
    """(h, w) bool: pixels of ``rgb`` (a window around ``box``) whose colour is common around the box
    too (P(inside | colour) <= ``BACKGROUND_COLOURED``, densities normalised per region)."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    inside = np.zeros((h, w), bool)
    inside[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = True
    return inside_odds(rgb, inside, ~inside) <= BACKGROUND_COLOURED


class _Flow(Protocol):
    def backward(self, new_grey: np.ndarray, old_grey: np.ndarray) -> np.ndarray: ...


def veto_background_motion(mask: np.ndarray, grey: np.ndarray, neighbours: Iterable[np.ndarray], box: Box,
                           points: list[Point], flow: _Flow, rgb: np.ndarray | None = None) -> np.ndarray:
    """``mask`` (h, w) bool, a box cut on ``grey``, less the pixels that move like the background.

    ``neighbours`` are frames after (or before) the prompt frame, nearest first, (h, w) uint8 grey
    like ``grey``; the first one towards which the object's and the background's motions separate
    decides (a slow object needs a longer baseline: a grazing cow moves < 2 px a frame), read lazily.
    ``flow`` computes the flow from the prompt frame to a neighbour
    (:class:`sam3core.classical.propagate.FlowField`), only over the box and its ring (a few ms).
    Where the cut's own core moves like the ring and the cut covers most of the box
    (``MOVING_FILL``: a collapsed GrabCut's fallback, the box rather than an outline), the part of
    it moving apart from the ring gives the object's motion instead, and only pixels whose colour
    is common around the box too (``rgb``, (h, w, 3) uint8 like ``grey``; without it this step is
    skipped) go: a still body whose head moves keeps its body, its colours not being the ring's.
    Positive clicks are the annotator's word: a vetoed region holding one stays, and so do the
    components holding them. A veto that would leave less than ``KEEP_AT_LEAST`` of the cut is not
    applied.
    """
    h, w = mask.shape
    bw, bh = box[2] - box[0], box[3] - box[1]
    pad_x, pad_y = max(4, round(RING * bw)) + 8, max(4, round(RING * bh)) + 8
    x0, y0 = max(0, int(box[0]) - pad_x), max(0, int(box[1]) - pad_y)
    x1, y1 = min(w, int(np.ceil(box[2])) + pad_x), min(h, int(np.ceil(box[3])) + pad_y)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return mask
    window = np.s_[y0:y1, x0:x1]
    here = np.ascontiguousarray(grey[window])
    local_box = (box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0)
    vetoed = None
    for neighbour in neighbours:
        there = np.ascontiguousarray(neighbour[window])
        motion = flow.backward(here, there)
        if not _explains(motion, here, there):
            return mask  # a cut to another shot, a flash: this flow (and any further) says nothing
        likeness = motion_likeness(motion, mask[window], local_box)
        if likeness is not None:
            vetoed = likeness >= VETO
            break
        if rgb is not None and MOVING_SHARE > 0 and _fills_box(mask[window], local_box):
            likeness = motion_likeness(motion, mask[window], local_box, moving_part=True)
            if likeness is not None:
                vetoed = (likeness >= VETO) & _background_coloured(rgb[window], local_box)
                break
    if vetoed is None:
        return mask
    veto = np.zeros((h, w), bool)
    veto[window] = vetoed
    veto &= mask
    clicks = [(x, y) for x, y, label in points if label == 1]
    if clicks:
        # A positive click is the annotator's word: the vetoed region it lies in (or touches) stays.
        count, comp = cv2.connectedComponents(veto.astype(np.uint8), connectivity=8)
        spared = np.zeros(count, bool)
        grown = cv2.dilate(comp.astype(np.float32), _disk(click_radius(h, w))).astype(np.int32)
        for x, y in clicks:
            cx, cy = min(max(int(round(x)), 0), w - 1), min(max(int(round(y)), 0), h - 1)
            spared[grown[cy, cx]] = True
        spared[0] = False
        veto &= ~spared[comp]
    kept = mask & ~veto
    # Opening removes the threads a veto leaves along the removed region's edge.
    opened = cv2.morphologyEx(kept.astype(np.uint8), cv2.MORPH_OPEN, _disk(2)).astype(bool)
    kept = keep_components(opened | (kept & ~cv2.dilate(veto.astype(np.uint8), _disk(3)).astype(bool)),
                           points, box)
    if np.count_nonzero(kept) < KEEP_AT_LEAST * np.count_nonzero(mask):
        return mask
    return kept
