"""Helpers shared by the tracker benchmarks (run as scripts, so this folder is on sys.path)."""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
BEDROOM = ROOT.parent / "shared" / "data" / "bedroom.mp4"


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def make_clip(folder: Path, frames: int) -> None:
    """JPEG frames 00000.jpg... of bedroom.mp4 (the references read JPEG folders without decord), or a
    synthetic 960x540 clip with a moving block when the shared clip is absent."""
    from sam3core.video import VideoSource, write_video

    images: list[np.ndarray] = []
    if BEDROOM.exists():
        with VideoSource(BEDROOM, cache_frames=2) as video:
            images = [video[i].copy() for i in range(min(frames, video.num_frames))]
    if len(images) < frames:
        rng = np.random.default_rng(0)
        background = rng.integers(20, 120, size=(540, 960, 3), dtype=np.uint8)
        images = []
        for i in range(frames):
            frame = background.copy()
            frame[250:450, 150 + 2 * i:300 + 2 * i] = (200, 60, 40)
            images.append(frame)
    write_video(folder, images)
