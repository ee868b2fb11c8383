"""MOTS (KITTI MOTS / MOTSChallenge): the txt of RLE masks and the 16-bit PNG variant, one sequence.

- ``OUT/instances_txt/<seq>.txt``: one line per object and frame, ``frame id class_id height width
  rle`` (frames from 0 as in KITTI MOTS; ``rle`` is COCO's compressed string).
- ``OUT/instances/<seq>/000000.png``: 16-bit PNGs, pixel = ``id``, 0 background.

``id = class_id * 1000 + object id`` (object ids 1..999). MOTS tools refuse overlapping masks, so
each pixel goes to one object by the ``overlap`` rule (see :mod:`export_labels`) and the txt masks are
cut from the same label map as the PNGs. Classes: category "car" is 1 and "pedestrian"/"person" 2
(the benchmark's two classes); other categories get 3, 4, ... (10, the benchmark's ignore class,
is skipped), which the benchmark's own tools refuse; a note says so. ``OUT/masklet_mots/<seq>.json``
maps ids back to objects and classes to category names (import reads it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from app.domain import rle
from app.domain.export_common import Progress, sequence_name
from app.domain.export_labels import Notes, OverlapTally, check_rule, paint_labels
from app.domain.model import ObjectInfo
from app.domain.project import Project

BENCHMARK_CLASSES = {"car": 1, "pedestrian": 2, "person": 2}
IGNORE_CLASS = 10
SIDECAR = "masklet_mots"  # OUT/masklet_mots/<seq>.json: one per sequence, roots hold many


def mots_classes(objects: list[ObjectInfo]) -> dict[str, int]:
    """category -> MOTS class id: the benchmark's for car/pedestrian/person, then 3, 4, ... (not 10)."""
    classes: dict[str, int] = {}
    next_id = 3
    for obj in objects:
        if obj.category in classes:
            continue
        if obj.category.lower() in BENCHMARK_CLASSES:
            classes[obj.category] = BENCHMARK_CLASSES[obj.category.lower()]
            continue
        if next_id == IGNORE_CLASS:
            next_id += 1
        classes[obj.category] = next_id
        next_id += 1
    return classes


def export_mots(project: Project, out: str | Path, *, overlap: str = "higher-id", progress: Progress = None,
                notes: Notes = None) -> Path:
    out = Path(out)
    tally = OverlapTally(check_rule(overlap))
    objects = project.objects()
    too_big = [o.id for o in objects if o.id > 999]
    if too_big:
        raise ValueError(f"MOTS ids are class * 1000 + object id; object id(s) {too_big} exceed 999")
    classes = mots_classes(objects)
    values = {o.id: classes[o.category] * 1000 + o.id for o in objects}
    name = sequence_name(project.video_path)
    pngs = out / "instances" / name
    pngs.mkdir(parents=True, exist_ok=True)
    (out / "instances_txt").mkdir(parents=True, exist_ok=True)
    height, width = project.size
    total = project.num_frames
    with (out / "instances_txt" / f"{name}.txt").open("w", encoding="ascii") as txt:
        for frame in range(total):
            labels = paint_labels(project.mask_records(frame), values, project.size, tally, frame=frame,
                                  dtype=np.uint16)
            Image.fromarray(labels).save(pngs / f"{frame:06d}.png")
            for value in np.unique(labels).tolist():
                if value:
                    counts = rle.encode(labels == value)[0].decode("ascii")
                    txt.write(f"{frame} {value} {value // 1000} {height} {width} {counts}\n")
            if progress:
                progress(frame + 1, total)
    sidecar = {"sequence": name, "first_frame": 0,
               "classes": {str(c): category for category, c in classes.items()},
               "ids": {str(values[o.id]): {"object_id": o.id, "name": o.name, "category": o.category}
                       for o in objects},
               "overlap": tally.as_dict()}
    (out / SIDECAR).mkdir(exist_ok=True)
    (out / SIDECAR / f"{name}.json").write_text(json.dumps(sidecar, indent=1) + "\n", encoding="utf-8")
    if notes is not None:
        note = tally.note("MOTS")
        if note:
            notes.append(note)
        other = sorted(f"{category!r} -> {c}" for category, c in classes.items() if c > 2)
        if other:
            notes.append("MOTS: the benchmark's tools know only classes 1 (car), 2 (pedestrian) and 10 "
                         f"(ignore); other categories got their own class ids ({', '.join(other)}), "
                         f"listed in {SIDECAR}/{name}.json")
    return out
