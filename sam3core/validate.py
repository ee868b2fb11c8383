"""The one check of user prompts (clicks, boxes, mask prompts), shared by every way in. Qt-free.

``masklet track``'s prompts file, the GUI's clicks, :meth:`Project.set_prompt <app.domain.project.Project>`,
the SAM predictor and the classical engine all call :func:`check_prompt` (and :func:`check_mask`), so
nothing the command line refuses can reach a project or a model another way. Everything wrong raises
:class:`~sam3core.errors.PromptError` (a ``ValueError``) or :class:`~sam3core.errors.MaskError` whose
message says which value and what is allowed.

Rules: points are (N, 2) finite x, y with one label each, 1 (on the object) or 0 (not on it); a box is
four finite numbers x0 < x1, y0 < y1; both lie inside the image. In pixels a point has
``0 <= x < width``, ``0 <= y < height`` (it falls on a pixel) and a box ``0 <= x0``, ``x1 <= width``
(pixel edges); with ``rel_coordinates`` everything lies in 0..1. A prompt has a point or a box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sam3core.errors import MaskError, PromptError

__all__ = ["CheckedPrompt", "check_box", "check_mask", "check_points", "check_prompt"]

# Relative coordinates computed as x / width may land a hair outside 0..1; that is no error.
_EDGE_SLACK = 1e-6


@dataclass(frozen=True)
class CheckedPrompt:
    """A prompt that passed: points (N, 2) float64, labels (N,) int64, box (4,) float64 or None."""

    points: np.ndarray
    labels: np.ndarray
    box: np.ndarray | None


def _numbers(value: Any, what: str) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, without importing torch here
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise PromptError(f"{what} must be numbers, got {_show(value)}") from exc
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise PromptError(f"{what} must be numbers (list, numpy array or tensor), got {_show(value)}")
    if array.dtype.kind == "b":
        raise PromptError(f"{what} must be numbers, not booleans: {_show(value)}")
    return array.astype(np.float64)


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _limits(width: float, height: float, rel_coordinates: bool) -> tuple[float, float]:
    if rel_coordinates:
        return 1.0, 1.0
    if not (width > 0 and height > 0):
        raise PromptError(f"the image size {width}x{height} is not positive")
    return float(width), float(height)


def check_points(points: Any, labels: Any, *, width: float, height: float,
                 rel_coordinates: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) or (1, N, 2) points and (N,) or (1, N) labels -> float64 (N, 2) and int64 (N,) arrays."""
    if (points is None) != (labels is None):
        raise PromptError("points and labels must be given together")
    if points is None:
        return np.zeros((0, 2)), np.zeros(0, np.int64)
    coords = _numbers(points, "points")
    if coords.ndim == 3 and coords.shape[0] == 1:
        coords = coords[0]
    if coords.size == 0:
        coords = coords.reshape(0, 2)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise PromptError(f"points must have shape (N, 2) as x, y; got shape {tuple(coords.shape)}")
    marks = _numbers(labels, "labels")
    if marks.ndim == 2 and marks.shape[0] == 1:
        marks = marks[0]
    if marks.ndim != 1 or marks.shape[0] != coords.shape[0]:
        raise PromptError(f"{coords.shape[0]} point(s) but labels of shape {tuple(marks.shape)}; "
                          "give one label per point")
    if not np.isfinite(coords).all():
        bad = int(np.flatnonzero(~np.isfinite(coords).all(axis=1))[0])
        raise PromptError(f"point {bad} {coords[bad].tolist()} is not finite (NaN or infinity)")
    wrong = ~np.isin(marks, (0.0, 1.0))
    if wrong.any():
        bad = int(np.flatnonzero(wrong)[0])
        raise PromptError(f"label {bad} is {marks[bad]:g}; labels are 1 (on the object) or 0 (not on it)")
    max_x, max_y = _limits(width, height, rel_coordinates)
    slack_x, slack_y = (_EDGE_SLACK, _EDGE_SLACK) if rel_coordinates else (0.0, 0.0)
    if rel_coordinates:  # the seed API's 0..1, both ends included
        beyond = (coords[:, 0] > max_x + slack_x) | (coords[:, 1] > max_y + slack_y)
    else:  # a pixel click must land on a pixel: x < width
        beyond = (coords[:, 0] >= max_x) | (coords[:, 1] >= max_y)
    outside = (coords[:, 0] < -slack_x) | (coords[:, 1] < -slack_y) | beyond
    if outside.any():
        bad = int(np.flatnonzero(outside)[0])
        x, y = coords[bad]
        where = _frame(width, height, rel_coordinates)
        raise PromptError(f"point {bad} ({x:g}, {y:g}) is outside the {where}")
    return coords, marks.astype(np.int64)


