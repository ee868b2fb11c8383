"""One positioned decoder over a video file: seek to a keyframe, decode forward to an exact frame.

A :class:`Cursor` owns its own demuxer and decoder (FFmpeg, through PyAV) and remembers which frame it
handed out last, so a reader moving forward never seeks: it keeps decoding. A jump backward, or past
the next keyframe, seeks to the keyframe chosen by :meth:`FrameIndex.start_for` and decodes forward,
recognising every decoded picture by its timestamp. A picture the decoder never produces (a damaged
packet) is reported for its own frame number; the pictures after it keep theirs.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from sam3core.video.errors import DamagedFrameError, VideoError
from sam3core.video.index import FrameIndex

log = logging.getLogger(__name__)

SEEK_COST = 12  # packets: what a seek costs beyond the packets it skips (pipeline refill, flush)

def open_container(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise VideoError(f"{path}: cannot be read as a video ({exc})") from exc


def video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    """The stream a player would show: the first video stream that is not a cover picture."""
    streams = [s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
    if not streams:
        raise VideoError(f"{path}: holds no video stream")
    return streams[0]


class Converter:
    """Decoded picture -> upright (H, W, 3) RGB uint8, through swscale honouring the frame's own colour
    tags (BT.601/709, limited/full range; 10-bit, 4:2:2, palette, alpha and grey all become 8-bit RGB).

    swscale picks its thread count from the CPUs (measured on two busy cores: as fast as or faster
    than one thread, and than OpenCV's I420 conversion).
    """

    def __init__(self, rotation: int) -> None:
        self.rotation = rotation
        self._reformatter = VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        rgb = self._reformatter.reformat(frame, format="rgb24", threads=0).to_ndarray()
        if self.rotation:
            rgb = np.ascontiguousarray(np.rot90(rgb, k=self.rotation // 90))
        return rgb


class Cursor:
    """A demuxer + decoder positioned in one video; not thread-safe (the caller holds ``lock``)."""

    def __init__(self, path: Path, stream_index: int, index: FrameIndex, converter: Converter) -> None:
        self.path = path
        self.index = index
        self.convert = converter
        self._stream_index = stream_index
        self._container: av.container.InputContainer | None = None
        self._frames: Iterator[av.VideoFrame] | None = None
        self._pending: deque[tuple[int, av.VideoFrame]] = deque()
        self.position = -1          # index of the last frame handed out or passed; -1: before the first
        self.started = False        # the decoder is running (position means something)
        self.last_used = 0.0
        self.errors: list[str] = []  # why packets failed to decode, latest last (for the error message)
        self._expected = 0          # first frame a picture after the latest seek may be (earlier: skipped)
        self._first_after_seek = -1
        self._fresh = False
        self.kept: list[tuple[int, av.VideoFrame]] = []

    # -- public ------------------------------------------------------------------------------------
    def reachable_without_seek(self, target: int) -> bool:
        """Whether decoding on from here reaches ``target`` about as soon as a seek would."""
        if not self.started or target <= self.position:
            return False
        if not self.index.by_time:
            return True
        k = self.index.start_for(target)
        # A seek restarts at keyframe k. Decoding on costs the packets from here to the target, a seek
        # those from k to it plus refilling the decoder's pipeline: continue unless k is well ahead.
        here = int(self.index.decode_pos[self.position]) if self.position >= 0 else -1
        return k < 0 or int(self.index.key_pos[k]) <= here + SEEK_COST

    def read(self, target: int, *, keep: int = 0) -> av.VideoFrame:
        """The decoded picture of frame ``target``; ``kept`` then holds (index, picture) of up to ``keep``
        frames just before it that were decoded on the way.

        Raises :class:`DamagedFrameError` when ``target`` itself never comes out of the decoder.
        """
        self.last_used = time.monotonic()
        self.kept: list[tuple[int, av.VideoFrame]] = []
        if not self.reachable_without_seek(target):
            self._seek_for(target)
        for attempt in range(3):
            for idx, frame in self._identified():
                if idx < target:
                    if idx >= target - keep:
                        self.kept.append((idx, frame))
                    continue
                if idx == target:
                    return frame
                self._pending.appendleft((idx, frame))  # overshot: keep it for the next read
                self.position = idx - 1
                break
            # The decoder passed ``target`` (or reached the end) without producing it. Right after a
            # seek that may be a demuxer landing after the keyframe asked for (MPEG-PS seeks by dts):
            # seek again to the keyframe's earliest time, then from the keyframe before it, before
            # calling the frame damaged.
            landed_late = self._first_after_seek == -1 or self._first_after_seek > target
            if attempt < 2 and landed_late and self.index.by_time:
                self._seek_for(target, retry=attempt + 1)
                continue
            break
        detail = self.errors[-1] if self.errors else "the decoder produced no picture for it"
        raise DamagedFrameError(self.path, target, detail)

    def close(self) -> None:
        self._frames = None
        self._pending.clear()
        if self._container is not None:
            self._container.close()
            self._container = None
        self.started = False

    # -- internals -----------------------------------------------------------------------------------
    def _open(self) -> av.container.InputContainer:
        self.close()
        container = open_container(self.path)
        stream = container.streams[self._stream_index]
        # Frame threads decode several pictures at once; FFmpeg picks the count from the CPUs.
        stream.thread_type = "AUTO"
        self._container = container
        return container

    def _seek_for(self, target: int, *, retry: int = 0) -> None:
        index = self.index
        k = index.start_for(target) if index.by_time else -1
        if retry == 2:
            k -= 1
        if k < 0:
            container = self._open()
            self.position = -1
            self._expected = 0
        else:
            container = self._container or self._open()
            # MP4 and Matroska seek to the keyframe shown at or before a time: the keyframe's own pts
            # lands on it (its dts would land a GOP early). A retry seeks to the earliest time it has.
            when = int(index.key_pts[k]) if retry == 0 else int(index.key_seek[k])
            container.seek(when, stream=container.streams[self._stream_index], backward=True, any_frame=False)
            container.streams[self._stream_index].codec_context.flush_buffers()
            self._pending.clear()
            # Pictures shown before the keyframe (an open GOP's leading frames) lack their references
            # after a seek: they are passed over, never returned.
            self._expected = int(np.searchsorted(index.pts, int(index.key_pts[k])))
            self.position = self._expected - 1
        self._frames = self._decode(container)
        self._first_after_seek = -1
        self._fresh = True
        self.started = True

    def _decode(self, container: av.container.InputContainer) -> Iterator[av.VideoFrame]:
        stream = container.streams[self._stream_index]
        codec = stream.codec_context
        try:
            for packet in container.demux(stream):
                try:
                    yield from codec.decode(packet)
                except av.error.FFmpegError as exc:
                    self.errors.append(f"packet at pts {packet.pts}: {exc}")
                    log.debug("%s: undecodable packet at pts %s: %s", self.path, packet.pts, exc)
        except (av.error.FFmpegError, OSError) as exc:  # the file ends early or cannot be read
            self.errors.append(f"reading stopped: {exc}")
            log.warning("%s: reading stopped: %s", self.path, exc)
            with contextlib.suppress(av.error.FFmpegError):
                yield from codec.decode(None)

    def _identified(self) -> Iterator[tuple[int, av.VideoFrame]]:
        """Decoded pictures with their frame numbers, in presentation order, from the cursor position on.

        ``position`` advances past every picture handed out, so a caller that stops iterating leaves
        the cursor right after the last frame it saw.
        """
        while self._pending:
            idx, frame = self._pending.popleft()
            self.position = idx
            yield idx, frame
        if self._frames is None:
            return
        for frame in self._frames:
            idx = self.index.frame_of_pts(frame.pts) if self.index.by_time else None
            if idx is None:
                if self.index.by_time and frame.pts is not None:
                    log.debug("%s: picture at pts %s is no frame of the index", self.path, frame.pts)
                    continue
                if self.position < 0 and self._expected > 0:
                    continue  # right after a seek a picture without time cannot be placed
                idx = self.position + 1
            if idx < self._expected or (idx <= self.position and not self._fresh):
                continue  # a leading picture after a seek, or a repeated timestamp
            if self._fresh:
                self._first_after_seek, self._fresh = idx, False
            self.position = idx
            yield idx, frame
        self._frames = None
        self.started = False
