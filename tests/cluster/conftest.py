"""Clips, prompts and manifests for the Ray tests (made on the fly; the cluster fixture is in tests/)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


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