def check_box(box: Any, *, width: float, height: float, rel_coordinates: bool = False) -> np.ndarray | None:
    """(4,) x0, y0, x1, y1 (or (1, 4)) -> float64 (4,); None passes through."""
    if box is None:
        return None
    values = _numbers(box, "box").reshape(-1)
    if values.size != 4:
        raise PromptError(f"box must be 4 numbers x0, y0, x1, y1; got {values.size}")
    if not np.isfinite(values).all():
        raise PromptError(f"box {values.tolist()} is not finite (NaN or infinity)")
    x0, y0, x1, y1 = values.tolist()
    if not (x0 < x1 and y0 < y1):
        raise PromptError(f"box {_fmt(values)} is inverted or empty (need x0 < x1 and y0 < y1)")
    max_x, max_y = _limits(width, height, rel_coordinates)
    slack = _EDGE_SLACK if rel_coordinates else 0.0
    if x0 < -slack or y0 < -slack or x1 > max_x + slack or y1 > max_y + slack:
        raise PromptError(f"box {_fmt(values)} reaches outside the {_frame(width, height, rel_coordinates)}")
    return values


def check_prompt(points: Any = None, labels: Any = None, box: Any = None, *, width: float, height: float,
                 rel_coordinates: bool = False) -> CheckedPrompt:
    """Points with labels and/or a box; at least one point or the box."""
    coords, marks = check_points(points, labels, width=width, height=height, rel_coordinates=rel_coordinates)
    checked_box = check_box(box, width=width, height=height, rel_coordinates=rel_coordinates)
    if len(coords) == 0 and checked_box is None:
        raise PromptError("the prompt is empty: give at least one point or a box (each point with its label)")
    return CheckedPrompt(coords, marks, checked_box)


def check_mask(mask: Any, *, height: int, width: int) -> np.ndarray:
    """A mask prompt -> (H, W) bool; (1, H, W) is accepted, any other shape and non-finite values are not."""
    if hasattr(mask, "detach"):
        mask = mask.detach().cpu().numpy()
    try:
        array = np.asarray(mask)
    except (TypeError, ValueError) as exc:
        raise MaskError(f"mask must be an array, got {_show(mask)}") from exc
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise MaskError(f"mask must be 2-D (H, W); got shape {tuple(np.shape(mask))}")
    if tuple(array.shape) != (height, width):
        raise MaskError(f"mask of shape {tuple(array.shape)} differs from the video's (H, W) = "
                        f"({height}, {width})")
    if array.dtype == bool:
        return array
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise MaskError(f"mask must be bool or numbers, got dtype {array.dtype}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise MaskError("mask holds NaN or infinity")
    return array > 0


def _fmt(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values.tolist()) + "]"


def _frame(width: float, height: float, rel_coordinates: bool) -> str:
    if rel_coordinates:
        return "frame (relative coordinates lie in [0, 1]; pass rel_coordinates=False for pixels)"
    return f"{_num(width)}x{_num(height)} image"


def _num(value: float) -> str:
    return str(int(value)) if math.isfinite(value) and float(value).is_integer() else f"{value:g}"
