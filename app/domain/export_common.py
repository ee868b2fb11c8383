"""Pieces shared by the exporters and importers: categories, names, colours, the DAVIS palette."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from app.domain.model import ObjectInfo
from app.domain.project import Project
from sam3core.video import VideoSource, list_image_frames

# progress(done, total), called from the exporting thread (the GUI's worker).
Progress = Callable[[int, int], None] | None


def davis_palette() -> list[int]:
    """The PASCAL VOC / DAVIS colour map: 256 RGB triples, flattened (index 0 black, 1 red, 2 green...)."""
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        palette += [r, g, b]
    return palette


DAVIS_PALETTE = davis_palette()


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    color = color.lstrip("#")
    if len(color) != 6:
        return (230, 159, 0)
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)


def category_table(objects: list[ObjectInfo]) -> tuple[list[dict], dict[int, int]]:
    """COCO categories (ids 1.. in order of first use by ascending object id) and object id -> category id."""
    ids: dict[str, int] = {}
    of_object: dict[int, int] = {}
    for obj in objects:
        of_object[obj.id] = ids.setdefault(obj.category, len(ids) + 1)
    categories = [{"id": cid, "name": name, "supercategory": "object"} for name, cid in ids.items()]
    return categories, of_object


def sequence_name(video_path: Path) -> str:
    """Name of the video in exports: the file's stem, or the folder's name for an image folder."""
    return video_path.stem if video_path.is_file() else video_path.name


def frame_file_name(sequence: str, frame: int) -> str:
    """The name ``--with-images`` gives a frame: ``<video>/00000.jpg`` (the DAVIS JPEGImages layout)."""
    return f"{sequence}/{frame:05d}.jpg"


def frame_file_names(video_path: Path, total: int) -> list[str]:
    """``<video>/<file>`` per frame: a frame folder's real file names (in the order the video reads
    them), else the names ``--with-images`` writes for a video file's frames."""
    name = sequence_name(video_path)
    if video_path.is_dir():
        files = list_image_frames(video_path)
        if len(files) == total:
            return [f"{name}/{f.name}" for f in files]
    return [frame_file_name(name, frame) for frame in range(total)]


@contextmanager
def atomic_text(out: Path) -> Iterator[IO[str]]:
    """Write ``out`` through a temporary file, renamed into place only when complete."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            yield fh
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def frame_times(project: Project) -> list[float] | None:
    """Each frame's presentation time in seconds (pts x time base, microsecond precision), counted from
    the first frame; None for an image folder, which has no time."""
    times = project.video.timestamps
    if times is None:
        return None
    return [round(float(t), 6) for t in times - times[0]]


@contextmanager
def sequential_frames(video_path: Path) -> Iterator[VideoSource]:
    """A private reader for one pass over the frames: the exporter neither evicts the GUI's frame cache
    nor holds more than two decoded frames (the shared source caches dozens)."""
    source = VideoSource(video_path, cache_frames=2)
    try:
        yield source
    finally:
        source.close()
