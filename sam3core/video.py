"""Streamed access to video frames: a file (mp4/avi/mov/mkv/...) or a folder of numbered images.

Frames are decoded on demand and kept in a small LRU cache of RGB uint8 arrays, so memory does not
grow with the length of the video. Every engine, the exporter and the GUI read frames through here.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class VideoError(ValueError):
    """A video or image folder that cannot be opened or read; the message names the path."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    num_frames: int
    height: int
    width: int
    fps: float


def _numeric_key(path: Path) -> tuple[int, str]:
    digits = re.findall(r"\d+", path.stem)
    return (int(digits[-1]) if digits else -1, path.name)


def list_image_frames(folder: Path) -> list[Path]:
    """Image files of a frame folder, ordered by the last number in their names."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=_numeric_key)


class VideoSource:
    """Random access to the frames of one video, decoding lazily.

    ``source[i]`` returns frame ``i`` as an (H, W, 3) RGB uint8 array (read-only view of the cache).
    The cache holds at most ``cache_frames`` frames and, for large videos, at most ``cache_bytes``
    (never fewer than 2 frames), so a 4K clip costs the same memory as a small one.
    Thread-safe: the GUI thread and the tracker worker may read concurrently.
    """

    def __init__(self, path: str | Path, *, cache_frames: int = 48, cache_bytes: int = 192 * 2**20) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise VideoError(f"{self.path}: no such file or folder")
        self._lock = threading.RLock()
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_frames = max(1, cache_frames)
        self._cap: cv2.VideoCapture | None = None
        self._next_index = 0
        self._files: list[Path] | None = None
        if self.path.is_dir():
            self._files = list_image_frames(self.path)
            if not self._files:
                raise VideoError(f"{self.path}: folder holds no .jpg/.png frames")
            first = self._read_image(0)
            height, width = first.shape[:2]
            self.info = VideoInfo(str(self.path), len(self._files), height, width, 30.0)
            self._limit_cache(cache_bytes)
            self._put(0, first)
        else:
            if self.path.suffix.lower() not in VIDEO_SUFFIXES:
                raise VideoError(
                    f"{self.path}: not a video file (expected one of {', '.join(VIDEO_SUFFIXES)}) "
                    "or a folder of numbered .jpg/.png frames"
                )
            cap = cv2.VideoCapture(str(self.path))
            if not cap.isOpened():
                raise VideoError(f"{self.path}: cannot be opened as a video")
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            fps = float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
            ok, bgr = cap.read()
            if not ok or bgr is None:
                cap.release()
                raise VideoError(f"{self.path}: no frame could be decoded")
            self._cap = cap
            self._next_index = 1
            height, width = bgr.shape[:2]
            if count <= 0:
                count = self._count_by_decoding()
            self.info = VideoInfo(str(self.path), count, height, width, fps)
            self._limit_cache(cache_bytes)
            self._put(0, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    # -- public -----------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return self.info.num_frames

    @property
    def height(self) -> int:
        return self.info.height

    @property
    def width(self) -> int:
        return self.info.width

    def __len__(self) -> int:
        return self.info.num_frames

    def __getitem__(self, index: int) -> np.ndarray:
        return self.frame(index)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as (H, W, 3) RGB uint8."""
        if not 0 <= index < self.info.num_frames:
            raise IndexError(f"frame {index} outside 0..{self.info.num_frames - 1} of {self.path}")
        with self._lock:
            cached = self._cache.get(index)
            if cached is not None:
                self._cache.move_to_end(index)
                return cached
            rgb = self._read_image(index) if self._files is not None else self._read_video(index)
            self._put(index, rgb)
            return rgb

    def fingerprint(self, samples: int = 4) -> str:
        """Content hash of a few evenly spaced frames plus the size: tells one video from another."""
        digest = hashlib.sha256(f"{self.num_frames}x{self.height}x{self.width}".encode())
        count = min(samples, self.num_frames)
        for k in range(count):
            index = round(k * (self.num_frames - 1) / max(1, count - 1))
            # Coarse thumbnails make the hash robust to decoder rounding differences.
            thumb = cv2.resize(self.frame(index), (32, 32), interpolation=cv2.INTER_AREA)
            digest.update((thumb // 16).tobytes())
        return digest.hexdigest()[:32]

    def close(self) -> None:
        with self._lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None
            self._cache.clear()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------
    def _limit_cache(self, cache_bytes: int) -> None:
        frame_bytes = self.info.height * self.info.width * 3
        self._cache_frames = min(self._cache_frames, max(2, cache_bytes // max(1, frame_bytes)))

    def _put(self, index: int, rgb: np.ndarray) -> None:
        rgb.setflags(write=False)
        self._cache[index] = rgb
        self._cache.move_to_end(index)
        while len(self._cache) > self._cache_frames:
            self._cache.popitem(last=False)

    def _read_image(self, index: int) -> np.ndarray:
        assert self._files is not None
        path = self._files[index]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise VideoError(f"{path}: cannot be read as an image")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if index and (rgb.shape[0] != self.info.height or rgb.shape[1] != self.info.width):
            raise VideoError(f"{path}: size {rgb.shape[1]}x{rgb.shape[0]} differs from the first frame's")
        return rgb

    def _open_capture(self) -> cv2.VideoCapture:
        if self._cap is None:
            self._cap = cv2.VideoCapture(str(self.path))
            self._next_index = 0
        return self._cap

    def _read_video(self, index: int) -> np.ndarray:
        cap = self._open_capture()
        gap = index - self._next_index
        if gap < 0 or gap > 30:
            # Seeking is only exact from a keyframe; reopen-and-skip for short backward jumps would
            # be slower than letting FFmpeg seek, so seek and trust the demuxer's frame index.
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            self._next_index = index
        while self._next_index < index:
            # Decode-and-drop the small forward gap, caching nothing (grab skips colour conversion).
            if not cap.grab():
                break
            self._next_index += 1
        ok, bgr = cap.read()
        if not ok or bgr is None:
            raise VideoError(f"{self.path}: frame {index} could not be decoded")
        self._next_index = index + 1
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _count_by_decoding(self) -> int:
        cap = cv2.VideoCapture(str(self.path))
        count = 0
        while cap.grab():
            count += 1
        cap.release()
        if count == 0:
            raise VideoError(f"{self.path}: no frame could be decoded")
        return count


def write_video(path: str | Path, frames: list[np.ndarray] | np.ndarray, fps: float = 24.0) -> Path:
    """Write RGB uint8 frames to an mp4 (mp4v) or a folder of JPEGs when ``path`` has no video suffix."""
    path = Path(path)
    frames = list(frames)
    if not frames:
        raise ValueError("no frames to write")
    height, width = frames[0].shape[:2]
    if path.suffix.lower() in VIDEO_SUFFIXES:
        path.parent.mkdir(parents=True, exist_ok=True)
        fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix.lower() != ".avi" else "MJPG"))
        writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
        if not writer.isOpened():
            raise VideoError(f"{path}: cannot be opened for writing")
        for rgb in frames:
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        writer.release()
    else:
        path.mkdir(parents=True, exist_ok=True)
        for i, rgb in enumerate(frames):
            cv2.imwrite(str(path / f"{i:05d}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path
