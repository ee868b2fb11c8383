"""Box -> mask with GrabCut: three cuts of the box's window, the one that fits the box best kept.

The window (the box plus a margin) is resampled to ``BOX_CUT_SIDE`` pixels and cut three ways: GrabCut
iterated, GrabCut's first iteration alone, and a cut with colour models learnt from the box's core and
then frozen (:func:`cut_box`). All three start without the box's pixels that the background outside
the box runs on into (:func:`background_connected`). A box costs about one iterated cut of wall time,
from three exact short-cuts (docs/classical.md, "Click latency"):

- the single-iteration cut *is* the iterated cut's first step: GrabCut continued with ``GC_EVAL`` from
  a step's labels and models gives exactly the uninterrupted run, so the chain is run a step at a time;
- the core cut runs in a worker thread meanwhile (OpenCV releases the GIL inside ``grabCut``);
- the steps of the last few cuts are kept (:class:`_Steps`). A later cut of the same window whose
  seeds differ only by sure-foreground pixels (a positive click inside the box, as the app sends it
  after the box) continues from the last step at which every one of those pixels was already
  foreground: pinning pixels to the side of the cut they are on leaves a graph cut's minimum where it
  is, so those steps would come out the same (:func:`_resume`).
"""

from __future__ import annotations

import threading
import zlib
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field

import cv2
import numpy as np

from sam3core.classical.grabcut import (
    Box,
    Crop,
    Models,
    Point,
    click_pixel,
    clip_rect,
    first_models,
    grabcut_pool,
    keep_components,
    log_density,
    run_grabcut,
)
from sam3core.classical.propagate import colour_index

TIGHT_ENOUGH = 0.97  # box_tightness at which a box cut is accepted without trying the others
COLLAPSED = 0.01  # of the box's area: when every cut keeps less, a colour-seeded cut is tried
PIN_MISSING = 0.05  # share of the box's rows + columns a cut may leave uncrossed before it is pinpointed
PIN_ITERS = 1  # GrabCut iterations of the pinpointed cut (one: docs/classical.md, "Box cut: pinpointing")
BOX_CUT_SIDE = 260  # long side (pixels) of a box's cut window: see cut_box_resampled and docs/classical.md
GUESS_CUT_SIDE = 160  # the same for a box guessed around clicks alone: its cut is slow (docs/classical.md)
GUESS_ITERS = 2  # GrabCut iterations of a guessed box's cut
SETTLED = 0.002  # share of the window's pixels: a GrabCut step that moves fewer ends the chain early
_KEPT_STEPS = 8  # recent box cuts and pinpointed cuts whose steps are kept for continuing (~0.5 MB each)
FLOOD_TOLERANCE = 6.0  # Lab levels (8-bit, per channel) a colour may differ from a seed's and be flooded
FLOOD_RING = 4  # pixels: the band just outside the box whose pixels seed the flood
FLOOD_MAX_SHARE = 0.6  # of the box: a flood reaching more says the object is the background's colour


def box_tightness(mask: np.ndarray, box: Box) -> float:
    """How well ``mask`` fits a *tight* box: the fraction of the box's rows and columns it crosses.

    A box drawn tightly around an object touches it on every row and column (Lempitsky et al.'s
    tightness prior); a cut that lost part of the object, or kept a sliver, crosses fewer. A result
    that fills (nearly) all of the box or almost none of it is penalised.
    """
    h, w = mask.shape
    x0, y0, x1, y1 = clip_rect(*box, w, h)
    sub = mask[y0:y1, x0:x1]
    if sub.size == 0 or not sub.any():
        return 0.0
    cover = 0.5 * (float(sub.any(axis=0).mean()) + float(sub.any(axis=1).mean()))
    fill = float(sub.mean())
    return cover - (0.5 if not 0.08 <= fill <= 0.97 else 0.0)


