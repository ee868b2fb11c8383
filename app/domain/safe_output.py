"""Writing an export so that it can never damage the project, its video or an earlier export.

:func:`check_output` refuses, before any work, an output that is the project file or one of its side
files (``-wal``, ``-shm``, ``.lock``), another Masklet project, the source video, anything inside the
source frame folder, or a folder that contains any of them; symlinks, relative paths and
case-insensitive disks are seen through. :func:`staged_output` gives the exporter a path inside a fresh
private folder beside the output (``.masklet-staging-<host>-<pid>-<random>``) and, only when the
exporter has finished, renames its file into place, or swaps its folder in for the earlier one. So a
failure or a kill leaves the earlier output as it was; nothing at the output path is ever written
through a symlink planted there; an existing folder is replaced only when it is empty or an earlier
Masklet export (it carries :data:`MARKER`), never merged with. Leftovers of killed runs are removed
by the next export into the same folder (an interrupted swap is undone).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from app.domain.project_io import same_file, side_files
from app.domain.store import APPLICATION_ID, SQLITE_MAGIC

MARKER = ".masklet-export.json"
_STAGING = ".masklet-staging-"
_OLD = ".masklet-old-"


class ExportError(ValueError):
    """An output that must not be written, or could not be; the message names the path and the reason."""


@dataclass(frozen=True)
class WriteReport:
    """What an export wrote: its path, "file" or "folder", how many files and bytes, what it replaced."""

    path: Path
    kind: str
    files: int
    bytes: int
    replaced: bool

    def describe(self) -> str:
        size = f"{self.bytes / 1e6:.1f} MB" if self.bytes >= 100_000 else f"{self.bytes / 1e3:.1f} kB"
        count = f"{self.files} file{'s' if self.files != 1 else ''}"
        what = "folder " if self.kind == "folder" else ""
        replaced = ", replacing the earlier one" if self.replaced else ""
        return f"wrote {what}{self.path} ({count}, {size}){replaced}"


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
    for precious in [p for p in (project_path, video) if p is not None]:
        if _inside(precious.resolve(), resolved):
            raise ExportError(f"{out}: contains the {'project' if precious == project_path else 'video'} "
                              f"{precious}; choose a new or empty folder for the export")
    if resolved.is_file() and _is_masklet_project(resolved):
        raise ExportError(f"{out}: is a Masklet project; refusing to overwrite it with an export")
    if resolved.is_dir():
        if kind == "file":
            raise ExportError(f"{out}: is a folder; this format writes a file, give a file name")
        if not _replaceable_folder(resolved):
            raise ExportError(f"{out}: is a folder that is neither empty nor an earlier Masklet export; "
                              "choose a new or empty folder (nothing was changed)")
    elif resolved.exists() and kind == "folder":
        raise ExportError(f"{out}: is a file; this format writes a folder")
    return resolved


def _replaceable_folder(folder: Path) -> bool:
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise ExportError(f"{folder}: cannot be read ({exc.strerror or exc})") from exc
    return not entries or (folder / MARKER).is_file()


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
    """Remove the staging folders of killed exports beside ``out``, and undo a swap killed half-way
    (``out`` missing, its earlier version set aside): returns what was removed or restored."""
    done = []
    old_prefix = f".{out.name}{_OLD}"
    with contextlib.suppress(OSError):
        for entry in out.parent.iterdir():
            for prefix in (_STAGING, old_prefix):
                if entry.name.startswith(prefix) and not entry.is_symlink() and \
                        _owner_gone(entry.name[len(prefix):]):
                    if prefix == old_prefix and not (out.exists() or out.is_symlink()):
                        entry.rename(out)  # a swap killed between its two renames: undo it
                    else:
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
def staged_output(out: Path, *, marker: dict | None = None) -> Iterator[Staging]:
    """Give the exporter ``staging.path``; when it returns, put the result at ``out`` (a checked path).

    A file is renamed over ``out``; a folder gets :data:`MARKER` and is swapped in for ``out``. On any
    failure the staging folder is removed and ``out`` is as it was.
    """
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(out)
        folder = parent / f"{_STAGING}{_tag()}"
        folder.mkdir(mode=0o700)
    except OSError as exc:
        raise ExportError(f"{parent}: cannot write there ({exc.strerror or exc})") from exc
    staging = Staging(folder / out.name)
    target = staging.path
    try:
        yield staging
        if target.is_symlink() or not target.exists():
            raise ExportError(f"{out}: the exporter wrote nothing")
        replaced = out.exists() or out.is_symlink()
        if target.is_dir():
            (target / MARKER).write_text(json.dumps({**(marker or {}), "written": time.time()}) + "\n")
            files, size = _size(target)
            _swap_folder(target, out)
            kind = "folder"
        else:
            if out.is_dir() and not out.is_symlink():
                raise ExportError(f"{out}: is a folder; this format writes a file, give a file name")
            files, size = _size(target)
            os.replace(target, out)
            kind = "file"
        staging.report = WriteReport(out, kind, files, size, replaced)
    except OSError as exc:
        raise ExportError(f"{out}: could not be written ({exc.strerror or exc}); nothing was "
                          "changed") from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _swap_folder(new: Path, out: Path) -> None:
    if not (out.exists() or out.is_symlink()):
        os.rename(new, out)
        return
    if out.is_symlink() or not out.is_dir() or not _replaceable_folder(out):
        raise ExportError(f"{out}: changed during the export and is no longer a replaceable folder; "
                          f"nothing was changed")
    old = out.with_name(f".{out.name}{_OLD}{_tag()}")
    os.rename(out, old)
    try:
        os.rename(new, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)  # never follows symlinks inside
