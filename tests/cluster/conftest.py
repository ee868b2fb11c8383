"""The Ray tests' cluster, clips, prompts and manifests (made on the fly).

One real local Ray instance serves every test here and stops when they are done, so the rest of the
suite runs without Ray's processes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="package")
def ray_cluster():
    """A real local Ray instance (2 CPUs, loopback only, token authentication)."""
    pytest.importorskip("ray")
    from app.cluster import runtime

    runtime.connect(None, num_cpus=2)
    yield runtime
    runtime.disconnect()


@pytest.fixture
def isolated_settings(tmp_path: Path, qapp: object):  # noqa: ANN201
    """Its own QSettings file for a test that opens a dialog."""
    from PySide6.QtCore import QCoreApplication, QSettings

    QCoreApplication.setOrganizationName("MaskletTests")
    QCoreApplication.setApplicationName("Masklet")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    QSettings().clear()
    yield


def clip_frames(num_frames: int, seed: int, height: int = 72, width: int = 96) -> list[np.ndarray]:
    """Two coloured shapes moving over a textured background; each seed moves them differently."""
    rng = np.random.default_rng(seed)
    background = rng.integers(30, 100, size=(height, width, 3), dtype=np.uint8)
    dx, dy = 1 + seed % 3, 1 + (seed + 1) % 2
    frames = []
    for t in range(num_frames):
        frame = background.copy()
        x, y = 8 + dx * t % (width - 30), 10 + dy * t % (height - 30)
        frame[y:y + 20, x:x + 22] = (220, 40, 30)
        frame[height - 24:height - 6, width - 30 - t % 10:width - 12 - t % 10] = (40, 200, 220)
        frames.append(frame)
    return frames


def clip_prompts(height: int = 72, width: int = 96) -> dict:
    """A click on the red shape and a box around the cyan one, on frame 0."""
    return {"objects": [
        {"id": 1, "name": "red", "prompts": [{"frame": 0, "points": [[19, 20]], "labels": [1]}]},
        {"id": 2, "name": "cyan", "category": "box",
         "prompts": [{"frame": 0, "box": [width - 32, height - 26, width - 10, height - 4]}]},
    ]}


@pytest.fixture
def make_clips(tmp_path: Path):
    """make_clips(n, frames=..., **item_fields) -> (manifest path, [video paths]) with one line per clip."""
    from sam3core.video import write_video

    def make(count: int, *, frames: int = 10, first_seed: int = 0, name: str = "manifest.jsonl",
             inline: bool = True, **fields: object) -> tuple[Path, list[Path]]:
        lines, videos = [], []
        for k in range(count):
            seed = first_seed + k
            video = write_video(tmp_path / f"clip{seed}.avi", clip_frames(frames + k, seed), fps=10)
            videos.append(video)
            prompts: object = clip_prompts()
            if not inline:
                prompts_path = tmp_path / f"clip{seed}.json"
                prompts_path.write_text(json.dumps(prompts))
                prompts = prompts_path.name
            line = {"video": video.name, "prompts": prompts, "project": f"clip{seed}.masklet", **fields}
            lines.append(json.dumps(line))
        manifest = tmp_path / name
        manifest.write_text("\n".join(lines) + "\n")
        return manifest, videos

    return make


@pytest.fixture
def make_video(tmp_path: Path):
    """make_video(name, frames, seed) -> a clip file (".avi") or frame folder (no suffix) in tmp_path."""
    from sam3core.video import write_video

    def make(name: str, frames: int, seed: int = 0) -> Path:
        return write_video(tmp_path / name, clip_frames(frames, seed), fps=10)

    return make


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """240x320, 24 frames: a red disc (centre (70 + 3t, 120), radius 28) moving right and a cyan box
    ((200, 40 + 2t) to (262, 94 + 2t)) moving down over a blurred noise background."""
    import cv2

    from sam3core.video import write_video

    rng = np.random.default_rng(3)
    background = cv2.GaussianBlur(rng.integers(30, 80, (240, 320, 3), dtype=np.uint8), (0, 0), 2)
    frames = []
    for t in range(24):
        frame = background.copy()
        cv2.circle(frame, (70 + 3 * t, 120), 28, (225, 40, 40), -1)
        cv2.rectangle(frame, (200, 40 + 2 * t), (262, 94 + 2 * t), (40, 200, 230), -1)
        frames.append(frame)
    return write_video(tmp_path / "clip" / "shapes.mp4", frames, fps=12)
