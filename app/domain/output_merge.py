"""Putting a finished folder export into a folder that already holds something, losing and mixing nothing.

A dataset folder often holds several exports (a DAVIS root with many sequences, each written by its
own export) and sometimes files of other origin (an official dataset the user adds to). So a folder
export is not swapped in for the whole folder; instead every export leaves a manifest,
:data:`MARKER` (``.masklet-export.json``), recording per export — one key per format and video — the
files it wrote. A new export of the same key

- writes its files over the ones an earlier Masklet export wrote (they are listed),
- removes the files the earlier export of the same key wrote and this one does not (no stale frames
  of a deleted object, no mixture of two exports),
- never touches a file the manifest does not list: if it would have to overwrite one, it is refused
  before anything is changed, naming the file;
- never writes through a symlink: a symlinked folder on the way is refused, a symlinked file is
  replaced by the new file itself.

The moves are planned first and written to a journal in the staging folder; if the program is
killed while moving (a matter of milliseconds), the next export into the same place completes
them (:func:`roll_forward`), so the output never stays half one export and half another.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from pathlib import Path

MARKER = ".masklet-export.json"
JOURNAL = ".masklet-commit.json"
_MANIFEST_FORMAT = "masklet-export-2"


class MergeRefusedError(ValueError):
    """The export cannot go into the existing folder without overwriting something it did not write."""


def read_manifest(folder: Path) -> dict:
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {"format": _MANIFEST_FORMAT, "exports": {}}
    if not isinstance(data, dict) or not isinstance(data.get("exports"), dict):
        return {"format": _MANIFEST_FORMAT, "exports": {}}
    return data


def staged_files(root: Path) -> list[str]:
    """Relative (POSIX) paths of the regular files an exporter wrote under ``root``."""
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise MergeRefusedError(f"the exporter wrote a symlink ({path.relative_to(root)}); refusing to "
                                    "copy it")
        if path.is_file() and path.name not in (MARKER, JOURNAL):
            files.append(path.relative_to(root).as_posix())
    return files


def manifest_entry(files: list[str], info: dict) -> dict:
    return {**info, "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": files}


def _listed(manifest: dict) -> set[str]:
    return {f for entry in manifest["exports"].values() for f in entry.get("files", [])
            if isinstance(f, str)}


def _check_parents(out: Path, relative: str) -> None:
    """Every folder between ``out`` and the file must be a real folder (or not exist yet)."""
    current = out
    for part in Path(relative).parts[:-1]:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISLNK(mode):
            raise MergeRefusedError(f"{current}: is a symlink; an export never writes through one")
        if not stat.S_ISDIR(mode):
            raise MergeRefusedError(f"{current}: is a file where the export needs a folder")


def plan(out: Path, files: list[str], key: str, info: dict) -> dict:
    """The journal of putting ``files`` (staged) into the existing folder ``out`` under ``key``; raises
    :class:`MergeRefusedError` (nothing changed) when it would overwrite what no Masklet export wrote."""
    manifest = read_manifest(out)
    ours = _listed(manifest)
    foreign = []
    for relative in files:
        _check_parents(out, relative)
        target = out / relative
        if os.path.lexists(target):
            if target.is_dir() and not target.is_symlink():
                raise MergeRefusedError(f"{target}: is a folder where the export writes a file")
            if relative not in ours:
                foreign.append(relative)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise MergeRefusedError(f"{out}: already holds {shown}, not written by a Masklet export; choose a "
                                "new or empty folder (nothing was changed)")
    before = set(manifest["exports"].get(key, {}).get("files", []))
    others = _listed({"exports": {k: v for k, v in manifest["exports"].items() if k != key}})
    stale = sorted(before - set(files) - others)
    exports = {**manifest["exports"], key: manifest_entry(files, info)}
    manifest = {"format": _MANIFEST_FORMAT, "exports": exports}
    return {"out": str(out), "files": files, "stale": stale, "manifest": manifest}


def _make_parents(out: Path, relative: str) -> None:
    current = out
    for part in Path(relative).parts[:-1]:
        current = current / part
        with contextlib.suppress(FileExistsError):
            os.mkdir(current)
        if os.path.islink(current) or not current.is_dir():
            raise MergeRefusedError(f"{current}: is not a real folder; an export never writes through one")


def apply(journal: dict, staged_root: Path) -> None:
    """Carry out a :func:`plan` (again after a kill: every step can be repeated)."""
    out = Path(journal["out"])
    for relative in journal["files"]:
        source = staged_root / relative
        if os.path.lexists(source):
            _make_parents(out, relative)
            os.replace(source, out / relative)  # over a symlink: replaces the link, never its target
    for relative in journal["stale"]:
        target = out / relative
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISDIR(os.lstat(target).st_mode):
                target.unlink()
        for parent in Path(relative).parents:
            if parent == Path("."):
                break
            with contextlib.suppress(OSError):
                (out / parent).rmdir()  # only folders left empty
    write_manifest(out, journal["manifest"])


def write_manifest(folder: Path, manifest: dict) -> None:
    tmp = folder / f"{MARKER}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MARKER)


def write_journal(staging: Path, journal: dict) -> None:
    path = staging / JOURNAL
    with path.open("w", encoding="utf-8") as fh:
        json.dump(journal, fh)
        fh.flush()
        os.fsync(fh.fileno())


def roll_forward(staging: Path) -> bool:
    """Finish the moves of a killed export whose journal is in ``staging``; False if there is none."""
    try:
        journal = json.loads((staging / JOURNAL).read_text(encoding="utf-8"))
        out = Path(journal["out"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if out.parent != staging.parent:
        return False
    apply(journal, staging / out.name)
    return True
