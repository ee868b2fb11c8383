"""Opening a project made with the older frame reader: its frame check runs in a worker thread.

The check decodes the video with both readers up to the last mask (app/domain/video_compat.py); on a long
video that takes minutes. The window must keep turning its event loop, show a cancellable progress
dialog, hand the project over only once the check has decided, and end exactly where a synchronous open
ends (tests/test_video_projects.py holds the decisions themselves).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from app.domain import video_compat
from app.domain.project import Project
from sam3core.video import READER
from sam3core.video.legacy import LegacyReader
from tests.ui.conftest import beat_lateness_ms, start_heartbeat
from tests.video_matrix import MATRIX, encode

SPEC = next(spec for spec in MATRIX if spec.name == "mjpeg_corrupt")  # frame 30 undecodable
MASKED = (10, 40, 50)
SLOW_S = 0.012  # per thumbnail: ~110 thumbnails, two threads -> the check takes about a second


def _square(x: int) -> np.ndarray:
    mask = np.zeros((SPEC.height, SPEC.width), bool)
    mask[40:60, x:x + 20] = True
    return mask


@pytest.fixture
def old_project(tmp_path: Path) -> Path:
    """A project as the older OpenCV reader wrote it (its fingerprint and count, no video_reader key),
    beside its video, so that opening the video finds it too."""
    (tmp_path / "clip").mkdir()
    video = encode(SPEC, tmp_path / "clip")
    path = video.with_suffix(".masklet")
    with Project.create(path, video) as project:
        project.add_object("thing")
        for frame in MASKED:
            project.set_mask(frame, 1, _square(frame))
    legacy = LegacyReader(video)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM meta WHERE key = 'video_reader'")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'fingerprint'", (legacy.fingerprint(),))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'num_frames'", (str(legacy.num_frames),))
    conn.close()
    return path


@pytest.fixture
def slow_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check as slow as on a long video: every thumbnail it takes costs SLOW_S."""
    original = video_compat.thumbnail

    def slow(rgb: np.ndarray) -> np.ndarray:
        time.sleep(SLOW_S)
        return original(rgb)

    monkeypatch.setattr(video_compat, "thumbnail", slow)


def _stored_frames(path: Path) -> tuple[list[int], str | None]:
    conn = sqlite3.connect(path)
    try:
        frames = [r[0] for r in conn.execute("SELECT frame FROM masks ORDER BY frame")]
        reader = conn.execute("SELECT value FROM meta WHERE key = 'video_reader'").fetchone()
    finally:
        conn.close()
    return frames, reader[0] if reader else None


@pytest.mark.parametrize("open_what", ["project", "video"])
def test_old_project_check_keeps_the_window_responsive_and_ends_as_before(
        qtbot: QtBot, window, old_project: Path, slow_check: None, open_what: str) -> None:  # noqa: ANN001
    session = window.session
    errors: list[tuple[str, str]] = []
    session.error.connect(lambda title, text: errors.append((title, text)))
    timer, beats = start_heartbeat()
    started = time.perf_counter()

    target = old_project if open_what == "project" else old_project.with_suffix(SPEC.suffix)
    assert window.open_path(target)
    # Checking: the project is neither shown nor editable, a second opening is refused, and the
    # progress dialog (cancellable, modal to the window) is up.
    assert session.project is None and not session.editable()
    assert session.opening is not None and session.opening.dialog is not None
    assert session.opening.dialog.isVisible() and session.opening.dialog.isModal()
    assert not window.open_path(target)
    qtbot.waitUntil(lambda: session.project is not None, timeout=30_000)
    elapsed = time.perf_counter() - started
    timer.stop()

    # Ends as the synchronous open ends: masks moved with their pictures past the damaged frame, after
    # a backup, the reader recorded, and the user told which frames moved.
    project = session.project
    assert project.frames_with_masks(1) == [10, 41, 51]
    assert np.array_equal(project.mask(41, 1), _square(40))
    assert project.num_frames == SPEC.frames and project._meta("video_reader") == READER
    assert session.mask_frames[1] == {10, 41, 51}
    assert errors and errors[-1][0] == "Video frames checked" and "moved by +1" in errors[-1][1]
    backup = old_project.with_name(old_project.name + ".before-reader-update")
    assert _stored_frames(backup)[0] == list(MASKED)
    assert session.opening is None and session.editable()

    # The UI thread kept beating all along (a check on it would leave one gap of about a second).
    assert elapsed >= 0.4, elapsed
    late_ms = beat_lateness_ms(beats)
    assert len(beats) > elapsed / 0.005 * 0.3, "the heartbeat hardly ran: the UI thread was blocked"
    assert np.percentile(late_ms, 95) < 50, late_ms.max()
    assert late_ms.max() < 250


def test_cancelling_the_check_leaves_the_old_project_untouched(
        qtbot: QtBot, window, old_project: Path, slow_check: None) -> None:  # noqa: ANN001
    session = window.session
    statuses: list[str] = []
    session.status.connect(statuses.append)
    assert window.open_path(old_project)
    task = session.opening
    assert task is not None and task.dialog is not None
    qtbot.waitUntil(lambda: task.dialog.value() > 0, timeout=10_000)  # it is decoding
    cancel = next(b for b in task.dialog.findChildren(QPushButton) if b.text() == "Cancel")
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: session.opening is None, timeout=10_000)
    assert session.project is None
    assert any("cancelled" in s for s in statuses)
    # Nothing written: same frames, no reader recorded, no backup; and the lock is free again.
    assert _stored_frames(old_project) == (list(MASKED), None)
    assert not old_project.with_name(old_project.name + ".before-reader-update").exists()
    with Project.open(old_project, read_only=True) as again:
        assert again.frames_with_masks(1) == list(MASKED)


def test_closing_the_window_during_the_check_stops_it(
        qtbot: QtBot, old_project: Path, slow_check: None) -> None:
    from tests.ui.conftest import make_window

    window = make_window(qtbot)
    assert window.open_path(old_project)
    task = window.session.opening
    assert task is not None
    started = time.perf_counter()
    window.close()
    assert time.perf_counter() - started < 5
    assert window.session.opening is None and window.session.project is None
    assert _stored_frames(old_project) == (list(MASKED), None)
