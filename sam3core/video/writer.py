"""Writing videos: H.264 (yuv420p, ``+faststart``) through PyAV, which plays in browsers and editors,
with MPEG-4 Part 2 and OpenCV as fallbacks where an FFmpeg build lacks libx264."""

from __future__ import annotations

import contextlib
import logging
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from sam3core.video.errors import VideoError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".ts", ".mts",
                  ".m2ts", ".3gp")
TIME_BASE = Fraction(1, 90000)
# MPEG-4 Part 2 refuses a time-base denominator above 65535 (avcodec_open2 fails with EINVAL at 1/90000);
# 1/60000 still holds 24, 25, 30, 50, 60 and 30000/1001 frames/s exactly.
MPEG4_TIME_BASE = Fraction(1, 60000)


def _encoders(suffix: str, codec: str) -> list[tuple[str, str, dict[str, str]]]:
    """(codec, pixel format, options) to try in order for a file suffix and a preferred codec."""
    if codec == "mpeg4":
        return [("mpeg4", "yuv420p", {"qscale": "2"})]
    if suffix == ".avi":
        # 4:4:4 keeps thin coloured edges (outlines, small objects) sharp; every MJPEG decoder reads it.
        return [("mjpeg", "yuvj444p", {"q": "2"}), ("mpeg4", "yuv420p", {"qscale": "2"})]
    if suffix == ".webm":
        return [("libvpx-vp9", "yuv420p", {"crf": "30", "b": "0", "deadline": "good", "cpu-used": "5"})]
    return [("libx264", "yuv420p", {"preset": "veryfast", "crf": "18", "profile": "high"}),
            ("mpeg4", "yuv420p", {"qscale": "2"})]


class VideoWriter:
    """Encode RGB frames into ``path``; use as a context manager, or call :meth:`close`.

    ``write(rgb, time=None)`` takes (H, W, 3) uint8 frames of the size given here and an optional
    presentation time in seconds (keeps a variable-frame-rate source's timing; default: frame k at
    k / fps). 4:2:0 needs even sides: odd frames are padded by repeating their last row/column.
    """

    def __init__(self, path: str | Path, width: int, height: int, *, fps: float = 24.0,
                 codec: str = "h264") -> None:
        self.path = Path(path)
        self.size = (height, width)
        self.fps = fps if fps and np.isfinite(fps) and fps > 0 else 24.0
        self.codec = ""
        self._count = 0
        self._last_pts = -1
        self._cv2: cv2.VideoWriter | None = None
        self._container: av.container.OutputContainer | None = None
        self._stream = None
        self._time_base = TIME_BASE
        errors: list[str] = []
        for name, pix_fmt, options in _encoders(self.path.suffix.lower(), codec):
            if name not in av.codecs_available:
                continue
            try:
                self._open_av(name, pix_fmt, options)
                self.codec = name
                break
            except (av.error.FFmpegError, ValueError, OSError) as exc:
                errors.append(f"{name}: {exc}")
                self._abandon()
        if not self.codec:
            self._open_cv2(errors)

    def _open_av(self, codec: str, pix_fmt: str, options: dict[str, str]) -> None:
        height, width = self.size
        opts = {"movflags": "+faststart"} if self.path.suffix.lower() in (".mp4", ".mov", ".m4v") else {}
        self._container = av.open(str(self.path), "w", options=opts)
        options = dict(options)
        qscale = options.pop("qscale", None)
        stream = self._container.add_stream(codec, rate=Fraction(self.fps).limit_denominator(1001),
                                            options=options)
        if qscale is not None:  # fixed quantiser, as ffmpeg's -q:v (lambda = q * FF_QP2LAMBDA)
            stream.codec_context.qscale = True
            stream.codec_context.global_quality = int(qscale) * 118
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = pix_fmt
        self._time_base = MPEG4_TIME_BASE if codec == "mpeg4" else TIME_BASE
        stream.codec_context.time_base = self._time_base
        stream.codec_context.open()  # fail here, on the first candidate, rather than at the first frame
        self._stream = stream

    def _open_cv2(self, errors: list[str]) -> None:
        height, width = self.size
        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"))
        writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (width, height))
        if not writer.isOpened():
            why = "; ".join(errors) or "no encoder"
            raise VideoError(f"{self.path}: cannot be opened for writing ({why})")
        log.warning("%s: no FFmpeg encoder available (%s); writing with OpenCV", self.path, "; ".join(errors))
        self._cv2 = writer
        self.codec = "mp4v" if self.path.suffix.lower() != ".avi" else "MJPG"

    def write(self, rgb: np.ndarray, time: float | None = None) -> None:
        if rgb.shape[:2] != self.size or rgb.dtype != np.uint8:
            raise ValueError(f"frame {rgb.shape} {rgb.dtype}; this writer takes {self.size} RGB uint8")
        if self._cv2 is not None:
            self._cv2.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            self._count += 1
            return
        assert self._container is not None and self._stream is not None
        height, width = self.size
        if height % 2 or width % 2:
            rgb = np.pad(rgb, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        seconds = self._count / self.fps if time is None else time
        pts = round(seconds / self._time_base)
        frame.pts = max(pts, self._last_pts + 1)  # strictly increasing, whatever the caller's clock
        frame.time_base = self._time_base
        self._last_pts = frame.pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._count += 1

    def close(self) -> None:
        if self._cv2 is not None:
            self._cv2.release()
            self._cv2 = None
        if self._container is not None:
            try:
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
            finally:
                self._container.close()
                self._container = None

    def _abandon(self) -> None:
        if self._container is not None:
            with contextlib.suppress(av.error.FFmpegError, OSError):
                self._container.close()
            self._container = None
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_video(path: str | Path, frames: list[np.ndarray] | np.ndarray, fps: float = 24.0, *,
                codec: str = "mpeg4") -> Path:
    """Write RGB uint8 frames to a video or, when ``path`` has no video suffix, to a folder of JPEGs
    ``00000.jpg``... ``codec`` "mpeg4" (MPEG-4 Part 2, what Masklet's synthetic clips and test videos
    have always been, quality 2) or "h264"; .avi files are MJPEG, .webm VP9."""
    path = Path(path)
    frames = list(frames)
    if not frames:
        raise ValueError("no frames to write")
    height, width = frames[0].shape[:2]
    if path.suffix.lower() in VIDEO_SUFFIXES:
        path.parent.mkdir(parents=True, exist_ok=True)
        suffix = path.suffix.lower()
        with VideoWriter(path, width, height, fps=fps, codec="" if suffix in (".avi", ".webm") else codec) \
                as writer:
            for rgb in frames:
                writer.write(np.asarray(rgb, np.uint8))
    else:
        path.mkdir(parents=True, exist_ok=True)
        for i, rgb in enumerate(frames):
            cv2.imwrite(str(path / f"{i:05d}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path
