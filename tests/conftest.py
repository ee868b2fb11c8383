"""Shared fixtures: synthetic videos made on the fly (tests never need ../shared)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def moving_square_frames(num_frames: int = 12, height: int = 96, width: int = 128) -> list[np.ndarray]:
    """A red square moving right over a textured background; frame i has its own content."""
    rng = np.random.default_rng(0)
    background = rng.integers(40, 90, size=(height, width, 3), dtype=np.uint8)
    frames = []
    for i in range(num_frames):
        frame = background.copy()
        x = 10 + 4 * i
        frame[30:60, x:x + 30] = (220, 30, 30)
        frames.append(frame)
    return frames


@pytest.fixture
def square_video(tmp_path: Path) -> Path:
    from sam3core.video import write_video

    return write_video(tmp_path / "square.avi", moving_square_frames(), fps=10)


@pytest.fixture
def square_frames_dir(tmp_path: Path) -> Path:
    from sam3core.video import write_video

    return write_video(tmp_path / "frames", moving_square_frames())


def shared_clip(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"optional shared data {path} is absent")
    return path

