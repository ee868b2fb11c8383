"""DAVIS layout: ``Annotations/<name>/00000.png`` indexed PNGs (pixel = object id), optional JPEG frames.

Every frame of the video gets a PNG, empty ones included. Where masks overlap, the object with the
higher id wins (objects are painted in ascending id order). Ids must fit in one byte (1..255).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from app.domain.export_common import DAVIS_PALETTE, Progress, sequence_name, sequential_frames
from app.domain.export_quality import export_frames, write_davis_sidecar
from app.domain.project import Project


def label_map(project: Project, frame: int) -> np.ndarray:
    """(H, W) uint8: 0 background, else the id of the highest-id object covering the pixel."""
    labels = np.zeros(project.size, np.uint8)
    for record in project.mask_records(frame):  # ascending object id
        if record.area:
            labels[record.decode()] = record.obj_id
    return labels


def export_davis(project: Project, out: str | Path, *, with_images: bool = False,
                 progress: Progress = None) -> Path:
    out = Path(out)
    too_big = [o.id for o in project.objects() if o.id > 255]
    if too_big:
        raise ValueError(f"DAVIS stores object ids in one byte; object id(s) {too_big} exceed 255")
    name = sequence_name(project.video_path)
    annotations = out / "Annotations" / name
    annotations.mkdir(parents=True, exist_ok=True)
    images = out / "JPEGImages" / name
    if with_images:
        images.mkdir(parents=True, exist_ok=True)
    written = list(export_frames(project))  # every frame, or only the reviewed ones (--reviewed-only)
    total = len(written)
    with sequential_frames(project.video_path) as frames:
        for k, frame in enumerate(written):
            png = Image.fromarray(label_map(project, frame), mode="P")
            png.putpalette(DAVIS_PALETTE)
            png.save(annotations / f"{frame:05d}.png", optimize=False)
            if with_images:
                bgr = cv2.cvtColor(np.asarray(frames.frame(frame)), cv2.COLOR_RGB2BGR)
                cv2.imwrite(str(images / f"{frame:05d}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
            if progress:
                progress(k + 1, total)
    write_davis_sidecar(project, out, name, written)
    return out
