"""Scrub the timeline of a 10,000-frame video with 20 objects: frames per second of moving the playhead.

Every lane carries masks, prompt ticks, provenance, reviews and per-frame confidence. Measured in the
same run: (a) scrubbing as the app does it (Timeline.set_frame, then Qt paints what changed), and
(b) the baseline, the same scrub with the lanes re-rendered from their data on every frame, which is
what the timeline did before the lane cache (every paint drew every row). Target: (a) >= 60 fps.

    QT_QPA_PLATFORM=offscreen python bench/bench_timeline.py [--frames 10000] [--objects 20] [--steps 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.domain.model import default_color  # noqa: E402
from app.ui.strip_render import KIND_CODES, RowLayers  # noqa: E402
from app.ui.timeline import ROW_GAP, ROW_HEIGHT, StripRow, Timeline  # noqa: E402

TARGET_FPS = 60.0


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def make_lanes(frames: int, objects: int, seed: int = 0) -> tuple[list[StripRow], dict[int, RowLayers]]:
    rng = np.random.default_rng(seed)
    rows, layers = [], {}
    for obj in range(1, objects + 1):
        present = rng.random(frames) < 0.8
        gaps = rng.integers(0, frames, 40)
        for g in gaps:  # realistic runs: the object leaves the view now and then
            present[g:g + int(rng.integers(5, 120))] = False
        masked = frozenset(np.flatnonzero(present).tolist())
        prompts = tuple(sorted(set(rng.integers(0, frames, 12).tolist())))
        rows.append(StripRow(default_color(obj), masked, prompts, False, obj == 1, obj))
        kinds = np.where(present, KIND_CODES["tracked"], 0).astype(np.uint8)
        kinds[list(prompts)] = KIND_CODES["prompted"]
        kinds[rng.integers(0, frames, 30)] = KIND_CODES["painted"]
        scores = np.clip(rng.normal(0.85, 0.12, frames), 0, 1)
        confidence = np.where(present, scores, np.nan).astype(np.float32)
        reviewed = (rng.random(frames) < 0.3).astype(np.int8)
        layers[obj] = RowLayers(confidence, kinds, reviewed)
    return rows, layers


def scrub_fps(app: QApplication, timeline: Timeline, steps: list[int], *,
              rerender: bool) -> tuple[float, int]:
    counter = PaintCounter()
    timeline.strips.installEventFilter(counter)
    samples = []
    for frame in steps:
        start = time.perf_counter()
        if rerender:
            timeline.strips.invalidate()
        timeline.set_frame(frame)
        app.processEvents()  # Qt paints the dirty regions here, as in the running app
        samples.append(time.perf_counter() - start)
    timeline.strips.removeEventFilter(counter)
    return 1.0 / statistics.median(samples), counter.paints


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--objects", type=int, default=20)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    timeline = Timeline()
    timeline.set_video(args.frames, 30.0)
    rows, layers = make_lanes(args.frames, args.objects)
    started = time.perf_counter()
    timeline.set_rows(rows)
    timeline.set_layers(layers)
    # Every lane on screen (no scrolling), so each paint covers all 20 objects.
    timeline.strips_area.setFixedHeight(args.objects * (ROW_HEIGHT + ROW_GAP) + ROW_GAP + 4)
    timeline.resize(args.width, args.objects * (ROW_HEIGHT + ROW_GAP) + 80)
    timeline.show()
    app.processEvents()
    first_render = time.perf_counter() - started
    renders_before = timeline.strips.render_count
    # A drag across the whole video, as a user scrubs: steps spread over all frames.
    steps = np.linspace(0, args.frames - 1, args.steps).astype(int).tolist()
    fast, fast_paints = scrub_fps(app, timeline, steps, rerender=False)
    cached_renders = timeline.strips.render_count - renders_before
    base, base_paints = scrub_fps(app, timeline, steps[::-1][: max(20, args.steps // 5)], rerender=True)
    assert fast_paints >= len(steps) * 0.9, f"only {fast_paints} paints for {len(steps)} steps: nothing timed"
    assert cached_renders == 0, f"{cached_renders} lane renders while scrubbing: the cache did not hold"
    print(f"timeline {args.width} px, {args.frames} frames x {args.objects} objects, "
          f"{len(steps)} scrub steps")
    print(f"  first render of the lanes                  : {first_render * 1000:8.1f} ms")
    print(f"  scrub (cached lanes, playhead repaint)     : {fast:8.1f} fps  ({1000 / fast:.2f} ms/step)")
    print(f"  baseline (lanes re-rendered every frame)   : {base:8.1f} fps  ({1000 / base:.2f} ms/step)")
    print(f"  ratio scrub / baseline                     : x{fast / base:.1f}")
    ok = fast >= TARGET_FPS
    print(f"target {TARGET_FPS:.0f} fps: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
