"""Annotation data of one project: objects and the prompts placed on frames. Qt-free.

Coordinates are always original video pixels (x right, y down). Masks are (H, W) bool arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

# Distinct, colour-blind friendly defaults (Okabe-Ito first, then tab10 leftovers), as "#rrggbb".
DEFAULT_COLORS = (
    "#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7",
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
)


# Object ids are positive and fit in a signed 32-bit integer: engines, SQLite and every export format
# (COCO track_id, YouTube-VIS, MOTS ...) hold them without overflow. DAVIS allows only 1..255.
MAX_OBJECT_ID = 2**31 - 1


def default_color(obj_id: int) -> str:
    return DEFAULT_COLORS[(obj_id - 1) % len(DEFAULT_COLORS)]


@dataclass(frozen=True)
class ObjectInfo:
    """One tracked object (a masklet). ``id`` is the engine's ``obj_id`` and the DAVIS pixel value."""

    id: int
    name: str
    category: str = "object"
    color: str = "#e69f00"
    hidden: bool = False

    def with_changes(self, **changes: object) -> ObjectInfo:
        return replace(self, **changes)


@dataclass(frozen=True)
class Prompt:
    """Everything the user placed for one object on one frame; the engine gets all of it at once.

    points: (N, 2) float pixel coordinates; labels: (N,) int, 1 = positive, 0 = negative;
    box: (x0, y0, x1, y1) pixels or None; mask: (H, W) bool mask prompt (brush edit, import) or None.
    """

    frame: int
    obj_id: int
    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    box: tuple[float, float, float, float] | None = None
    mask: np.ndarray | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if len(self.points) != len(self.labels):
            raise ValueError(
                f"prompt on frame {self.frame} for object {self.obj_id}: "
                f"{len(self.points)} points but {len(self.labels)} labels"
            )

    @property
    def is_empty(self) -> bool:
        return not self.points and self.box is None and self.mask is None

    def with_point(self, x: float, y: float, label: int) -> Prompt:
        return replace(self, points=(*self.points, (float(x), float(y))), labels=(*self.labels, int(label)),
                       mask=None)


@dataclass(frozen=True)
class ObjectSnapshot:
    """Everything stored for one object, still encoded; lets an undo restore a deleted object exactly."""

    info: ObjectInfo
    prompt_rows: tuple[tuple, ...]
    mask_rows: tuple[tuple, ...]
    info_rows: tuple[tuple, ...] = ()     # provenance / confidence (app/domain/quality.py)
    review_rows: tuple[tuple, ...] = ()
