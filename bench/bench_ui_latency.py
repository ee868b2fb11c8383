"""UI-thread event-loop latency while a propagation runs (the window must never freeze).

A 5 ms QTimer heartbeat runs on the UI thread; latency = how late each beat fires. Measured in the same
run for: the idle window, the real window propagating with a slow fake engine in its worker thread
(every frame stored, announced, followed and painted), and the naive design the app avoids -
propagating on the UI thread with processEvents() between frames. Target: max latency < 50 ms.

    QT_QPA_PLATFORM=offscreen /work/venv/bin/python bench/bench_ui_latency.py [--width 1920 --height 1080]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BUDGET_MS = 50.0
PHASES: dict[str, tuple[float, float]] = {}  # name -> (start, end) perf_counter, for profiling


def make_clip(folder: Path, frames: int, height: int, width: int, objects: int) -> tuple[Path, list]:
    from sam3core.video import write_video

    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(20, 90, (height, width, 3), dtype=np.uint8), (0, 0), 3)
    boxes = []
    for k in range(objects):
        w, h = width // 8, height // 6
        x, y = (k * width) // objects + 10, height // 3
        boxes.append((x, y, x + w, y + h))
    out = []
    for t in range(frames):
        frame = background.copy()
        for k, (x0, y0, x1, y1) in enumerate(boxes):
            cv2.rectangle(frame, (x0 + 2 * t, y0), (x1 + 2 * t, y1), (60 + 35 * k, 200, 240 - 40 * k), -1)
        out.append(frame)
    return write_video(folder / "latency.mp4", out, fps=25), boxes


class Heartbeat:
    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import QTimer

        self.interval = interval_ms / 1000.0
        self.beats: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(lambda: self.beats.append(time.perf_counter()))

    def start(self) -> None:
        self.beats.clear()
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        gaps = np.diff(self.beats) - self.interval if len(self.beats) > 1 else np.zeros(1)
        return [max(0.0, g) * 1000.0 for g in gaps]


def summary(name: str, lat: list[float]) -> str:
    p99 = float(np.percentile(lat, 99)) if lat else 0.0
    return (f"  {name:<34} beats {len(lat):5d}  median {statistics.median(lat):6.2f} ms  "
            f"p99 {p99:6.2f} ms  max {max(lat):7.2f} ms")


def pump(app, seconds: float) -> None:  # noqa: ANN001
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def run(width: int, height: int, frames: int, objects: int, delay: float,
        engine_name: str = "fake") -> dict[str, list[float]]:
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    from app.domain.tracking import Direction
    from app.ui.main_window import MainWindow
    from app.ui.testing import SlowFakeEngine
    from app.ui.worker import EngineSpec

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="masklet-latency-"))
    os.environ["MASKLET_HOME"] = str(tmp / "home")
    QCoreApplication.setOrganizationName("MaskletBench")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    clip, boxes = make_clip(tmp, frames, height, width, objects)
    if engine_name == "fake":
        engine = SlowFakeEngine(delay_s=delay)
    else:
        from sam3core.factory import build_engine

        engine = build_engine(engine_name, random_weights=True)  # a benchmark: timing, not masks
    window = MainWindow(engine=EngineSpec(None, None, "cpu"), engine_factory=lambda spec: engine)
    window.resize(1400, 900)
    window.show()
    while not window.tracking.engine_name:
        pump(app, 0.01)
    assert window.open_path(clip)
    session = window.session
    for k, box in enumerate(boxes):
        if k:
            session.add_object()
        session.set_box(0, tuple(float(v) for v in box))
    while session.waiting_for_engine:
        pump(app, 0.01)
    beat = Heartbeat()
    results: dict[str, list[float]] = {}

    beat.start()
    pump(app, 1.0)
    results["idle window"] = beat.stop()

    beat.start()
    started = time.perf_counter()
    session.propagate(Direction.FORWARD)
    while window.tracking.running:
        pump(app, 0.005)
    pump(app, 0.1)
    results["worker thread (Masklet)"] = beat.stop()
    PHASES["worker"] = (started, time.perf_counter())
    stored = len(session.mask_frames[1])

    # Naive baseline: the same engine and store, but on the UI thread.
    state = engine.init_state(video=session.project.video)
    for prompt in session.prompts.values():
        engine.add_new_points_or_box(state, prompt.frame, prompt.obj_id, box=np.asarray(prompt.box),
                                     rel_coordinates=False)
    beat.start()
    for frame, ids, _, logits, _ in engine.propagate_in_video(state, start_frame_idx=0):
        masks = {int(o): (logits[i, 0] > 0).numpy() for i, o in enumerate(ids)}
        session.project.set_frame_masks(frame, masks)
        window.viewer.show_frame(frame)
        app.processEvents()
    results["UI-thread propagation (naive)"] = beat.stop()
    window.close()
    what = f"fake engine {delay * 1000:.0f} ms/frame" if engine_name == "fake" else f"{engine_name} engine"
    print(f"{frames} frames {width}x{height}, {objects} objects, {what}; "
          f"{stored} frames stored by the worker run")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--objects", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.04, help="fake engine seconds per frame")
    parser.add_argument("--engine", default="fake", help="'fake' (sleeps) or a registry name, e.g. classical")
    args = parser.parse_args()
    results = run(args.width, args.height, args.frames, args.objects, args.delay, args.engine)
    for name, lat in results.items():
        print(summary(name, lat))
    ours = max(results["worker thread (Masklet)"])
    naive = max(results["UI-thread propagation (naive)"])
    print(f"max latency: naive / Masklet = x{naive / max(ours, 1e-3):.1f}")
    ok = ours < BUDGET_MS
    print(f"budget {BUDGET_MS:.0f} ms: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
