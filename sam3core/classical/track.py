"""One tracking step of the classical engine: a soft optical-flow prior fused with a colour posterior.

Each object carries a *soft map* (h, w) in [0, 1] from frame to frame. On a new frame:

1. The previous soft map is warped with the backward DIS flow (every new pixel looks up where it came
   from) and lightly blurred: the *location prior*. Pixels that came from outside the frame read what
   was at the frame's edge when the object moves its own way (it is entering the view), else 0.
2. The object's *appearance model* -- fine (32^3-bin) RGB histograms of the object and of its
   surroundings, learnt on its prompt frame -- gives P(object | colour) per pixel.
3. Both are fused in logit space, ``logit(prior) + w * logit(colour) - c * b - s * d - m * u``. ``w`` is
   the colour weight scaled by how well colour alone separated the object from its surroundings on
   the prompt frame (balanced accuracy): for a black swan on green water colour decides the
   outline, for a white boat on white foam the flow does. ``b`` says how much more a pixel moves
   like the background around the object than like the object (:func:`background_motion`: the
   water behind a swimming swan, sand between a walking camel's legs); where it moves like the
   object instead, ``b`` is negative and earns ``motion_reward`` per unit (a swinging limb whose
   colour is unsure). ``d`` is the distance beyond the warped
   outline (a shape prior against drift), ``u`` how far a pixel's motion lies outside the object's
   own motion (a passer-by in front of it moves differently). Only pixels within ``reach`` of the
   warped mask can become object, so a same-coloured region elsewhere is never claimed.
4. The result is thresholded at 0.5; components that do not touch the confident core of the warped
   mask are dropped, and small holes filled. The soft values are kept for the next frame (so an
   uncertain edge stays uncertain instead of hardening into a drift).

This is the classical "propagate the shape, re-decide by appearance" scheme (ObjectFlow, Video
SnapCut's shape + colour confidence), measured on real DAVIS footage by ``bench/bench_real_vos.py``
(docs/classical.md has the trade-off table). The step also returns a confidence in [0, 1] from the
agreement of the result with the flow prior, the colour evidence inside it and its area against the
object's usual area.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sam3core.classical.bilateral import local_posterior, object_shift, object_window
from sam3core.classical.grabcut import fill_holes
from sam3core.classical.occlusion import Carry, moves_with

FINE_BINS = 32  # per channel -> 32768 colours (finer bins separated better on real footage than 16)
_EPS = 1e-5
# A piece brought back by the carried shape needs this mean P(object | colour): more than an even
# 0.5, which is also what a colour never seen on the prompt frame reads.
CARRY_COLOUR = 0.6


def fine_index(image: np.ndarray) -> np.ndarray:
    """(h, w) int32 index of each RGB pixel's 32x32x32 colour bin."""
    q = (image >> 3).astype(np.int32)
    return (q[..., 0] * FINE_BINS + q[..., 1]) * FINE_BINS + q[..., 2]


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


@dataclass(frozen=True)
class Appearance:
    """An object's colour model: P(object | colour) and how much to trust it."""

    fg: np.ndarray  # (32768,) float64 object colour distribution, sums to 1
    bg: np.ndarray  # (32768,) float64 surroundings' colour distribution, sums to 1
    lut: np.ndarray  # (32768,) float32 P(object | colour bin)
    reliability: float  # 0..1: balanced accuracy of colour alone on the frame it was learnt, rescaled

    def probability(self, image: np.ndarray) -> np.ndarray:
        """(h, w) float32 P(object | colour), lightly smoothed against sensor noise."""
        return cv2.GaussianBlur(self.lut[fine_index(image)], (0, 0), 1.0)


def _histograms(image: np.ndarray, mask: np.ndarray, ring_px: int) -> tuple[np.ndarray, np.ndarray]:
    idx = fine_index(image)
    n = FINE_BINS**3
    fg = np.bincount(idx[mask], minlength=n).astype(np.float64)
    near = cv2.dilate(mask.astype(np.uint8), _disk(ring_px)) > 0
    ring = near & ~mask
    rest = ~mask
    # The ring says which colours border the object; the whole frame adds what lies further away.
    bg = np.bincount(idx[ring], minlength=n).astype(np.float64)
    bg += 0.3 * np.bincount(idx[rest], minlength=n) * (max(int(ring.sum()), 1) / max(int(rest.sum()), 1))
    return fg / max(fg.sum(), 1.0), bg / max(bg.sum(), _EPS)


