"""An mp4 of the video with every object's mask tinted in its colour and outlined.

H.264 (yuv420p, ``+faststart``: plays in browsers and editors), each frame at its source timestamp so a
variable-frame-rate video keeps its timing; MPEG-4 Part 2, then OpenCV's writer, where FFmpeg lacks
libx264. ``.avi`` is MJPEG. A frame of the source that cannot be decoded is a flat grey frame (the
dataset exports stop there instead: they must not pair annotations with a stand-in picture).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from app.domain.export_common import Progress, hex_to_rgb, sequential_frames
from app.domain.project import Project
from sam3core.video import DamagedFrameError, VideoWriter

log = logging.getLogger(__name__)

ALPHA = 0.45
DAMAGED_GREY = 64  # an undecodable frame of the source, in the overlay


def render_overlay(frame_rgb: np.ndarray, masks: list[tuple[np.ndarray, tuple[int, int, int]]]) -> np.ndarray:
    """(H, W, 3) RGB uint8 with each (mask, rgb) blended in and outlined; returns a new array."""
    out = frame_rgb.copy()
    for mask, rgb in masks:
        colour = np.asarray(rgb, np.float32)
        out[mask] = (out[mask] * (1 - ALPHA) + colour * ALPHA).astype(np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        thickness = max(1, round(min(mask.shape) / 360))
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in rgb), thickness, lineType=cv2.LINE_AA)
    return out


def check_video_output(out: str | Path) -> Path:
    """``out`` as a Path when it names a container the overlay video can be written in; ValueError
    naming it otherwise (checked on the user's path, before any staging)."""
    out = Path(out)
    if out.suffix.lower() not in (".mp4", ".avi"):
        raise ValueError(f"{out}: overlay video must end in .mp4 (or .avi)")
    return out


def export_video(project: Project, out: str | Path, *, progress: Progress = None) -> Path:
    out = check_video_output(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    height, width = project.size
    colours = {o.id: hex_to_rgb(o.color) for o in project.objects() if not o.hidden}
    tmp = out.with_name(out.stem + ".part" + out.suffix)
    total = project.num_frames
    try:
        with sequential_frames(project.video_path) as frames:
            times = frames.timestamps
            start = float(times[0]) if times is not None else 0.0
            with VideoWriter(tmp, width, height, fps=project.video.info.fps or 24.0) as writer:
                for frame in range(total):
                    masks = [(r.decode(), colours[r.obj_id]) for r in project.mask_records(frame)
                             if r.area and r.obj_id in colours]
                    try:
                        picture = np.asarray(frames.frame(frame))
                    except DamagedFrameError:  # keep the timing: a flat frame where nothing decodes
                        log.warning("%s: frame %d is damaged; the overlay shows a grey frame there",
                                    project.video_path, frame)
                        picture = np.full((height, width, 3), DAMAGED_GREY, np.uint8)
                    rgb = render_overlay(picture, masks)
                    writer.write(rgb, None if times is None else float(times[frame]) - start)
                    if progress:
                        progress(frame + 1, total)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(out)
    return out
