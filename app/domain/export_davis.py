"""DAVIS 2017 layout, read unchanged by the official ``davis2017-evaluation`` toolkit.

``OUT/Annotations/480p/<seq>/00000.png`` indexed PNGs (pixel = object number, DAVIS palette), one
per frame, empty frames included; ``OUT/ImageSets/2017/val.txt`` names the sequence; with
``with_images`` the frames go to ``OUT/JPEGImages/480p/<seq>/00000.jpg``. ``layout`` names the
resolution level (the toolkit's ``resolution`` argument, "480p" by default, or "Full-Resolution";
frames are never resized) or "flat" for the older ``Annotations/<seq>/`` layout without ImageSets.

The toolkit numbers objects 1..N (N = the largest value on the first frame) and scores every number
up to N, so ids with gaps would become phantom objects. By default the objects that have a mask are
renumbered 1..N in ascending id order; ``ids="raw"`` keeps the ids (1..255). Either way
``OUT/masklet_ids/<seq>.json`` maps pixel values back to object ids, names and categories (import
reads it), and records the overlaps resolved by the ``overlap`` rule (see :mod:`export_labels`).

Several sequences can share one dataset root (the dispatcher merges folder exports): the id maps
are per sequence, and ``val.txt`` lists the sequences of ``existing`` (the root being exported
into) as well as this one.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from app.domain.export_common import DAVIS_PALETTE, Progress, sequence_name, sequential_frames
from app.domain.export_labels import Notes, OverlapTally, check_rule, paint_labels
from app.domain.export_quality import export_frames, write_davis_sidecar
from app.domain.import_common import read_sidecar
from app.domain.project import Project

DAVIS_LAYOUTS = ("480p", "Full-Resolution", "flat")
DAVIS_IDS = ("contiguous", "raw")
ID_MAP_DIR = "masklet_ids"


def davis_values(project: Project, ids: str) -> dict[int, int]:
    """object id -> pixel value: 1..N over the objects with at least one mask, or the ids themselves."""
    if ids not in DAVIS_IDS:
        raise ValueError(f"unknown DAVIS id mode {ids!r}; choose one of {', '.join(DAVIS_IDS)}")
    if ids == "raw":
        too_big = [o.id for o in project.objects() if o.id > 255]
        if too_big:
            raise ValueError(f"DAVIS stores object ids in one byte; object id(s) {too_big} exceed 255 "
                             "(the default --davis-ids contiguous renumbers them 1..N)")
        return {o.id: o.id for o in project.objects()}
    with_masks = sorted({r.obj_id for f in range(project.num_frames) for r in project.mask_records(f)
                         if r.area})
    if len(with_masks) > 255:
        raise ValueError(f"DAVIS stores at most 255 objects per sequence; this project has {len(with_masks)}")
    return {obj_id: k + 1 for k, obj_id in enumerate(with_masks)}


def label_map(project: Project, frame: int, values: dict[int, int] | None = None,
              tally: OverlapTally | None = None) -> np.ndarray:
    """(H, W) uint8 label map of one frame (by default raw ids, the higher id winning overlaps)."""
    values = values if values is not None else {o.id: o.id for o in project.objects() if o.id <= 255}
    return paint_labels(project.mask_records(frame), values, project.size, tally or OverlapTally(),
                        frame=frame)


def export_davis(project: Project, out: str | Path, *, with_images: bool = False, layout: str = "480p",
                 ids: str = "contiguous", overlap: str = "higher-id", progress: Progress = None,
                 notes: Notes = None, existing: Path | None = None) -> Path:
    out = Path(out)
    if layout not in DAVIS_LAYOUTS:
        raise ValueError(f"unknown DAVIS layout {layout!r}; choose one of {', '.join(DAVIS_LAYOUTS)}")
    tally = OverlapTally(check_rule(overlap))
    values = davis_values(project, ids)
    name = sequence_name(project.video_path)
    level = () if layout == "flat" else (layout,)
    annotations = out.joinpath("Annotations", *level, name)
    annotations.mkdir(parents=True, exist_ok=True)
    images = out.joinpath("JPEGImages", *level, name)
    if with_images:
        images.mkdir(parents=True, exist_ok=True)
    written = list(export_frames(project))  # every frame, or only the reviewed ones (--reviewed-only)
    total = len(written)
    with sequential_frames(project.video_path) as frames:
        for k, frame in enumerate(written):
            png = Image.fromarray(paint_labels(project.mask_records(frame), values, project.size, tally,
                                               frame=frame), mode="P")
            png.putpalette(DAVIS_PALETTE)
            png.save(annotations / f"{frame:05d}.png", optimize=False)
            if with_images:
                bgr = cv2.cvtColor(np.asarray(frames.frame(frame)), cv2.COLOR_RGB2BGR)
                cv2.imwrite(str(images / f"{frame:05d}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
            if progress:
                progress(k + 1, total)
    write_davis_sidecar(project, out, name, written)
    if layout != "flat":
        sets = out / "ImageSets" / "2017"
        sets.mkdir(parents=True, exist_ok=True)
        (sets / "val.txt").write_text("".join(f"{s}\n" for s in _sequences(existing, name)), encoding="utf-8")
    objects = {o.id: o for o in project.objects()}
    id_map = {"sequence": name, "ids": ids, "layout": layout,
              "values": {str(v): {"object_id": k, "name": objects[k].name, "category": objects[k].category}
                         for k, v in sorted(values.items(), key=lambda kv: kv[1]) if k in objects},
              "overlap": tally.as_dict()}
    (out / ID_MAP_DIR).mkdir(exist_ok=True)
    (out / ID_MAP_DIR / f"{name}.json").write_text(json.dumps(id_map, indent=1) + "\n", encoding="utf-8")
    note = tally.note("DAVIS")
    if note and notes is not None:
        notes.append(note)
    return out


def _sequences(existing: Path | None, name: str) -> list[str]:
    """The val.txt of a root that already holds sequences (``existing``), with ``name`` added."""
    names: list[str] = []
    listed = existing / "ImageSets" / "2017" / "val.txt" if existing is not None else None
    if listed is not None and listed.is_file():
        try:
            names = [line.strip() for line in listed.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError):
            names = []
    return names if name in names else [*names, name]


def read_id_map(folder: Path, sequence: str) -> dict[int, dict] | None:
    """pixel value -> {"object_id", "name", "category"} from a Masklet DAVIS export's id map of
    ``sequence``, looked for beside ``folder`` and up to three folders above it; None without one."""
    data = read_sidecar(folder, ID_MAP_DIR, sequence)
    if data is None:
        return None
    try:
        return {int(v): dict(entry) for v, entry in data["values"].items()
                if isinstance(entry.get("object_id"), int) and 1 <= entry["object_id"] <= 2**31 - 1}
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
