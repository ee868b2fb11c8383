"""Import masks from another tool: a DAVIS annotation folder or a COCO JSON file.

Imported masks become the stored masks of their objects on every imported frame (an empty mask
where the object is absent from an imported frame), and each object's first imported mask also
becomes a mask prompt, so propagation can resume from it. Objects are matched by id (DAVIS pixel
value, COCO ``track_id``/``instance_id``); COCO annotations without one are matched by category
name (see :func:`import_coco`). An import is one transaction: on any error nothing changes.
"""

from __future__ import annotations

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
from app.domain.jsonfile import read_json
from app.domain.model import MAX_OBJECT_ID, Prompt
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
    empty: int = 0  # masks without a pixel (a degenerate polygon, a box-only COCO entry): skipped

    def skipped(self) -> str:
        """"" or a clause saying how many masks held no pixel and were skipped, for the
        summary line (the user counts what they gave and should not find some silently missing)."""
        return f"; {self.empty} mask(s) without any pixel skipped" if self.empty else ""


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
            self.summary.empty += 1
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
    if not path.exists():
        raise ImportFormatError(f"{path}: no such folder")
    if not path.is_dir():
        raise ImportFormatError(f"{path}: not a folder (give the folder of a sequence's PNGs, or the "
                                "dataset root with Annotations/)")
    try:
        if any(p.suffix.lower() == ".png" for p in path.iterdir()):
            return path
        root = path / "Annotations" if (path / "Annotations").is_dir() else path
        levels = [p for p in root.iterdir() if p.is_dir() and p.name in ("480p", "Full-Resolution")]
        if len(levels) == 1 or (root / "480p").is_dir():  # DAVIS 2017: Annotations/480p/<seq>/
            root = root / "480p" if (root / "480p").is_dir() else levels[0]
        sequences = sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*.png")))
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    wanted = [p for p in sequences if p.name == sequence]
    if wanted:
        return wanted[0]
    if len(sequences) == 1:
        return sequences[0]
    if not sequences:
        raise ImportFormatError(f"{path}: holds no DAVIS annotation PNGs")
    raise ImportFormatError(f"{path}: holds several sequences ({', '.join(p.name for p in sequences)}); "
                            "give the folder of one")


def read_davis_labels(file: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W) uint8 object ids of one DAVIS PNG; with ``size`` = (H, W), a PNG of another size is refused
    from its header, before its pixels are decoded (a huge or hostile image costs nothing)."""
    try:
        with Image.open(file) as image:
            if size is not None and (image.height, image.width) != size:
                raise ImportFormatError(f"{file}: size {image.width}x{image.height} differs from the video's "
                                        f"{size[1]}x{size[0]}")
            if image.mode in ("P", "L"):
                labels = np.asarray(image)
                if image.mode == "L" and set(np.unique(labels).tolist()) <= {0, 255}:
                    labels = (labels > 0).astype(np.uint8)  # a DAVIS-2016 style binary mask: object 1
                return labels
            rgb = np.asarray(image.convert("RGB"))
    except ImportFormatError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
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


def _check_png_header(file: Path, size: tuple[int, int]) -> None:
    try:
        with Image.open(file) as image:
            if (image.height, image.width) != size:
                raise ImportFormatError(f"{file}: size {image.width}x{image.height} differs from the video's "
                                        f"{size[1]}x{size[0]}")
    except ImportFormatError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImportFormatError(f"{file}: cannot be read as an image ({exc})") from exc


def import_davis(project: Project, path: str | Path, progress: Progress = None) -> ImportSummary:
    """Import ``Annotations/<name>/00000.png ...`` (or a folder of such PNGs): pixel value = object id."""
    folder = davis_sequence_folder(Path(path), project)
    try:
        files = sorted((p for p in folder.iterdir() if p.suffix.lower() == ".png" and p.is_file()),
                       key=lambda p: (frame_number(p.name) or 0, p.name))
    except OSError as exc:
        raise ImportFormatError(f"{folder}: cannot be read ({exc.strerror or exc})") from exc
    height, width = project.size
    numbered: list[tuple[int, Path]] = []
    seen: dict[int, Path] = {}
    for file in files:
        frame = frame_number(file.name)
        if frame is None or not 0 <= frame < project.num_frames:
            raise ImportFormatError(f"{file}: frame number outside the video's 0..{project.num_frames - 1}")
        if frame in seen:
            raise ImportFormatError(f"{file}: is frame {frame}, as {seen[frame].name} is")
        seen[frame] = file
        numbered.append((frame, file))
    for _frame, file in numbered:  # every header before anything is stored
        _check_png_header(file, (height, width))
    id_map = read_id_map(folder, folder.name) or {}  # a Masklet export's pixel value -> object
    writer = _Writer(project, Origin("imported", detail=f"davis {folder}"))
    with project.batch():
        for k, (frame, file) in enumerate(numbered):
            labels = read_davis_labels(file, (height, width))
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


def _coco_frames(data: dict, path: Path, project: Project) -> dict[int | str, int]:
    """image id -> frame index (``frame_id``, else the number in ``file_name``), every image checked."""
    height, width = project.size
    frames: dict[int | str, int] = {}
    taken: dict[int, int | str] = {}
    for k, image in enumerate(data["images"]):
        if not isinstance(image, dict):
            raise ImportFormatError(f"{path}: images[{k}] is not an object")
        image_id = image.get("id")
        if not _is_id(image_id):
            raise ImportFormatError(f"{path}: images[{k}] has no usable 'id' (got {_short(image_id)})")
        if image_id in frames:
            raise ImportFormatError(f"{path}: image id {_short(image_id)} appears twice")
        frame = image.get("frame_id")
        if not _is_int(frame):
            frame = frame_number(str(image.get("file_name", ""))[:1000])
        if frame is None or not 0 <= frame < project.num_frames:
            raise ImportFormatError(f"{path}: image {_short(image_id)} ({_short(image.get('file_name'))}) is "
                                    f"not a frame 0..{project.num_frames - 1} of this video")
        if frame in taken:
            raise ImportFormatError(f"{path}: images {_short(taken[frame])} and {_short(image_id)} are both "
                                    f"frame {frame}")
        if (image.get("height"), image.get("width")) not in ((height, width), (None, None)):
            raise ImportFormatError(f"{path}: image {_short(image_id)} is {_short(image.get('width'))}x"
                                    f"{_short(image.get('height'))}, the video {width}x{height}")
        frames[image_id] = frame
        taken[frame] = image_id
    return frames


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_id(value: object) -> bool:
    return _is_int(value) or (isinstance(value, str) and len(value) < 1000)


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _categories(data: dict, path: Path) -> dict[int | str, str]:
    categories = data.get("categories", [])
    if not isinstance(categories, list):
        raise ImportFormatError(f"{path}: 'categories' must be a list")
    names: dict[int | str, str] = {}
    for k, category in enumerate(categories):
        if not isinstance(category, dict) or not _is_id(category.get("id")):
            raise ImportFormatError(f"{path}: categories[{k}] needs an 'id'")
        names[category["id"]] = str(category.get("name", "object"))[:200]
    return names


def _track_id(ann: dict, path: Path, where: str) -> int | None:
    """The annotation's object id (``track_id``, else ``instance_id``), None when it has none."""
    for key in ("track_id", "instance_id"):
        value = ann.get(key)
        if value is None:
            continue
        if not _is_int(value) or not 1 <= value <= MAX_OBJECT_ID:
            raise ImportFormatError(f"{path}: {where}: {key} {_short(value)} is not an object id (an integer "
                                    f"1..{MAX_OBJECT_ID})")
        return value
    return None


