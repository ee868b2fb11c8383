"""Read MOTS annotations (txt of RLE masks, or 16-bit PNGs) of one sequence for import.

Accepted: a ``<seq>.txt`` file; a folder of ``000000.png`` ...; a MOTS root holding
``instances_txt/<seq>.txt`` or ``instances/<seq>/`` (the sequence named like the project's video,
else the only one). Frames count from 0 (KITTI MOTS and Masklet's export); a frame outside the video
is an error, so a 1-based file on a video of the same length fails loudly instead of shifting.
Every frame up to the txt file's last is annotated (frames without a line have no object; their
objects get empty masks). Ignore regions (class 10, id 10000) are not objects and are skipped.
Object ids: Masklet's ``masklet_mots/<seq>.json`` when present, else ``id % 1000`` when that is unique and
non-zero, else ``id``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from app.domain import rle
from app.domain.export_common import sequence_name
from app.domain.export_mots import IGNORE_CLASS, SIDECAR
from app.domain.import_common import (
    ParsedAnnotations,
    ParsedObject,
    ParseError,
    check_rle_counts,
    frame_of,
    read_sidecar,
)
from app.domain.model import MAX_OBJECT_ID
from app.domain.project import Project

CLASS_NAMES = {1: "car", 2: "pedestrian"}


def _pick(candidates: list[Path], wanted: str, where: Path) -> Path | None:
    named = [p for p in candidates if p.stem == wanted or p.name == wanted]
    if named:
        return named[0]
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise ParseError(f"{where}: holds several sequences ({', '.join(p.name for p in candidates)}); "
                         "give the file or folder of one")
    return None


def find_mots(path: Path, project: Project) -> Path:
    """The txt file or PNG folder of this project's sequence under ``path``."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise ParseError(f"{path}: no such file or folder")
    if any(p.suffix.lower() == ".png" for p in path.iterdir()):
        return path
    wanted = sequence_name(project.video_path)
    for sub, pattern in (("instances_txt", "*.txt"), ("instances", "*")):
        root = path / sub
        if root.is_dir():
            items = sorted(p for p in root.glob(pattern) if p.is_file() == (pattern == "*.txt"))
            found = _pick(items, wanted, root)
            if found:
                return found
    found = _pick(sorted(path.glob("*.txt")), wanted, path)
    if found:
        return found
    raise ParseError(f"{path}: holds no MOTS txt file or PNG folder")


def _read_txt(file: Path, project: Project) -> tuple[dict[int, dict[int, bytes]], int]:
    height, width = project.size
    frames: dict[int, dict[int, bytes]] = defaultdict(dict)
    ignored = 0
    try:
        lines = file.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(f"{file}: cannot be read as a MOTS txt file ({exc})") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{file}:{number}"
        fields = line.split()
        if len(fields) != 6:
            raise ParseError(f"{where}: expected 'frame id class_id height width rle', got {len(fields)} "
                             "field(s)")
        try:
            frame, obj, cls, h, w = (int(v) for v in fields[:5])
        except ValueError as exc:
            raise ParseError(f"{where}: frame, id, class, height and width must be integers") from exc
        if (h, w) != (height, width):
            raise ParseError(f"{where}: mask is {w}x{h}, the video {width}x{height}")
        if not 0 <= frame < project.num_frames:
            raise ParseError(f"{where}: frame {frame} outside the video's 0..{project.num_frames - 1}")
        counts = check_rle_counts(fields[5], height, width, where)
        if cls == IGNORE_CLASS:
            ignored += 1
            frames.setdefault(frame, {})
            continue
        if obj < 1 or obj // 1000 != cls:
            raise ParseError(f"{where}: id {obj} does not carry class {cls} (id = class * 1000 + instance)")
        if obj in frames[frame]:
            raise ParseError(f"{where}: id {obj} appears twice on frame {frame}")
        frames[frame][obj] = counts
    return frames, ignored


def _read_pngs(folder: Path, project: Project) -> tuple[dict[int, dict[int, bytes]], int]:
    frames: dict[int, dict[int, bytes]] = {}
    ignored = 0
    for file in sorted(folder.glob("*.png")):
        frame = frame_of(file.name)
        if frame is None or not 0 <= frame < project.num_frames:
            raise ParseError(f"{file}: frame number outside the video's 0..{project.num_frames - 1}")
        try:
            with Image.open(file) as image:
                labels = np.asarray(image).astype(np.int64)
        except OSError as exc:
            raise ParseError(f"{file}: cannot be read as an image ({exc})") from exc
        if labels.shape != project.size:
            raise ParseError(f"{file}: size {labels.shape[-1]}x{labels.shape[0]} differs from the video's "
                             f"{project.size[1]}x{project.size[0]}")
        frames[frame] = {}
        for value in np.unique(labels).tolist():
            if value == 0:
                continue
            if value // 1000 == IGNORE_CLASS:
                ignored += 1
                continue
            frames[frame][int(value)] = rle.encode(labels == value)[0]
    return frames, ignored


def parse_mots(path: str | Path, project: Project) -> ParsedAnnotations:
    source = find_mots(Path(path), project)
    frames, ignored = (_read_txt if source.is_file() else _read_pngs)(source, project)
    mots_ids = sorted({obj for per_frame in frames.values() for obj in per_frame})
    sequence = source.stem if source.is_file() else source.name
    sidecar = read_sidecar(source.parent, SIDECAR, sequence) or {}
    known = sidecar.get("ids", {}) if isinstance(sidecar.get("ids"), dict) else {}
    class_names = {**CLASS_NAMES, **{int(k): str(v) for k, v in sidecar.get("classes", {}).items()
                                    if str(k).isdigit()}}
    instances = [i % 1000 for i in mots_ids]
    by_instance = len(set(instances)) == len(instances) and all(instances)
    # A txt file lists no line for a frame without objects: every frame up to its last is annotated.
    annotated = set(range(max(frames) + 1)) if source.is_file() and frames else set(frames)
    parsed = ParsedAnnotations(frames=annotated)
    object_of: dict[int, int] = {}
    for mots_id in mots_ids:
        entry = known.get(str(mots_id))
        if isinstance(entry, dict) and isinstance(entry.get("object_id"), int) \
                and 1 <= entry["object_id"] <= MAX_OBJECT_ID:
            obj_id = entry["object_id"]
            parsed.objects[obj_id] = ParsedObject(obj_id, str(entry.get("category", "object")),
                                                  entry.get("name") if isinstance(entry.get("name"), str)
                                                  else None)
        else:
            obj_id = mots_id % 1000 if by_instance else mots_id
            parsed.objects[obj_id] = ParsedObject(obj_id, class_names.get(mots_id // 1000,
                                                                          f"class {mots_id // 1000}"))
        object_of[mots_id] = obj_id
    if len(set(object_of.values())) != len(object_of):
        raise ParseError(f"{source}: {SIDECAR} maps two MOTS ids to one object")
    for frame in sorted(frames):
        for mots_id, counts in sorted(frames[frame].items()):
            parsed.masks.append((frame, object_of[mots_id], counts))
    if ignored:
        parsed.skipped["ignore regions"] = ignored
    return parsed