def background_connected(lab: np.ndarray, box: Box) -> np.ndarray:
    """(h, w) bool: the box's pixels joined to the background just outside it by nearly the same
    colour -- a crowd, a fence, a wall that runs on past the box's sides.

    A tight box holds the whole object, so what continues beyond the box is background (the
    boundary-connectivity prior of Zhu et al., CVPR 2014). From every other pixel of a
    ``FLOOD_RING``-pixel band outside the box, a flood fill takes the 4-connected pixels within
    ``FLOOD_TOLERANCE`` of that pixel's colour (``lab``, the window in 8-bit Lab, lightly blurred
    against texture noise). The object meets the box only where it touches the sides, so little of
    it is reached unless its colours are the background's there too.
    """
    h, w = lab.shape[:2]
    x0, y0, x1, y1 = clip_rect(*box, w, h)
    inside = np.zeros((h, w), bool)
    inside[y0:y1, x0:x1] = True
    ring = np.zeros((h, w), bool)
    ring[max(0, y0 - FLOOD_RING):y1 + FLOOD_RING, max(0, x0 - FLOOD_RING):x1 + FLOOD_RING] = True
    ring &= ~inside
    smooth = cv2.GaussianBlur(lab, (0, 0), 1.0)
    filled = np.zeros((h + 2, w + 2), np.uint8)  # floodFill's mask: one pixel of border all round
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (255 << 8)
    tolerance = (FLOOD_TOLERANCE,) * 3
    ys, xs = np.nonzero(ring)
    for y, x in zip(ys[::2].tolist(), xs[::2].tolist()):
        if not filled[y + 1, x + 1]:  # a pixel already flooded from another seed seeds nothing new
            cv2.floodFill(smooth, filled, (x, y), 0, tolerance, tolerance, flags)
    return (filled[1:-1, 1:-1] > 0) & inside


def flood_background(lab: np.ndarray, labels: np.ndarray, box: Box, points: list[Point]) -> np.ndarray:
    """``labels`` with the box's probable-foreground pixels that :func:`background_connected` reaches
    made probable background, so every cut starts its colour models without them (a copy; the
    labels as they are when the flood reaches nothing, or more than ``FLOOD_MAX_SHARE`` of the box).
    A flooded region holding a positive click is the annotator's object: it is left as it was."""
    reached = background_connected(lab, box)
    h, w = labels.shape
    clicked = [click_pixel(x, y, w, h) for x, y, label in points if label == 1]
    if clicked and reached.any():
        _count, regions = cv2.connectedComponents(reached.astype(np.uint8), connectivity=4)
        for cx, cy in clicked:
            if regions[cy, cx]:
                reached &= regions != regions[cy, cx]
    x0, y0, x1, y1 = clip_rect(*box, w, h)
    share = np.count_nonzero(reached) / max(1, (x1 - x0) * (y1 - y0))
    if not 0 < share <= FLOOD_MAX_SHARE:
        return labels
    out = labels.copy()
    out[reached & (labels == cv2.GC_PR_FGD)] = cv2.GC_PR_BGD
    return out


def _is_fg(labels: np.ndarray) -> np.ndarray:
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


@dataclass
class _Steps:
    """One window's GrabCut chains: the labels they started from and their state after each step.

    ``iterated[k]`` is (labels, models) after k + 1 iterations from ``start``; ``core`` the core cut's
    (learnt models, labels, models) once it has run. ``image_key`` identifies the window's pixels, the
    crop and the box (which places the core).
    """

    image_key: tuple
    start: np.ndarray
    iterated: list[tuple[np.ndarray, Models]] = field(default_factory=list)
    core: tuple[Models, np.ndarray, Models] | None = None


_RECENT: deque[_Steps] = deque(maxlen=_KEPT_STEPS)
_RECENT_LOCK = threading.Lock()


