"""Post-processing of predicted mask logits.

SAM 2.1's official video predictor is built with ``fill_hole_area=8``: after each frame's prediction,
connected background regions (logit <= 0, 8-connectivity) of at most that many low-res pixels become
foreground with a logit of 0.1. Meta's implementation is a CUDA kernel; without it (any CPU run) the step
is skipped with a warning. Ours runs the same rule through OpenCV on any device.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

FILLED_LOGIT = 0.1


def fill_small_holes(logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """(N, 1, H, W) logits -> the same with background components of <= ``max_area`` pixels set to 0.1.

    A component touching the border counts too (the reference labels every background component).
    Returns ``logits`` itself when nothing changes.
    """
    if max_area <= 0:
        return logits
    background = (logits <= 0).to("cpu", torch.uint8).numpy()  # (N, 1, H, W)
    fill = np.zeros(background.shape, dtype=bool)
    for i in range(background.shape[0]):
        count, labels, stats, _ = cv2.connectedComponentsWithStats(background[i, 0], connectivity=8)
        small = np.flatnonzero(stats[1:count, cv2.CC_STAT_AREA] <= max_area) + 1  # label 0: foreground
        if small.size:
            fill[i, 0] = np.isin(labels, small)
    if not fill.any():
        return logits
    holes = torch.from_numpy(fill).to(logits.device)
    return torch.where(holes, torch.full_like(logits, FILLED_LOGIT), logits)
