"""Store benchmark: what data safety costs while frames are being stored (issue 13).

Stores N propagated frames of K objects the way a propagation does (one transaction per frame,
``synchronous=FULL``) into a project file, and reports per-frame time:

- baseline: the background keeper off (no WAL checkpoints, no lock heartbeat): the store as before;
- safe: the keeper on (the WAL folded into the main file about every second, the heartbeat);
- the ratio safe / baseline, measured in the same run, alternating the two so drift hits both;
- how much of the work a copy of ``P.masklet`` alone holds at the end, with and without the keeper;
- Save a copy (SQLite online backup) of the finished project, and taking + releasing the writer lock.

    python bench/bench_store.py                   # 300 frames x 3 objects at 1280x720
    python bench/bench_store.py --frames 100      # a quick run on a shared machine
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.domain import keeper, lock  # noqa: E402
from app.domain.lock import WriterLock  # noqa: E402
from app.domain.project import Project  # noqa: E402
from sam3core.video import write_video  # noqa: E402


def masks_for(frame: int, objects: int, height: int, width: int) -> dict[int, np.ndarray]:
    yy, xx = np.mgrid[:height, :width]
    out = {}
    for k in range(objects):
        cx, cy = (100 + 7 * frame + 150 * k) % width, (80 + 90 * k) % height
        out[k + 1] = (xx - cx) ** 2 + ((yy - cy) * 1.3) ** 2 < (60 + 10 * k) ** 2
    return out


def store_run(folder: Path, video: Path, frames: int, objects: int, *, safe: bool) -> tuple[float, int]:
    """Seconds per stored frame, and the frames a copy of the main file alone holds at the end."""
    if not safe:
        saved = keeper.CHECKPOINT_EVERY_S, lock.HEARTBEAT_S
        keeper.CHECKPOINT_EVERY_S, lock.HEARTBEAT_S = 1e9, 1e9
    try:
        path = folder / ("safe.masklet" if safe else "baseline.masklet")
        project = Project.create(path, video)
        for k in range(objects):
            project.add_object(f"o{k + 1}")
        height, width = project.size
        prepared = [masks_for(f, objects, height, width) for f in range(frames)]
        start = time.perf_counter()
        for frame, masks in enumerate(prepared):
            project.set_frame_masks(frame, masks)
        per_frame = (time.perf_counter() - start) / frames
        time.sleep(1.5)  # the keeper's chance to fold the last frames in (what a user's pause gives)
        alone = folder / "alone" / path.name
        alone.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, alone)  # the main file only, as people copy it, while still open
        with Project.open(alone, read_only=True) as copy:
            held = len(copy.frames_stored())
        project.close()
        return per_frame, held
    finally:
        if not safe:
            keeper.CHECKPOINT_EVERY_S, lock.HEARTBEAT_S = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        folder = Path(tmp)
        video = write_video(folder / "clip.mp4", [np.full((args.height, args.width, 3), i % 255, np.uint8)
                                                  for i in range(args.frames)], fps=25)
        runs: dict[bool, list[tuple[float, int]]] = {False: [], True: []}
        for _round in range(args.rounds):
            for safe in (False, True):
                sub = folder / f"r{_round}-{int(safe)}"
                sub.mkdir()
                runs[safe].append(store_run(sub, video, args.frames, args.objects, safe=safe))
        base = statistics.median(t for t, _ in runs[False])
        safe = statistics.median(t for t, _ in runs[True])
        print(f"{args.frames} frames x {args.objects} objects at {args.width}x{args.height}, "
              f"{args.rounds} rounds")
        print(f"baseline (no keeper)      {base * 1e3:7.2f} ms/frame; main file copied alone holds "
              f"{min(h for _, h in runs[False])}/{args.frames} frames")
        print(f"safe (keeper, heartbeat)  {safe * 1e3:7.2f} ms/frame; main file copied alone holds "
              f"{min(h for _, h in runs[True])}/{args.frames} frames")
        print(f"ratio safe / baseline     {safe / base:7.3f}")
        project = Project.open(next(folder.glob("r0-1")) / "safe.masklet")
        copies = []
        for k in range(5):
            start = time.perf_counter()
            copy = project.save_copy(folder / f"copy{k}.masklet")
            copies.append(time.perf_counter() - start)
        print(f"save a copy               {statistics.median(copies) * 1e3:7.1f} ms for "
              f"{copy.stat().st_size / 1e6:.1f} MB (median of 5)")
        project.close()
        times = []
        for _ in range(50):
            start = time.perf_counter()
            WriterLock.acquire(folder / "lock-probe.masklet").release()
            times.append(time.perf_counter() - start)
        print(f"writer lock take+release  {statistics.median(times) * 1e3:7.2f} ms (median of 50)")


if __name__ == "__main__":
    main()