def _pinned(steps: _Steps, key: tuple, start: np.ndarray) -> np.ndarray | None:
    """The pixels ``start`` pins to sure foreground beyond ``steps.start``, or None when ``start``
    differs from it in any other way (or the image is another) and the steps do not apply."""
    if steps.image_key != key or steps.start.shape != start.shape:
        return None
    diff = steps.start != start
    if not (np.all(steps.start[diff] == cv2.GC_PR_FGD) and np.all(start[diff] == cv2.GC_FGD)):
        return None
    return diff


def _resume(key: tuple, start: np.ndarray) -> tuple[_Steps, np.ndarray] | None:
    """The kept steps this cut can continue from (the one pinning the fewest pixels), with those pixels."""
    with _RECENT_LOCK:
        found = [(steps, pinned) for steps in _RECENT
                 if (pinned := _pinned(steps, key, start)) is not None]
    return min(found, key=lambda f: int(np.count_nonzero(f[1])), default=None)


def _keep(steps: _Steps) -> None:
    """Keep a cut's steps for later cuts of the same window to continue from."""
    with _RECENT_LOCK:
        _RECENT.append(steps)


def _with_pins(labels: np.ndarray, pinned: np.ndarray) -> np.ndarray:
    out = labels.copy()
    out[pinned] = cv2.GC_FGD
    return out


def _iterated_chain(lab: np.ndarray, start: np.ndarray, crop: Crop, iters: int,
                    kept: tuple[_Steps, np.ndarray] | None) -> list[tuple[np.ndarray, Models]]:
    """(labels, models) after each of ``iters`` GrabCut iterations from ``start``, one call a step.

    Steps of ``kept`` are taken over while every pinned pixel was foreground in them (then this chain's
    step is that step with those pixels pinned); the rest continue with ``GC_EVAL``.
    """
    chain: list[tuple[np.ndarray, Models]] = []
    if kept is not None:
        steps, pinned = kept
        for labels, models in steps.iterated[:iters]:
            if not _is_fg(labels[pinned]).all():
                break
            chain.append((_with_pins(labels, pinned), models))
    while len(chain) < iters and not _settled(chain, start):
        work = (chain[-1][0] if chain else start).copy()
        models = run_grabcut(lab, work, crop, 1, chain[-1][1] if chain else None, lab=True)
        chain.append((work, models))
    return chain


def _settled(chain: list[tuple[np.ndarray, Models]], start: np.ndarray) -> bool:
    """Whether the chain's last step (after the first) moved fewer than ``SETTLED`` of the pixels.

    GrabCut's later iterations only nudge the outline: on the 20 DAVIS val boxes the third and fourth
    steps moved a median of 22 and 6 pixels of a ~50,000-pixel window, while each step costs about
    70 ms of the box's 0.3 s. The decision reads only the chain itself, so a chain continued from kept
    steps (pins on pixels that were foreground in both steps change no count) stops where they did.
    """
    if len(chain) < 2:
        return False
    before, after = _is_fg(chain[-2][0]), _is_fg(chain[-1][0])
    return np.count_nonzero(before != after) < SETTLED * start.size


def _core_cut(lab: np.ndarray, labels: np.ndarray, crop: Crop, box: Box,
              kept: tuple[_Steps, np.ndarray] | None,
              unwanted: threading.Event) -> tuple[Models, np.ndarray, Models] | None:
    """The cut with colour models learnt from the box's core against the rest, then frozen.

    ``lab`` is the CIE Lab image; ``labels`` is only read. Returns (learnt models, labels, models), or
    None when ``unwanted`` was set before the cut (the caller has a result that fits the box: a cut
    left running would only slow down the user's next click).
    """
    h, w = labels.shape
    bx0, by0, bx1, by1 = clip_rect(*box, w, h)
    train = labels.copy()
    inside = train == cv2.GC_PR_FGD
    train[inside] = cv2.GC_PR_BGD
    mx, my = round(0.2 * (bx1 - bx0)), round(0.2 * (by1 - by0))
    core = np.zeros_like(inside)
    core[by0 + my:by1 - my, bx0 + mx:bx1 - mx] = True
    train[inside & core] = cv2.GC_PR_FGD
    learnt = None
    if kept is not None and kept[0].core is not None:
        steps, pinned = kept
        old_learnt, old_labels, old_models = steps.core
        # Training sees only which pixels count as foreground: pins inside the core change none.
        if core[pinned].all():
            learnt = old_learnt
            if _is_fg(old_labels[pinned]).all():
                return learnt, _with_pins(old_labels, pinned), old_models
    if unwanted.is_set():
        return None
    if learnt is None:
        learnt = first_models(lab, train, crop)
    if unwanted.is_set():
        return None
    work = labels.copy()
    models = run_grabcut(lab, work, crop, 1, learnt, freeze=True, lab=True)
    return learnt, work, models


