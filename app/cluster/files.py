"""Files a worker needs (videos, frame folders, checkpoints): by path when it can read the same file,
else once through Ray's object store into a per-node cache.

A file is identified by its size and a digest of its start, middle and end (folders: of every
frame's name, size and first bytes), cheap even for a 3.5 GB checkpoint; a worker uses the caller's
path only when it finds there a file with the same identity.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20
FRAME_SAMPLE = 1 << 14


@dataclass(frozen=True)
class FileRef:
    """A file or folder as the caller sees it: where, what it is called, and what it contains."""

    path: str
    name: str
    is_dir: bool
    size: int
    digest: str

    def describe(self) -> str:
        return f"{self.name} ({self.size / 2**20:.1f} MB)"


def _file_digest(path: Path, size: int) -> str:
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        for offset in sorted({0, max(0, size // 2 - CHUNK // 2), max(0, size - CHUNK)}):
            handle.seek(offset)
            digest.update(handle.read(CHUNK))
    return digest.hexdigest()[:32]


def _folder_files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_file())


def describe(path: str | Path) -> FileRef:
    """The identity of ``path`` (a file or a folder of frames)."""
    path = Path(path).resolve()
    if path.is_dir():
        digest = hashlib.sha256()
        size = 0
        for item in _folder_files(path):
            item_size = item.stat().st_size
            size += item_size
            with item.open("rb") as handle:
                digest.update(f"{item.name}\0{item_size}\0".encode() + handle.read(FRAME_SAMPLE))
        return FileRef(str(path), path.name, True, size, digest.hexdigest()[:32])
    size = path.stat().st_size
    return FileRef(str(path), path.name, False, size, _file_digest(path, size))


def pack(ref: FileRef) -> bytes | dict[str, bytes]:
    """The content to put in the object store: the file's bytes, or {name: bytes} of a folder."""
    path = Path(ref.path)
    if ref.is_dir:
        return {item.name: item.read_bytes() for item in _folder_files(path)}
    return path.read_bytes()


def cache_root() -> Path:
    root = Path(os.environ.get("MASKLET_CLUSTER_CACHE") or Path(tempfile.gettempdir()) / "masklet-cluster")
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


def _cached_path(ref: FileRef, root: Path) -> Path:
    return root / ref.digest / ref.name


def local_copy(ref: FileRef, root: Path | None = None) -> Path | None:
    """Where this node can read ``ref``: the caller's own path if it holds the same content, a cached
    copy received earlier, or None (then send it with :func:`store`)."""
    own = Path(ref.path)
    try:
        if own.exists() and own.is_dir() == ref.is_dir and describe(own).digest == ref.digest:
            return own
    except OSError:  # unreadable here: treat as absent
        pass
    cached = _cached_path(ref, root or cache_root())
    return cached if cached.exists() else None


def store(ref: FileRef, data: bytes | dict[str, bytes], root: Path | None = None) -> Path:
    """Write received content into the node's cache (atomically: a partial copy is never used)."""
    target = _cached_path(ref, root or cache_root())
    if target.exists():
        return target
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=target.parent))
    try:
        item = staging / ref.name
        if isinstance(data, dict):
            item.mkdir()
            for name, content in data.items():
                if Path(name).name != name or name in ("", ".", ".."):
                    raise ValueError(f"refusing a frame name with a path in it: {name!r}")
                (item / name).write_bytes(content)
        else:
            item.write_bytes(data)
        try:
            os.replace(item, target)
        except OSError:  # another worker on this node stored it first
            if not target.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
