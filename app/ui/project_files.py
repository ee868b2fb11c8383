"""Where a video's annotations are kept when the user opens a video rather than a project.

A user who opens ``clip.mp4`` expects to find the work again the next time they open ``clip.mp4``,
and expects nothing to be lost on a crash. So every video gets a project file at once, next to it
(``clip.masklet``); if that folder is read-only, in Masklet's data folder. Opening the same video again
reopens that project. Only if no file can be written at all does the session stay in memory, and the
status bar says so (File > Save project as… then gives it a file).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from pathlib import Path

from app.domain.project import Project, ProjectError, ProjectLockedError
from app.domain.video_compat import Progress
from sam3core.video import VideoError, VideoSource

log = logging.getLogger(__name__)

PROJECT_SUFFIX = ".masklet"


def _fallback_folder() -> Path:
    from app.paths import data_dir

    folder = data_dir() / "projects"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def candidate_paths(video_path: Path) -> list[Path]:
    """Project files to try for ``video_path``, in order: next to it, then the data folder."""
    video_path = video_path.resolve()
    stem = video_path.name if video_path.is_dir() else video_path.stem
    beside = [video_path.parent / f"{stem}{PROJECT_SUFFIX}"]
    beside += [video_path.parent / f"{stem}-{k}{PROJECT_SUFFIX}" for k in range(2, 6)]
    tag = hashlib.sha1(str(video_path).encode()).hexdigest()[:8]
    try:
        fallback = [_fallback_folder() / f"{stem}-{tag}{PROJECT_SUFFIX}"]
    except OSError:
        fallback = []
    return beside + fallback


def open_or_create_for_video(video_path: Path, *, progress: Progress | None = None) -> tuple[Project, str]:
    """The project of ``video_path`` (existing one reopened, else a new file) and a status line.
    ``progress``: an old project's frame check (app/domain/video_compat.py)."""
    if not video_path.exists():
        raise ProjectError(f"{video_path}: no such file or folder")
    # Fail early, with the decoder's message, before any project file is written for a bad video.
    try:
        VideoSource(video_path, cache_frames=1).close()
    except VideoError as exc:
        raise ProjectError(str(exc)) from exc
    for candidate in candidate_paths(video_path):
        if candidate.exists():
            try:
                project = Project.open(candidate, video_path=video_path, progress=progress)
            except ProjectLockedError:
                raise  # this video's project, open elsewhere: never start a second one beside it
            except ProjectError as exc:  # another video's project, or not ours: try the next name
                log.info("not reusing %s: %s", candidate, exc)
                continue
            if project.read_only:
                return project, f"Opened {candidate.name} read-only: {project.read_only_reason}"
            return project, f"Reopened {candidate.name}; every change is saved there"
        try:
            project = Project.create(candidate, video_path)
        except (ProjectError, OSError, sqlite3.Error) as exc:
            log.info("cannot create %s: %s", candidate, exc)
            continue
        return project, f"Every change is saved in {candidate}"
    project = Project.in_memory(video_path)
    return project, "Could not create a project file: work is NOT saved yet — use File ▸ Save project as…"