def _lut(fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
    return ((fg + _EPS) / (fg + bg + 2 * _EPS)).astype(np.float32)


def learn_appearance(image: np.ndarray, mask: np.ndarray, reach_px: int) -> Appearance | None:
    """The colour model of ``mask`` (h, w) bool on ``image`` (h, w, 3) RGB; None for an empty mask."""
    if np.count_nonzero(mask) < 16 or mask.all():
        return None
    fg, bg = _histograms(image, mask, max(2 * reach_px, 8))
    lut = _lut(fg, bg)
    guess = lut[fine_index(image)] > 0.5
    near = cv2.dilate(mask.astype(np.uint8), _disk(reach_px)) > 0
    tpr = np.count_nonzero(guess & mask) / max(int(mask.sum()), 1)
    outside = near & ~mask
    tnr = np.count_nonzero(~guess & outside) / max(int(outside.sum()), 1)
    # Balanced accuracy 0.5 = colour says nothing, 0.9+ = colour alone finds the object.
    reliability = float(np.clip(((tpr + tnr) / 2 - 0.5) / 0.4, 0.0, 1.0))
    return Appearance(fg, bg, lut, reliability)


def blend_appearance(model: Appearance, image: np.ndarray, mask: np.ndarray, rate: float,
                     reach_px: int) -> Appearance:
    """``model`` moved towards the colours of ``mask`` on ``image`` by ``rate`` (slow adaptation)."""
    if np.count_nonzero(mask) < 16 or rate <= 0:
        return model
    fg, bg = _histograms(image, mask, max(2 * reach_px, 8))
    fg = (1 - rate) * model.fg + rate * fg
    bg = (1 - rate) * model.bg + rate * bg
    return Appearance(fg, bg, _lut(fg, bg), model.reliability)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-3, 1 - 1e-3)
    return np.log(p / (1 - p))


@dataclass
class StepResult:
    mask: np.ndarray  # (h, w) bool
    soft: np.ndarray  # (h, w) float32 in [0, 1], > 0.5 exactly on ``mask``
    confidence: float  # 0..1
    prior: np.ndarray  # (h, w) bool: the warped previous mask (before appearance)
    core: np.ndarray  # (h, w) bool: its confident core (warped soft > 0.8), where the object surely is


def warp_soft(soft: np.ndarray, flow: np.ndarray, grid: np.ndarray, *, border: int = cv2.BORDER_CONSTANT
              ) -> np.ndarray:
    """Sample the previous frame's soft map at x + flow(x); outside the frame reads 0 (or, with
    ``border=cv2.BORDER_REPLICATE``, the nearest edge pixel)."""
    coords = grid + flow
    return cv2.remap(soft, coords[..., 0], coords[..., 1], cv2.INTER_LINEAR, borderMode=border,
                     borderValue=0.0)


