"""Validation and conversion of user prompts (clicks, boxes, masks) into model coordinates."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sam3core.errors import MaskError
from sam3core.sam.inference_state import PointPrompt
from sam3core.validate import check_prompt


def to_point_prompt(points: Any, labels: Any, box: Any, *, rel_coordinates: bool, video_width: int,
                    video_height: int, image_size: int) -> PointPrompt:
    """Clicks (P, 2) x/y + labels (P,) and/or a box (4,) x0,y0,x1,y1 -> a prompt in model pixels.

    A box becomes the first two points with labels 2 and 3, as the model was trained.
    Coordinates are 0..1 of the frame with ``rel_coordinates`` (default), else video pixels; they are
    checked by :func:`sam3core.validate.check_prompt` (finite, inside the frame, labels 0/1, not empty),
    the same check the command line and the project store use.
    """
    checked = check_prompt(points, labels, box, width=video_width, height=video_height,
                           rel_coordinates=rel_coordinates)
    coords = torch.as_tensor(checked.points, dtype=torch.float32).reshape(-1, 2)
    label_t = torch.as_tensor(checked.labels, dtype=torch.int32).reshape(-1)
    if checked.box is not None:
        box_t = torch.as_tensor(checked.box, dtype=torch.float32)
        coords = torch.cat([box_t.reshape(2, 2), coords], dim=0)
        label_t = torch.cat([torch.tensor([2, 3], dtype=torch.int32), label_t], dim=0)
    coords = coords.unsqueeze(0)  # (1, P, 2)
    if rel_coordinates:
        coords = coords * image_size
    else:
        coords = coords / torch.tensor([video_width, video_height], dtype=torch.float32) * image_size
    return PointPrompt(coords=coords, labels=label_t.unsqueeze(0))


def concat_prompts(old: PointPrompt | None, new: PointPrompt) -> PointPrompt:
    if old is None:
        return new
    return PointPrompt(torch.cat([old.coords, new.coords], dim=1), torch.cat([old.labels, new.labels], dim=1))


def limit_points(prompt: PointPrompt, max_points: int) -> PointPrompt:
    """Keep the first n//2 and the last n - n//2 clicks when more than ``max_points`` (> 0) are given."""
    count = prompt.labels.shape[1]
    if max_points <= 0 or count <= max_points:
        return prompt
    first = max_points // 2
    last = max_points - first
    keep = list(range(first)) + list(range(count - last, count))
    return PointPrompt(prompt.coords[:, keep], prompt.labels[:, keep])


def to_mask_input(mask: Any, image_size: int, video_height: int, video_width: int) -> torch.Tensor:
    """A (H, W) mask at the video's size (bool, or numbers: > 0 is the object) -> (1, 1, S, S) float 0/1 at
    the model's input size."""
    try:
        mask_t = mask.detach().cpu() if isinstance(mask, torch.Tensor) else torch.as_tensor(np.asarray(mask))
    except (TypeError, ValueError) as exc:
        raise MaskError(f"mask must be an array of bools or numbers, got {type(mask).__name__}") from exc
    while mask_t.dim() > 2 and mask_t.shape[0] == 1:
        mask_t = mask_t[0]
    if mask_t.dim() != 2:
        raise MaskError(f"mask must be 2-D (H, W); got shape {tuple(mask_t.shape)}")
    if tuple(mask_t.shape) != (video_height, video_width):
        # never resized: a mask of another size is almost always the wrong one (sam3core.engine)
        raise MaskError(f"mask of shape {tuple(mask_t.shape)} does not match the video's "
                        f"{video_height}x{video_width} frames")
    if mask_t.is_floating_point() and not bool(torch.isfinite(mask_t).all()):
        raise MaskError("mask holds NaN or infinity")
    mask_in = (mask_t > 0).float()[None, None]  # (1, 1, H, W); > 0 (True) is the object
    if mask_in.shape[-2:] != (image_size, image_size):
        mask_in = F.interpolate(mask_in, size=(image_size, image_size), mode="bilinear", align_corners=False,
                                antialias=True)
        mask_in = (mask_in >= 0.5).float()
    return mask_in
