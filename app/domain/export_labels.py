"""One value per pixel, for the label-map formats (DAVIS, MOTS PNG and txt): overlap rules and tallies.

A project stores one mask per object, and masks may overlap (a person and the bag they hold). A
label map keeps one object per pixel, so overlapping pixels must go to one of them. The rule is the
user's choice; whatever it is, every overlap is counted and reported, never silently resolved.

- ``higher-id``: the object with the higher id wins (painted in ascending id order).
- ``lower-id``: the object with the lower id wins (what SAM 2's ``tools/vos_inference.py`` writes).
- ``smaller-on-top``: the object with the smaller mask on that frame wins, so a small object in
  front of a large one stays visible (ties go to the higher id).
- ``error``: refuse to export; the message names the first frame and objects that overlap.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from app.domain.rle import MaskRecord

OVERLAP_RULES = ("higher-id", "lower-id", "smaller-on-top", "error")

# Messages for the user (the CLI prints them on stderr, the GUI shows them); None where unwanted.
Notes = list[str] | None


class OverlapError(ValueError):
    """``--overlap error`` and two objects share pixels; the message names the frame and objects."""


@dataclass
class OverlapTally:
    """Overlaps met while painting label maps, over all frames of one export."""

    rule: str = "higher-id"
    frames: int = 0                 # frames with at least one pixel covered by two or more objects
    pixels: int = 0                 # such pixels, summed over frames
    lost: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # obj_id -> pixels given away

    def as_dict(self) -> dict:
        return {"rule": self.rule, "frames": self.frames, "pixels": self.pixels,
                "pixels_lost_per_object": {str(k): v for k, v in sorted(self.lost.items()) if v}}

    def note(self, fmt: str) -> str | None:
        if not self.pixels:
            return None
        lost = ", ".join(f"object {k} lost {v}" for k, v in sorted(self.lost.items()) if v)
        return (f"{fmt}: {self.pixels} pixel(s) on {self.frames} frame(s) were covered by more than one "
                f"object and went to one of them (--overlap {self.rule}): {lost}")


def check_rule(rule: str) -> str:
    if rule not in OVERLAP_RULES:
        raise ValueError(f"unknown overlap rule {rule!r}; choose one of {', '.join(OVERLAP_RULES)}")
    return rule


def _paint_order(records: list[MaskRecord], rule: str) -> list[MaskRecord]:
    if rule == "lower-id":
        return sorted(records, key=lambda r: -r.obj_id)
    if rule == "smaller-on-top":
        return sorted(records, key=lambda r: (-r.area, r.obj_id))
    return sorted(records, key=lambda r: r.obj_id)


def paint_labels(records: list[MaskRecord], values: dict[int, int], shape: tuple[int, int],
                 tally: OverlapTally, *, frame: int, dtype: type = np.uint8) -> np.ndarray:
    """(H, W) label map: 0 background, ``values[obj_id]`` where that object's mask is.

    Records of objects missing from ``values`` and empty records are left out. Overlaps are
    resolved by ``tally.rule`` and counted in ``tally`` (or raise :class:`OverlapError`).
    """
    present = [r for r in records if r.area and r.obj_id in values]
    labels = np.zeros(shape, dtype)
    if not present:
        return labels
    masks = {r.obj_id: r.decode() for r in present}
    coverage = np.zeros(shape, np.uint8) if len(present) > 1 else None
    for record in _paint_order(present, tally.rule):
        mask = masks[record.obj_id]
        labels[mask] = values[record.obj_id]
        if coverage is not None:
            coverage[mask] += 1
    if coverage is None:
        return labels
    shared = int(np.count_nonzero(coverage > 1))
    if shared:
        if tally.rule == "error":
            both = sorted(o for o, m in masks.items() if (m & (coverage > 1)).any())
            raise OverlapError(f"frame {frame}: objects {both} overlap on {shared} pixel(s); choose an "
                               f"--overlap rule ({', '.join(r for r in OVERLAP_RULES if r != 'error')})")
        tally.frames += 1
        tally.pixels += shared
        for obj_id, mask in masks.items():
            tally.lost[obj_id] += int(np.count_nonzero(mask & (labels != values[obj_id])))
    return labels
