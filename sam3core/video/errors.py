"""Errors of the frame source; every message names the file."""

from __future__ import annotations

from pathlib import Path


class VideoError(ValueError):
    """A video or image folder that cannot be opened or read; the message names the path."""


class DamagedFrameError(VideoError):
    """One frame of a video cannot be decoded (a damaged packet, a truncated file). The frames around
    it are unaffected: they keep their numbers."""

    def __init__(self, path: Path | str, index: int, detail: str = "") -> None:
        self.path = Path(path)
        self.index = index
        super().__init__(f"{path}: frame {index} is damaged and cannot be decoded"
                         + (f" ({detail})" if detail else ""))
