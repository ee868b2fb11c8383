"""app.domain.outline: mask -> editable rings (holes too) -> mask, hit-testing and vertex edits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.domain.outline import Outline, Ring, apply_edit, fill_ring, near_segment, trace

H, W = 240, 320


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def ring_with_hole() -> np.ndarray:
    """A disc with a round hole, and an island inside the hole (a part of its own)."""
    mask = np.zeros((H, W), np.uint8)
    cv2.circle(mask, (120, 120), 50, 1, -1)
    cv2.circle(mask, (120, 120), 18, 0, -1)
    cv2.circle(mask, (120, 120), 6, 1, -1)
    return mask.astype(bool)


def disc(cx: int = 160, cy: int = 120, r: int = 40) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    cv2.circle(mask, (cx, cy), r, 1, -1)
    return mask.astype(bool)


def test_round_trip_keeps_holes_and_islands() -> None:
    mask = ring_with_hole()
    outline = trace(mask)
    assert sorted(r.is_hole for r in outline.rings) == [False, False, True]
    hole = next(r for r in outline.rings if r.is_hole)
    assert not outline.rings[hole.parent].is_hole
    assert iou(outline.to_mask(mask.shape), mask) > 0.98
    # simplified to a manageable number of vertices (the 2x-traced boundary has ~2000 points)
    assert outline.vertex_count < 80
    # unsimplified, the round trip is exact
    assert np.array_equal(trace(mask, 1e-9).to_mask(mask.shape), mask)


@pytest.mark.parametrize("seed", range(3))
def test_unsimplified_round_trip_is_exact_for_specks_lines_and_pinches(seed: int) -> None:
    mask = np.random.default_rng(seed).random((50, 70)) > 0.7  # 1-px specks, diagonal pinches, holes
    mask[10, 5:60] = True  # a one-pixel line
    assert np.array_equal(trace(mask, 1e-9).to_mask(mask.shape), mask)


def test_empty_mask_has_no_rings() -> None:
    outline = trace(np.zeros((H, W), bool))
    assert outline.rings == () and not outline.to_mask((H, W)).any()


def test_fill_uses_pixel_centres_and_even_odd() -> None:
    square = np.array([[2.0, 3.0], [5.0, 3.0], [5.0, 7.0], [2.0, 7.0]])
    filled = fill_ring(square, (10, 10))
    expected = np.zeros((10, 10), bool)
    expected[3:7, 2:5] = True
    assert np.array_equal(filled, expected)
    bow_tie = np.array([[0.0, 0.0], [10.0, 10.0], [10.0, 0.0], [0.0, 10.0]])
    crossed = fill_ring(bow_tie, (10, 10))
    assert crossed[5, 1] and crossed[5, 8] and not crossed[1, 5] and not crossed[8, 5]
    # a ring partly outside the frame fills what lies inside it
    assert fill_ring(np.array([[-5.0, -5.0], [4.0, -5.0], [4.0, 4.0], [-5.0, 4.0]]), (10, 10)).sum() == 16


def rightmost(outline: Outline) -> tuple[int, int]:
    ring = int(np.argmax([r.points[:, 0].max() for r in outline.rings]))
    return ring, int(np.argmax(outline.rings[ring].points[:, 0]))


def test_dragging_a_vertex_out_moves_the_boundary_there_and_nowhere_else() -> None:
    mask = disc()
    outline = trace(mask)
    ref = rightmost(outline)
    x, y = outline.vertex(ref)
    assert x > 199  # the disc's edge at x = 200
    edited = apply_edit(mask, outline, outline.moved(ref, x + 15, y))
    assert edited[int(y), int(x) + 12] and not mask[int(y), int(x) + 12]
    changed = np.argwhere(edited != mask)
    # only around the moved vertex: between its neighbours, and on the outside
    ring = outline.rings[ref[0]].points
    lo, hi = ring[ref[1] - 1], ring[(ref[1] + 1) % len(ring)]
    assert changed[:, 0].min() >= min(lo[1], hi[1]) - 2 and changed[:, 0].max() <= max(lo[1], hi[1]) + 2
    assert changed[:, 1].min() >= min(lo[0], hi[0]) - 2
    assert (edited | ~mask).all()  # dragging out only adds


def test_dragging_a_vertex_in_takes_the_boundary_sliver_along() -> None:
    mask = disc()
    outline = trace(mask)
    ref = rightmost(outline)
    x, y = outline.vertex(ref)
    edited = apply_edit(mask, outline, outline.moved(ref, x - 20, y))
    assert not edited[int(y), int(x) - 5] and mask[int(y), int(x) - 5]
    assert (mask | ~edited).all()  # dragging in only removes
    count, _labels = cv2.connectedComponents(edited.astype(np.uint8))
    assert count == 2  # background + the disc: no thin leftover of the old boundary


def test_an_untouched_outline_changes_nothing_and_a_vertex_on_an_edge_keeps_the_shape() -> None:
    mask = ring_with_hole()
    outline = trace(mask)
    assert np.array_equal(apply_edit(mask, outline, outline), mask)
    hit = outline.nearest_edge(*outline.vertex((0, 0)), radius=3)
    assert hit is not None
    # the midpoint of the first edge of ring 1
    a, b = outline.rings[1].points[0], outline.rings[1].points[1]
    (ref, (ex, ey)) = outline.nearest_edge(*(a + b) / 2, radius=2)
    assert ref == (1, 1) and np.allclose((ex, ey), (a + b) / 2)
    inserted = outline.inserted(ref, ex, ey)
    assert inserted.vertex_count == outline.vertex_count + 1
    assert np.array_equal(inserted.to_mask(mask.shape), outline.to_mask(mask.shape))


def test_a_new_vertex_dragged_out_bulges_the_edge() -> None:
    mask = disc()
    outline = trace(mask)
    ring = outline.rings[0].points
    k = int(np.argmax(ring[:, 1]))  # bottom
    a, b = ring[k], ring[(k + 1) % len(ring)]
    (ref, (ex, ey)) = outline.nearest_edge(*(a + b) / 2, radius=2)
    inserted = outline.inserted(ref, ex, ey)  # the drag of a new vertex starts from this outline
    edited = apply_edit(mask, inserted, inserted.moved(ref, ex, ey + 12))
    assert edited[int(ey) + 8, int(ex)] and not mask[int(ey) + 8, int(ex)]


def test_moving_a_hole_vertex_grows_the_hole() -> None:
    mask = ring_with_hole()
    outline = trace(mask)
    h = next(i for i, r in enumerate(outline.rings) if r.is_hole)
    k = int(np.argmax(outline.rings[h].points[:, 0]))
    x, y = outline.vertex((h, k))
    assert 135 < x < 140  # the hole's right edge at x = 138
    edited = apply_edit(mask, outline, outline.moved((h, k), x + 10, y))
    assert mask[int(y), int(x) + 6] and not edited[int(y), int(x) + 6]


def test_nearest_vertex_respects_the_radius() -> None:
    outline = Outline((Ring(np.array([[10.0, 10.0], [20.0, 10.0], [20.0, 20.0]])),))
    assert outline.nearest_vertex(19, 11, 2) == (0, 1)
    assert outline.nearest_vertex(15, 15, 2) is None
    assert outline.nearest_edge(15, 30, 2) is None
    ref, _foot = outline.nearest_edge(15, 11, 2)
    assert ref == (0, 1)


def test_deleting_vertices_removes_degenerate_rings_with_their_holes() -> None:
    tri = np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 30.0]])
    hole = np.array([[3.0, 3.0], [8.0, 3.0], [3.0, 8.0]])
    other = np.array([[50.0, 50.0], [60.0, 50.0], [60.0, 60.0], [50.0, 60.0]])
    hole2 = np.array([[52.0, 52.0], [55.0, 52.0], [55.0, 55.0]])
    outline = Outline((Ring(tri), Ring(hole, 0), Ring(other), Ring(hole2, 2)))
    smaller = outline.deleted((2, 0))  # a square left a triangle: kept
    assert len(smaller.rings[2].points) == 3
    gone = outline.deleted((0, 1))  # the triangle goes, with its hole; the rest renumbered
    assert len(gone.rings) == 2 and gone.rings[1].parent == 0
    assert np.array_equal(gone.rings[0].points, other)
    mask = outline.to_mask((70, 70))
    assert mask[1, 1] and not mask[4, 4] and mask[58, 58] and not mask[53, 53]
    after = apply_edit(mask, outline, gone)
    assert not after[:40, :40].any() and np.array_equal(after[45:], mask[45:])


def full_frame_edit(mask: np.ndarray, before: Outline, after: Outline) -> np.ndarray:
    """apply_edit's rule computed over the whole frame (apply_edit works in a window)."""
    new = after.to_mask(mask.shape)
    region = before.to_mask(mask.shape) != new
    for start, end in before.edges() ^ after.edges():
        region |= near_segment(start, end, max(before.tolerance, after.tolerance) + 1.0, mask.shape)
    result = mask.copy()
    result[region] = new[region]
    return result


@pytest.mark.parametrize("seed", range(4))
def test_the_windowed_edit_equals_the_whole_frame_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mask = ring_with_hole()
    outline = trace(mask)
    for _ in range(6):
        r = int(rng.integers(len(outline.rings)))
        k = int(rng.integers(len(outline.rings[r].points)))
        kind = rng.integers(3)
        if kind == 0:
            x, y = outline.vertex((r, k))
            after = outline.moved((r, k), *np.clip((x, y) + rng.normal(0, 15, 2), 0, (W, H)))
        elif kind == 1:
            a, b = outline.rings[r].points[k], outline.rings[r].points[(k + 1) % len(outline.rings[r].points)]
            after = outline.inserted((r, k + 1), *((a + b) / 2 + rng.normal(0, 8, 2)))
        else:
            after = outline.deleted((r, k))
        assert np.array_equal(apply_edit(mask, outline, after), full_frame_edit(mask, outline, after))
        mask, outline = apply_edit(mask, outline, after), after
