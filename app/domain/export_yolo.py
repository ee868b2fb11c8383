"""YOLO segmentation (Ultralytics): ``data.yaml``, ``images/train/`` and ``labels/train/``.

Every frame becomes an image ``<video>_00000.jpg`` (a frame folder's files are copied byte for byte
under that name, keeping their format; a video's frames are written as JPEG, quality 95) and a label
file ``<video>_00000.txt`` with one line per object that has a mask on that frame:
``class x1 y1 x2 y2 ...``, coordinates divided by the image width/height (0..1, pixel edges). A
frame without masks gets an empty label file (a background image). Classes are the categories, 0..K-1
in order of first use by ascending object id, named in ``data.yaml``. YOLO allows one polygon per
object: an object in several parts, or with holes, is one polygon whose parts are joined by
zero-width bridges (as Ultralytics' own COCO converter joins them). ``val`` names the same images as
``train``: a video is one split; divide it before training.

YOLO lines carry no track id; ``masklet_tracks.json`` lists, per label file, the object id of each line
(and the objects' names), which Masklet's import uses to restore identities; other tools ignore it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from app.domain.export_common import Progress, category_table, sequence_name, sequential_frames
from app.domain.export_labels import Notes
from app.domain.polygons import mask_to_single_polygon
from app.domain.project import Project
from sam3core.video import list_image_frames

TRACKS_FILE = "masklet_tracks.json"


def yolo_line(class_index: int, polygon: np.ndarray, height: int, width: int) -> str:
    scaled = np.clip(polygon / np.array([width, height], np.float64), 0.0, 1.0)
    return " ".join([str(class_index), *(f"{v:.6f}" for v in scaled.ravel())])


def _write_data_yaml(out: Path, names: list[str], sequence: str) -> None:
    lines = [f"# Masklet export of {json.dumps(sequence)}: every frame is in images/train; val names the "
             "same images (split the video before training).",
             "train: images/train", "val: images/train", f"nc: {len(names)}", "names:"]
    lines += [f"  {k}: {json.dumps(name)}" for k, name in enumerate(names)]
    (out / "data.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def export_yolo(project: Project, out: str | Path, *, progress: Progress = None, notes: Notes = None) -> Path:
    out = Path(out)
    height, width = project.size
    objects = project.objects()
    categories, category_of = category_table(objects)
    name = sequence_name(project.video_path)
    images, labels = out / "images" / "train", out / "labels" / "train"
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    total = project.num_frames
    files = list_image_frames(project.video_path) if project.video_path.is_dir() else None
    if files is not None and len(files) != total:
        files = None
    tracks: dict[str, list[int]] = {}
    bridged = 0
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
                mask = record.decode()
                polygon = mask_to_single_polygon(mask)
                if len(polygon) < 3:
                    continue
                if cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] > 2:
                    bridged += 1
                lines.append(yolo_line(category_of[record.obj_id] - 1, polygon, height, width))
                ids.append(record.obj_id)
            (labels / f"{stem}.txt").write_text("".join(line + "\n" for line in lines), encoding="ascii")
            tracks[stem] = ids
            if progress:
                progress(frame + 1, total)
    _write_data_yaml(out, [c["name"] for c in categories], name)
    sidecar = {"sequence": name, "objects": {str(o.id): {"name": o.name, "category": o.category}
                                             for o in objects}, "frames": tracks}
    (out / TRACKS_FILE).write_text(json.dumps(sidecar, separators=(",", ":")) + "\n", encoding="utf-8")
    if bridged and notes is not None:
        notes.append(f"YOLO: {bridged} mask(s) in several parts were written as one polygon each, the parts "
                     "joined by zero-width bridges (YOLO allows one polygon per object)")
    return out
