"""DAVIS J/F metrics on hand-made masks whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sam3core.eval.metrics import (
    boundary_f_measure,
    boundary_map,
    boundary_tolerance,
    evaluate_sequence,
    region_similarity,
)


def square(h: int, w: int, y0: int, x0: int, size: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y0 + size, x0:x0 + size] = True
    return m


def test_identical_masks_score_one() -> None:
    m = square(100, 120, 20, 30, 40)
    assert region_similarity(m, m) == 1.0
    assert boundary_f_measure(m, m) == 1.0


def test_disjoint_masks_score_zero() -> None:
    a = square(200, 200, 10, 10, 30)
    b = square(200, 200, 150, 150, 30)
    assert region_similarity(a, b) == 0.0
    # far apart (> tolerance of ceil(0.008 * 283) = 3 px): no boundary pixel matches
    assert boundary_f_measure(a, b) == 0.0


def test_empty_cases() -> None:
    empty = np.zeros((50, 60), bool)
    m = square(50, 60, 10, 10, 10)
    assert region_similarity(empty, empty) == 1.0
    assert boundary_f_measure(empty, empty) == 1.0
    assert region_similarity(m, empty) == 0.0
    assert region_similarity(empty, m) == 0.0
    assert boundary_f_measure(m, empty) == 0.0
    assert boundary_f_measure(empty, m) == 0.0


def test_iou_of_overlapping_squares() -> None:
    a = square(100, 100, 0, 0, 20)  # 400 px
    b = square(100, 100, 0, 10, 20)  # overlaps 200 px
    assert region_similarity(a, b) == pytest.approx(200 / 600)


def test_boundary_map_is_one_pixel_outline() -> None:
    m = square(20, 20, 5, 5, 6)
    b = boundary_map(m)
    # seg2bmap marks pixels whose right/lower neighbour differs: the inner outline on the top/left
    # sides and the outer one on the bottom/right, a closed 1-px ring
    assert b.sum() == 4 * 6
    assert not b[8, 8]


def test_tolerance_follows_the_diagonal() -> None:
    assert boundary_tolerance(540, 960) == math.ceil(0.008 * math.hypot(540, 960)) == 9
    assert boundary_tolerance(100, 100, bound_th=3) == 3


def test_shift_within_tolerance_keeps_f_but_lowers_j() -> None:
    h, w = 540, 960  # tolerance 9 px
    a = square(h, w, 100, 100, 200)
    within = np.roll(a, 8, axis=1)
    beyond = np.roll(a, 30, axis=1)
    assert boundary_f_measure(a, within) == 1.0
    assert region_similarity(a, within) < 1.0
    # shifted 30 px: only the top/bottom edges still match (apart from 30 px), the sides do not
    f = boundary_f_measure(a, beyond)
    assert 0.4 < f < 0.8


def test_shape_mismatch_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="differ in size"):
        region_similarity(np.zeros((4, 4), bool), np.zeros((5, 4), bool))
    with pytest.raises(ValueError, match="2-D"):
        boundary_f_measure(np.zeros((4, 4, 3), bool), np.zeros((4, 4, 3), bool))


def test_evaluate_sequence_label_maps_and_dicts_agree() -> None:
    gt = []
    pred = []
    for t in range(5):
        labels = np.zeros((60, 80), np.uint8)
        labels[10:30, 5 + t:25 + t] = 1
        labels[35:55, 40:70] = 2
        gt.append(labels)
        p = labels.copy()
        p[p == 2] = 0  # object 2 missed entirely
        pred.append(p)
    scores = evaluate_sequence(pred, gt)
    assert [o.obj_id for o in scores.objects] == [1, 2]
    assert scores.objects[0].j_mean == 1.0 and scores.objects[0].f_mean == 1.0
    assert scores.objects[1].j_mean == 0.0 and scores.objects[1].f_mean == 0.0
    assert scores.jf_mean == pytest.approx(0.5)
    as_dicts = evaluate_sequence([{1: p == 1} for p in pred], gt)
    assert as_dicts.jf_mean == pytest.approx(scores.jf_mean)
    trimmed = evaluate_sequence(pred, gt, exclude_first_last=True)
    assert len(trimmed.objects[0].j_per_frame) == 3


def test_evaluate_sequence_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="frames"):
        evaluate_sequence([np.zeros((4, 4))], [np.zeros((4, 4)), np.zeros((4, 4))])
    with pytest.raises(ValueError, match="empty"):
        evaluate_sequence([], [])
