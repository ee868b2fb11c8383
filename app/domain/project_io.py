"""Whole project files: safe creation, consistent copies (SQLite's online backup), metadata and video.

A new project is built in a hidden sibling and linked into place only when complete, so a crash, or
a second program creating the same file, never leaves half a project behind. A copy is taken with
SQLite's backup API from the live connection, so it is consistent while the project keeps changing,
and it is written beside its target and renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from pathlib import Path

from app.domain.store import ProjectError, VideoMissingError, connect_readonly, create_file
from sam3core.video import READER, VideoError, VideoSource

SIDE_SUFFIXES = ("-wal", "-shm", "-journal", ".lock")


def side_files(path: Path) -> list[Path]:
    """The files SQLite and the writer lock keep beside a project."""
    return [Path(f"{path}{suffix}") for suffix in SIDE_SUFFIXES]


def create_new(path: Path, meta: dict[str, str]) -> None:
    """Create the project database ``path`` (which must not exist) atomically."""
    tmp = path.with_name(f".{path.name}.creating-{secrets.token_hex(6)}")
    try:
        create_file(tmp, meta)
        _fsync(tmp)
        try:
            os.link(tmp, path)
        except FileExistsError as exc:
            raise ProjectError(f"{path}: already exists; open it or choose another name") from exc
        except OSError:
            if path.exists():
                raise ProjectError(f"{path}: already exists; open it or choose another name") from None
            os.replace(tmp, path)  # a disk without hard links; the writer lock keeps others out
    finally:
        for leftover in (tmp, *side_files(tmp)):
            leftover.unlink(missing_ok=True)


def backup_into(conn: sqlite3.Connection, target: Path, video_path: Path) -> None:
    """A consistent copy of ``conn``'s database at ``target`` (replaced if present), its relative video
    path made relative to the new place."""
    tmp = target.with_name(f".{target.name}.copying-{secrets.token_hex(6)}")
    try:
        dest = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            dest.execute("PRAGMA synchronous = OFF")  # one fsync of the finished copy below is enough
            conn.backup(dest)
            relpath = os.path.relpath(video_path, target.parent)
            dest.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('video_relpath', ?)", (relpath,))
            # A copy is one self-contained file: no WAL beside it.
            dest.execute("PRAGMA journal_mode = DELETE")
        finally:
            dest.close()
        _fsync(tmp)
        for stale in side_files(target)[:3]:
            stale.unlink(missing_ok=True)
        os.replace(tmp, target)
        _fsync_folder(target.parent)
    finally:
        for leftover in (tmp, *side_files(tmp)):
            leftover.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError), path.open("rb+") as fh:
        os.fsync(fh.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; elsewhere the rename is as durable as it gets)."""
    if os.name == "posix":
        with contextlib.suppress(OSError):
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name one file: same inode (hard links, symlinks, case-insensitive disks)
    or, for paths that do not exist yet, the same resolved name ignoring case."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.normcase(str(a.resolve())).lower() == os.path.normcase(str(b.resolve())).lower()


def initial_meta(video: VideoSource, engine: str, path: Path | None) -> dict[str, str]:
    video_path = Path(video.path).resolve()
    # The frame count of a long video is known once its index is built (a second or so later): the
    # project records it then (Project._record_count_when_known), so creating one never waits for it.
    count, exact = video.frame_count_hint()
    meta = {"video_path": str(video_path), "fingerprint": video.fingerprint(), "video_reader": READER,
            "num_frames": str(count) if exact else "", "height": str(video.height),
            "width": str(video.width), "engine": engine}
    if path is not None:
        meta["video_relpath"] = os.path.relpath(video_path, path.parent)
    return meta


def read_meta(path: Path) -> dict[str, str]:
    """The project's key/value metadata, read through a connection that cannot write."""
    try:
        conn = connect_readonly(path, brief=True)
    except sqlite3.Error as exc:
        raise ProjectError(f"{path}: cannot be read as a project ({exc})") from exc
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.Error as exc:
        raise ProjectError(f"{path}: damaged project ({exc})") from exc
    finally:
        conn.close()
    missing = {"video_path", "fingerprint", "width", "height"} - set(meta)
    if missing:
        raise ProjectError(f"{path}: damaged project (no {', '.join(sorted(missing))} recorded)")
    return meta


def locate_video(path: Path, meta: dict[str, str], video_path: str | Path | None) -> Path:
    """Where the project's video is: ``video_path`` if given, else its recorded place, else beside the
    project as recorded relatively (both moved together); :class:`VideoMissingError` if neither."""
    stored = Path(meta["video_path"])
    if video_path is not None:
        candidate = Path(video_path)
        if not candidate.exists():
            raise ProjectError(f"{candidate}: no such video file or folder")
        return candidate
    relpath = meta.get("video_relpath")
    relative = (path.parent / relpath).resolve() if relpath else None
    if stored.exists():
        return stored
    if relative is not None and relative.exists():
        return relative
    raise VideoMissingError(f"{path}: its video {stored} was moved or deleted; give its new location", stored)


def open_video(path: Path) -> VideoSource:
    try:
        return VideoSource(path)
    except VideoError as exc:
        raise ProjectError(str(exc)) from exc


def check_copy_target(path: Path, project_path: Path | None, video_path: Path) -> None:
    """Refuse to write a project copy over the project itself, its side files or its video."""
    own = [] if project_path is None else [project_path, *side_files(project_path)]
    if any(same_file(path, p) for p in own):
        raise ProjectError(f"{path}: is this project's own file; choose another name")
    if same_file(path, video_path) or video_path in path.parents:
        raise ProjectError(f"{path}: is the project's video or inside its frame folder; choose another place")
    if path.is_dir():
        raise ProjectError(f"{path}: is a folder; give a file name ending in .masklet")
    if not path.parent.is_dir():
        raise ProjectError(f"{path.parent}: no such folder")
