"""Projects and the frame reader that numbered their masks. Qt-free.

Projects record ``video_reader`` (``sam3core.video.READER``). One made before that key existed was
numbered by the old OpenCV reader, which could count a different number of frames (a VFR .mkv: 117
for 120) and, after an undecodable frame, shifted every later frame by one. Its masks are not trusted
blindly: every frame that holds a mask or prompt is compared, as a thumbnail, with the old reader's
front-to-back frame of that number and with the new reader's frames around it.

- The same picture under the same number (the usual case, even when the count changed): masks stay.
- The picture moved (the old reader skipped a damaged frame): masks and prompts move with it, after a
  backup copy of the project file is written, and the user is told which frames moved.
- No match (the old reader's frame cannot be found nearby): the masks stay where they were and the
  user is told to check those frames. Nothing is ever paired silently with another picture.

The comparison decodes both readers up to the last annotated frame: minutes for a long video. It takes
an optional ``progress(done, total)`` callback, called often from the calling thread; raising from it
(a cancel) stops both decoders and leaves everything as it was, so a window can run it in a worker.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.domain import project_io
from app.domain.store import ProjectError, connect_readonly
from sam3core.video import READER, VideoError, VideoSource
from sam3core.video.legacy import LegacyReader, same_picture, thumbnail

SEARCH = 8  # how far (frames) a picture may have moved between the readers
Progress = Callable[[int, int], None]  # (done, total); may raise to cancel


def needs_reader_check(path: Path) -> bool:
    """Whether opening ``path`` compares its frames with the older reader's (an old project: slow).
    False when it cannot tell; opening then reports what is wrong with the file."""
    try:
        meta = project_io.read_meta(path)
    except (ProjectError, OSError):
        return False
    return meta.get("video_reader") != READER


@dataclass
class VideoCheck:
    meta: dict[str, str] = field(default_factory=dict)      # meta values to store
    remap: dict[int, int] = field(default_factory=dict)     # old frame -> new frame (rows to move)
    notes: list[str] = field(default_factory=list)          # what to tell the user


def _ranges(frames: list[int]) -> str:
    parts, start = [], None
    for i, f in enumerate(frames):
        if start is None:
            start = f
        if i + 1 == len(frames) or frames[i + 1] != f + 1:
            parts.append(str(start) if start == f else f"{start}-{f}")
            start = None
    return ", ".join(parts[:12]) + (" ..." if len(parts) > 12 else "")


def used_frames(path: Path) -> list[int]:
    """Frames that hold a mask or prompt, read through a read-only connection."""
    try:
        conn = connect_readonly(path, brief=True)  # also in a read-only folder
    except sqlite3.Error as exc:
        raise ProjectError(f"{path}: cannot be read as a project ({exc})") from exc
    try:
        rows = conn.execute("SELECT frame FROM masks UNION SELECT frame FROM prompts ORDER BY 1").fetchall()
    except sqlite3.Error as exc:
        raise ProjectError(f"{path}: damaged project ({exc})") from exc
    finally:
        conn.close()
    return [int(r[0]) for r in rows]


def not_this_video(project: Path, meta: dict[str, str], video: VideoSource) -> ProjectError:
    stored = Path(meta.get("video_path", "?")).name
    count, exact = video.frame_count_hint()
    return ProjectError(
        f"{video.path}: is not the video of project {project.name} (it annotates {stored}, "
        f"{meta.get('num_frames') or '?'} frames of {meta.get('width', '?')}x{meta.get('height', '?')}; this "
        f"one has {'' if exact else 'about '}{count} frames of {video.width}x{video.height}, and the content "
        "differs)")


def check_video(project: Path, meta: dict[str, str], video: VideoSource, *,
                progress: Progress | None = None) -> VideoCheck:
    """Confirm ``video`` is the project's video and say how its masks map onto the reader's frames.

    Raises :class:`ProjectError` when it is another video, and whatever ``progress`` raises.
    """
    stored_size = (meta.get("height"), meta.get("width"))
    if stored_size != (str(video.height), str(video.width)) and None not in stored_size:
        raise not_this_video(project, meta, video)
    if meta.get("video_reader") == READER:
        if video.fingerprint() != meta.get("fingerprint"):
            raise not_this_video(project, meta, video)
        return VideoCheck()
    try:
        legacy = LegacyReader(video.path)
        old_fingerprint = legacy.fingerprint()
    except OSError:
        old_fingerprint = None
    if old_fingerprint is None or old_fingerprint != meta.get("fingerprint"):
        raise not_this_video(project, meta, video)
    check = VideoCheck(meta={"video_reader": READER, "fingerprint": video.fingerprint(),
                             "num_frames": str(video.num_frames)})
    old_count = int(meta.get("num_frames", video.num_frames))
    if old_count != video.num_frames:
        check.notes.append(
            f"{video.path.name}: has {video.num_frames} frames; the older Masklet reader counted "
            f"{old_count} from the container's estimate.")
    try:
        used = used_frames(project)
        if used:
            _match(legacy, video, used, check, progress or (lambda done, total: None))
    finally:
        legacy.close()
    return check


def _new_thumbnails(video: VideoSource, stop: int,
                    step: Callable[[int], None]) -> dict[int, np.ndarray | None]:
    """Thumbnails of frames 0..stop-1 in one pass in order (no seeks); None for a damaged frame."""
    out: dict[int, np.ndarray | None] = {}
    for j in range(stop):
        step(j)
        try:
            out[j] = thumbnail(video.frame(j))
        except (VideoError, IndexError):
            out[j] = None
    return out


def _old_thumbnails(legacy: LegacyReader, stop: int, done: list[int],
                    halt: threading.Event) -> list[np.ndarray | None]:
    """The old reader's front-to-back thumbnails of frames 0..stop-1; ``done[0]`` counts them (read by
    the progress report), ``halt`` ends the pass early when the check was cancelled."""
    out: list[np.ndarray | None] = []
    for rgb in legacy.sequential(stop):
        if halt.is_set():
            break
        out.append(None if rgb is None else thumbnail(rgb))
        done[0] += 1
    return out


def _match(legacy: LegacyReader, video: VideoSource, used: list[int], check: VideoCheck,
           progress: Progress) -> None:
    last = used[-1]
    stop = min(video.num_frames, last + SEARCH + 1)
    total = stop + min(last + 1, legacy.num_frames)
    old_done, halt = [0], threading.Event()
    # The two readers decode in parallel (both release the GIL while decoding): half the wait.
    with ThreadPoolExecutor(max_workers=1) as pool:
        old_job = pool.submit(_old_thumbnails, legacy, last + 1, old_done, halt)
        try:
            new = _new_thumbnails(video, stop, lambda j: progress(j + old_done[0], total))
            # The old reader may still be decoding: keep reporting (and hearing a cancel).
            while not wait([old_job], timeout=0.1).done:
                progress(stop + old_done[0], total)
            old = old_job.result()
        except BaseException:
            halt.set()  # so leaving the pool does not wait for the old reader's whole pass
            raise
    progress(total, total)

    def new_thumb(j: int) -> np.ndarray | None:
        return new.get(j)

    moved: dict[int, int] = {}
    unverified: list[int] = []
    for i in used:
        here = new_thumb(i) if i < video.num_frames else None
        if i >= len(old) or old[i] is None:
            unverified.append(i)
            continue
        if here is not None and same_picture(old[i], here):
            continue
        candidates = [j for j in range(max(0, i - SEARCH), min(video.num_frames, i + SEARCH + 1))
                      if new_thumb(j) is not None and same_picture(old[i], new_thumb(j))]
        if candidates:
            moved[i] = min(candidates, key=lambda j: abs(j - i))
        else:
            unverified.append(i)
    # A move may not land on a frame whose rows stay, nor two frames on one.
    staying = set(used) - set(moved)
    targets = list(moved.values())
    for i, j in list(moved.items()):
        if j in staying or targets.count(j) > 1:
            del moved[i]
            unverified.append(i)
    unverified.sort()
    check.remap = moved
    if moved:
        shifts = sorted({j - i for i, j in moved.items()})
        check.notes.append(
            f"{video.path.name}: the older reader numbered frames {_ranges(sorted(moved))} differently "
            f"(it skipped an undecodable frame); their masks and prompts now sit on the same pictures "
            f"under the exact numbers (moved by {', '.join(f'{s:+d}' for s in shifts)}).")
    if unverified:
        check.notes.append(
            f"{video.path.name}: masks on frames {_ranges(unverified)} were made with the older reader and "
            "their pictures could not be found again; they were left on the same frame numbers. Check them "
            "before exporting.")


def apply_remap(conn: sqlite3.Connection, remap: dict[int, int]) -> None:
    """Move masks and prompts of the frames in ``remap`` (inside the caller's transaction). Rows pass
    through negative frame numbers so that shifts never collide with rows not yet moved."""
    for table in ("masks", "prompts"):
        conn.executemany(f"UPDATE {table} SET frame = ? WHERE frame = ?",
                         [(-new - 1, old) for old, new in remap.items()])
        conn.execute(f"UPDATE {table} SET frame = -frame - 1 WHERE frame < 0")
