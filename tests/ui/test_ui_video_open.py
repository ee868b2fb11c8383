"""Opening a long video: the first frame is on screen before the frame index is built, and the
timeline learns the exact count when it is."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow
from sam3core.video import source
from tests.video_matrix import MATRIX, encode, read_code


def test_first_frame_is_shown_before_the_index_and_the_count_follows(
        qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = next(s for s in MATRIX if s.name == "h264_vfr_bframes_mkv")  # Matroska: no frame count stored
    video = encode(spec, tmp_path)
    gate = threading.Event()
    real_scan = source.scan

    def slow_scan(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - a packet scan of a long file
        gate.wait(30)
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(source, "scan", slow_scan)
    assert window.open_path(video)
    project = window.session.project
    assert project is not None and not project.video.index_ready
    assert window.viewer.render_count > 0 and read_code(project.video[0]) == 0
    estimate = window.timeline.slider.maximum() + 1
    gate.set()
    qtbot.waitUntil(lambda: window.timeline.slider.maximum() == spec.frames - 1, timeout=20_000)
    assert project.video.index_ready and project.num_frames == spec.frames
    assert estimate == 117  # meanwhile the container's estimate: its duration x its average rate


def test_a_damaged_frame_shows_no_stale_picture_and_takes_no_prompt(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    spec = next(s for s in MATRIX if s.name == "h264_corrupt")
    video = encode(spec, tmp_path)
    messages: list[str] = []
    window.session.status.connect(messages.append)
    assert window.open_path(video)
    window.viewer.show_frame(spec.corrupt)
    assert any(f"frame {spec.corrupt} is damaged" in m for m in messages)
    window.session.add_point(spec.corrupt, 40.0, 40.0, True)
    assert window.session.project is not None
    assert window.session.project.prompts() == [] and window.session.objects == []
    window.viewer.show_frame(spec.corrupt + 1)  # the next frame is itself, and annotatable
    assert read_code(window.session.project.video[spec.corrupt + 1]) == spec.corrupt + 1
