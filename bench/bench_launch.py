"""Time to the first frame on screen at launch, and Esc-to-stop latency during a propagation.

Time to first frame: ``masklet CLIP`` (the real ``run_gui``) in fresh processes, timed from process
start and from ``window.show()`` to the canvas's first paint with the frame; against the eager design in
the same run, as the window was before: torch (the engine factory) imported before the window is built,
and the engine built at once, racing the opening of the video and the first paint.

Esc-to-stop: a SAM tracker (random weights: timing, not masks) propagating the clip on the CPU; a stop
is asked at a random point inside a frame and the time until the run has ended is measured. Masklet
hands the stop check to the engine, which asks it between the blocks of the frame's networks; the
baseline, the way it was, asks it only between frames (the frame under way is finished first).

    QT_QPA_PLATFORM=offscreen python bench/bench_launch.py [CLIP] [--runs 3] [--stops 3]
        [--engine sam2.1_hiera_tiny] [--skip-esc]

Without CLIP it generates a 300-frame 854x480 clip; e.g. CLIP = ../shared/data/bedroom.mp4.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Run in a fresh interpreter per launch (argv: mode, clip, settings folder): prints one JSON line.
PROBE = r'''
import time
T0 = time.perf_counter()
import json, os, sys
mode, clip, home = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, os.getcwd())
if mode == "eager":
    import sam3core.factory  # noqa: F401  torch and the models, as the window's imports pulled in before
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication
import app.ui.launch as launch
import app.ui.main_window as main_window
marks = {}
Window = main_window.MainWindow

class FirstFrame(QObject):
    def __init__(self, window):
        super().__init__()
        self.window = window
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint and self.window.viewer.render_count and "painted" not in marks:
            marks["painted"] = time.perf_counter() - T0
            QTimer.singleShot(0, self.window.close)
        return False

class Probed(Window):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if mode == "eager":
            self._load_first_engine()  # at once, as before: the build races the first paint
    def show(self):
        super().show()
        marks["shown"] = time.perf_counter() - T0
        self._probe = FirstFrame(self)
        self.canvas.viewport().installEventFilter(self._probe)

main_window.MainWindow = Probed
QTimer.singleShot(60_000, lambda: QApplication.instance().quit())
os.environ["MASKLET_HOME"] = home
real_configure = launch.configure_settings
def configure():
    real_configure()
    QCoreApplication.setOrganizationName("MaskletBenchLaunch")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, home)
launch.configure_settings = configure
launch.run_gui(clip)
print(json.dumps(marks), flush=True)
os._exit(0)
'''


def make_clip(folder: Path, frames: int = 300, width: int = 854, height: int = 480) -> Path:
    from sam3core.video import write_video

    rng = np.random.default_rng(0)
    background = rng.integers(20, 120, size=(height, width, 3), dtype=np.uint8)
    images = []
    for i in range(frames):
        frame = background.copy()
        frame[180:300, 100 + 2 * i:220 + 2 * i] = (200, 60, 40)
        images.append(frame)
    return write_video(folder / f"generated_{frames}f_{width}x{height}.mp4", images, fps=25)


def launch_once(mode: str, clip: Path, home: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode, str(clip), str(home)], cwd=ROOT,
                         capture_output=True, text=True, timeout=180, env={**os.environ})
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"probe failed ({mode}): {out.stderr[-2000:]}")
    marks = json.loads(lines[-1])
    return {"start": marks["painted"], "shown": marks["painted"] - marks["shown"]}


def bench_launch(clip: Path, runs: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="masklet-bench-launch-"))
    times: dict[str, list[dict[str, float]]] = {"eager": [], "masklet": []}
    launch_once("masklet", clip, tmp / "warm")  # the first run pays for cold file caches
    for run in range(runs):  # interleaved, so a change of the machine's load hits both alike
        for mode in ("eager", "masklet"):
            times[mode].append(launch_once(mode, clip, tmp / f"{mode}-{run}"))
    print(f"time to first frame, {clip.name} ({runs} launches each, median):")
    for key, label in (("start", "process start -> first frame"), ("shown", "window shown -> first frame")):
        eager = statistics.median(t[key] for t in times["eager"])
        ours = statistics.median(t[key] for t in times["masklet"])
        print(f"  {label:<32} eager {eager:6.2f} s   Masklet {ours:6.2f} s   eager / Masklet = "
              f"x{eager / max(ours, 1e-3):.1f}")


def ask_later(stop: threading.Event, asked: list[float], delay: float) -> None:
    time.sleep(delay)
    asked[0] = time.perf_counter()
    stop.set()


def bench_esc(clip: Path, engine_name: str, stops: int) -> None:
    import torch

    from app.domain.model import Prompt
    from app.domain.tracking import PropagationRequest, TrackingSession
    from sam3core.factory import build_engine
    from sam3core.video import VideoSource

    torch.manual_seed(0)
    engine = build_engine(engine_name, random_weights=True)  # a benchmark: timing, not masks
    rng = random.Random(0)
    with VideoSource(clip) as video:
        session = TrackingSession(engine, video)
        prompts = {(0, 1): Prompt(0, 1, points=((video.width * 0.3, video.height * 0.5),), labels=(1,))}
        session.sync(prompts)
        # frame 1's time in a fresh session (frame 0, the prompted one, comes back at once), for placing
        # the stops inside it; every trial starts a fresh session, so no frame is encoded already
        started = time.perf_counter()
        for _ in session.propagate(prompts, [PropagationRequest(0, False, 1)]):
            pass
        frame_s = time.perf_counter() - started
        print(f"Esc-to-stop, {engine_name} on the CPU ({torch.get_num_threads()} threads), "
              f"{frame_s:.2f} s per frame, {stops} stops each at a random point inside a frame:")
        latency: dict[str, list[float]] = {"between frames": [], "Masklet": []}
        for _ in range(stops):
            for mode in latency:
                session.close()
                session.sync(prompts)  # the click on frame 0 again: encoded before the run, not timed
                stop = threading.Event()
                asked = [0.0]
                delay = rng.uniform(0.1, 0.9) * frame_s  # inside frame 1
                timer = threading.Thread(target=ask_later, args=(stop, asked, delay), daemon=True)
                requests = [PropagationRequest(0, False, 6)]
                handed = stop.is_set if mode == "Masklet" else None
                frames = session.propagate(prompts, requests, should_stop=handed)
                timer.start()
                for _ in frames:
                    if stop.is_set():  # the old worker's check, between frames
                        break
                frames.close()
                latency[mode].append(time.perf_counter() - asked[0])
                timer.join()
        session.close()
    base = statistics.median(latency["between frames"])
    ours = statistics.median(latency["Masklet"])
    for mode, values in latency.items():
        print(f"  {mode:<16} median {statistics.median(values):6.2f} s   max {max(values):6.2f} s")
    print(f"  Esc-to-stop: between frames / Masklet = x{base / max(ours, 1e-3):.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", nargs="?", help="a video (default: a generated 300-frame 854x480 clip)")
    parser.add_argument("--runs", type=int, default=3, help="launches per design")
    parser.add_argument("--stops", type=int, default=3, help="stops per design")
    parser.add_argument("--engine", default="sam2.1_hiera_tiny")
    parser.add_argument("--skip-esc", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="masklet-clip-"))
    if args.clip:  # a copy: the project made beside it stays out of the shared folder
        clip = folder / Path(args.clip).name
        clip.write_bytes(Path(args.clip).read_bytes())
    else:
        clip = make_clip(folder)
    bench_launch(clip, args.runs)
    if not args.skip_esc:
        bench_esc(clip, args.engine, args.stops)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
