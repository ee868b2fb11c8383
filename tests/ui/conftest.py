"""Fixtures for the GUI tests: isolated settings, a synthetic clip with known shapes, windows.

The clip: a red disc moving right and a cyan box moving down over a dark textured background;
``disc_mask(t)`` / ``box_mask(t)`` give the exact pixels of each shape on frame ``t``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QSettings, QTimer  # noqa: E402

from app.ui import dialogs  # noqa: E402
from app.ui.testing import SlowFakeEngine  # noqa: E402
from app.ui.worker import EngineSpec  # noqa: E402
from sam3core.video import write_video  # noqa: E402

H, W, N = 240, 320, 24
DISC_R = 28
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def disc_center(t: int) -> tuple[int, int]:
    return 70 + 3 * t, 120


def box_rect(t: int) -> tuple[int, int, int, int]:
    return 200, 40 + 2 * t, 262, 94 + 2 * t


def disc_mask(t: int) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    cv2.circle(mask, disc_center(t), DISC_R, 1, -1)
    return mask.astype(bool)


def box_mask(t: int) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    x0, y0, x1, y1 = box_rect(t)
    cv2.rectangle(mask, (x0, y0), (x1, y1), 1, -1)
    return mask.astype(bool)


def iou(a: np.ndarray | None, b: np.ndarray) -> float:
    if a is None:
        return 0.0
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def precision(mask: np.ndarray | None, truth: np.ndarray) -> float:
    """Fraction of the mask's pixels on the object (a click may legitimately give a part of it)."""
    if mask is None or not mask.any():
        return 0.0
    return float(np.logical_and(mask, truth).sum() / mask.sum())


def centroid_distance(mask: np.ndarray | None, truth: np.ndarray) -> float:
    if mask is None or not mask.any():
        return float("inf")
    ys, xs = np.nonzero(mask)
    ty, tx = np.nonzero(truth)
    return float(np.hypot(xs.mean() - tx.mean(), ys.mean() - ty.mean()))


def clip_frames() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    background = cv2.GaussianBlur(rng.integers(30, 80, (H, W, 3), dtype=np.uint8), (0, 0), 2)
    frames = []
    for t in range(N):
        frame = background.copy()
        frame[disc_mask(t)] = (225, 40, 40)
        frame[box_mask(t)] = (40, 200, 230)
        frames.append(frame)
    return frames


def start_heartbeat() -> tuple[QTimer, list[float]]:
    """A 5 ms UI-thread timer recording when it fires (stop it when done): gaps mean a blocked UI."""
    beats: list[float] = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    timer.start()
    return timer, beats


def beat_lateness_ms(beats: list[float]) -> np.ndarray:
    """How late each beat of :func:`start_heartbeat` came, milliseconds."""
    return np.maximum(np.diff(beats) - 0.005, 0) * 1000


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qapp: object) -> Iterator[Path]:
    """Every test gets its own QSettings file and Masklet home; nothing leaks between tests."""
    folder = tmp_path / "settings"
    monkeypatch.setenv("MASKLET_HOME", str(tmp_path / "home"))
    QCoreApplication.setOrganizationName("MaskletTests")
    QCoreApplication.setApplicationName("Masklet")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    QSettings().clear()
    # No modal loops in tests: confirmations say yes unless a test says otherwise.
    monkeypatch.setattr(dialogs, "confirm", lambda *args: True)
    yield folder


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip" / "shapes.mp4", clip_frames(), fps=12)


def classical_available() -> bool:
    try:
        from sam3core.classical import ClassicalEngine  # noqa: F401
    except ImportError:
        return False
    return True


def make_window(qtbot, factory=None):  # noqa: ANN001, ANN201
    from app.ui.main_window import MainWindow

    window = MainWindow(engine=EngineSpec(None, None, "cpu"), engine_factory=factory)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitUntil(lambda: bool(window.tracking.engine_name), timeout=20_000)
    return window


def close_window(qtbot, window) -> None:  # noqa: ANN001
    window.tracking.cancel()
    qtbot.waitUntil(lambda: not window.tracking.running, timeout=20_000)
    window.close()


@pytest.fixture
def window(qtbot):  # noqa: ANN001, ANN201
    """The real window with the classical engine (the slow fake one if the classical is missing)."""
    factory = None if classical_available() else (lambda spec: SlowFakeEngine(delay_s=0.0))
    win = make_window(qtbot, factory)
    yield win
    close_window(qtbot, win)


@pytest.fixture
def slow_window(qtbot):  # noqa: ANN001, ANN201
    """The window driving a fake engine that sleeps 40 ms per propagated frame."""
    engine = SlowFakeEngine(delay_s=0.04, radius=DISC_R)
    win = make_window(qtbot, lambda spec: engine)
    win.fake_engine = engine
    yield win
    close_window(qtbot, win)


def slow_project_task(seen: list[str]):  # noqa: ANN201 - a task body with the exporter's signature
    """A 5-second background-task body (an exporter's or evaluate_project's signature) that reads its
    project on every 10 ms step and appends how it ended to ``seen``: "cancelled", "finished" or the
    error (e.g. a closed database)."""
    from app.ui.tasks import TaskCancelledError

    def body(project, *_args, progress, **_options) -> None:  # noqa: ANN001
        try:
            for i in range(500):
                progress(i, 500)
                project.objects()  # the project is read on every step, as exporters do
                time.sleep(0.01)
        except TaskCancelledError:
            seen.append("cancelled")
            raise
        except Exception as exc:
            seen.append(f"{type(exc).__name__}: {exc}")
            raise
        seen.append("finished")

    return body
