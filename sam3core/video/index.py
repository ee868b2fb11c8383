"""The frame index of a video stream, built from its packets alone (demux, no decoding).

Frame ``i`` of a video is the ``i``-th picture in presentation order, whatever the container says about
frame rates: the index lists every frame's presentation timestamp (pts) in ascending order, where its
packet sits in decode order, and which packets are keyframes one can start decoding from. Random access
seeks to a suitable keyframe and decodes forward until the decoder hands out the exact pts.

Packets that carry no pts get their dts (streams without B-frames, e.g. many AVI files); packets the
demuxer marks as discarded (the pre-roll an MP4 edit list cuts away) are decoded but never shown, so
they occupy a decode position but are no frame. Where timestamps are missing or repeat, frames cannot
be told apart by time and the index says so (``by_time`` False): then frames are counted in output
order from the start of the stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from sam3core.video.errors import VideoError


@dataclass(frozen=True)
class FrameIndex:
    pts: np.ndarray            # (N,) int64, ascending: presentation time of frame i, in time_base units
    decode_pos: np.ndarray     # (N,) int64: position of frame i's packet in decode order
    key_pos: np.ndarray        # (K,) int64, ascending: decode positions of keyframes
    key_seek: np.ndarray       # (K,) int64: timestamp to seek to for each keyframe (min of its pts, dts)
    key_pts: np.ndarray        # (K,) int64: pts of each keyframe (what it shows first)
    time_base: Fraction
    by_time: bool              # pts unique and present: frames are identified by timestamp
    truncated: str = ""        # why the scan stopped before the end of the file, if it did

    @property
    def num_frames(self) -> int:
        return int(self.pts.shape[0])

    def frame_of_pts(self, pts: int | None) -> int | None:
        """Index of the frame shown at ``pts``, or None when no frame has that timestamp."""
        if pts is None or not self.by_time:
            return None
        i = int(np.searchsorted(self.pts, pts))
        return i if i < self.pts.shape[0] and int(self.pts[i]) == pts else None

    def start_for(self, index: int) -> int:
        """Which keyframe (index into ``key_pos``) to decode from to reach frame ``index`` exactly.

        The last keyframe that comes before the frame in decode order and does not show after it: a
        frame shown before its GOP's keyframe (an open GOP's leading B-frame) needs the GOP before.
        Returns -1 when no keyframe qualifies (decode from the very start of the stream).
        """
        pos, pts = int(self.decode_pos[index]), int(self.pts[index])
        k = int(np.searchsorted(self.key_pos, pos, side="right")) - 1
        while k >= 0 and int(self.key_pts[k]) > pts:
            k -= 1
        return k

    def seconds(self) -> np.ndarray:
        """(N,) float64 presentation time of every frame in seconds (pts x time_base)."""
        return self.pts.astype(np.float64) * float(self.time_base)


def scan(path: Path, stream_index: int, should_stop: Callable[[], bool] | None = None) -> FrameIndex:
    """Read every packet of one video stream of ``path`` (payloads are read, never decoded).

    ``should_stop()`` is asked every few hundred packets; when it answers True the scan ends early
    (its index is incomplete: for a source closed before its index was needed).
    """
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"{path}: cannot be read as a video ({exc})") from exc
    pts_list: list[int | None] = []
    dts_list: list[int | None] = []
    pos_list: list[int] = []
    keys: list[tuple[int, int | None, int | None]] = []
    truncated = ""
    with container:
        stream = container.streams[stream_index]
        time_base = stream.time_base or Fraction(1, 90000)
        position = 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0 and packet.pts is None and packet.dts is None:
                    continue  # the flush packet demux yields at the end
                pts, dts = packet.pts, packet.dts
                if packet.is_keyframe:
                    keys.append((position, pts, dts))
                if not packet.is_discard:
                    pts_list.append(pts)
                    dts_list.append(dts)
                    pos_list.append(position)
                position += 1
                if should_stop is not None and position % 256 == 0 and should_stop():
                    truncated = "stopped on request"
                    break
        except (av.error.FFmpegError, OSError) as exc:
            truncated = f"reading stopped after {position} packets: {exc}"
    return _build(pts_list, dts_list, pos_list, keys, time_base, truncated)


def _build(pts_list: list[int | None], dts_list: list[int | None], pos_list: list[int],
           keys: list[tuple[int, int | None, int | None]], time_base: Fraction, truncated: str) -> FrameIndex:
    times = [p if p is not None else d for p, d in zip(pts_list, dts_list)]
    by_time = all(t is not None for t in times) and len(set(times)) == len(times)
    if by_time:
        order = np.argsort(np.asarray(times, np.int64), kind="stable")
        pts = np.asarray(times, np.int64)[order]
        decode_pos = np.asarray(pos_list, np.int64)[order]
    else:
        # No usable timestamps: frame i is the i-th picture the decoder outputs; decode positions are
        # only known to be monotone, so start_for always falls back to the stream start.
        pts = np.arange(len(times), dtype=np.int64)
        decode_pos = np.asarray(pos_list, np.int64)
        keys = []
    key_pos = np.asarray([k[0] for k in keys], np.int64)
    key_pts_raw = [k[1] if k[1] is not None else k[2] for k in keys]
    usable = [i for i, t in enumerate(key_pts_raw) if t is not None]
    key_pos = key_pos[usable]
    key_pts = np.asarray([key_pts_raw[i] for i in usable], np.int64)
    key_seek = np.asarray([min(t for t in keys[i][1:] if t is not None) for i in usable], np.int64)
    return FrameIndex(pts=pts, decode_pos=decode_pos, key_pos=key_pos, key_seek=key_seek, key_pts=key_pts,
                      time_base=time_base, by_time=by_time, truncated=truncated)
