"""Read a YOLO segmentation dataset (Ultralytics' polygon txt files) of one video for import.

Accepted: a dataset root (with ``data.yaml`` and ``labels/``), ``data.yaml`` itself, or a folder of
label ``.txt`` files. Every label file under ``labels/`` (all splits) is a frame: the last number in
its name is the frame index. A line is ``class x1 y1 x2 y2 ...`` (a polygon, at least 3 points) or
``class xc yc w h`` (a box, imported as a filled rectangle), coordinates 0..1. Polygons are filled as
Ultralytics fills them for training (``polygon2mask``: ``x * width`` truncated to a pixel index,
OpenCV's ``fillPoly``), so the import holds the masks a YOLO model is trained on. Class names come
from ``data.yaml`` (``names:`` as a mapping or a list); unknown classes are named "class N".

Identities: with Masklet's ``masklet_tracks/<video>.json`` each line gets its object id back (the lines of
one object's parts are merged). Without it (a dataset from another tool), on each frame the
instances of a class go, in line order, to that category's objects in ascending id order, new
objects being created as needed (YOLO has no tracks).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from app.domain import rle
from app.domain.export_yolo import TRACKS_FILE
from app.domain.import_common import (
    ParsedAnnotations,
    ParsedObject,
    ParseError,
    finite_numbers,
    frame_of,
    read_names,
    read_sidecar,
)
from app.domain.model import MAX_OBJECT_ID
from app.domain.project import Project


def _label_files(path: Path) -> tuple[list[Path], Path | None]:
    if path.is_file() and path.suffix.lower() in (".yaml", ".yml"):
        path = path.parent
    if not path.is_dir():
        raise ParseError(f"{path}: no such folder (give the dataset root, data.yaml or a labels folder)")
    yaml_file = next((path / n for n in ("data.yaml", "data.yml") if (path / n).is_file()), None)
    root = path / "labels" if (path / "labels").is_dir() else path
    files = sorted(p for p in root.rglob("*.txt") if p.is_file())
    if not files:
        raise ParseError(f"{path}: holds no YOLO label .txt files")
    return files, yaml_file


def _parse_line(fields: list[str], where: str, height: int, width: int,
                classes: int | None) -> tuple[int, bytes]:
    if not fields[0].isdigit():
        raise ParseError(f"{where}: the class must be a non-negative integer, got {fields[0]!r}")
    cls = int(fields[0])
    if classes is not None and cls >= classes:
        raise ParseError(f"{where}: class {cls} is not in data.yaml's {classes} names")
    values = finite_numbers(fields[1:], where)
    if any(v < -1e-6 or v > 1 + 1e-6 for v in values):
        raise ParseError(f"{where}: coordinates must be normalised to 0..1")
    if len(values) == 4:
        xc, yc, w, h = values
        polygon = [xc - w / 2, yc - h / 2, xc + w / 2, yc - h / 2, xc + w / 2, yc + h / 2, xc - w / 2,
                   yc + h / 2]
    elif len(values) >= 6 and len(values) % 2 == 0:
        polygon = values
    else:
        raise ParseError(f"{where}: expected 'class x1 y1 x2 y2 x3 y3 ...' (3+ points) or 'class xc yc w h'")
    pixels = (np.asarray(polygon).reshape(1, -1, 2) * [width, height]).astype(np.int32)
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, pixels, 1)
    return cls, rle.encode(mask)[0]


def parse_yolo(path: str | Path, project: Project) -> ParsedAnnotations:
    files, yaml_file = _label_files(Path(path))
    names = read_names(yaml_file) if yaml_file else {}
    height, width = project.size
    sidecar = read_sidecar(files[0].parent, TRACKS_FILE, _sequence_of(files[0])) or {}
    tracks = sidecar.get("frames") if isinstance(sidecar.get("frames"), dict) else {}
    known = sidecar.get("objects") if isinstance(sidecar.get("objects"), dict) else {}
    parsed = ParsedAnnotations()
    existing: dict[str, list[int]] = defaultdict(list)
    for obj in project.objects():
        existing[obj.category].append(obj.id)
    next_id = max([o.id for o in project.objects()] + [int(k) for k in known if str(k).isdigit()] + [0]) + 1
    for file in files:
        frame = frame_of(file.name)
        if frame is None or not 0 <= frame < project.num_frames:
            raise ParseError(f"{file}: frame number outside the video's 0..{project.num_frames - 1}")
        if frame in parsed.frames:
            raise ParseError(f"{file}: a second label file for frame {frame}")
        parsed.frames.add(frame)
        try:
            lines = [ln.split() for ln in file.read_text(encoding="utf-8").splitlines() if ln.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise ParseError(f"{file}: cannot be read ({exc})") from exc
        ids = tracks.get(file.stem)
        if ids is not None and (not isinstance(ids, list) or len(ids) != len(lines)):
            raise ParseError(f"{file}: {TRACKS_FILE} lists {len(ids) if isinstance(ids, list) else '?'} "
                             f"object(s) for {len(lines)} line(s)")
        used: dict[str, int] = defaultdict(int)
        merged: dict[int, list[bytes]] = defaultdict(list)
        for number, fields in enumerate(lines):
            cls, counts = _parse_line(fields, f"{file}:{number + 1}", height, width,
                                      len(names) if names else None)
            category = names.get(cls, f"class {cls}")
            if ids is not None:
                obj_id = ids[number]
                valid = isinstance(obj_id, int) and not isinstance(obj_id, bool)
                if not valid or not 1 <= obj_id <= MAX_OBJECT_ID:
                    raise ParseError(f"{file}: {TRACKS_FILE} gives object id {obj_id!r}")
                entry = known.get(str(obj_id), {})
                name = entry.get("name") if isinstance(entry, dict) else None
                category = entry.get("category", category) if isinstance(entry, dict) else category
            else:
                pool = existing[category]
                if used[category] == len(pool):
                    pool.append(next_id)
                    next_id += 1
                obj_id, name = pool[used[category]], None
                used[category] += 1
            parsed.objects.setdefault(obj_id, ParsedObject(obj_id, str(category),
                                                           name if isinstance(name, str) else None))
            merged[obj_id].append(counts)
        for obj_id, parts in sorted(merged.items()):
            counts = parts[0] if len(parts) == 1 else mask_utils.merge(
                [{"size": [height, width], "counts": c} for c in parts])["counts"]
            parsed.masks.append((frame, obj_id, counts))
    return parsed


def _sequence_of(label_file: Path) -> str:
    """``walk_00003.txt`` -> ``walk`` (the name Masklet's export gives its sidecar's sequence)."""
    return re.sub(r"_?\d+$", "", label_file.stem)
