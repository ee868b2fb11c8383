"""Export benchmark: N frames x K objects at 1080p in every format, time and peak memory.

Baseline, measured in the same run and the same way: decoding every stored mask of the project
frame by frame (the least any exporter that looks at pixels must do). Each measurement runs in a
fresh subprocess so its peak resident memory (ru_maxrss) is its own; memory is reported as the
growth over the process after opening the project, and as a ratio to the size of ONE frame's
decoded masks (K x H x W bytes): a streaming exporter stays at a few frames, a whole-video exporter
would be at N.

    python bench/bench_export.py                 # 1000 frames x 5 objects, 1920x1080 (minutes)
    python bench/bench_export.py --frames 60     # a quick run on a shared machine
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.domain.export import export_project  # noqa: E402
from app.domain.project import Project  # noqa: E402

CASES = ("baseline-decode", "coco", "coco-polygons", "ytvis", "davis", "video")
OUTPUTS = {"coco": "coco.json", "coco-polygons": "coco_polygons.json", "ytvis": "ytvis.json",
           "davis": "davis",
           "video": "overlay.mp4"}


def write_clip(path: Path, frames: int, height: int, width: int) -> None:
    """A streamed synthetic clip (never the whole video in memory): a moving gradient with noise."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (width, height))
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 40, (height, width, 3), dtype=np.uint8)
    ramp = np.linspace(0, 200, width, dtype=np.float32)[None, :, None]
    for i in range(frames):
        frame = (np.roll(ramp, 7 * i, axis=1) + noise).clip(0, 255).astype(np.uint8)
        writer.write(np.ascontiguousarray(np.broadcast_to(frame, (height, width, 3))))
    writer.release()


def object_masks(frame: int, objects: int, height: int, width: int) -> dict[int, np.ndarray]:
    """K ellipses with a hole each, drifting across the frame; object k covers ~3-6 % of it."""
    masks = {}
    for k in range(objects):
        mask = np.zeros((height, width), np.uint8)
        cx = int((0.15 + 0.17 * k) * width + 3 * frame) % width
        cy = int(height * (0.3 + 0.1 * (k % 4)))
        axes = (int(width * 0.08), int(height * 0.12))
        cv2.ellipse(mask, (cx, cy), axes, 15 * k + frame, 0, 360, 1, -1)
        cv2.circle(mask, (cx, cy), axes[1] // 4, 0, -1)
        masks[k + 1] = mask.astype(bool)
    return masks


def build_project(folder: Path, frames: int, objects: int, height: int, width: int) -> Path:
    video = folder / "bench.mp4"
    write_clip(video, frames, height, width)
    path = folder / "bench.masklet"
    with Project.create(path, video) as project:
        categories = ("person", "dog", "car")
        with project.batch():
            for k in range(objects):
                project.add_object(f"object {k + 1}", categories[k % len(categories)])
            for f in range(frames):
                project.set_frame_masks(f, object_masks(f, objects, height, width))
    return path


class PeakRSS:
    """Samples this process's resident memory every few milliseconds while a case runs.

    ru_maxrss alone cannot be used: importing torch & co. sets a high-water mark above what an
    exporter adds. Sampling can miss a spike shorter than the interval; ru_maxrss bounds it above.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.process = psutil.Process()
        self.interval = interval
        self.start_rss = self.process.memory_info().rss
        self.peak = self.start_rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.start_rss


def measure(case: str, project_path: Path, out_dir: Path) -> dict:
    """Run one case in this process; returns seconds and peak RSS growth."""
    with Project.open(project_path) as project:
        project.masks_on_frame(0)  # warm imports and the first decode outside the measurement
        with PeakRSS() as memory:
            start = time.perf_counter()
            run_case(case, project, out_dir)
            seconds = time.perf_counter() - start
        return {"case": case, "seconds": seconds, "peak_growth": memory.growth}


def run_case(case: str, project: Project, out_dir: Path) -> None:
    if case == "baseline-decode":
        checksum = 0
        for f in range(project.num_frames):
            checksum += sum(int(m[::64, ::64].sum()) for m in project.masks_on_frame(f).values())
    elif case == "coco-polygons":
        export_project(project, "coco", out_dir / OUTPUTS[case], polygons=True)
    else:
        export_project(project, case, out_dir / OUTPUTS[case])


def output_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--objects", type=int, default=5)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {CASES}")
    parser.add_argument("--worker", nargs=3, metavar=("CASE", "PROJECT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        case, project_path, out_dir = args.worker
        print(json.dumps(measure(case, Path(project_path), Path(out_dir))))
        return 0

    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s) {sorted(unknown)}")
    if "baseline-decode" not in cases:
        cases.insert(0, "baseline-decode")
    with tempfile.TemporaryDirectory(prefix="masklet-bench-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        project_path = build_project(folder, args.frames, args.objects, args.height, args.width)
        print(f"setup: {args.frames} frames x {args.objects} objects at {args.width}x{args.height}, project "
              f"{output_size(project_path) / 1e6:.1f} MB, built in {time.perf_counter() - start:.1f} s")
        one_frame = args.objects * args.height * args.width  # decoded bool masks of one frame
        print(f"one frame's decoded masks: {one_frame / 1e6:.1f} MB; the whole video's: "
              f"{one_frame * args.frames / 1e9:.2f} GB")
        results = []
        for case in cases:
            out = subprocess.run([sys.executable, __file__, "--worker", case, str(project_path), tmp],
                                 capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(f"{case}: FAILED\n{out.stderr[-2000:]}")
                return 1
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        base = results[0]["seconds"]
        print(f"\n{'case':<16}{'seconds':>9}{'ms/frame':>10}{'x baseline':>12}{'peak MB':>9}"
              f"{'x 1 frame':>11}{'output MB':>11}")
        for r in results:
            size = output_size(folder / OUTPUTS[r["case"]]) / 1e6 if r["case"] in OUTPUTS else 0.0
            print(f"{r['case']:<16}{r['seconds']:>9.2f}{1000 * r['seconds'] / args.frames:>10.1f}"
                  f"{r['seconds'] / base:>12.2f}{r['peak_growth'] / 1e6:>9.1f}"
                  f"{r['peak_growth'] / one_frame:>11.2f}{size:>11.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
