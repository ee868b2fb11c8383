"""Hole filling of predicted logits (the official SAM 2.1 video predictor's fill_hole_area rule)."""

from __future__ import annotations

import torch

from sam3core.sam.postprocess import FILLED_LOGIT, fill_small_holes


def _logits(background: list[tuple[slice, slice]], size: int = 16) -> torch.Tensor:
    out = torch.full((1, 1, size, size), 5.0)
    for rows, cols in background:
        out[0, 0, rows, cols] = -3.0
    return out


def test_small_background_regions_become_foreground_and_large_ones_stay() -> None:
    logits = _logits([(slice(2, 4), slice(2, 4)),  # 4 px hole: filled
                      (slice(8, 11), slice(8, 11)),  # 9 px hole: kept with max_area 8
                      (slice(0, 1), slice(14, 16))])  # 2 px on the border: filled too (any component)
    out = fill_small_holes(logits, 8)
    assert torch.all(out[0, 0, 2:4, 2:4] == FILLED_LOGIT)
    assert torch.all(out[0, 0, 8:11, 8:11] == -3.0)
    assert torch.all(out[0, 0, 0, 14:16] == FILLED_LOGIT)
    foreground = logits > 0
    assert torch.equal(out[foreground], logits[foreground])  # foreground logits untouched


def test_diagonal_neighbours_are_one_region() -> None:
    # 8-connectivity: a diagonal chain of 9 pixels is one 9-pixel region, not nine 1-pixel holes
    logits = torch.full((1, 1, 12, 12), 2.0)
    for i in range(9):
        logits[0, 0, 1 + i, 1 + i] = -1.0
    assert fill_small_holes(logits, 8) is logits


def test_each_object_is_filled_on_its_own_and_zero_area_is_a_no_op() -> None:
    first = _logits([(slice(4, 6), slice(4, 6))])
    both = torch.cat([first, torch.full_like(first, -2.0)])  # second object: all background (256 px)
    out = fill_small_holes(both, 8)
    assert torch.all(out[0, 0, 4:6, 4:6] == FILLED_LOGIT)
    assert torch.equal(out[1], both[1])
    assert fill_small_holes(both, 0) is both
