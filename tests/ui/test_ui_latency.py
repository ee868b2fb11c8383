"""The window stays responsive while a slow engine propagates (bench/bench_ui_latency.py measures more)."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
from pytestqt.qtbot import QtBot

from app.domain.tracking import Direction
from app.ui.main_window import MainWindow
from sam3core.video import write_video
from tests.ui.conftest import beat_lateness_ms, start_heartbeat


def _clip(folder: Path, frames: int = 30, height: int = 360, width: int = 640) -> Path:
    out = []
    for t in range(frames):
        frame = np.full((height, width, 3), 50, np.uint8)
        for k in range(3):
            x = 40 + 180 * k + 3 * t
            cv2.rectangle(frame, (x, 120), (x + 90, 220), (80 * k + 60, 200, 220 - 60 * k), -1)
        out.append(frame)
    return write_video(folder / "wide.mp4", out, fps=25)


def test_event_loop_latency_stays_low_while_propagating(qtbot: QtBot, slow_window: MainWindow,
                                                        tmp_path: Path) -> None:
    window = slow_window
    assert window.open_path(_clip(tmp_path))
    session = window.session
    for k in range(3):
        if k:
            session.add_object()
        x = 40 + 180 * k
        session.set_box(0, (x, 120.0, x + 90.0, 220.0))
    qtbot.waitUntil(lambda: not session.waiting_for_engine, timeout=20_000)

    timer, beats = start_heartbeat()
    started = time.perf_counter()
    assert session.propagate(Direction.FORWARD)
    qtbot.waitUntil(lambda: not window.tracking.running, timeout=60_000)
    elapsed = time.perf_counter() - started
    timer.stop()

    assert session.mask_frames[1] == set(range(30))
    # The fake engine sleeps 40 ms per frame: the run takes >= 1.2 s, all of it in the worker thread.
    assert elapsed >= 30 * 0.04
    late_ms = beat_lateness_ms(beats)
    assert len(beats) > elapsed / 0.005 * 0.3, "the heartbeat hardly ran: the UI thread was blocked"
    # A UI-thread propagation would make every beat >= 40 ms late. Percentiles, not the maximum: on a loaded
    # 2-core machine one beat was 219 ms late from scheduling alone; the benchmark reports the max.
    assert np.percentile(late_ms, 95) < 50, late_ms.max()
    assert np.percentile(late_ms, 99) < 150, late_ms.max()
