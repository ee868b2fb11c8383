"""A box that finds nothing says so, and the note stays readable while the mouse moves on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow
from app.ui.prompt_editing import NOTHING_IN_BOX
from sam3core.video import write_video
from tests.ui.conftest import classical_available
from tests.ui.test_ui_window import drag, view_point

H, W = 240, 320


@pytest.fixture
def blank_clip(tmp_path: Path) -> Path:
    """A flat grey frame with one red disc: the right half holds nothing at all."""
    frames = []
    for _ in range(4):
        frame = np.full((H, W, 3), 90, np.uint8)
        cv2.circle(frame, (70, 120), 28, (225, 40, 40), -1)
        frames.append(frame)
    return write_video(tmp_path / "blank" / "blank.mp4", frames, fps=12)


@pytest.mark.skipif(not classical_available(), reason="needs the classical engine (a real empty answer)")
def test_a_box_on_a_blank_region_says_nothing_was_found(qtbot: QtBot, window: MainWindow,
                                                        blank_clip: Path) -> None:
    assert window.tracking.engine_name == "classical"
    assert window.open_path(blank_clip)
    drag(window, 180, 40, 300, 200)
    qtbot.waitUntil(lambda: (0, 1) in window.session.prompts and not window.session.waiting_for_engine,
                    timeout=20_000)
    mask = window.session.project.mask(0, 1)
    assert mask is not None and not mask.any()  # the engine really found nothing in the box
    bar = window.statusBar()
    qtbot.waitUntil(lambda: bar.currentMessage() == NOTHING_IN_BOX, timeout=5_000)
    assert "box" in NOTHING_IN_BOX and "click inside the object" in NOTHING_IN_BOX
    # The user moves the mouse over the frame afterwards: the note must still be there to read.
    for x in (250, 200, 150):
        QTest.mouseMove(window.canvas.viewport(), view_point(window, x, 100))
    qtbot.wait(50)
    assert bar.currentMessage() == NOTHING_IN_BOX
    assert not window.errors, window.errors


@pytest.mark.skipif(not classical_available(), reason="needs the classical engine")
def test_a_box_around_an_object_gives_no_such_note(qtbot: QtBot, window: MainWindow,
                                                   blank_clip: Path) -> None:
    assert window.open_path(blank_clip)
    drag(window, 35, 85, 105, 155)
    qtbot.waitUntil(lambda: (0, 1) in window.session.prompts and not window.session.waiting_for_engine,
                    timeout=20_000)
    assert window.session.project.mask(0, 1).any()
    qtbot.wait(50)
    assert window.statusBar().currentMessage() != NOTHING_IN_BOX
