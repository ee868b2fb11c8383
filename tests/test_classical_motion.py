"""Background-like motion inside a carried mask costs evidence (track.background_motion)."""

from __future__ import annotations

import numpy as np

from sam3core.classical.propagate import pixel_grid
from sam3core.classical.track import background_motion, learn_appearance, track_step

H, W = 120, 200


def test_background_like_motion_is_scored_and_object_like_motion_is_not() -> None:
    prior = np.zeros((H, W), bool)
    prior[40:80, 40:100] = True
    flow = np.zeros((H, W, 2), np.float32)  # the background stands still
    flow[40:80, 40:90] = (-6.0, 0.0)  # the object moves 6 px right; its right end is a leak
    score = background_motion(flow, prior & (flow[..., 0] < -1), prior, 4)
    assert score[45:75, 45:85].max() == 0.0  # moves like the object
    assert score[45:75, 92:100].min() > 0.9  # inside the carried outline but still like the background
    # An articulated part moving its own way (as far from the object's motion as from the
    # background's) costs far less than background-like motion.
    flow[40:50, 40:50] = (0.0, -6.0)
    assert background_motion(flow, prior & (flow[..., 0] < -1), prior, 4)[42:48, 42:48].max() < 0.5
    # Object and background moving alike: motion says nothing.
    assert not background_motion(np.zeros_like(flow), prior, prior, 4).any()


def test_object_like_motion_scores_below_zero_only_when_asked() -> None:
    prior = np.zeros((H, W), bool)
    prior[40:80, 40:100] = True
    flow = np.zeros((H, W, 2), np.float32)
    flow[40:80, 40:100] = (-6.0, 0.0)
    flow[40:80, 100:110] = (-6.0, 0.0)  # a part of the object beyond the carried outline
    score = background_motion(flow, prior, prior, 4, low=-1.0)
    assert np.allclose(score[45:75, 101:108], -1.0)  # moves exactly like the object
    assert score[45:75, 120:130].min() >= 0.99  # the still background
    assert background_motion(flow, prior, prior, 4)[45:75, 101:108].max() == 0.0  # default floor 0


def test_motion_reward_claims_an_ambiguous_part_that_moves_with_the_object() -> None:
    # The object moves 6 px right over a still background. Its right end was left undecided on the
    # previous frame (soft 0.45) and its colour lies close to the background's: without the reward
    # most of it is lost; moving exactly like the object, with the reward it is kept.
    rng = np.random.default_rng(0)
    image = np.full((H, W, 3), 128, np.uint8)
    image[40:80, 46:100] = (150, 150, 150)
    image[40:80, 100:110] = (146, 146, 146)
    image = np.clip(image + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)
    carried = np.zeros((H, W), bool)
    carried[40:80, 46:100] = True
    model = learn_appearance(image, carried, 4)
    assert model is not None
    soft = np.zeros((H, W), np.float32)
    soft[40:80, 40:94] = 1.0
    soft[40:80, 94:104] = 0.45
    flow = np.zeros((H, W, 2), np.float32)
    flow[40:80, 40:110] = (-6.0, 0.0)
    grid = pixel_grid(H, W)
    part = np.s_[45:75, 101:109]
    common = dict(colour_weight=1.0, reach_px=12, prior_blur=0.0, ref_area=float(carried.sum()),
                  motion_contrast=2.0)
    without = track_step(soft, flow, grid, image, model, motion_reward=0.0, **common)
    rewarded = track_step(soft, flow, grid, image, model, motion_reward=0.5, **common)
    assert without.mask[part].mean() < 0.5
    assert rewarded.mask[part].mean() > 0.85
    assert not rewarded.mask[45:75, 115:140].any()  # the still background is not claimed
