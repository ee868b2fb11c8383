"""What Masklet's first frame reader (OpenCV's VideoCapture, before ``READER`` = "pyav-1") saw, for
projects made with it: its fingerprint, and its frames as its sequential reads returned them.

That reader counted frames from the container's estimate and, after an undecodable packet, returned
frame i+1 for i. Projects record which reader numbered their masks; a project from the old one is
checked against these frames before its masks are trusted (see ``app.domain.video_compat``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from sam3core.video.images import IMAGE_SUFFIXES

THUMB = 32


def _old_numeric_key(path: Path) -> tuple[int, str]:
    digits = re.findall(r"\d+", path.stem)
    return (int(digits[-1]) if digits else -1, path.name)


def old_image_frames(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=_old_numeric_key)


class LegacyReader:
    """The old reader's view of a video or folder: its frame count, random access and sequential pass."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._files = old_image_frames(self.path) if self.path.is_dir() else None
        self._cap: cv2.VideoCapture | None = None
        self._next = 0
        if self._files is not None:
            self.num_frames = len(self._files)
        else:
            cap = cv2.VideoCapture(str(self.path))
            if not cap.isOpened():
                raise OSError(f"{self.path}: OpenCV cannot open it")
            self.num_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            cap.release()
            if self.num_frames <= 0:
                self.num_frames = self._count_by_grabbing()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def sequential(self, stop: int | None = None) -> Iterator[np.ndarray | None]:
        """RGB frames 0, 1, ... as the old reader returned them when asked in order (None where it
        failed; after a failure it returned frame i+1 for i, which is what this reproduces)."""
        if self._files is not None:
            for path in self._files[:stop]:
                yield self._image(path)
            return
        self.close()
        try:
            for i in range(self.num_frames if stop is None else min(stop, self.num_frames)):
                yield self.frame(i)
        finally:
            self.close()

    def frame(self, index: int) -> np.ndarray | None:
        """Frame ``index`` as the old random access returned it (seeking as it did), None if unreadable."""
        if self._files is not None:
            return self._image(self._files[index])
        if self._cap is None:
            self._cap = cv2.VideoCapture(str(self.path))
            self._next = 0
        gap = index - self._next
        if gap < 0 or gap > 30:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            self._next = index
        while self._next < index:
            if not self._cap.grab():
                break
            self._next += 1
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            return None  # the old reader raised here, leaving its position where it was
        self._next = index + 1
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def fingerprint(self, samples: int = 4) -> str | None:
        """The fingerprint the old reader stored in projects (None when it cannot be computed)."""
        n = self.num_frames
        digest = hashlib.sha256(f"{n}x{self._size()}".encode())  # count x height x width
        count = min(samples, n)
        for k in range(count):
            rgb = self.frame(round(k * (n - 1) / max(1, count - 1)))
            if rgb is None:
                return None
            digest.update((thumbnail(rgb) // 16).tobytes())
        return digest.hexdigest()[:32]

    def _count_by_grabbing(self) -> int:
        cap = cv2.VideoCapture(str(self.path))
        count = 0
        while cap.grab():
            count += 1
        cap.release()
        return count

    def _size(self) -> str:
        first = next(self.sequential(1), None)
        return "0x0" if first is None else f"{first.shape[0]}x{first.shape[1]}"

    @staticmethod
    def _image(path: Path) -> np.ndarray:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise OSError(f"{path}: OpenCV cannot read it")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """(32, 32, 3) uint8 area-averaged thumbnail: what frame comparisons across decoders look at."""
    return cv2.resize(rgb, (THUMB, THUMB), interpolation=cv2.INTER_AREA)


def same_picture(a: np.ndarray, b: np.ndarray, tolerance: float = 6.0) -> bool:
    """Whether two thumbnails show the same frame: decoders differ by rounding and colour matrices
    (a few levels), neighbouring frames of real video by much more."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) <= tolerance
