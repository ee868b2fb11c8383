"""The box cut's short-cuts give exactly the masks of the plain computation (sam3core/classical/boxcut.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam3core.classical import boxcut
from sam3core.classical.boxcut import cut_box
from sam3core.classical.grabcut import first_models, run_grabcut

H, W = 150, 200
BOX = (50.0, 30.0, 150.0, 125.0)


def blob_frame(seed: int = 0) -> np.ndarray:
    """A two-coloured object (with a patch like the background) on a noisy, textured background."""
    rng = np.random.default_rng(seed)
    frame = cv2.GaussianBlur(rng.integers(60, 200, (H, W, 3), dtype=np.uint8), (0, 0), 2.0).astype(np.float32)
    cv2.ellipse(frame, (100, 78), (45, 40), 0, 0, 360, (200, 60, 50), -1)
    cv2.rectangle(frame, (80, 85), (125, 118), (40, 90, 170), -1)
    cv2.circle(frame, (85, 60), 9, (130, 130, 120), -1)
    frame += rng.normal(0.0, 8.0, frame.shape)
    return np.clip(frame, 0, 255).astype(np.uint8)


def box_labels() -> np.ndarray:
    labels = np.full((H, W), cv2.GC_BGD, np.uint8)
    x0, y0, x1, y1 = (int(v) for v in BOX)
    labels[y0:y1, x0:x1] = cv2.GC_PR_FGD
    return labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_models_are_grabcuts_models_after_one_iteration(seed: int) -> None:
    lab = cv2.cvtColor(blob_frame(seed), cv2.COLOR_RGB2LAB)
    labels = box_labels()
    labels[60:90, 90:110] = cv2.GC_FGD
    expected = run_grabcut(lab, labels.copy(), (0, 0, W, H), 1, None, lab=True)
    got = first_models(lab, labels, (0, 0, W, H))
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])


def test_grabcut_continued_step_by_step_is_the_uninterrupted_run() -> None:
    lab = cv2.cvtColor(blob_frame(), cv2.COLOR_RGB2LAB)
    whole = box_labels()
    run_grabcut(lab, whole, (0, 0, W, H), 4, None, lab=True)
    steps = box_labels()
    models = run_grabcut(lab, steps, (0, 0, W, H), 1, None, lab=True)
    for _ in range(3):
        models = run_grabcut(lab, steps, (0, 0, W, H), 1, models, lab=True)
    assert np.array_equal(steps, whole)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_box_chain_stops_once_a_step_moves_almost_nothing(seed: int, monkeypatch) -> None:
    """Later GrabCut steps that move (almost) no pixel are not run: they cost 70 ms each on a real box
    (docs/classical.md, "Click latency"); the chain ends where the uninterrupted run ends."""
    lab = cv2.cvtColor(blob_frame(seed), cv2.COLOR_RGB2LAB)
    short = boxcut._iterated_chain(lab, box_labels(), (0, 0, W, H), 4, None)
    monkeypatch.setattr(boxcut, "SETTLED", 0.0)
    full = boxcut._iterated_chain(lab, box_labels(), (0, 0, W, H), 4, None)
    assert len(full) == 4 and len(short) == 2  # the second step moved nothing on this clean object
    assert np.array_equal(short[-1][0], full[-1][0])


def _cut(image: np.ndarray, labels: np.ndarray, points: list) -> tuple[np.ndarray, np.ndarray]:
    mask, out, _models = cut_box(image, labels, (0, 0, W, H), BOX, points, 4)
    return mask, out


@pytest.mark.parametrize("click", [(100.0, 70.0), (100.0, 100.0), (60.0, 40.0)])
def test_a_click_after_the_box_gives_the_mask_of_a_cut_from_scratch(click: tuple[float, float]) -> None:
    image = blob_frame()
    points = [(click[0], click[1], 1)]
    seeded = box_labels()
    cv2.circle(seeded, (int(click[0]), int(click[1])), 3, cv2.GC_FGD, -1)
    boxcut._RECENT.clear()
    scratch = _cut(image, seeded, points)
    boxcut._RECENT.clear()
    _cut(image, box_labels(), [])  # the box first: its steps are kept
    continued = _cut(image, seeded, points)
    assert np.array_equal(continued[0], scratch[0]) and np.array_equal(continued[1], scratch[1])


def test_kept_steps_of_another_image_are_not_used() -> None:
    boxcut._RECENT.clear()
    _cut(blob_frame(0), box_labels(), [])
    assert boxcut._resume((0, (H, W, 3), (0, 0, W, H), BOX), box_labels()) is None
    other = blob_frame(5)
    expected = _cut(other, box_labels(), [])
    boxcut._RECENT.clear()
    assert np.array_equal(_cut(other, box_labels(), [])[0], expected[0])


def _collapse_every_cut(monkeypatch) -> None:
    """Make the three GrabCut cuts of a box come out empty, as on DAVIS flamingo and dog-agility
    (the margin holds the object's colours too); the fallback itself runs for real."""

    def empty_chain(lab, start, crop, iters, kept):
        out = start.copy()
        out[out == cv2.GC_PR_FGD] = cv2.GC_PR_BGD
        return [(out, (np.zeros((1, 65)), np.zeros((1, 65))))] * max(iters, 1)

    def empty_core(lab, labels, crop, box, kept, unwanted):
        out = labels.copy()
        out[out == cv2.GC_PR_FGD] = cv2.GC_PR_BGD
        return (np.zeros((1, 65)), np.zeros((1, 65))), out, (np.zeros((1, 65)), np.zeros((1, 65)))

    monkeypatch.setattr(boxcut, "_iterated_chain", empty_chain)
    monkeypatch.setattr(boxcut, "_core_cut", empty_core)


def test_a_box_whose_cuts_all_collapse_falls_back_to_its_distinctive_colours(monkeypatch) -> None:
    _collapse_every_cut(monkeypatch)
    frame = blob_frame(3)
    mask, _labels, _models = cut_box(frame, box_labels(), (0, 0, W, H), BOX, [], 4)
    truth = np.zeros((H, W), np.uint8)
    cv2.ellipse(truth, (100, 78), (45, 40), 0, 0, 360, 1, -1)
    truth = truth > 0
    iou = np.count_nonzero(mask & truth) / np.count_nonzero(mask | truth)
    assert iou > 0.7  # not an empty object: the red ellipse's colours are rare around the box


def test_no_fallback_while_a_cut_holds(monkeypatch) -> None:
    called = []
    monkeypatch.setattr(boxcut, "_colour_seeds", lambda *a: called.append(1))
    mask, _labels, _models = cut_box(blob_frame(0), box_labels(), (0, 0, W, H), BOX, [], 4)
    assert mask.any() and not called


def legged_frame() -> tuple[np.ndarray, np.ndarray]:
    """A red body on two thin legs that reach the bottom of ``BOX``, on a textured background; and
    the object's true mask."""
    rng = np.random.default_rng(4)
    frame = cv2.GaussianBlur(rng.integers(60, 200, (H, W, 3), dtype=np.uint8), (0, 0), 2.0).astype(np.float32)
    truth = np.zeros((H, W), np.uint8)
    for canvas, colour in ((frame, (200, 60, 50)), (truth, 1)):
        cv2.ellipse(canvas, (100, 60), (45, 28), 0, 0, 360, colour, -1)
        for x in (75, 125):
            cv2.line(canvas, (x, 80), (x, 124), colour, 4)
    frame += rng.normal(0.0, 8.0, frame.shape)
    return np.clip(frame, 0, 255).astype(np.uint8), truth > 0


def test_pinpoint_brings_back_the_legs_a_cut_dropped() -> None:
    image, truth = legged_frame()
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    dropped = truth.copy()
    dropped[90:] = False  # what GrabCut does to thin parts at a box's side: they are background
    labels = box_labels()
    labels[(labels == cv2.GC_PR_FGD) & ~dropped] = cv2.GC_PR_BGD
    models = first_models(lab, labels, (0, 0, W, H))
    boxcut._RECENT.clear()
    mask, out, _models = boxcut.pinpoint(lab, ("legs",), dropped, labels, (0, 0, W, H), BOX, [], models)
    legs = truth.copy()
    legs[:90] = False
    assert np.all(mask[dropped])  # the union: nothing the cut had is lost
    assert np.count_nonzero(mask & legs) > 0.8 * np.count_nonzero(legs)
    assert np.count_nonzero(mask & ~truth) < 0.05 * np.count_nonzero(truth)
    assert np.array_equal(np.isin(out, (cv2.GC_FGD, cv2.GC_PR_FGD)) & mask, mask)  # labels hold the mask


def test_pinpoint_leaves_a_cut_that_crosses_the_whole_box() -> None:
    image, truth = legged_frame()
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    labels = box_labels()
    whole = np.zeros_like(truth)
    whole[30:125, 50:150] = True  # crosses every row and column of BOX
    models = first_models(lab, labels, (0, 0, W, H))
    mask, out, got_models = boxcut.pinpoint(lab, ("whole",), whole, labels, (0, 0, W, H), BOX, [], models)
    assert mask is whole and out is labels and got_models is models
