"""Frame-exact random access to a video file or a folder of numbered images: :class:`VideoSource`.

Video files are demuxed and decoded by FFmpeg through PyAV. Opening decodes the first frame at once and
builds the frame index (every frame's timestamp and the keyframes, from packets alone: see
:mod:`sam3core.video.index`) in a background thread, so the first frame of a long video is on screen
before the index is complete; ``num_frames`` and frames past the first wait for it.

Concurrency: the GUI seeks while the tracker reads in order. Each read takes a :class:`Cursor` (its own
demuxer and decoder) from a small pool, preferring one that reaches the frame by decoding on without a
seek. Two readers therefore keep their own positions and decode in parallel, where a single decoder
behind a lock would make every GUI seek cost the tracker a seek back and a GOP of decoding. Decoded
frames go into one LRU cache of RGB arrays, bounded in frames and bytes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from sam3core.runtime.heap import recycle_heap
from sam3core.video.decoder import Converter, Cursor, open_container, video_stream
from sam3core.video.errors import DamagedFrameError, VideoError
from sam3core.video.images import IMAGE_SUFFIXES, image_size, list_image_frames, read_image
from sam3core.video.index import FrameIndex, scan
from sam3core.video.writer import VIDEO_SUFFIXES

log = logging.getLogger(__name__)

MIN_SIDE = 16           # smaller frames cannot be annotated (nor tracked: optical flow needs 12+)
MAX_SIDE = 16384        # FFmpeg's and the engines' practical limit
BACKWARD_KEEP = 16      # frames kept from a decode-forward when the reader is stepping backwards
MAX_CURSORS = 3         # decoders per video: the tracker, the GUI and one spare for exports/prefetch
READER = "pyav-1"       # recorded in projects: which frame numbering their masks refer to


@dataclass(frozen=True)
class VideoInfo:
    path: str
    num_frames: int
    height: int             # as shown (after rotation metadata / EXIF orientation)
    width: int
    fps: float              # nominal (the average rate); frame times are in ``VideoSource.timestamps``
    codec: str = ""
    rotation: int = 0       # degrees counter-clockwise applied to the decoded pictures


def check_regular_file(path: Path) -> None:
    """Refuse what would make a decoder hang or misread: pipes, devices, sockets, empty files."""
    try:
        st = os.stat(path)
    except PermissionError as exc:
        raise VideoError(f"{path}: cannot be read (permission denied)") from exc
    except OSError as exc:
        raise VideoError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(st.st_mode):
        raise VideoError(f"{path}: is not a regular file (a pipe, device or socket); "
                         "open a video file or a folder of frames")
    if st.st_size == 0:
        raise VideoError(f"{path}: is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise VideoError(f"{path}: cannot be read (permission denied)")


def _check_size(path: Path, height: int, width: int) -> None:
    if min(height, width) < MIN_SIDE or max(height, width) > MAX_SIDE:
        raise VideoError(f"{path}: frames of {width}x{height} pixels cannot be annotated "
                         f"(each side must be {MIN_SIDE} to {MAX_SIDE} pixels)")


class VideoSource:
    """Random access to the frames of one video, decoding lazily and exactly.

    ``source[i]`` returns frame ``i`` (the ``i``-th picture in presentation order) as an (H, W, 3) RGB
    uint8 array, upright (rotation metadata and EXIF orientation applied), read-only. The cache holds
    at most ``cache_frames`` frames and at most ``cache_bytes`` (never fewer than 2 frames).
    Thread-safe. A frame that cannot be decoded raises :class:`DamagedFrameError` naming it.
    """

    def __init__(self, path: str | Path, *, cache_frames: int = 48, cache_bytes: int = 192 * 2**20) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise VideoError(f"{self.path}: no such file or folder")
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_frames = max(1, cache_frames)
        self._cache_bytes = cache_bytes
        self._damaged: set[int] = set()
        self._files: list[Path] | None = None
        self._index: FrameIndex | None = None
        self._index_error: BaseException | None = None
        self._index_done = threading.Event()
        self._index_listeners: list[Callable[[VideoSource], None]] = []
        self._pool = threading.Condition()
        self._cursors: list[Cursor] = []
        self._busy: set[int] = set()
        self._closed = False
        self._recent = threading.local()  # the last frame each thread asked for (backward stepping)
        if self.path.is_dir():
            self._open_folder()
        else:
            self._open_file()

    # -- opening ------------------------------------------------------------------------------------
    def _open_folder(self) -> None:
        files = list_image_frames(self.path)
        if not files:
            raise VideoError(f"{self.path}: folder holds no image frames ({', '.join(IMAGE_SUFFIXES)})")
        first = read_image(files[0])
        height, width = first.shape[:2]
        _check_size(files[0], height, width)
        for path in files[1:]:  # header reads only: a mixed folder is refused now, not mid-tracking
            if image_size(path) != (height, width):
                h, w = image_size(path)
                raise VideoError(f"{self.path}: frames differ in size ({files[0].name} is {width}x{height}, "
                                 f"{path.name} is {w}x{h}); a frame folder needs one size throughout")
        self._files = files
        self._codec = "images"
        self._rotation = 0
        self._fps = 30.0
        self._dims = (height, width)
        self._limit_cache()
        self._put(0, first)
        self._index_done.set()

    def _open_file(self) -> None:
        if self.path.suffix.lower() not in VIDEO_SUFFIXES:
            raise VideoError(f"{self.path}: not a video file (expected one of {', '.join(VIDEO_SUFFIXES)}) "
                             "or a folder of numbered image frames")
        check_regular_file(self.path)
        # Every decoded frame is a fresh multi-MB RGB array: with glibc's default thresholds each one is
        # mmap'ed and unmapped again, ~750 page faults a 1080p frame, and the faults serialise with the
        # decoder's threads (measured: 62 vs 140 frames/s). The predictor sets the same heap policy.
        recycle_heap()
        container = open_container(self.path)
        try:
            stream = video_stream(container, self.path)
            self._stream_index = stream.index
            self._codec = stream.codec_context.name
            self._time_base = stream.time_base or Fraction(1, 90000)
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            self._fps = float(rate) if rate else 30.0
            # Only until the index is built (the timeline's length meanwhile): MP4 stores a frame
            # count, Matroska and others only a duration.
            seconds = float(stream.duration * self._time_base) if stream.duration else \
                (container.duration or 0) / 1e6
            self._estimate = int(stream.frames or 0) or round(seconds * self._fps)
            first = self._first_picture(container, stream)
        finally:
            container.close()
        self._rotation = round((first.rotation or 0) / 90) % 4 * 90
        if first.rotation and first.rotation % 90:
            log.warning("%s: rotation %s degrees is not a multiple of 90; shown as %s", self.path,
                        first.rotation, self._rotation)
        rgb = Converter(self._rotation)(first)
        self._dims = rgb.shape[:2]
        _check_size(self.path, *self._dims)
        self._first_pts = first.pts
        self._limit_cache()
        self._put(0, rgb)
        threading.Thread(target=self._build_index, name=f"index {self.path.name}", daemon=True).start()

    def _first_picture(self, container: av.container.InputContainer, stream) -> av.VideoFrame:  # noqa: ANN001
        stream.thread_type = "AUTO"
        errors: list[str] = []
        try:
            for packet in container.demux(stream):
                try:
                    for frame in stream.codec_context.decode(packet):
                        return frame
                except av.error.FFmpegError as exc:
                    errors.append(str(exc))
                    if len(errors) > 50:
                        break
        except (av.error.FFmpegError, OSError) as exc:
            errors.append(str(exc))
        detail = f" ({errors[-1]})" if errors else ""
        raise VideoError(f"{self.path}: no frame could be decoded{detail}")

    def _build_index(self) -> None:
        try:
            index = scan(self.path, self._stream_index, should_stop=lambda: self._closed)
            if index.num_frames == 0:
                raise VideoError(f"{self.path}: holds no video frames")
            if self._closed:
                raise VideoError(f"{self.path}: the video was closed")
            if index.truncated:
                log.warning("%s: the file ends early (%s); %d frames are readable", self.path,
                            index.truncated, index.num_frames)
            if index.by_time and self._first_pts is not None and index.frame_of_pts(self._first_pts) != 0:
                # The first picture decoded was not frame 0 (frame 0 itself is damaged): forget it.
                with self._cache_lock:
                    self._cache.pop(0, None)
            self._index = index
        except BaseException as exc:  # noqa: BLE001 - handed to the reader thread by _require_index
            self._index_error = exc
        finally:
            self._index_done.set()
        if self._closed or self._index_error is not None:
            return  # nobody is waiting for a count that will not come
        for listener in list(self._index_listeners):
            try:
                listener(self)
            except Exception:  # noqa: BLE001 - a listener's bug must not break the index
                log.exception("index listener failed")

    def _require_index(self) -> FrameIndex | None:
        """The finished index (None for an image folder), waiting for the scan if needed."""
        if self._files is not None:
            return None
        self._index_done.wait()
        if self._index_error is not None:
            if isinstance(self._index_error, VideoError):
                raise self._index_error
            raise VideoError(f"{self.path}: cannot be indexed ({self._index_error})") from self._index_error
        return self._index

    # -- public -------------------------------------------------------------------------------------
    @property
    def info(self) -> VideoInfo:
        return VideoInfo(str(self.path), self.num_frames, self._dims[0], self._dims[1], self._fps,
                         self._codec, self._rotation)

    @property
    def fps(self) -> float:
        """Nominal frame rate (the stream's average; 30 for an image folder); never waits."""
        return self._fps

    @property
    def num_frames(self) -> int:
        """Exact frame count (from the index; waits for it while it is being built)."""
        if self._files is not None:
            return len(self._files)
        index = self._require_index()
        assert index is not None
        return index.num_frames

    @property
    def height(self) -> int:
        return self._dims[0]

    @property
    def width(self) -> int:
        return self._dims[1]

    @property
    def index_ready(self) -> bool:
        """Whether ``num_frames`` answers without waiting."""
        return self._index_done.is_set()

    def frame_count_hint(self) -> tuple[int, bool]:
        """(count, exact): the exact count once the index is built, else the container's estimate."""
        if self.index_ready and self._index_error is None:
            return self.num_frames, True
        return max(1, self._estimate), False

    def on_index_ready(self, callback: Callable[[VideoSource], None]) -> None:
        """Call ``callback(source)`` once the index is complete (at once if it already is), from the
        indexing thread: a GUI hands it on to its own thread (a queued signal)."""
        if self.index_ready:
            callback(self)
        else:
            self._index_listeners.append(callback)
            if self.index_ready and callback in self._index_listeners:  # finished in between
                self._index_listeners.remove(callback)
                callback(self)

    @property
    def timestamps(self) -> np.ndarray | None:
        """(N,) float64 presentation time of every frame in seconds (pts x time base), None for folders."""
        index = self._require_index()
        return None if index is None else index.seconds()

    @property
    def damaged_frames(self) -> list[int]:
        """Frames found undecodable so far (reading one raises :class:`DamagedFrameError`)."""
        return sorted(self._damaged)

    def __len__(self) -> int:
        return self.num_frames

    def __getitem__(self, index: int) -> np.ndarray:
        return self.frame(index)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as (H, W, 3) RGB uint8 (read-only)."""
        index = int(index)
        self._recent.previous, self._recent.index = getattr(self._recent, "index", None), index
        with self._cache_lock:
            cached = self._cache.get(index)
            if cached is not None:
                self._cache.move_to_end(index)
                return cached
        if not 0 <= index < self.num_frames:
            raise IndexError(f"frame {index} outside 0..{self.num_frames - 1} of {self.path}")
        if index in self._damaged:
            raise DamagedFrameError(self.path, index)
        rgb = self._read_image(index) if self._files is not None else self._read_video(index)
        self._put(index, rgb)
        return rgb

    def holding_damaged(self) -> VideoSource:
        """This video for a tracker: damaged frames come back as a decodable neighbour instead of raising
        (see :class:`HeldFrames`); everything else is shared with this source."""
        return HeldFrames(self)

    def fingerprint(self) -> str:
        """Identity of the file's bytes: size plus samples of its start, middle and end (for a folder:
        the frame names and sizes plus samples of three frames). It tells one video from another without
        decoding and changes whenever frames could have moved (a re-encode, an added image)."""
        digest = hashlib.sha256(READER.encode())
        files = self._files if self._files is not None else [self.path]
        for path in files:  # a file may be renamed or moved; the frames of a folder are its file names
            name = path.name if self._files is not None else ""
            digest.update(f"{name}:{path.stat().st_size};".encode())
        # In file order, deduplicated: a set's order follows the per-process hash seed, and the stored
        # fingerprint must come out the same in the next process.
        for path in dict.fromkeys((files[0], files[len(files) // 2], files[-1])):
            size = path.stat().st_size
            with path.open("rb") as fh:
                for offset in sorted({0, max(0, size // 2 - 32768), max(0, size - 65536)}):
                    fh.seek(offset)
                    digest.update(fh.read(65536))
        return digest.hexdigest()[:32]

    def close(self) -> None:
        with self._pool:
            self._closed = True
            for cursor in self._cursors:
                if id(cursor) not in self._busy:
                    cursor.close()
        with self._cache_lock:
            self._cache.clear()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------------
    def _limit_cache(self) -> None:
        frame_bytes = self._dims[0] * self._dims[1] * 3
        self._cache_frames = min(self._cache_frames, max(2, self._cache_bytes // max(1, frame_bytes)))

    def _put(self, index: int, rgb: np.ndarray) -> None:
        rgb.setflags(write=False)
        with self._cache_lock:
            self._cache[index] = rgb
            self._cache.move_to_end(index)
            while len(self._cache) > self._cache_frames:
                self._cache.popitem(last=False)

    def _read_image(self, index: int) -> np.ndarray:
        assert self._files is not None
        path = self._files[index]
        rgb = read_image(path)
        if rgb.shape[:2] != self._dims:
            raise VideoError(f"{path}: size {rgb.shape[1]}x{rgb.shape[0]} differs from the first frame's "
                             f"{self._dims[1]}x{self._dims[0]}")
        return rgb

    def _read_video(self, index: int) -> np.ndarray:
        # A reader stepping backwards (reverse propagation, scrubbing back) would pay a seek and up to a
        # GOP of decoding per frame: the frames decoded on the way to this one are kept for its next steps.
        last = getattr(self._recent, "previous", None)
        stepping_back = last is not None and 0 < last - index <= 2
        keep = min(BACKWARD_KEEP, self._cache_frames // 2) if stepping_back else 0
        cursor = self._acquire(index)
        try:
            picture = cursor.read(index, keep=keep)
            for earlier, decoded in cursor.kept:
                with self._cache_lock:
                    known = earlier in self._cache
                if not known:
                    self._put(earlier, cursor.convert(decoded))
            return cursor.convert(picture)
        except DamagedFrameError:
            self._damaged.add(index)
            log.warning("%s: frame %d is damaged and cannot be decoded", self.path, index)
            raise
        finally:
            self._release(cursor)

    def _acquire(self, index: int) -> Cursor:
        frames = self._require_index()
        assert frames is not None
        with self._pool:
            while True:
                if self._closed:
                    raise VideoError(f"{self.path}: the video was closed")
                free = [c for c in self._cursors if id(c) not in self._busy]
                chosen = next((c for c in free if c.reachable_without_seek(index)), None)
                if chosen is None and len(self._cursors) < MAX_CURSORS:
                    chosen = Cursor(self.path, self._stream_index, frames, Converter(self._rotation))
                    self._cursors.append(chosen)
                if chosen is None and free:
                    chosen = min(free, key=lambda c: c.last_used)
                if chosen is not None:
                    self._busy.add(id(chosen))
                    return chosen
                self._pool.wait()

    def _release(self, cursor: Cursor) -> None:
        with self._pool:
            self._busy.discard(id(cursor))
            if self._closed:
                cursor.close()
            self._pool.notify()


MAX_HOLD = 30  # frames to look for a decodable neighbour


class HeldFrames(VideoSource):
    """Shares everything with ``base`` (cache, decoders, index, damaged frames); only ``frame`` differs:
    a damaged frame comes back as the nearest decodable frame before it (after it, at the start), the
    way a player keeps showing the last good picture. ``close`` leaves ``base`` open."""

    def __init__(self, base: VideoSource) -> None:  # no super().__init__: every state read goes to base
        self.base = base
        self.path = base.path

    def __getattr__(self, name: str) -> Any:
        if name == "base":  # not set yet (unpickling, copying): no recursion through __getattr__
            raise AttributeError(name)
        return getattr(self.base, name)

    def frame(self, index: int) -> np.ndarray:
        try:
            return self.base.frame(index)
        except DamagedFrameError:
            count = self.base.num_frames
            nearby = [*range(index - 1, max(-1, index - MAX_HOLD - 1), -1),
                      *range(index + 1, min(count, index + MAX_HOLD + 1))]
            for other in nearby:
                try:
                    rgb = self.base.frame(other)
                except DamagedFrameError:
                    continue
                log.warning("%s: frame %d is damaged; the tracker sees frame %d in its place and nothing is "
                            "stored for it", self.path, index, other)
                return rgb
            raise

    def holding_damaged(self) -> VideoSource:
        return self

    def close(self) -> None:
        pass

    def __enter__(self) -> HeldFrames:
        return self
