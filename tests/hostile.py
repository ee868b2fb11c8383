"""Helpers of the data-safety tests (issue 13): small videos, file digests, the CLI in a real process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from sam3core.video import write_video

ROOT = Path(__file__).resolve().parents[1]
H, W = 48, 64


def make_video(path: Path, frames: int = 10, seed: int = 0) -> Path:
    """A textured clip whose frames differ (so fingerprints of two seeds differ)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    return write_video(path, [np.roll(base, 2 * i, axis=1) for i in range(frames)], fps=10)


def digest(path: Path) -> str:
    """sha256 of a file, or of every file under a folder (names and bytes); '-' when absent."""
    if not path.exists() and not path.is_symlink():
        return "-"
    h = hashlib.sha256()
    if path.is_dir() and not path.is_symlink():
        for item in sorted(path.rglob("*")):
            h.update(str(item.relative_to(path)).encode())
            if item.is_file() and not item.is_symlink():
                h.update(item.read_bytes())
        return h.hexdigest()
    h.update(path.read_bytes() if not path.is_symlink() else os.readlink(path).encode())
    return h.hexdigest()


def digests(*paths: Path) -> dict[str, str]:
    return {str(p): digest(p) for p in paths}


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def one_object_prompts(x: float = 20, y: float = 20, frame: int = 0, obj_id: int = 1) -> dict:
    return {"objects": [{"id": obj_id, "name": "thing",
                         "prompts": [{"frame": frame, "points": [[x, y]], "labels": [1]}]}]}


def cli_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": "offscreen"}
    env.pop("MASKLET_DEBUG", None)
    return env


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "app.cli", *args]


def run_cli(*args: str, timeout: float = 120, env: dict | None = None,
            preexec_fn=None) -> subprocess.CompletedProcess:  # noqa: ANN001
    """``masklet ARGS`` in a fresh interpreter: its exit code, stdout and stderr."""
    return subprocess.run(cli_command(*args), cwd=ROOT, env=env or cli_env(), capture_output=True, text=True,
                          timeout=timeout, preexec_fn=preexec_fn)