def cut_box(image: np.ndarray, labels: np.ndarray, crop: Crop, box: Box, points: list[Point],
            iters: int, tight: bool = True) -> tuple[np.ndarray, np.ndarray, Models]:
    """GrabCut for a box, three ways, keeping the cut that fits the box best (:func:`box_tightness`).

    GrabCut's iterations can let the background model swallow an object whose colours also occur
    around it (a white dog on pale concrete, a flamingo among flamingos); a single iteration, or
    colour models learnt from the box's core against its surroundings and then frozen, often keep
    it. The first cut that fits the box tightly (``TIGHT_ENOUGH``) is taken, in the order iterated,
    single iteration, core; else the best fit of the three. Returns (mask, labels, models). ``labels``
    holds the painted box labels and seeds.

    A box that is only a guess (``tight=False``: :func:`sam3core.classical.segment.click_box`) says
    nothing by its fit, so the iterated cut is taken as it is, without the others or pinpointing.
    """
    lab = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2LAB)  # once for all the cuts
    labels = flood_background(lab, labels, box, points)
    key = (zlib.crc32(lab), lab.shape, crop, box)
    kept = _resume(key, labels)
    unwanted = threading.Event()  # set when the core cut turns out not to be needed
    core_job: Future | None = None
    if tight:
        core_job = grabcut_pool().submit(_core_cut, lab, labels, crop, box, kept, unwanted)
    iters = max(iters, 1) if tight else min(max(iters, 1), GUESS_ITERS)
    steps = _Steps(key, labels.copy(), _iterated_chain(lab, labels, crop, iters, kept))
    candidates = []
    for cut, cut_models in (steps.iterated[-1], steps.iterated[0]):
        mask = keep_components(_is_fg(cut), points, box)
        candidates.append((box_tightness(mask, box), mask, cut, cut_models))
        if not tight or candidates[-1][0] >= TIGHT_ENOUGH:
            # It already fits the box: the other cuts cannot fit it better by much (a core cut not
            # yet done is not finished).
            unwanted.set()
            break
    else:
        assert core_job is not None  # a guessed box takes its first cut
        steps.core = core_job.result()
        assert steps.core is not None  # only this function sets ``unwanted``
        _learnt, cut, cut_models = steps.core
        mask = keep_components(_is_fg(cut), points, box)
        candidates.append((box_tightness(mask, box), mask, cut, cut_models))
    _keep(steps)
    bx0, by0, bx1, by1 = clip_rect(*box, *labels.shape[::-1])
    collapsed = COLLAPSED * (bx1 - bx0) * (by1 - by0)
    if max(np.count_nonzero(c[1]) for c in candidates) < collapsed:
        # All three collapsed (nearly) to nothing: the margin holds the object's colours too (a
        # flamingo among flamingos, a black-and-white dog among white poles). Seed the cut with the
        # colours that are commoner inside the box than around it instead; when GrabCut collapses
        # from there too, those colours themselves are the answer (something, to correct by clicks,
        # rather than an empty object).
        seeded = labels.copy()
        _colour_seeds(image, seeded, crop)
        cut = seeded.copy()
        cut_models = run_grabcut(lab, cut, crop, max(iters, 1), None, lab=True)
        mask = keep_components(_is_fg(cut), points, box)
        if np.count_nonzero(mask) < 5 * collapsed:
            cut = seeded
            mask = keep_components(_is_fg(cut), points, box)
        candidates.append((box_tightness(mask, box), mask, cut, cut_models))
    # max() keeps the first of equals: the iterated cut wins ties.
    _score, mask, work, models = max(candidates, key=lambda c: c[0])
    if not tight:
        return mask, work, models
    return pinpoint(lab, key, mask, work, crop, box, points, models)


