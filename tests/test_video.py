from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sam3core.video import VideoError, VideoSource, write_video
from tests.conftest import moving_square_frames, shared_clip


def _square_x(frame: np.ndarray) -> int:
    red = (frame[..., 0] > 150) & (frame[..., 1] < 100)
    return int(np.nonzero(red.any(axis=0))[0][0])


def test_video_file_random_access_matches_sequential(square_video: Path) -> None:
    with VideoSource(square_video, cache_frames=2) as video:
        assert (video.num_frames, video.height, video.width) == (12, 96, 128)
        forward = [_square_x(video[i]) for i in range(12)]
        assert forward == [10 + 4 * i for i in range(12)]
        # Backward and jumping reads go through seeks, with a cache too small to help.
        for i in (11, 3, 7, 0, 10, 5):
            assert _square_x(video[i]) == 10 + 4 * i


def test_frame_folder_is_ordered_numerically(tmp_path: Path) -> None:
    frames = moving_square_frames(num_frames=11)
    folder = tmp_path / "f"
    folder.mkdir()
    import cv2

    for i, rgb in enumerate(frames):  # unpadded names: "10.png" must come after "9.png"
        cv2.imwrite(str(folder / f"{i}.png"), rgb[..., ::-1])
    video = VideoSource(folder)
    assert video.num_frames == 11
    assert [_square_x(video[i]) for i in range(11)] == [10 + 4 * i for i in range(11)]
    assert np.array_equal(video[10], frames[10])


def test_cache_is_bounded(square_frames_dir: Path) -> None:
    video = VideoSource(square_frames_dir, cache_frames=3)
    for i in range(12):
        video[i]
    assert len(video._cache) == 3
    with pytest.raises(ValueError):
        video[0][0, 0, 0] = 1  # cached frames are read-only so no caller can corrupt them


def test_fingerprint_tells_videos_apart(tmp_path: Path, square_video: Path) -> None:
    other = write_video(tmp_path / "other.avi", [f[:, ::-1].copy() for f in moving_square_frames()])
    assert VideoSource(square_video).fingerprint() == VideoSource(square_video).fingerprint()
    assert VideoSource(square_video).fingerprint() != VideoSource(other).fingerprint()


@pytest.mark.parametrize("make", ["missing", "empty_dir", "text_file", "bad_suffix"])
def test_bad_sources_give_clear_errors(tmp_path: Path, make: str) -> None:
    path = tmp_path / "thing"
    if make == "empty_dir":
        path.mkdir()
    elif make == "text_file":
        path = tmp_path / "clip.mp4"
        path.write_text("not a video")
    elif make == "bad_suffix":
        path = tmp_path / "notes.txt"
        path.write_text("hello")
    with pytest.raises(VideoError) as info:
        VideoSource(path)
    assert str(path) in str(info.value)


def test_out_of_range_frame(square_video: Path) -> None:
    with pytest.raises(IndexError, match="outside 0..11"):
        VideoSource(square_video)[12]


def test_shared_bedroom_clip_if_present() -> None:
    video = VideoSource(shared_clip("bedroom.mp4"))
    assert (video.num_frames, video.width, video.height) == (200, 960, 540)
    last = video[199].copy()
    video[3]
    assert np.array_equal(video[199], last)


def test_cache_is_bounded_in_bytes_for_large_frames(square_frames_dir: Path) -> None:
    frame_bytes = 96 * 128 * 3
    video = VideoSource(square_frames_dir, cache_frames=48, cache_bytes=5 * frame_bytes)
    for i in range(12):
        video[i]
    assert len(video._cache) == 5
    tiny_budget = VideoSource(square_frames_dir, cache_bytes=1)
    for i in range(12):
        tiny_budget[i]
    assert len(tiny_budget._cache) == 2  # never below two frames: current + the one being compared
