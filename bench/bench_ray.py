"""Ray benchmark: batch throughput with 1 and 2 workers, the remote engine's added latency per click over
loopback, and the bytes per propagated frame on the wire. Every figure is a ratio against a baseline
measured in the same run:

- batch: the same clips tracked one after another in this process, as ``masklet track`` does (the
  baseline), then ``run_batch`` with 1 and with 2 engine workers on a local Ray instance; wall time
  (actor start-up included) and steady frames/s (first to last stored frame);
- click latency: the same clicks on the same engine in this process and in a Ray actor, interleaved;
  the difference is what the remote engine adds (median and p95), beside a bare actor round trip;
- bytes per frame: what the remote engine received per propagated frame, against float32 logits
  (what an engine returns) and a bit-packed mask at video resolution.

Clips are cut from ../shared/data/bedroom.mp4 (real footage) when it is there, else synthetic.

    python bench/bench_ray.py                      # 4 clips x 30 frames, 480x270 (a few minutes)
    python bench/bench_ray.py --clips 2 --frames 12 --clicks 10   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.cluster import runtime  # noqa: E402
from app.cluster.batch import BatchOptions, run_batch  # noqa: E402
from app.cluster.files import describe  # noqa: E402
from app.cluster.manifest import load_manifest  # noqa: E402
from app.cluster.recipe import EngineRecipe  # noqa: E402
from app.cluster.remote_engine import RemoteEngine  # noqa: E402
from app.cluster.runtime import RemoteTarget  # noqa: E402
from app.cluster.testing import TINY_MODEL, tiny_factory, write_tiny_checkpoint  # noqa: E402
from app.domain.project import Project  # noqa: E402
from app.domain.tracking import apply_specs, track  # noqa: E402
from sam3core.video import VideoSource, write_video  # noqa: E402

BEDROOM = ROOT.parent / "shared" / "data" / "bedroom.mp4"


def make_clips(folder: Path, count: int, frames: int, size: tuple[int, int]) -> tuple[Path, str]:
    """``count`` clips and a manifest (a box on frame 0 around the same region of each clip)."""
    width, height = size
    source = "synthetic"
    all_frames: list[np.ndarray] = []
    if BEDROOM.exists():
        with VideoSource(BEDROOM, cache_frames=2) as video:
            need = min(video.num_frames, count * frames)
            all_frames = [cv2.resize(video[i], (width, height), interpolation=cv2.INTER_AREA)
                          for i in range(need)]
        source = f"{BEDROOM.name} frames 0-{len(all_frames) - 1} at {width}x{height}"
    if len(all_frames) < count * frames:
        rng = np.random.default_rng(0)
        background = rng.integers(20, 120, size=(height, width, 3), dtype=np.uint8)
        all_frames = []
        for i in range(count * frames):
            frame = background.copy()
            x = width // 5 + (i % frames) * 2
            frame[height // 3:height // 3 + height // 3, x:x + width // 6] = (200, 60, 40)
            all_frames.append(frame)
        source = f"synthetic {width}x{height}"
    lines = []
    box = [width * 0.15, height * 0.3, width * 0.45, height * 0.95]
    for k in range(count):
        clip = write_video(folder / f"clip{k}.avi", all_frames[k * frames:(k + 1) * frames], fps=15)
        prompts = {"objects": [{"id": 1, "prompts": [{"frame": 0, "box": [round(v) for v in box]}]}]}
        lines.append(json.dumps({"video": clip.name, "prompts": prompts, "project": f"clip{k}.masklet",
                                 "device": "cpu"}))
    manifest = folder / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest, source


def clear_projects(folder: Path) -> None:
    for path in folder.glob("clip*.masklet*"):
        path.unlink()


def bench_batch(folder: Path, manifest: Path) -> dict:
    items = load_manifest(manifest)
    frames = sum(item.planned_frames for item in items)
    torch.set_num_threads(1)  # one core, as each batch worker gets
    clear_projects(folder)
    started = time.perf_counter()
    for item in items:  # the baseline: masklet track on each clip in turn
        from sam3core.factory import build_engine

        with Project.create(item.project, item.video) as project:
            apply_specs(project, list(item.specs))
            track(project, build_engine(None), direction=item.direction)
    sequential = time.perf_counter() - started
    out = {"frames": frames, "sequential_s": sequential}
    for workers in (1, 2):
        clear_projects(folder)
        stamps: list[float] = []
        engines: dict[int, RemoteEngine] = {}

        def stamp(item: object, phase: str, frame: int, engine: RemoteEngine,
                  _stamps: list[float] = stamps, _engines: dict = engines) -> None:
            _stamps.append(time.perf_counter())
            _engines[id(engine)] = engine

        started = time.perf_counter()
        results = run_batch(items, BatchOptions(workers=workers), on_frame=stamp)
        wall = time.perf_counter() - started
        assert all(r.status == "done" for r in results), [r.error for r in results]
        steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
        out[f"batch{workers}_wall_s"] = wall
        out[f"batch{workers}_fps"] = steady
        frames_done = sum(e.stats.frames for e in engines.values())
        busy = sum(e.stats.compute_seconds for e in engines.values())
        out[f"batch{workers}_compute_ms"] = 1000 * busy / max(1, frames_done)
        out[f"batch{workers}_overlap"] = busy / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
    return out


def bench_clicks(video_path: Path, clicks: int, engine_kind: str, checkpoint: Path | None) -> dict:
    rng = np.random.default_rng(1)
    if engine_kind == "classical":
        from sam3core.factory import build_engine

        local = build_engine(None)
        recipe = EngineRecipe()
    else:
        local = tiny_factory(TINY_MODEL, str(checkpoint), "cpu")
        recipe = EngineRecipe(TINY_MODEL, describe(checkpoint), "cpu", tiny_factory)
    remote = RemoteEngine(RemoteTarget(None), recipe)
    try:
        with VideoSource(video_path) as video:
            width, height = video.width, video.height
            local_state = local.init_state(video=video)
            remote_state = remote.init_state(video=video)
            local_ms, remote_ms = [], []
            for k in range(clicks + 2):
                frame = int(rng.integers(0, min(4, video.num_frames)))
                point = [[float(rng.uniform(0.1, 0.9) * width), float(rng.uniform(0.1, 0.9) * height)]]
                pairs = ((local, local_state, local_ms), (remote, remote_state, remote_ms))
                for engine, state, sink in pairs:
                    started = time.perf_counter()
                    engine.add_new_points_or_box(state, frame, 1 + k % 3, points=point, labels=[1],
                                                 rel_coordinates=False)
                    if k >= 2:  # the first clicks encode the frames (both sides alike)
                        sink.append(1000 * (time.perf_counter() - started))
            added = sorted(r - loc for r, loc in zip(remote_ms, local_ms))
            round_trips = []
            for _ in range(30):
                started = time.perf_counter()
                remote._call("sessions")
                round_trips.append(1000 * (time.perf_counter() - started))
            before_bytes, before_frames = remote.stats.mask_bytes, remote.stats.frames
            objects = len(remote.add_new_points_or_box(remote_state, 0, 1, points=[[width / 3, height / 2]],
                                                       labels=[1], rel_coordinates=False)[1])
            for _ in remote.propagate_in_video(remote_state, start_frame_idx=0):
                pass
            frames = remote.stats.frames - before_frames
            wire = (remote.stats.mask_bytes - before_bytes) / max(1, frames + 1)
    finally:
        remote.shutdown()
    return {"local_ms_median": statistics.median(local_ms), "remote_ms_median": statistics.median(remote_ms),
            "added_ms_median": statistics.median(added),
            "added_ms_p95": added[min(len(added) - 1, int(0.95 * len(added)))],
            "round_trip_ms_median": statistics.median(round_trips), "objects": objects,
            "wire_bytes_per_frame": wire, "float32_bytes_per_frame": 4 * width * height * objects,
            "bitpacked_bytes_per_frame": width * height * objects / 8, "size": f"{width}x{height}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--size", default="480x270", help="clip size WxH (default 480x270)")
    parser.add_argument("--clicks", type=int, default=30)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        folder = Path(tmp)
        manifest, source = make_clips(folder, args.clips, args.frames, (width, height))
        checkpoint = write_tiny_checkpoint(folder / "tiny.pt")
        print(f"clips: {args.clips} x {args.frames} frames, {source}; machine: {os.cpu_count()} CPUs, "
              f"{'a GPU' if torch.cuda.is_available() else 'no GPU'}, load average "
              f"{os.getloadavg()[0]:.1f} at the start")
        started = time.perf_counter()
        runtime.connect(None, num_cpus=os.cpu_count())
        print(f"local Ray instance started in {time.perf_counter() - started:.1f} s "
              f"({runtime.cluster_resources().get('CPU', 0):g} CPUs)")
        try:
            batch = bench_batch(folder, manifest)
            clicks = {kind: bench_clicks(folder / "clip0.avi", args.clicks, kind, checkpoint)
                      for kind in ("classical", "tiny-sam2.1")}
        finally:
            runtime.disconnect()
    n = batch["frames"]
    seq_fps = n / batch["sequential_s"]
    print(f"\nbatch, classical engine, {n} frame results:")
    print(f"  baseline: masklet track on each clip in turn, this process, 1 thread: "
          f"{batch['sequential_s']:.1f} s = {seq_fps:.2f} frames/s")
    for w in (1, 2):
        wall, fps = batch[f"batch{w}_wall_s"], batch[f"batch{w}_fps"]
        print(f"  masklet batch, {w} worker(s): {wall:.1f} s wall incl. actor start "
              f"({n / wall:.2f} frames/s, "
              f"x{batch['sequential_s'] / wall:.2f} of baseline); steady {fps:.2f} frames/s "
              f"(x{fps / seq_fps:.2f} of baseline); worker compute "
              f"{batch[f'batch{w}_compute_ms']:.0f} ms/frame, {batch[f'batch{w}_overlap']:.2f} workers busy "
              "on average")
    print(f"  2 workers / 1 worker: x{batch['batch1_wall_s'] / batch['batch2_wall_s']:.2f} wall, "
          f"x{batch['batch2_fps'] / batch['batch1_fps']:.2f} steady")
    for kind, c in clicks.items():
        print(f"\nremote engine over loopback, {kind}, {c['size']}:")
        print(f"  click: local {c['local_ms_median']:.1f} ms, remote {c['remote_ms_median']:.1f} ms "
              "(median); "
              f"added {c['added_ms_median']:.1f} ms median, {c['added_ms_p95']:.1f} ms p95 "
              f"(bare actor round trip {c['round_trip_ms_median']:.2f} ms)")
        print(f"  bytes per propagated frame ({c['objects']} object(s)): {c['wire_bytes_per_frame']:.0f} "
              f"on the wire vs {c['float32_bytes_per_frame']:.0f} float32 logits (x"
              f"{c['float32_bytes_per_frame'] / c['wire_bytes_per_frame']:.0f} less) and "
              f"{c['bitpacked_bytes_per_frame']:.0f} bit-packed (x"
              f"{c['bitpacked_bytes_per_frame'] / c['wire_bytes_per_frame']:.1f} less)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