def from_outside(flow: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(h, w) bool: the new pixels whose backward flow points outside the previous frame."""
    coords = grid + flow
    h, w = flow.shape[:2]
    return ((coords[..., 0] < 0) | (coords[..., 0] > w - 1)
            | (coords[..., 1] < 0) | (coords[..., 1] > h - 1))


def moves_its_own_way(flow: np.ndarray, warped: np.ndarray, reach_px: int, *,
                      exclude: np.ndarray | None = None) -> bool:
    """Whether the object's confident core (``warped`` > 0.8) moves unlike the ring around it.

    Median backward flow over the core against that over a ring between ``reach_px`` and three
    times it beyond the carried mask (``exclude``: pixels left out of the ring), at least
    ``MIN_SEPARATION`` apart. False for a core of fewer than 16 pixels; True when the ring has fewer
    (the object fills the frame: nothing around it to move with).
    """
    core = warped > 0.8
    if np.count_nonzero(core) < 16:
        return False
    # The ring lies within 3 * reach_px of the mask: dilating only that window is exact and cheaper.
    x0, y0, x1, y1 = object_window(warped > 0.5, 3 * reach_px + 1)
    shape = (warped[y0:y1, x0:x1] > 0.5).astype(np.uint8)
    ring = (cv2.dilate(shape, _disk(3 * reach_px)) > 0) & ~(cv2.dilate(shape, _disk(reach_px)) > 0)
    if exclude is not None:
        ring &= ~exclude[y0:y1, x0:x1]
    if np.count_nonzero(ring) < 16:
        return True
    apart = np.median(flow[core], axis=0) - np.median(flow[y0:y1, x0:x1][ring], axis=0)
    return float(np.linalg.norm(apart)) >= MIN_SEPARATION


def enters(prev_soft: np.ndarray, flow: np.ndarray, grid: np.ndarray, warped: np.ndarray,
           reach_px: int) -> np.ndarray:
    """``warped`` where the pixels that came from outside the frame continue the frame's edge.

    A car driving into the view, or a runner the camera pans with, enters the frame at its edge:
    read as 0 those parts start as background and, the flow trusted there, stay so (drift-straight
    kept the car's front and lost its rear). They read the nearest edge pixel instead, but only
    while the object moves its own way: a mask that moves with its surroundings may be a remnant
    stuck on the background at the edge, which a panning camera would feed every frame (bmx-bumps:
    a mask slipped onto a green fence grew to 80 % of the frame). docs/classical.md has the runs.
    """
    outside = from_outside(flow, grid)
    if not outside.any() or not moves_its_own_way(flow, warped, reach_px, exclude=outside):
        return warped
    edge = warp_soft(prev_soft, flow, grid, border=cv2.BORDER_REPLICATE)
    return np.where(outside, edge, warped).astype(np.float32)


def track_step(prev_soft: np.ndarray, flow: np.ndarray, grid: np.ndarray, image: np.ndarray,
               model: Appearance | None, *, colour_weight: float, reach_px: int, prior_blur: float,
               ref_area: float, shape_penalty: float = 0.0, motion_penalty: float = 0.0,
               trust: np.ndarray | None = None,
               local: tuple[np.ndarray, np.ndarray] | None = None, local_weight: float = 0.0,
               local_cell: float = 0.05, motion_contrast: float = 0.0,
               motion_reward: float = 0.0, carry: Carry | None = None,
               carry_prior: float = 0.6, edge_entry: bool = False) -> StepResult:
    """Carry one object's soft map to ``image`` (see the module docstring).

    ``trust`` (h, w) in [0, 1] scales the carried prior's logit per pixel (forward-backward flow
    consistency): where the flow is not confirmed the colour evidence decides. ``local`` is the
    previous and this frame in CIE Lab: P(object | position, colour) learnt from the previous frame
    (:mod:`sam3core.classical.bilateral`, spatial cells of ``local_cell`` times the object's size)
    adds its logit with ``local_weight``. ``carry`` is the object's whole shape moved through an
    occlusion (:mod:`sam3core.classical.occlusion`): where it exceeds the warped map the prior is
    ``carry_prior`` times it, and a piece inside it that does not touch the visible core is kept
    when it moves at the carried velocity. ``edge_entry``: what enters the frame continues the
    object at the edge (:func:`enters`).
    """
    warped = warp_soft(prev_soft, flow, grid)
    if edge_entry:
        warped = enters(prev_soft, flow, grid, warped, reach_px)
    if prior_blur > 0:
        warped = cv2.GaussianBlur(warped, (0, 0), prior_blur)
    core = warped > 0.8
    carried_by_flow = warped > 0.5  # the confidence judges agreement with the flow, not the carry
    if carry is not None:
        gate = carry_gate(flow, carry, reach_px)
        warped = np.maximum(warped, np.where(gate, carry_prior * carry.shape, 0.0))
    prior = warped > 0.5
    if not prior.any():
        empty = np.zeros(prior.shape, bool)
        return StepResult(empty, np.minimum(warped, 0.49).astype(np.float32), 0.0, prior, core)
    z = _logit(warped)
    if trust is not None:
        z *= trust
    weight = colour_weight * (model.reliability if model is not None else 0.0)
    colour = None
    if weight > 0 and model is not None:
        colour = model.probability(image)
        z += weight * _logit(colour)
    if local is not None and local_weight > 0:
        # The object's motion, measured where it now is (for a fast object its old place is background).
        shift = object_shift(flow, core)
        window = object_window(prior, 2 * reach_px)
        # Cells scale with the object: a few pixels for a distant car, ~10 for a close-up person.
        cell = max(2.0, local_cell * float(np.sqrt(np.count_nonzero(prior))))
        z += local_weight * _logit(local_posterior(local[0], prev_soft, local[1], shift, window, cell=cell))
    near = cv2.dilate(prior.astype(np.uint8), _disk(reach_px)) > 0
    likeness = None
    if motion_contrast > 0 or motion_reward > 0:
        likeness = background_motion(flow, core, prior, reach_px, near=near, low=-1.0)
    z[~near] = -8.0
    if motion_penalty > 0:
        z -= motion_penalty * motion_outlier(flow, core)
    if likeness is not None:
        z -= motion_contrast * np.maximum(likeness, 0.0) + motion_reward * np.minimum(likeness, 0.0)
    if shape_penalty > 0:
        # Shape prior against drift: each pixel beyond the carried outline costs evidence, so
        # colour can grow the object by a few pixels a frame but not flood a same-coloured neighbour.
        # Distances count in units of how far the object could plausibly have been mis-carried:
        # a tenth of its size, or its speed when it moves fast (flow lags behind fast motion).
        speed = float(np.median(np.linalg.norm(flow[core], axis=1))) if core.any() else 0.0
        unit = max(2.0, 0.1 * float(np.sqrt(np.count_nonzero(prior))), speed)
        z -= shape_penalty * cv2.distanceTransform((~prior).astype(np.uint8), cv2.DIST_L2, 3) / unit
    soft = (1.0 / (1.0 + np.exp(-np.clip(z, -15, 15)))).astype(np.float32)
    mask = soft > 0.5
    count, comp = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count > 2 or (carry is not None and count > 1):
        keep = np.zeros(count, bool)
        keep[np.unique(comp[mask & (warped > 0.7)])] = True
        keep[0] = False
        touched = keep.any()
        if carry is not None:
            # A piece the moved shape brought back must move as the hidden object moved (what is
            # in front of it, a hand or a passer-by, moves its own way) and, where colour tells,
            # look clearly more like the object than not.
            for k in np.unique(comp[mask & (carry.shape > 0.7)]):
                if k > 0 and not keep[k]:
                    piece = comp == k
                    keep[k] = moves_with(flow, piece, carry.velocity) and (
                        colour is None or float(colour[piece].mean()) >= CARRY_COLOUR)
        if touched or carry is not None:
            mask = keep[comp]
    mask = fill_holes(mask)
    soft = np.where(mask, np.maximum(soft, 0.51), np.minimum(soft, 0.49)).astype(np.float32)
    confidence = step_confidence(mask, carried_by_flow, colour, ref_area, reach_px)
    return StepResult(mask, soft, confidence, carried_by_flow, core)


def background_motion(flow: np.ndarray, core: np.ndarray, prior: np.ndarray, reach_px: int,
                      near: np.ndarray | None = None, low: float = 0.0) -> np.ndarray:
    """(h, w) float32 in [low, 2]: how much more each pixel moves like the background than the object.

    Two motions: the object's (median backward flow over its confident core) and the background's
    (median over a ring beyond the carried outline). Where they are at least 2 px apart, a pixel
    scores (|f - object| - |f - background|) / separation, clipped to [0, 2]: 0 for object-like
    or in-between motion, 1 for a pixel that moves with the background (up to 2 beyond it). A part
    of an articulated object moving its own way, as far from both motions, costs much less (0.41
    for motion at right angles to the object's, as strong). With ``low`` = -1 a pixel moving exactly
    like the object scores -1 (the track step's ``motion_reward`` turns that into evidence for it).
    """
    out = np.zeros(flow.shape[:2], np.float32)
    if np.count_nonzero(core) < 16:
        return out
    if near is None:  # the track step passes its own: ``prior`` dilated by ``reach_px``
        near = cv2.dilate(prior.astype(np.uint8), _disk(reach_px)) > 0
    ring = (cv2.dilate(prior.astype(np.uint8), _disk(3 * reach_px)) > 0) & ~near
    likeness = two_motion_likeness(flow, core, ring)
    if likeness is None:
        return out
    return np.clip(likeness, low, 2.0).astype(np.float32)


def carry_gate(flow: np.ndarray, carry: Carry, reach_px: int) -> np.ndarray:
    """(h, w) bool: where the carried shape may count, the pixels moving more like the hidden object
    (at ``carry.velocity``) than like the background around the carried shape.

    The part of a dog coming out from behind a pole does; the road around a dog whose legs were
    briefly lost does not. Nowhere while the two motions lie less than ``MIN_SEPARATION`` apart
    (motion cannot tell them apart; the visible part may itself be stuck on the background, so its
    motion is not used).
    """
    shape = (carry.shape > 0.5).astype(np.uint8)
    ring = (cv2.dilate(shape, _disk(3 * reach_px)) > 0) & ~(cv2.dilate(shape, _disk(reach_px)) > 0)
    likeness = _likeness_to(flow, -np.asarray(carry.velocity, np.float32), ring)  # as a backward flow
    return np.zeros(flow.shape[:2], bool) if likeness is None else likeness < 0


MIN_SEPARATION = 2.0  # px between the object's and the background's motion below which motion says nothing


def two_motion_likeness(flow: np.ndarray, core: np.ndarray, ring: np.ndarray) -> np.ndarray | None:
    """(h, w) float32 in [-1, 1]: (|f - object| - |f - background|) / separation for every pixel.

    The object's motion is the median of ``flow`` (h, w, 2) over ``core``, the background's over
    ``ring`` (both (h, w) bool): -1 moves exactly like the object, 1 like the background (the
    triangle inequality bounds the ratio). None when either region has fewer than 16 pixels or the
    two motions lie less than ``MIN_SEPARATION`` apart (then motion tells nothing apart).
    """
    if np.count_nonzero(core) < 16:
        return None
    return _likeness_to(flow, np.median(flow[core], axis=0), ring)


def _likeness_to(flow: np.ndarray, obj: np.ndarray, ring: np.ndarray) -> np.ndarray | None:
    """:func:`two_motion_likeness` for a given object motion ``obj`` (2,), as a backward flow."""
    if np.count_nonzero(ring) < 16:
        return None
    bg = np.median(flow[ring], axis=0)
    sep = float(np.linalg.norm(obj - bg))
    if sep < MIN_SEPARATION:
        return None
    d_obj = np.linalg.norm(flow - obj, axis=2)
    d_bg = np.linalg.norm(flow - bg, axis=2)
    return ((d_obj - d_bg) / sep).astype(np.float32)


def motion_outlier(flow: np.ndarray, core: np.ndarray) -> np.ndarray:
    """(h, w) float32 >= 0: how far each pixel's motion lies outside the object's own motion.

    The object's motion is the median backward flow over its confident core, its spread the median
    absolute deviation (at least 1 px); a pixel moving like the object scores 0, one moving
    differently (a passer-by in front of it) scores its deviation in units of the spread.
    """
    if np.count_nonzero(core) < 16:
        return np.zeros(flow.shape[:2], np.float32)
    vec = flow[core]
    med = np.median(vec, axis=0)
    dev = np.linalg.norm(vec - med, axis=1)
    spread = max(1.0, 1.4826 * float(np.median(dev)))
    d = np.linalg.norm(flow - med, axis=2) / spread
    return np.maximum(d - 3.0, 0.0).astype(np.float32)


# Calibration of the reported confidence: on the DAVIS 2016 tune split, 95 % of the tracked frames
# with J >= 0.5 have a raw value above 0.70 (docs/classical.md, "Confidence"); that point is mapped
# to 0.6, the timeline's and `masklet status`'s default doubtful threshold, linearly on each side.
_RAW_KNEE, _DOUBTFUL = 0.70, 0.6


def calibrated(raw: float) -> float:
    """The raw 0..1 confidence mapped so that the doubtful threshold 0.6 sits at raw 0.70."""
    raw = float(np.clip(raw, 0.0, 1.0))
    if raw <= _RAW_KNEE:
        return raw / _RAW_KNEE * _DOUBTFUL
    return _DOUBTFUL + (raw - _RAW_KNEE) / (1.0 - _RAW_KNEE) * (1.0 - _DOUBTFUL)


def step_confidence(mask: np.ndarray, prior: np.ndarray, colour: np.ndarray | None, ref_area: float,
                    reach_px: int) -> float:
    """How sure the step is, 0..1: flow agreement, colour evidence and area stability together.

    - agreement: IoU of the result with the warped previous mask (the flow explains the result);
    - colour: mean P(object | colour) inside the result minus that in a ring around it;
    - area: the result's area against the object's usual area (a collapse or a blow-up is suspect);
    - the sum is scaled by the square root of the largest connected piece's share of the mask,
      and mapped by :func:`calibrated`.

    Measured on DAVIS 2016 (docs/classical.md, "Confidence"): the pieces term raises the AUC of the
    per-frame value for telling frames with J >= 0.5 from worse ones.
    """
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    count, _comp, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    # A mask in pieces is often half on a neighbour: the largest piece's share scales the result.
    whole = float(stats[1:, cv2.CC_STAT_AREA].max()) / area if count > 1 else 0.0
    union = np.count_nonzero(mask | prior)
    agreement = np.count_nonzero(mask & prior) / max(union, 1)
    ratio = area / ref_area if ref_area > 0 else 1.0
    area_score = float(min(ratio, 1.0 / ratio)) if ratio > 0 else 0.0
    if colour is None:
        return calibrated((0.6 * agreement + 0.4 * area_score) * np.sqrt(whole))
    ring = (cv2.dilate(mask.astype(np.uint8), _disk(max(reach_px, 3))) > 0) & ~mask
    inside = float(colour[mask].mean())
    around = float(colour[ring].mean()) if ring.any() else 0.0
    separation = float(np.clip((inside - around) / 0.5, 0.0, 1.0))
    return calibrated((0.4 * agreement + 0.35 * separation + 0.25 * area_score) * np.sqrt(whole))
