"""Annotation data of one project: objects and the prompts placed on frames. Qt-free.

Coordinates are always original video pixels (x right, y down). Masks are (H, W) bool arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

# Default object colours, from the colour-blind-safe schemes of Okabe & Ito and of Paul Tol (bright,
# vibrant, muted, light, medium-contrast), ordered so that ids 1-6 (usually on screen together) and any
# two ids up to 2 apart stay distinguishable as blended over the video, also under protanopia,
# deuteranopia and tritanopia; tests/test_palette.py measures it (CIEDE2000). The old order put orange
# (1) next to yellow (4) and repeated near-copies from tab10 further on.
DEFAULT_COLORS = (
    "#ffaabb", "#56b4e9", "#f0e442", "#aa4499", "#cc3311", "#009e73", "#4477aa", "#997700",
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
    color: str = DEFAULT_COLORS[0]
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
