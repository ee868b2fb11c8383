"""Time composing one 1920x1080 display frame with 5 object overlays (what scrubbing costs per frame).

Measures app.ui.compose.compose (fill and outline modes, plus wrapping the result in a QImage) and
the naive full-frame float blend in the same run, and prints the ratio. Target: < 16 ms per frame.

    /work/venv/bin/python bench/bench_compose.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.domain.model import default_color  # noqa: E402
from app.ui.compose import Layer, compose, compose_naive, downscale, hex_to_rgb  # noqa: E402

HEIGHT, WIDTH, OBJECTS = 1080, 1920, 5
BUDGET_MS = 16.0


def make_scene(seed: int = 0) -> tuple[np.ndarray, list[Layer]]:
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    frame = cv2.GaussianBlur(frame, (0, 0), 3)
    layers = []
    for k in range(OBJECTS):
        mask = np.zeros((HEIGHT, WIDTH), np.uint8)
        cx, cy = int(rng.integers(300, WIDTH - 300)), int(rng.integers(200, HEIGHT - 200))
        # Objects of realistic size: ellipses covering roughly 3-12 % of the frame each.
        axes = (int(rng.integers(120, 380)), int(rng.integers(100, 260)))
        cv2.ellipse(mask, (cx, cy), axes, float(rng.integers(0, 180)), 0, 360, 1, thickness=-1)
        layers.append(Layer(mask.astype(bool), hex_to_rgb(default_color(k + 1))))
    return frame, layers


def time_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (allocations, OpenCV dispatch)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    from PySide6.QtGui import QImage

    frame, layers = make_scene()

    def fast_to_qimage() -> QImage:
        rgb = compose(frame, layers, opacity=0.5)
        return QImage(rgb.data, WIDTH, HEIGHT, rgb.strides[0], QImage.Format.Format_RGB888)

    # Both paths must draw the same picture, otherwise the timing compares different work.
    diff = np.abs(compose(frame, layers, opacity=0.5).astype(int) - compose_naive(frame, layers).astype(int))
    assert diff.max() <= 2, f"fast and naive composition disagree by {diff.max()}"

    fast = time_ms(lambda: compose(frame, layers, opacity=0.5), args.repeats)
    fast_q = time_ms(fast_to_qimage, args.repeats)
    outline = time_ms(lambda: compose(frame, layers, outline=True), args.repeats)
    def display_path() -> np.ndarray:
        # What scrubbing costs in the app with the frame shown at half size (a 1920-px video in a
        # ~1000-px wide view): resize frame + masks, then compose (app.ui.render.FrameRenderer).
        rgb, masks = downscale(frame, {k: layer.mask for k, layer in enumerate(layers)}, 0.5)
        return compose(rgb, [Layer(masks[k], layer.color) for k, layer in enumerate(layers)], opacity=0.5)

    display = time_ms(display_path, args.repeats)
    naive = time_ms(lambda: compose_naive(frame, layers, opacity=0.5), max(5, args.repeats // 3))
    print(f"frame {WIDTH}x{HEIGHT}, {OBJECTS} objects, median of {args.repeats} runs")
    print(f"  naive float blend        : {naive:8.2f} ms")
    print(f"  compose (fill)           : {fast:8.2f} ms   speed-up x{naive / fast:.1f}")
    print(f"  compose (fill) + QImage  : {fast_q:8.2f} ms")
    print(f"  compose (outline)        : {outline:8.2f} ms")
    print(f"  app display path, x0.5   : {display:8.2f} ms   (resize + compose, what scrubbing costs)")
    ok = fast_q < BUDGET_MS and outline < BUDGET_MS
    print(f"budget {BUDGET_MS:.0f} ms: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
