"""The box cut's boundary-connectivity prior (sam3core/classical/boxcut.py, ``background_connected``):
what runs on past a tight box is background, and every cut starts its colour models without it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sam3core.classical import boxcut
from sam3core.classical.boxcut import background_connected
from sam3core.classical.segment import segment_prompt

H, W = 270, 480
BOX = (180.0, 70.0, 301.0, 231.0)  # tight around the object below
FENCE = (230, 120, 40)


def fence_frame(seed: int = 0) -> np.ndarray:
    """Grass, an orange fence right across the frame, and in front of it a blue object holding a
    patch of nearly the fence's colour that does not touch the fence."""
    rng = np.random.default_rng(seed)
    frame = cv2.GaussianBlur(rng.integers(70, 150, (H, W, 3), dtype=np.uint8), (0, 0), 3.0).astype(np.float32)
    frame[..., 1] += 30
    cv2.rectangle(frame, (0, 75), (W, 105), FENCE, -1)
    cv2.ellipse(frame, (240, 150), (60, 80), 0, 0, 360, (40, 60, 190), -1)
    cv2.ellipse(frame, (240, 190), (30, 20), 0, 0, 360, (228, 122, 44), -1)
    frame += rng.normal(0.0, 4.0, frame.shape)
    return np.clip(frame, 0, 255).astype(np.uint8)


def regions() -> tuple[np.ndarray, np.ndarray]:
    obj = np.zeros((H, W), np.uint8)
    cv2.ellipse(obj, (240, 150), (60, 80), 0, 0, 360, 1, -1)
    inside = np.zeros((H, W), bool)
    inside[70:231, 180:301] = True
    fence = np.zeros((H, W), bool)
    fence[75:106] = True
    return obj.astype(bool), fence & inside & ~obj.astype(bool)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_fence_running_on_past_the_box_is_reached_and_the_object_is_not(seed: int) -> None:
    lab = cv2.cvtColor(fence_frame(seed), cv2.COLOR_RGB2LAB)
    obj, fence = regions()
    reached = background_connected(lab, BOX)
    # All of the fence in the box but the rims where the blur mixes it with its neighbours (~9 %).
    assert np.count_nonzero(reached & fence) >= 0.85 * np.count_nonzero(fence)
    # Not the object, and not its fence-coloured patch either: nothing of the same colour joins it to
    # the outside.
    assert np.count_nonzero(reached & obj) <= 0.01 * np.count_nonzero(obj)
    x0, y0, x1, y1 = (int(v) for v in BOX)
    assert not reached[:y0].any() and not reached[y1:].any()  # only the box's pixels are answered for
    assert not reached[:, :x0].any() and not reached[:, x1:].any()


def test_the_cuts_start_with_the_reached_pixels_as_probable_background() -> None:
    lab = cv2.cvtColor(fence_frame(), cv2.COLOR_RGB2LAB)
    obj, fence = regions()
    labels = np.full((H, W), cv2.GC_BGD, np.uint8)
    labels[70:231, 180:301] = cv2.GC_PR_FGD
    labels[85:95, 190:200] = cv2.GC_FGD  # a positive click's disk on the fence is the user's word
    out = boxcut.flood_background(lab, labels, BOX, [])
    assert out is not labels  # a copy: the caller's labels are not changed
    moved = (labels == cv2.GC_PR_FGD) & (out == cv2.GC_PR_BGD)
    assert np.count_nonzero(moved & fence) >= 0.85 * np.count_nonzero(fence) - 100  # less the click's disk
    assert np.all(out[85:95, 190:200] == cv2.GC_FGD)
    assert np.array_equal(out[~moved], labels[~moved])


def test_a_positive_click_on_a_flooded_region_keeps_it_for_the_object() -> None:
    """The annotator says the clicked region is object: the flood leaves it (the fence, here), and
    still takes what it reaches elsewhere."""
    lab = cv2.cvtColor(fence_frame(), cv2.COLOR_RGB2LAB)
    _obj, fence = regions()
    labels = np.full((H, W), cv2.GC_BGD, np.uint8)
    labels[70:231, 180:301] = cv2.GC_PR_FGD
    clicked = boxcut.flood_background(lab, labels, BOX, [(185.0, 90.0, 1)])
    # The object splits the fence in the box in two; the part left of it holds the click.
    left, right = fence.copy(), fence.copy()
    left[:, 190:] = False
    right[:, :290] = False
    assert not np.any((clicked == cv2.GC_PR_BGD) & left)
    assert np.count_nonzero((clicked == cv2.GC_PR_BGD) & right) >= 0.85 * np.count_nonzero(right)
    negative = boxcut.flood_background(lab, labels, BOX, [(185.0, 90.0, 0)])  # a negative click: no
    assert np.count_nonzero((negative == cv2.GC_PR_BGD) & fence) >= 0.85 * np.count_nonzero(fence)


def test_an_object_of_the_backgrounds_colour_is_left_to_the_cut() -> None:
    """Where the flood would take most of the box (the object has the colours around it), the
    labels stay as they are: the prior says nothing there."""
    rng = np.random.default_rng(0)
    flat = np.clip(rng.normal(128.0, 1.0, (H, W, 3)), 0, 255).astype(np.uint8)
    labels = np.full((H, W), cv2.GC_BGD, np.uint8)
    labels[70:231, 180:301] = cv2.GC_PR_FGD
    lab = cv2.cvtColor(flat, cv2.COLOR_RGB2LAB)
    assert np.count_nonzero(background_connected(lab, BOX)) > boxcut.FLOOD_MAX_SHARE * 121 * 161
    assert boxcut.flood_background(lab, labels, BOX, []) is labels


def test_the_box_cut_keeps_the_object_and_leaves_the_fence() -> None:
    obj, fence = regions()
    mask, _memory = segment_prompt(fence_frame(), [], BOX, 5)
    assert np.count_nonzero(mask & obj) / np.count_nonzero(mask | obj) > 0.95
    assert np.count_nonzero(mask & fence) <= 0.05 * np.count_nonzero(fence)


def test_a_box_over_the_whole_frame_has_no_outside_to_flood_from() -> None:
    lab = cv2.cvtColor(fence_frame(), cv2.COLOR_RGB2LAB)
    whole = (0.0, 0.0, float(W), float(H))
    assert not background_connected(lab, whole).any()
    labels = np.full((H, W), cv2.GC_PR_FGD, np.uint8)
    assert boxcut.flood_background(lab, labels, whole, [(10.0, 10.0, 1)]) is labels
