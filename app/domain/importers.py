"""Import masks from another tool: a DAVIS annotation folder or a COCO JSON file.

Imported masks become the stored masks of their objects on every imported frame (an empty mask
where the object is absent from an imported frame), and each object's first imported mask also
becomes a mask prompt, so propagation can resume from it. Objects are matched by id (DAVIS pixel
value, COCO ``track_id``/``instance_id``); COCO annotations without one are matched by category
name (see :func:`import_coco`). An import is one transaction: on any error nothing changes.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from app.domain import rle
from app.domain.export_common import DAVIS_PALETTE, Progress, sequence_name
from app.domain.export_davis import read_id_map
from app.domain.import_common import ParsedAnnotations, ParseError
from app.domain.import_mots import parse_mots
from app.domain.import_yolo import parse_yolo
from app.domain.model import Prompt
from app.domain.project import Project
from app.domain.quality import Origin
from app.domain.rle import MaskRecord


class ImportFormatError(ValueError):
    """The annotations do not fit this project or are malformed; the message names the file."""


@dataclass
class ImportSummary:
    created: list[int] = field(default_factory=list)
    matched: list[int] = field(default_factory=list)
    frames: int = 0
    masks: int = 0


def frame_number(name: str) -> int | None:
    digits = re.findall(r"\d+", Path(name).stem)
    return int(digits[-1]) if digits else None


def _record(frame: int, obj_id: int, counts: bytes, height: int, width: int) -> MaskRecord:
    encoded = {"size": [height, width], "counts": counts}
    x, y, w, h = (int(round(v)) for v in mask_utils.toBbox(encoded))
    return MaskRecord(frame, obj_id, height, width, counts, int(mask_utils.area(encoded)), (x, y, w, h))


class _Writer:
    """Collects what an import writes, creating objects and first-mask prompts as ids appear."""

    def __init__(self, project: Project, origin: Origin) -> None:
        self.project = project
        self.origin = origin  # provenance of every mask this import writes
        self.summary = ImportSummary()
        self.present: dict[int, set[int]] = defaultdict(set)
        self.frames: set[int] = set()

    def ensure_object(self, obj_id: int, category: str = "object", name: str | None = None) -> None:
        if obj_id in self.present or obj_id in self.summary.created or obj_id in self.summary.matched:
            return
        if self.project.has_object(obj_id):
            self.summary.matched.append(obj_id)
        else:
            self.project.add_object(name, category, None, obj_id)
            self.summary.created.append(obj_id)

    def put(self, frame: int, obj_id: int, counts: bytes) -> None:
        height, width = self.project.size
        record = _record(frame, obj_id, counts, height, width)
        if record.area == 0:
            return
        self.project.write_records([record], origin=self.origin)
        if not self.present[obj_id]:
            self.project.set_prompt(Prompt(frame, obj_id, mask=record.decode()))
        elif frame < min(self.present[obj_id]):
            self.project.clear_prompt(min(self.present[obj_id]), obj_id)
            self.project.set_prompt(Prompt(frame, obj_id, mask=record.decode()))
        self.present[obj_id].add(frame)
        self.summary.masks += 1

    def finish(self) -> ImportSummary:
        """Imported objects absent from an imported frame get an empty mask there."""
        height, width = self.project.size
        empty = rle.encode(np.zeros((height, width), bool))[0]
        for obj_id, frames in self.present.items():
            self.project.write_records([_record(f, obj_id, empty, height, width)
                                        for f in sorted(self.frames - frames)], origin=self.origin)
        self.summary.frames = len(self.frames)
        self.project.notify("reset", None, None)
        return self.summary


def davis_sequence_folder(path: Path, project: Project) -> Path:
    return find_davis_sequence(path, sequence_name(project.video_path))


def find_davis_sequence(path: Path, sequence: str) -> Path:
    """The folder of PNGs for ``sequence``: ``path`` itself, or under a dataset root, ``Annotations/``
    or the official ``Annotations/480p/`` level (the sequence so named, else the only one)."""
    if not path.is_dir():
        raise ImportFormatError(f"{path}: not a folder")
    if any(p.suffix.lower() == ".png" for p in path.iterdir()):
        return path
    root = path / "Annotations" if (path / "Annotations").is_dir() else path
    levels = [p for p in root.iterdir() if p.is_dir() and p.name in ("480p", "Full-Resolution")]
    if len(levels) == 1 or (root / "480p").is_dir():  # DAVIS 2017: Annotations/480p/<seq>/
        root = root / "480p" if (root / "480p").is_dir() else levels[0]
    sequences = sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*.png")))
    wanted = [p for p in sequences if p.name == sequence]
    if wanted:
        return wanted[0]
    if len(sequences) == 1:
        return sequences[0]
    if not sequences:
        raise ImportFormatError(f"{path}: holds no DAVIS annotation PNGs")
    raise ImportFormatError(f"{path}: holds several sequences ({', '.join(p.name for p in sequences)}); "
                            "give the folder of one")


def read_davis_labels(file: Path) -> np.ndarray:
    try:
        with Image.open(file) as image:
            if image.mode in ("P", "L"):
                labels = np.asarray(image)
                if image.mode == "L" and set(np.unique(labels).tolist()) <= {0, 255}:
                    labels = (labels > 0).astype(np.uint8)  # a DAVIS-2016 style binary mask: object 1
                return labels
            rgb = np.asarray(image.convert("RGB"))
    except OSError as exc:
        raise ImportFormatError(f"{file}: cannot be read as an image ({exc})") from exc
    # A colour PNG: map palette colours back to their indices.
    codes = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    palette = np.asarray(DAVIS_PALETTE, np.int32).reshape(256, 3)
    index_of = {int((r << 16) | (g << 8) | b): i for i, (r, g, b) in enumerate(palette)}
    labels = np.zeros(codes.shape, np.uint8)
    for code in np.unique(codes).tolist():
        if code not in index_of:
            raise ImportFormatError(f"{file}: colour #{code:06x} is not a DAVIS palette colour")
        labels[codes == code] = index_of[code]
    return labels


def import_davis(project: Project, path: str | Path, progress: Progress = None) -> ImportSummary:
    """Import ``Annotations/<name>/00000.png ...`` (or a folder of such PNGs): pixel value = object id."""
    folder = davis_sequence_folder(Path(path), project)
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() == ".png"),
                   key=lambda p: (frame_number(p.name) or 0, p.name))
    height, width = project.size
    numbered = []
    for file in files:
        frame = frame_number(file.name)
        if frame is None or not 0 <= frame < project.num_frames:
            raise ImportFormatError(f"{file}: frame number outside the video's 0..{project.num_frames - 1}")
        numbered.append((frame, file))
    id_map = read_id_map(folder, folder.name) or {}  # a Masklet export's pixel value -> object
    writer = _Writer(project, Origin("imported", detail=f"davis {folder}"))
    with project.batch():
        for k, (frame, file) in enumerate(numbered):
            labels = read_davis_labels(file)
            if labels.shape != (height, width):
                raise ImportFormatError(f"{file}: size {labels.shape[1]}x{labels.shape[0]} differs from the "
                                        f"video's {width}x{height}")
            writer.frames.add(frame)
            for value in np.unique(labels).tolist():
                if value == 0:
                    continue
                entry = id_map.get(int(value), {})
                obj_id = entry.get("object_id", int(value))
                writer.ensure_object(obj_id, str(entry.get("category", "object")), entry.get("name"))
                writer.put(frame, obj_id, rle.encode(labels == value)[0])
            if progress:
                progress(k + 1, len(numbered))
        return writer.finish()


def _coco_frames(data: dict, path: Path, project: Project) -> dict[int, int]:
    """image id -> frame index (``frame_id``, else the number in ``file_name``)."""
    height, width = project.size
    frames: dict[int, int] = {}
    for image in data["images"]:
        frame = image.get("frame_id")
        if not isinstance(frame, int):
            frame = frame_number(str(image.get("file_name", "")))
        if frame is None or not 0 <= frame < project.num_frames:
            raise ImportFormatError(f"{path}: image {image.get('id')} ({image.get('file_name')}) is not "
                                    f"a frame 0..{project.num_frames - 1} of this video")
        if (image.get("height"), image.get("width")) not in ((height, width), (None, None)):
            raise ImportFormatError(f"{path}: image {image.get('id')} is {image.get('width')}x"
                                    f"{image.get('height')}, the video {width}x{height}")
        frames[image["id"]] = frame
    return frames


def import_coco(project: Project, path: str | Path, progress: Progress = None) -> ImportSummary:
    """Import a COCO instance-segmentation JSON whose images are frames of this video.

    An annotation's object is its ``track_id`` (or ``instance_id``) when present. Otherwise, on each
    frame the annotations of a category (in annotation id order) go to that category's objects in
    ascending id order, new objects being created when a frame holds more instances than exist.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ImportFormatError(f"{path}: cannot be read as JSON ({exc})") from exc
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list)
                                             for k in ("images", "annotations")):
        raise ImportFormatError(f"{path}: not a COCO file (needs 'images' and 'annotations' lists)")
    height, width = project.size
    frames = _coco_frames(data, path, project)
    category_name = {c["id"]: str(c.get("name", "object")) for c in data.get("categories", [])}
    by_frame: dict[int, list[dict]] = defaultdict(list)
    for ann in sorted(data["annotations"], key=lambda a: a.get("id", 0)):
        if ann.get("image_id") not in frames:
            raise ImportFormatError(f"{path}: annotation {ann.get('id')} refers to unknown image "
                                    f"{ann.get('image_id')}")
        by_frame[frames[ann["image_id"]]].append(ann)
    writer = _Writer(project, Origin("imported", detail=f"coco {path}"))
    writer.frames.update(frames.values())
    with project.batch():
        for k, frame in enumerate(sorted(by_frame)):
            counts_of: dict[int, list[bytes]] = defaultdict(list)
            used: set[int] = set()
            for ann in by_frame[frame]:
                category = category_name.get(ann.get("category_id"), "object")
                obj_id = ann.get("track_id", ann.get("instance_id"))
                if not isinstance(obj_id, int) or obj_id < 1:
                    obj_id = _object_by_category(writer, category, used)
                writer.ensure_object(obj_id, category)
                used.add(obj_id)
                try:
                    counts_of[obj_id].append(rle.to_compressed(ann.get("segmentation"), height, width))
                except (ValueError, TypeError) as exc:
                    raise ImportFormatError(f"{path}: annotation {ann.get('id')}: {exc}") from exc
            for obj_id, parts in counts_of.items():
                counts = parts[0] if len(parts) == 1 else mask_utils.merge(
                    [{"size": [height, width], "counts": c} for c in parts])["counts"]
                writer.put(frame, obj_id, counts)
            if progress:
                progress(k + 1, len(by_frame))
        return writer.finish()


