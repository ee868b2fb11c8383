"""Every frame is the right frame: a matrix of real-world encodings made here with PyAV.

For each file, every frame read in shuffled and in reverse order (through a cache too small to help)
must equal the frame decoded front to back, the count must be exact, and the block code stamped on
each frame must read its own number, so a reader that is consistently wrong fails too.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

import numpy as np
import pytest

from sam3core.video import DamagedFrameError, VideoSource
from tests.conftest import shared_clip
from tests.video_matrix import (
    MATRIX,
    Spec,
    available,
    encode,
    exif_folder,
    read_code,
    upright_size,
    visible,
)

SPECS = {spec.name: spec for spec in MATRIX}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("matrix")
    made: dict[str, Path] = {}

    def get(name: str) -> tuple[Spec, Path]:
        spec = SPECS[name]
        if not available(spec.codec):
            pytest.skip(f"this FFmpeg build has no {spec.codec} encoder")
        if name not in made:
            made[name] = encode(spec, folder)
        return spec, made[name]

    return get


def front_to_back(path: Path) -> list[np.ndarray | None]:
    with VideoSource(path, cache_frames=2) as video:
        frames: list[np.ndarray | None] = []
        for i in range(video.num_frames):
            try:
                frames.append(video[i].copy())
            except DamagedFrameError:
                frames.append(None)
        return frames


def read_in(path: Path, order: list[int]) -> dict[int, np.ndarray | None]:
    out: dict[int, np.ndarray | None] = {}
    with VideoSource(path, cache_frames=2) as video:
        for i in order:
            try:
                out[i] = video[i].copy()
            except DamagedFrameError as exc:
                assert exc.index == i and str(path) in str(exc)
                out[i] = None
    return out


@pytest.mark.parametrize("name", list(SPECS))
def test_every_frame_is_the_right_frame(matrix, name: str) -> None:
    spec, path = matrix(name)
    reference = front_to_back(path)
    codes = visible(spec)
    assert len(reference) == len(codes)  # counted from the index, not the container's estimate
    height, width = upright_size(spec)
    for i, frame in enumerate(reference):
        if i == spec.corrupt:
            assert frame is None, f"frame {i} was damaged on purpose but decoded"
            continue
        assert frame is not None, f"frame {i} of {name} could not be decoded"
        assert frame.shape == (height, width, 3)
        assert read_code(frame) == codes[i], f"{name}: position {i} holds frame {read_code(frame)}"
    order = list(range(len(codes)))
    random.Random(spec.frames).shuffle(order)
    for sequence in (order, list(reversed(range(len(codes))))):
        got = read_in(path, sequence)
        for i in sequence:
            if reference[i] is None:
                assert got[i] is None
            else:
                assert got[i] is not None and np.array_equal(got[i], reference[i]), f"{name}: frame {i}"


@pytest.mark.parametrize(("name", "top_first"), [("h264_mbaff_tff", True),
                                                  ("h264_mbaff_bff_mkv", False),
                                                  ("h264_avchd_mbaff_mts", True)])
def test_interlaced_h264_files_really_are_interlaced(matrix, name: str, top_first: bool) -> None:
    """The MBAFF entries test field coding only if the encoder coded fields: FFmpeg's decoder flags
    every frame interlaced and the stream has the field order asked for (AV_FIELD_TT 2, AV_FIELD_BB 3).
    A progressive file would pass the frame-exactness test as well and prove nothing."""
    import av

    _spec, path = matrix(name)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert stream.codec_context.field_order == (2 if top_first else 3)
    assert len(frames) == SPECS[name].frames and all(f.interlaced_frame for f in frames)


def test_damaged_frame_is_reported_and_nothing_moves(matrix) -> None:
    spec, path = matrix("h264_corrupt")
    with VideoSource(path, cache_frames=2) as video:
        assert read_code(video[spec.corrupt - 1]) == spec.corrupt - 1
        with pytest.raises(DamagedFrameError, match=f"frame {spec.corrupt} is damaged") as info:
            video[spec.corrupt]
        assert info.value.index == spec.corrupt and info.value.path == path
        # Reading on in order after the error: frame i is still frame i (the old reader gave i + 1).
        assert [read_code(video[i]) for i in range(spec.corrupt + 1, spec.frames)] == \
            list(range(spec.corrupt + 1, spec.frames))
        assert video.damaged_frames == [spec.corrupt]
        with pytest.raises(DamagedFrameError):
            video[spec.corrupt]  # asked again: still reported, from memory


def test_variable_frame_rate_timestamps(matrix) -> None:
    spec, path = matrix("h264_vfr_bframes_mkv")
    with VideoSource(path) as video:
        times = video.timestamps
        assert times is not None and times.shape == (spec.frames,)
        gaps = np.round(np.diff(times), 3)
        assert set(gaps[0::2]) == {0.020} and set(gaps[1::2]) == {0.045}
        assert video.info.fps > 0


def test_rotated_phone_video_is_upright(matrix) -> None:
    spec, path = matrix("h264_rotated_phone")
    with VideoSource(path) as video:
        assert (video.height, video.width) == (spec.width, spec.height)  # portrait, as players show it
        assert video.info.rotation % 180 == 90
        assert read_code(video[7]) == 7


def test_exif_rotated_image_folder(tmp_path: Path) -> None:
    folder = exif_folder(tmp_path / "phone", frames=12)
    with VideoSource(folder) as video:
        assert (video.num_frames, video.height, video.width) == (12, 96, 128)
        assert [read_code(video[i]) for i in range(12)] == list(range(12))  # IMG_10 after IMG_9
        assert video.timestamps is None


def test_two_threads_one_in_order_one_seeking(matrix) -> None:
    spec, path = matrix("h264_vfr_bframes")
    reference = front_to_back(path)
    errors: list[str] = []
    with VideoSource(path, cache_frames=4) as video:
        def tracker() -> None:
            for _ in range(2):
                for i in range(spec.frames):
                    if not np.array_equal(video[i], reference[i]):
                        errors.append(f"in order: {i}")

        def gui() -> None:
            rng = random.Random(1)
            for _ in range(150):
                i = rng.randrange(spec.frames)
                if not np.array_equal(video[i], reference[i]):
                    errors.append(f"seek: {i}")

        threads = [threading.Thread(target=tracker), threading.Thread(target=gui)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not errors


def test_first_frame_before_the_index(matrix) -> None:
    spec, path = matrix("h264_long_gop_open")
    heard: list[int] = []
    with VideoSource(path) as video:
        first = video[0]  # served from the opening decode, whether or not the index is done
        video.on_index_ready(lambda v: heard.append(v.num_frames))
        count, _exact = video.frame_count_hint()
        assert count > 0 and read_code(first) == 0
        assert video.num_frames == spec.frames
        assert heard == [spec.frames] and video.frame_count_hint() == (spec.frames, True)


@pytest.mark.parametrize("name", ["bedroom.mp4", "dog.mp4", "blocks.mp4"])
def test_real_clips_random_access(name: str) -> None:
    path = shared_clip(name)
    reference = front_to_back(path)
    assert all(f is not None for f in reference)
    picks = random.Random(3).sample(range(len(reference)), 40)
    got = read_in(path, picks + sorted(picks, reverse=True)[:10])
    for i, frame in got.items():
        assert frame is not None and np.array_equal(frame, reference[i]), f"{name}: frame {i}"


def test_stepping_backwards_does_not_seek_for_every_frame(matrix, monkeypatch: pytest.MonkeyPatch) -> None:
    from sam3core.video import decoder

    spec, path = matrix("h264_long_gop_open")  # keyframes 40 frames apart
    seeks: list[int] = []
    original = decoder.Cursor._seek_for

    def counting(self, target: int, **kwargs) -> None:  # noqa: ANN001, ANN003
        seeks.append(target)
        original(self, target, **kwargs)

    monkeypatch.setattr(decoder.Cursor, "_seek_for", counting)
    reference = front_to_back(path)
    seeks.clear()
    with VideoSource(path, cache_frames=48) as video:
        for i in reversed(range(spec.frames)):  # reverse propagation, or holding the left arrow key
            assert np.array_equal(video[i], reference[i])
    # One seek per 16 frames kept from each decode, instead of one per frame.
    assert len(seeks) <= spec.frames // 16 + 3


def test_reading_in_order_never_seeks(matrix, monkeypatch: pytest.MonkeyPatch) -> None:
    from sam3core.video import decoder

    spec, path = matrix("h264_vfr_bframes")
    seeks: list[int] = []
    original = decoder.Cursor._seek_for
    monkeypatch.setattr(decoder.Cursor, "_seek_for",
                        lambda self, target, **kw: (seeks.append(target), original(self, target, **kw))[1])
    with VideoSource(path, cache_frames=2) as video:
        codes = [read_code(video[i]) for i in range(spec.frames)]
    assert codes == list(range(spec.frames)) and len(seeks) == 1  # one start, then decoding on


def test_stream_without_usable_timestamps_is_counted_from_the_start(matrix) -> None:
    """Where timestamps are missing or repeat, frame i is the i-th picture out of the decoder."""
    import dataclasses

    spec, path = matrix("mpeg4_bframes")
    reference = front_to_back(path)
    with VideoSource(path, cache_frames=2) as video:
        index = video._require_index()
        video._index = dataclasses.replace(
            index, by_time=False, pts=np.arange(index.num_frames, dtype=np.int64),
            key_pos=index.key_pos[:0], key_seek=index.key_seek[:0], key_pts=index.key_pts[:0])
        order = list(range(spec.frames))
        random.Random(5).shuffle(order)
        for i in order[:20] + list(range(spec.frames - 1, spec.frames - 6, -1)):
            assert np.array_equal(video[i], reference[i]), f"frame {i}"