def import_coco(project: Project, path: str | Path, progress: Progress = None) -> ImportSummary:
    """Import a COCO instance-segmentation JSON whose images are frames of this video.

    An annotation's object is its ``track_id`` (or ``instance_id``) when present. Otherwise, on each
    frame the annotations of a category (in annotation id order) go to that category's objects in
    ascending id order, new objects being created when a frame holds more instances than exist.
    Everything is checked (ids, frames, sizes, every segmentation's runs and polygons) before the
    one transaction that stores it.
    """
    path = Path(path)
    data = read_json(path, ImportFormatError)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list)
                                             for k in ("images", "annotations")):
        raise ImportFormatError(f"{path}: not a COCO file (needs 'images' and 'annotations' lists)")
    height, width = project.size
    frames = _coco_frames(data, path, project)
    category_name = _categories(data, path)
    by_frame: dict[int, list[tuple[str, int | None, str, bytes]]] = defaultdict(list)
    annotations = data["annotations"]
    order = sorted(range(len(annotations)), key=lambda k: (
        (0, annotations[k]["id"], k) if isinstance(annotations[k], dict) and _is_int(annotations[k].get("id"))
        else (1, 0, k)))
    for k in order:
        ann = annotations[k]
        if not isinstance(ann, dict):
            raise ImportFormatError(f"{path}: annotations[{k}] is not an object")
        where = f"annotation {_short(ann.get('id'))}" if "id" in ann else f"annotations[{k}]"
        image_id = ann.get("image_id")
        if not _is_id(image_id) or image_id not in frames:
            raise ImportFormatError(f"{path}: {where} refers to unknown image {_short(image_id)}")
        category_id = ann.get("category_id")
        category = category_name.get(category_id, "object") if _is_id(category_id) else "object"
        try:
            counts = rle.to_compressed(ann.get("segmentation"), height, width)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ImportFormatError(f"{path}: {where}: {exc}") from exc
        by_frame[frames[image_id]].append((where, _track_id(ann, path, where), category, counts))
    writer = _Writer(project, Origin("imported", detail=f"coco {path}"))
    writer.frames.update(frames.values())
    with project.batch():
        for k, frame in enumerate(sorted(by_frame)):
            counts_of: dict[int, list[bytes]] = defaultdict(list)
            used: set[int] = set()
            for _where, obj_id, category, counts in by_frame[frame]:
                if obj_id is None:
                    obj_id = _object_by_category(writer, category, used)
                writer.ensure_object(obj_id, category)
                used.add(obj_id)
                counts_of[obj_id].append(counts)
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
