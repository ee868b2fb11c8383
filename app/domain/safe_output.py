"""Writing an export so that it can never damage the project, its video or an earlier export.

:func:`check_output` refuses, before any work, an output that is the project file or one of its side
files (``-wal``, ``-shm``, ``.lock``), another Masklet project, the source video, or anything inside
the source frame folder; symlinks, hard links, relative paths and case-insensitive disks are seen
through. :func:`staged_output` gives the exporter a path inside a fresh private folder beside the
output (``.masklet-staging-<host>-<pid>-<random>``) and, only when the exporter has finished, renames
its file into place, or puts its folder in place: renamed, when nothing is there yet; merged into an
existing folder by :mod:`app.domain.output_merge` otherwise (the files of an earlier export of the
same video replaced, its stale ones removed, nothing else touched, never through a symlink). So a
failure or a kill leaves the earlier output as it was. Leftovers of killed runs are removed by the
next export into the same folder (a merge killed half-way is completed).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from app.domain.output_merge import (
    MARKER,
    MergeRefusedError,
    apply,
    manifest_entry,
    plan,
    read_manifest,
    roll_forward,
    staged_files,
    write_journal,
    write_manifest,
)
from app.domain.project_io import same_file, side_files
from app.domain.store import APPLICATION_ID, SQLITE_MAGIC

_STAGING = ".masklet-staging-"


class ExportError(ValueError):
    """An output that must not be written, or could not be; the message names the path and the reason."""


@dataclass(frozen=True)
class WriteReport:
    """What an export wrote: its path, "file" or "folder", how many files and bytes, what it replaced."""

    path: Path
    kind: str
    files: int
    bytes: int
    replaced: bool  # an earlier file, or an earlier export in the folder, was there
    removed: int = 0  # files of the earlier export of this video that this one no longer writes

    def describe(self) -> str:
        size = f"{self.bytes / 1e6:.1f} MB" if self.bytes >= 100_000 else f"{self.bytes / 1e3:.1f} kB"
        count = f"{self.files} file{'s' if self.files != 1 else ''}"
        what = "folder " if self.kind == "folder" else ""
        if self.kind == "file":
            extra = ", replacing the earlier one" if self.replaced else ""
        else:
            extra = ", beside or over earlier Masklet exports" if self.replaced else ""
            extra += f", {self.removed} stale file(s) of the earlier export removed" if self.removed else ""
        return f"wrote {what}{self.path} ({count}, {size}){extra}"


def _is_masklet_project(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            header = fh.read(100)
    except OSError:
        return False
    return header.startswith(SQLITE_MAGIC) and len(header) == 100 and \
        int.from_bytes(header[68:72], "big") == APPLICATION_ID


def _inside(path: Path, folder: Path) -> bool:
    """``path`` is ``folder`` or below it (compared resolved, ignoring case)."""
    a = os.path.normcase(str(path)).lower().rstrip(os.sep)
    b = os.path.normcase(str(folder)).lower().rstrip(os.sep)
    return a == b or a.startswith(b + os.sep)


def check_output(out: str | Path, *, project_path: Path | None, video_path: Path,
                 kind: str | None = None) -> Path:
    """The absolute, resolved output path, or :class:`ExportError` saying why it must not be written.

    ``kind`` ("file" or "folder") is what the format writes, when known, so a mismatch is refused
    before the work starts.
    """
    if str(out).strip() == "":
        raise ExportError("no output path given")
    given = Path(out).expanduser()
    resolved = Path(os.path.abspath(given)).resolve()
    protected = [project_path, *side_files(project_path)] if project_path else []
    for path in protected:
        if same_file(resolved, path) or same_file(given.absolute(), path):
            raise ExportError(f"{out}: is the project's own file {path.name}; writing there would destroy "
                              "the project — choose another output")
    video = video_path.resolve()
    if video.is_dir():
        if _inside(resolved, video):
            raise ExportError(f"{out}: is inside the video's frame folder {video}; choose an output "
                              "elsewhere")
    elif same_file(resolved, video):
        raise ExportError(f"{out}: is the source video; writing there would destroy it — choose another "
                          "output")
    if resolved.exists() and not (resolved.is_file() or resolved.is_dir()):
        raise ExportError(f"{out}: is a device, pipe or socket, not a file an export can replace")
    if resolved.is_file() and _is_masklet_project(resolved):
        raise ExportError(f"{out}: is a Masklet project; refusing to overwrite it with an export")
    if resolved.is_dir():
        if kind == "file":
            raise ExportError(f"{out}: is a folder; this format writes a file, give a file name")
    elif resolved.exists() and kind == "folder":
        raise ExportError(f"{out}: is a file; this format writes a folder")
    return resolved


def _tag() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


def _owner_gone(rest: str) -> bool:
    """For a leftover named ``...<host>-<pid>-<random>``: True when its program is gone on this host."""
    try:
        host, pid, _random = rest.rsplit("-", 2)
        pid_number = int(pid)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False  # another machine's export may still be running: leave it alone
    return not psutil.pid_exists(pid_number)


def clean_leftovers(out: Path) -> list[Path]:
    """Remove the staging folders of killed exports beside ``out``, first completing a merge that was
    killed while moving files (its journal says what is left): returns what was cleaned."""
    done = []
    with contextlib.suppress(OSError):
        for entry in out.parent.iterdir():
            if entry.name.startswith(_STAGING) and not entry.is_symlink() and entry.is_dir() and \
                    _owner_gone(entry.name[len(_STAGING):]):
                with contextlib.suppress(OSError, ValueError):
                    roll_forward(entry)
                shutil.rmtree(entry, ignore_errors=True)
                done.append(entry)
    return done


def _size(path: Path) -> tuple[int, int]:
    if path.is_file():
        return 1, path.stat().st_size
    files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink() and p.name != MARKER]
    return len(files), sum(p.stat().st_size for p in files)


@dataclass
class Staging:
    """Where the exporter writes (``path``) and, once the output is in place, what was written."""

    path: Path
    report: WriteReport | None = None


@contextlib.contextmanager
def staged_output(out: Path, *, key: str = "export", info: dict | None = None) -> Iterator[Staging]:
    """Give the exporter ``staging.path``; when it returns, put the result at ``out`` (a checked path).

    A file is renamed over ``out``. A folder is renamed to ``out`` when nothing is there, else merged
    into it under ``key`` (one format and video; ``info`` goes into the manifest). On any failure the
    staging folder is removed and ``out`` is as it was.
    """
    parent = out.parent
    created = [p for p in (parent, *parent.parents) if not os.path.lexists(p)]  # removed again on failure
    try:
        parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(out)
        folder = parent / f"{_STAGING}{_tag()}"
        folder.mkdir(mode=0o700)
    except OSError as exc:
        _remove_empty(created)
        raise ExportError(f"{parent}: cannot write there ({exc.strerror or exc})") from exc
    staging = Staging(folder / out.name)
    target = staging.path
    try:
        yield staging
        if target.is_symlink() or not target.exists():
            raise ExportError(f"{out}: the exporter wrote nothing")
        if target.is_dir():
            staging.report = _put_folder(target, out, folder, key, info or {})
        else:
            if out.is_dir() and not out.is_symlink():
                raise ExportError(f"{out}: is a folder; this format writes a file, give a file name")
            replaced = os.path.lexists(out)
            files, size = _size(target)
            os.replace(target, out)
            staging.report = WriteReport(out, "file", files, size, replaced)
    except MergeRefusedError as exc:
        raise ExportError(str(exc)) from exc
    except OSError as exc:
        raise ExportError(f"{out}: could not be written ({exc.strerror or exc}); nothing was "
                          "changed") from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if staging.report is None:
            _remove_empty(created)


def _remove_empty(folders: list[Path]) -> None:
    """The output's parent folders this export created, if still empty (deepest first)."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _put_folder(target: Path, out: Path, staging: Path, key: str, info: dict) -> WriteReport:
    files = staged_files(target)
    count, size = _size(target)
    if not os.path.lexists(out):
        write_manifest(target, {"format": "masklet-export-2", "exports": {key: manifest_entry(files, info)}})
        os.rename(target, out)
        return WriteReport(out, "folder", count, size, False)
    if out.is_symlink() or not out.is_dir():
        raise ExportError(f"{out}: is not a folder; this format writes a folder")
    earlier = bool(read_manifest(out)["exports"])
    journal = plan(out, files, key, info)
    write_journal(staging, journal)
    apply(journal, target)
    return WriteReport(out, "folder", count, size, earlier, removed=len(journal["stale"]))
