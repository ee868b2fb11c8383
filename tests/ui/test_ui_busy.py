"""Busy states (issue 17, item 4): a click waiting for the encoder shows a busy cursor and a note at
once, cleared by the answer or an error; Esc during propagation says "cancelling…" at once and stops
within a second even when one frame takes seconds."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.domain.tracking import Direction
from app.ui.busy import WAITING_NOTE
from app.ui.main_window import MainWindow
from app.ui.testing import SlowFakeEngine
from tests.ui.conftest import DISC_R, close_window, disc_center, make_window


class GatedClicks(SlowFakeEngine):
    """A click's mask waits for ``gate`` (an image encoder on a CPU); ``fail`` makes it raise instead."""

    def __init__(self) -> None:
        super().__init__(delay_s=0.0, radius=DISC_R)
        self.gate = threading.Event()
        self.fail = False

    def add_new_points_or_box(self, *args: Any, **kwargs: Any) -> Any:
        self.gate.wait(20)
        if self.fail:
            raise RuntimeError("the encoder failed")
        return super().add_new_points_or_box(*args, **kwargs)


def click_at(window: MainWindow, x: float, y: float) -> None:
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     window.canvas.mapFromScene(QPointF(x, y)))


def test_a_click_shows_a_busy_cursor_and_note_until_its_mask_or_error_comes(qtbot: QtBot,
                                                                             clip: Path) -> None:
    engine = GatedClicks()
    window = make_window(qtbot, lambda spec: engine)
    try:
        assert window.open_path(clip)
        viewport = window.canvas.viewport()
        normal = viewport.cursor().shape()
        click_at(window, *disc_center(0))
        # at once, before any answer: the engine is still waiting at its gate
        assert viewport.cursor().shape() == Qt.CursorShape.BusyCursor
        assert window.status.note.isVisibleTo(window) and window.status.note.text() == WAITING_NOTE
        engine.gate.set()
        qtbot.waitUntil(lambda: window.session.project.mask(0, 1) is not None, timeout=20_000)
        qtbot.waitUntil(lambda: viewport.cursor().shape() == normal, timeout=5_000)
        assert not window.status.note.isVisibleTo(window)

        engine.gate.clear()
        engine.fail = True
        click_at(window, disc_center(0)[0] + 10, disc_center(0)[1])
        assert viewport.cursor().shape() == Qt.CursorShape.BusyCursor
        engine.gate.set()
        qtbot.waitUntil(lambda: any(t == "Tracking failed" for t, _ in window.errors), timeout=20_000)
        qtbot.waitUntil(lambda: viewport.cursor().shape() == normal, timeout=5_000)
        assert not window.status.note.isVisibleTo(window) and not window.session.waiting_for_engine
    finally:
        engine.gate.set()
        close_window(qtbot, window)


def test_esc_during_propagation_says_cancelling_and_stops_within_a_second(qtbot: QtBot, clip: Path) -> None:
    # 3 s per frame, as a SAM frame on a CPU; the engine asks the cancel flag between its 30 blocks
    engine = SlowFakeEngine(delay_s=3.0, radius=DISC_R, blocks=30)
    window = make_window(qtbot, lambda spec: engine)
    try:
        assert window.open_path(clip)
        session = window.session
        session.add_point(0, *disc_center(0), True)
        qtbot.waitUntil(lambda: session.project.mask(0, 1) is not None, timeout=20_000)
        finished: list[tuple[int, bool, float]] = []
        window.tracking.finished.connect(lambda done, cancelled: finished.append(
            (done, cancelled, time.perf_counter())))
        assert session.propagate(Direction.FORWARD)
        qtbot.wait(1500)  # inside the first frame
        window.canvas.setFocus()
        pressed = time.perf_counter()
        QTest.keyClick(window.canvas, Qt.Key.Key_Escape)
        assert window.status.rate.text() == "cancelling…"  # said at once
        qtbot.waitUntil(lambda: bool(finished), timeout=10_000)
        done, cancelled, at = finished[0]
        assert cancelled and at - pressed < 1.0, f"stopped {at - pressed:.2f} s after Esc"
        assert "Cancelled" in window.statusBar().currentMessage()
    finally:
        close_window(qtbot, window)
