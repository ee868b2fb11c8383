"""SA-V (Meta's Segment Anything Video dataset): ``OUT/<video>_manual.json``, one video's masklets.

The fields are those of SA-V's ``*_manual.json`` (see the dataset's README): ``video_id``,
``video_duration``, ``video_frame_count``, ``video_height``, ``video_width``, ``video_resolution``,
``masklet`` (outer list over frames, inner list over objects, each a compressed RLE with ``counts`` as
a string), ``masklet_id``, ``masklet_size_rel``/``_abs``/``_bucket``, ``masklet_visibility_changes``,
``masklet_first_appeared_frame``, ``masklet_frame_count``, ``masklet_edited_frame_count``,
``masklet_type`` ("manual") and ``masklet_num``. Every frame is an annotated frame (SA-V annotates every
4th frame of a 24 fps video; readers pass the step, e.g. ``ann_every=1``). An object with no stored
mask on a frame (never tracked there) is ``null``, which SAM 2's training loader reads as "not
annotated"; tracked but absent is an empty RLE. Not written, since Masklet cannot know them:
``video_environment`` and ``video_split``. ``masklet_edited_frame_count`` counts the frames where the
object has a prompt (clicks, box or mask). ``with_images`` also writes ``JPEGImages/<video>/00000.jpg``.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from app.domain.export_common import Progress, sequence_name, sequential_frames
from app.domain.project import Project


def _bucket(area: float) -> str:
    return "small" if area < 32 ** 2 else "medium" if area < 96 ** 2 else "large"


def _statistics(project: Project, ids: list[int]) -> dict[str, list]:
    """Per-object SA-V statistics from the stored areas (no mask is decoded)."""
    areas: dict[int, list[int]] = {i: [] for i in ids}
    first: dict[int, int] = {}
    changes = dict.fromkeys(ids, 0)
    visible_before: dict[int, bool] = {}
    annotated = dict.fromkeys(ids, 0)
    for frame in range(project.num_frames):
        for record in project.mask_records(frame):
            if record.obj_id not in areas:
                continue
            annotated[record.obj_id] += 1
            visible = record.area > 0
            if visible:
                areas[record.obj_id].append(record.area)
                first.setdefault(record.obj_id, frame)
            if record.obj_id in first and record.obj_id in visible_before \
                    and visible != visible_before[record.obj_id]:
                changes[record.obj_id] += 1
            visible_before[record.obj_id] = visible
    edited = {i: len({p.frame for p in project.prompts(obj_id=i)}) for i in ids}
    resolution = project.size[0] * project.size[1]
    mean = {i: float(np.mean(areas[i])) if areas[i] else 0.0 for i in ids}
    return {
        "masklet_size_rel": [mean[i] / resolution for i in ids],
        "masklet_size_abs": [mean[i] for i in ids],
        "masklet_size_bucket": [_bucket(mean[i]) for i in ids],
        "masklet_visibility_changes": [changes[i] for i in ids],
        "masklet_first_appeared_frame": [first.get(i, -1) for i in ids],
        "masklet_frame_count": [annotated[i] for i in ids],
        "masklet_edited_frame_count": [edited[i] for i in ids],
        "masklet_type": ["manual"] * len(ids),
    }


def export_sav(project: Project, out: str | Path, *, with_images: bool = False,
               progress: Progress = None) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = sequence_name(project.video_path)
    height, width = project.size
    total = project.num_frames
    ids = [o.id for o in project.objects()]
    fps = project.video.info.fps or 0.0
    header = {"video_id": name, "video_duration": total / fps if fps else None,
              "video_frame_count": float(total), "video_height": float(height), "video_width": float(width),
              "video_resolution": float(height * width)}
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    images = out / "JPEGImages" / name
    if with_images:
        images.mkdir(parents=True, exist_ok=True)
    with (out / f"{name}_manual.json").open("w", encoding="utf-8") as fh, \
            sequential_frames(project.video_path) as frames:
        fh.write(dumps(header)[:-1] + ',"masklet":[')
        for frame in range(total):
            records = {r.obj_id: r for r in project.mask_records(frame)}
            row = [records[i].json_rle() if i in records else None for i in ids]
            fh.write(("," if frame else "") + dumps(row))
            if with_images:
                bgr = cv2.cvtColor(np.asarray(frames.frame(frame)), cv2.COLOR_RGB2BGR)
                cv2.imwrite(str(images / f"{frame:05d}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
            if progress:
                progress(frame + 1, total)
        tail = {"masklet_id": ids, **_statistics(project, ids), "masklet_num": len(ids)}
        fh.write("]," + dumps(tail)[1:])
    return out