def pinpoint(lab: np.ndarray, key: tuple, mask: np.ndarray, labels: np.ndarray, crop: Crop, box: Box,
             points: list[Point], models: Models) -> tuple[np.ndarray, np.ndarray, Models]:
    """Make a box cut cross the rows and columns of the box it missed (the tightness prior, one round of
    Lempitsky et al.'s "pinpointing", ICCV 2009).

    A box drawn tightly around an object meets it on every row and column. GrabCut often drops the
    thin parts that reach the box's sides (legs, a head, the last carriage of a train). For every row
    and column of the box that ``mask`` does not cross, its pixel most like the foreground model
    (against the background model) is pinned to sure foreground and GrabCut runs again from
    ``labels``. The answer is the union of the old and the new cut: the re-learnt models can lose a
    part the first cut had (measured: parkour 0.86 -> 0.78 without the union), and with frozen models
    the pins flood thin-structure boxes (kite lines: kite-surf 0.58 -> 0.11). ``lab`` is the window
    in Lab; returns (mask, labels, models) like :func:`cut_box`, ``labels`` holding the union.
    """
    h, w = mask.shape
    bx0, by0, bx1, by1 = clip_rect(*box, w, h)
    inside = mask[by0:by1, bx0:bx1]
    if inside.size == 0 or not inside.any():
        return mask, labels, models
    rows, cols = ~inside.any(axis=1), ~inside.any(axis=0)
    if rows.sum() + cols.sum() < PIN_MISSING * (len(rows) + len(cols)):
        return mask, labels, models
    colours = lab[by0:by1, bx0:bx1].reshape(-1, 3).astype(np.float64)
    odds = (log_density(models[1], colours) - log_density(models[0], colours)).reshape(inside.shape)
    pins = [(int(np.argmax(odds[r])), r) for r in np.flatnonzero(rows) if odds[r].max() > 0]
    pins += [(c, int(np.argmax(odds[:, c]))) for c in np.flatnonzero(cols) if odds[:, c].max() > 0]
    if not pins:
        return mask, labels, models
    pinned = labels.copy()
    xs, ys = np.array(pins).T
    pinned[by0 + ys, bx0 + xs] = cv2.GC_FGD
    # A fresh GrabCut chain from the pinned labels, kept like a box's own chains: the click an annotator
    # adds inside the result pins only pixels already foreground, and continues from these steps.
    chain = _iterated_chain(lab, pinned, crop, PIN_ITERS, _resume(key, pinned))
    _keep(_Steps(key, pinned.copy(), chain))
    pinned, new_models = chain[-1][0].copy(), chain[-1][1]
    seeds = list(points) + [(float(bx0 + x), float(by0 + y), 1) for x, y in pins]
    cut = _is_fg(pinned)
    union = keep_components(cut | mask, seeds, box)
    pinned[union & ~cut] = cv2.GC_PR_FGD
    return union, pinned, new_models


SEED_BINS = 16  # colour bins per channel of the seeded cut's histograms -> 4096 colours


