"""YOLO segmentation (Ultralytics): ``data.yaml``, ``images/train/`` and ``labels/train/``.

Every frame becomes an image ``<video>_00000.jpg`` (a frame folder's files are copied byte for byte
under that name, keeping their format; a video's frames are written as JPEG, quality 95) and a label
file ``<video>_00000.txt`` with a line per part of each object that has a mask on that frame:
``class x1 y1 x2 y2 ...``. The points are the centres of the object's boundary pixels, as OpenCV
traces them, written as ``(column + 0.5) / width`` and ``(row + 0.5) / height``: Ultralytics'
``polygon2mask`` (which truncates ``x * width`` to a pixel index and fills with OpenCV) then fills
back the very mask. A part's holes are joined to its outline by zero-width bridges over its own
pixels, so one line keeps them; separate parts are separate lines (as Ultralytics' own mask
converter writes them), since a bridge across the background would be filled as a line. A frame
without masks gets an empty label file (a background image). Classes are the categories, 0..K-1 in
order of first use by ascending object id, named in ``data.yaml`` (exported into a dataset that has
one, its classes keep their indices and new categories are appended, see :func:`class_names`).
``val`` names the same images as ``train``: a video is one split; divide it before training.

YOLO lines carry no track id; ``masklet_tracks/<video>.json`` lists, per label file, the object id
of each line (and the objects' names), which Masklet's import uses to restore identities and join
parts; other tools ignore it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from app.domain.export_common import Progress, sequence_name, sequential_frames
from app.domain.export_labels import Notes
from app.domain.import_common import ParseError, read_names
from app.domain.polygons import mask_to_yolo_polygons
from app.domain.project import Project
from sam3core.video import list_image_frames

TRACKS_FILE = "masklet_tracks"  # OUT/masklet_tracks/<video>.json: one per video, datasets hold many


def class_names(project: Project, existing: Path | None) -> tuple[list[str], dict[int, int]]:
    """data.yaml's names and object id -> class index. Exporting into a YOLO dataset that already
    has a data.yaml (another video's export) keeps its classes and indices and appends new
    categories, so every label file of the dataset keeps meaning what it meant."""
    names: list[str] = []
    yaml_file = existing / "data.yaml" if existing is not None else None
    if yaml_file is not None and yaml_file.is_file():
        try:
            known = read_names(yaml_file)
        except ParseError as exc:
            raise ValueError(f"{exc}; export into a new folder") from exc
        if sorted(known) != list(range(len(known))):
            raise ValueError(f"{yaml_file}: class indices {sorted(known)} are not 0..{len(known) - 1}; "
                             "export into a new folder")
        names = [known[k] for k in range(len(known))]
    index = {n: k for k, n in enumerate(names)}
    class_of = {}
    for obj in project.objects():
        if obj.category not in index:
            index[obj.category] = len(names)
            names.append(obj.category)
        class_of[obj.id] = index[obj.category]
    return names, class_of


def yolo_line(class_index: int, polygon: np.ndarray, height: int, width: int) -> str:
    """``polygon``: (K, 2) pixel-centre coordinates (column, row)."""
    scaled = np.clip((polygon + 0.5) / np.array([width, height], np.float64), 0.0, 1.0)
    return " ".join([str(class_index), *(f"{v:.6f}" for v in scaled.ravel())])


def _write_data_yaml(out: Path, names: list[str], sequence: str) -> None:
    lines = [f"# Masklet export of {json.dumps(sequence)}: every frame is in images/train; val names the "
             "same images (split the video before training).",
             "train: images/train", "val: images/train", f"nc: {len(names)}", "names:"]
    lines += [f"  {k}: {json.dumps(name)}" for k, name in enumerate(names)]
    (out / "data.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def export_yolo(project: Project, out: str | Path, *, progress: Progress = None, notes: Notes = None,
                existing: Path | None = None) -> Path:
    out = Path(out)
    height, width = project.size
    objects = project.objects()
    names, class_of = class_names(project, existing)
    name = sequence_name(project.video_path)
    images, labels = out / "images" / "train", out / "labels" / "train"
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    total = project.num_frames
    files = list_image_frames(project.video_path) if project.video_path.is_dir() else None
    if files is not None and len(files) != total:
        files = None
    tracks: dict[str, list[int]] = {}
    split = 0
    with sequential_frames(project.video_path) as frames:
        for frame in range(total):
            stem = f"{name}_{frame:05d}"
            if files is not None:
                shutil.copyfile(files[frame], images / (stem + files[frame].suffix.lower()))
            else:
                bgr = cv2.cvtColor(np.asarray(frames.frame(frame)), cv2.COLOR_RGB2BGR)
                cv2.imwrite(str(images / f"{stem}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
            lines, ids = [], []
            for record in project.mask_records(frame):
                if not record.area:
                    continue
                polygons = mask_to_yolo_polygons(record.decode())
                split += len(polygons) > 1
                for polygon in polygons:
                    lines.append(yolo_line(class_of[record.obj_id], polygon, height, width))
                    ids.append(record.obj_id)
            (labels / f"{stem}.txt").write_text("".join(line + "\n" for line in lines), encoding="ascii")
            tracks[stem] = ids
            if progress:
                progress(frame + 1, total)
    _write_data_yaml(out, names, name)
    sidecar = {"sequence": name, "objects": {str(o.id): {"name": o.name, "category": o.category}
                                             for o in objects}, "frames": tracks}
    (out / TRACKS_FILE).mkdir(exist_ok=True)
    (out / TRACKS_FILE / f"{name}.json").write_text(json.dumps(sidecar, separators=(",", ":")) + "\n",
                                                   encoding="utf-8")
    if split and notes is not None:
        notes.append(f"YOLO: {split} mask(s) in several parts were written as a line per part (YOLO has "
                     f"no tracks; {TRACKS_FILE}/{name}.json keeps which lines are one object)")
    return out
