"""The writer's encoders open as chosen: H.264, and MPEG-4 Part 2 (the fallback and the test clips' codec)."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np
import pytest

from sam3core.video import VideoSource, write_video
from sam3core.video.writer import VideoWriter

FPS = 30000 / 1001


def _frames(n: int = 12) -> list[np.ndarray]:
    return [np.full((48, 64, 3), 12 * i, np.uint8) for i in range(n)]


@pytest.mark.parametrize("codec", ["mpeg4", "h264"])
def test_the_chosen_ffmpeg_encoder_opens_and_keeps_every_frame_and_its_time(
        tmp_path: Path, codec: str, caplog: pytest.LogCaptureFixture) -> None:
    expected = {"mpeg4": "mpeg4", "h264": "libx264"}[codec]
    if expected not in av.codecs_available:
        pytest.skip(f"this FFmpeg has no {expected}")
    times = [0.0, 0.04, 0.1, 0.5, 0.52, 1.0, 1.25, 2.0]  # variable frame rate
    caplog.set_level(logging.WARNING)
    path = tmp_path / "vfr.mp4"
    with VideoWriter(path, 64, 48, fps=FPS, codec=codec) as writer:
        for rgb, t in zip(_frames(len(times)), times, strict=True):
            writer.write(rgb, time=t)
    # Found: MPEG-4 refused the 1/90000 time base, so every "mpeg4" clip was silently OpenCV's mp4v.
    assert writer.codec == expected
    assert "writing with OpenCV" not in caplog.text
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == codec
    source = VideoSource(path)
    try:
        assert len(source) == len(times)
        stamps = source.timestamps
        assert stamps is not None
        assert np.allclose(stamps, times, atol=1e-3)
        assert abs(int(source[3][0, 0, 0]) - 36) <= 3
    finally:
        source.close()


def test_write_video_makes_its_mpeg4_clips_with_ffmpeg(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    write_video(tmp_path / "clip.mp4", _frames(), fps=FPS)
    assert "writing with OpenCV" not in caplog.text  # OpenCV's mp4v is MPEG-4 too: the log tells them apart