def inside_odds(image: np.ndarray, inside: np.ndarray, outside: np.ndarray,
                bins: int = SEED_BINS) -> np.ndarray:
    """(h, w) float32 P(inside | colour) for every pixel of ``image`` (h, w, 3) uint8, from the colour
    histograms of ``inside`` and ``outside`` ((h, w) bool), each normalised by its own size (so 0.5
    is a colour as common in both), lightly blurred against histogram noise."""
    idx = colour_index(image, bins)
    fg = np.bincount(idx[inside], minlength=bins**3) / max(1, np.count_nonzero(inside))
    bg = np.bincount(idx[outside], minlength=bins**3) / max(1, np.count_nonzero(outside))
    return cv2.GaussianBlur((fg / (fg + bg + 1e-9)).astype(np.float32)[idx], (0, 0), 1.0)


def _colour_seeds(image: np.ndarray, labels: np.ndarray, crop: Crop) -> None:
    """Keep as probable foreground only the box's pixels whose colour is commoner inside the box
    than in the window around it (``labels`` is updated in place).

    P(inside | colour) from two histograms -- the box (``GC_PR_FGD``) against the margin
    (``GC_BGD`` within ``crop``); above 0.5 stays probable foreground, the rest of the box becomes
    probable background, so a cut begins from the object's distinctive colours instead of from
    the whole box, whose background GrabCut would learn as object.
    """
    x0, y0, x1, y1 = crop
    sub = labels[y0:y1, x0:x1]
    inside, outside = sub == cv2.GC_PR_FGD, sub == cv2.GC_BGD
    if inside.sum() < 16 or outside.sum() < 16:
        return
    odds = inside_odds(image[y0:y1, x0:x1], inside, outside)
    sub[inside & (odds <= 0.5)] = cv2.GC_PR_BGD


def cut_box_resampled(image: np.ndarray, labels: np.ndarray, crop: Crop, box: Box, points: list[Point],
                      iters: int, tight: bool = True) -> tuple[np.ndarray, np.ndarray, Models]:
    """:func:`cut_box` on the box's window resampled to ``BOX_CUT_SIDE`` pixels (``GUESS_CUT_SIDE`` for a
    box guessed around clicks, ``tight=False``).

    GrabCut's smoothness term is per pixel pair while its colour term is per pixel, so the same object
    cut at a small scale (a box of 80 work pixels) often collapses to nothing, and at ~300-400 px it holds
    (measured on DAVIS frame-0 boxes). Returns (mask, labels, models) at work resolution.
    """
    h, w = labels.shape
    x0, y0, x1, y1 = crop
    cw, ch = x1 - x0, y1 - y0
    f = (BOX_CUT_SIDE if tight else GUESS_CUT_SIDE) / max(cw, ch, 1)
    sw, sh = max(2, round(cw * f)), max(2, round(ch * f))
    fx, fy = sw / cw, sh / ch
    window = np.s_[y0:y1, x0:x1]
    sub_image = cv2.resize(np.ascontiguousarray(image[window]), (sw, sh), interpolation=cv2.INTER_LINEAR)
    sub_labels = cv2.resize(np.ascontiguousarray(labels[window]), (sw, sh), interpolation=cv2.INTER_NEAREST)
    sub_box = ((box[0] - x0) * fx, (box[1] - y0) * fy, (box[2] - x0) * fx, (box[3] - y0) * fy)
    sub_points = [((x - x0) * fx, (y - y0) * fy, label) for x, y, label in points]
    sub_mask, sub_labels, models = cut_box(sub_image, sub_labels, (0, 0, sw, sh), sub_box, sub_points, iters,
                                           tight)
    out_labels = labels.copy()
    out_labels[y0:y1, x0:x1] = cv2.resize(sub_labels, (cw, ch), interpolation=cv2.INTER_NEAREST)
    mask = np.zeros((h, w), bool)
    back = cv2.resize(sub_mask.astype(np.float32), (cw, ch), interpolation=cv2.INTER_AREA)
    mask[window] = back >= 0.5
    return keep_components(mask, points, box), out_labels, models
