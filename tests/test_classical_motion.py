"""Background-like motion inside a carried mask costs evidence (track.background_motion)."""

from __future__ import annotations

import numpy as np

from sam3core.classical.track import background_motion

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