def _object_by_category(writer: _Writer, category: str, used: set[int]) -> int:
    for obj in writer.project.objects():
        if obj.category == category and obj.id not in used:
            return obj.id
    obj_id = writer.project.add_object(None, category).id
    writer.summary.created.append(obj_id)
    return obj_id


def import_parsed(project: Project, parsed: ParsedAnnotations, origin: Origin,
                  progress: Progress = None) -> ImportSummary:
    """Store what a format parser read (objects, masks per frame), in one transaction."""
    writer = _Writer(project, origin)
    writer.frames.update(parsed.frames)
    with project.batch():
        for k, (frame, obj_id, counts) in enumerate(parsed.masks):
            info = parsed.objects[obj_id]
            writer.ensure_object(obj_id, info.category, info.name)
            writer.put(frame, obj_id, counts)
            if progress and (k % 16 == 15 or k + 1 == len(parsed.masks)):
                progress(k + 1, len(parsed.masks))
        return writer.finish()


def _parse_and_import(parse, fmt: str, project: Project, path: str | Path,  # noqa: ANN001
                      progress: Progress) -> ImportSummary:
    try:
        parsed = parse(path, project)
    except ParseError as exc:
        raise ImportFormatError(str(exc)) from exc
    return import_parsed(project, parsed, Origin("imported", detail=f"{fmt} {path}"), progress)


def import_mots(project: Project, path: str | Path, progress: Progress = None) -> ImportSummary:
    """Import MOTS txt or PNG annotations (see :mod:`app.domain.import_mots`)."""
    return _parse_and_import(parse_mots, "mots", project, path, progress)


def import_yolo(project: Project, path: str | Path, progress: Progress = None) -> ImportSummary:
    """Import a YOLO segmentation dataset (see :mod:`app.domain.import_yolo`)."""
    return _parse_and_import(parse_yolo, "yolo", project, path, progress)
