"""Validation and conversion of user prompts (clicks, boxes, masks) into model coordinates."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sam3core.errors import MaskError, PromptError
from sam3core.sam.inference_state import PointPrompt


def _as_float_tensor(value: Any, what: str) -> torch.Tensor:
    try:
        if isinstance(value, torch.Tensor):
            return value.detach().to("cpu", torch.float32)
        return torch.as_tensor(np.asarray(value, dtype=np.float32))
    except (TypeError, ValueError) as exc:
        raise PromptError(f"{what} must be numbers (list, numpy array or tensor), got {value!r}") from exc


def to_point_prompt(points: Any, labels: Any, box: Any, *, rel_coordinates: bool, video_width: int,
                    video_height: int, image_size: int) -> PointPrompt:
    """Clicks (P, 2) x/y + labels (P,) and/or a box (4,) x0,y0,x1,y1 -> a prompt in model pixels.

    A box becomes the first two points with labels 2 and 3, as the model was trained.
    Coordinates are 0..1 of the frame with ``rel_coordinates`` (default), else video pixels.
    """
    if (points is None) != (labels is None):
        raise PromptError("points and labels must be given together")
    if points is None and box is None:
        raise PromptError("give points with labels, a box, or both")
    if points is None:
        coords = torch.zeros(0, 2)
        label_t = torch.zeros(0, dtype=torch.int32)
    else:
        coords = _as_float_tensor(points, "points")
        if coords.dim() == 3 and coords.shape[0] == 1:
            coords = coords[0]
        if coords.dim() != 2 or coords.shape[1] != 2:
            raise PromptError(f"points must have shape (P, 2) as x, y; got {tuple(coords.shape)}")
        label_t = _as_float_tensor(labels, "labels")
        if label_t.dim() == 2 and label_t.shape[0] == 1:
            label_t = label_t[0]
        if label_t.dim() != 1 or label_t.shape[0] != coords.shape[0]:
            raise PromptError(f"{coords.shape[0]} points but labels of shape {tuple(label_t.shape)}; "
                             "give one label per point")
        if not bool(torch.all((label_t == 0) | (label_t == 1))):
            raise PromptError("click labels must be 1 (positive) or 0 (negative)")
        label_t = label_t.to(torch.int32)
    if box is not None:
        box_t = _as_float_tensor(box, "box").reshape(-1)
        if box_t.numel() != 4:
            raise PromptError(f"box must be 4 numbers x_min, y_min, x_max, y_max; got {box_t.numel()}")
        coords = torch.cat([box_t.reshape(2, 2), coords], dim=0)
        label_t = torch.cat([torch.tensor([2, 3], dtype=torch.int32), label_t], dim=0)
    if not bool(torch.isfinite(coords).all()):
        raise PromptError("point/box coordinates must be finite numbers")
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
