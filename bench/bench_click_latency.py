"""Click -> mask latency of the classical engine through its API (issue 16: <= 0.3 s at 854x480, 2 cores).

On frame 0 of every DAVIS sequence (``<data>/<dataset>/<seq>/{JPEGImages,Annotations}``, each object on
its own) it times the prompts an annotator gives, each one ``add_new_points_or_box`` call:

- ``box``: the object's tight box (a fresh session);
- ``box+click``: then the box plus a positive click at the mask's centre in one call (as the app sends
  it and as ``bench_real_vos.py`` scores it: after the box, on the same frame);
- ``click``: a first positive click alone at the centre (the maximum of the distance transform);
- ``refine``: then the simulated annotator's second click (centre of the largest error region,
  positive on a miss, negative on a false area) with ``clear_old_points=False``.

and the frame-0 J (region IoU) of each result. The shared clips (bedroom, dog, blocks .mp4) get a
hand-placed box, click and second click (latency only: no ground truth).

Baselines in the same run: the textbook box cut -- one ``cv2.grabCut`` with the box as its rect, 5
iterations, on the whole work-resolution frame (``plain-grabcut``) -- and, with ``--checkout DIR``
(repeatable), the same measurements on another checkout's code (e.g. ``--checkout /work/main`` for
"before"). Every code tree runs in its own worker process; the workers take the sequences in turn, so
a load change on the shared machine hits them alike. The load average is printed before and after.

    python bench/bench_click_latency.py --checkout /work/main          # before vs this checkout
    python bench/bench_click_latency.py --seq kite-surf --seq dog
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("MASKLET_VOS_DATA", "/work/data/vos"))
SHARED = ROOT.parent / "shared" / "data"
TARGET_S = 0.3
OPS = ("box", "box+click", "click", "refine")
# Hand-placed prompts on frame 0 of the shared clips, video pixels: (box, first click, second click).
CLIPS: dict[str, tuple[tuple[float, float, float, float], tuple[float, float], tuple[float, float]]] = {
    "bedroom": ((300, 10, 516, 396), (400, 230), (390, 150)),  # the girl: shorts, then her top
    "dog": ((450, 380, 700, 550), (620, 430), (540, 420)),  # the dog: white back, then its brown head
    "blocks": ((490, 124, 580, 224), (530, 170), (560, 140)),  # the red "K" block: face, then its side
}


# -- worker: runs in a process whose sys.path starts with one checkout ------------------------------
def _timed(fn, *args, **kwargs):  # noqa: ANN001, ANN202 - engine API values, any checkout's types
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def _measure_davis(seq_dir: Path) -> list[dict]:
    """One dict per frame-0 object: op -> [seconds, J] (plus the plain-grabcut baseline)."""
    import cv2
    import numpy as np
    from bench_real_vos import box_of, centre_click, masks_of, next_click, read_labels

    from sam3core.classical import ClassicalEngine
    from sam3core.eval.metrics import region_similarity
    from sam3core.video import VideoSource

    engine = ClassicalEngine()
    video = VideoSource(seq_dir / "JPEGImages")
    labels = read_labels(seq_dir / "Annotations" / "00000.png")
    if labels.shape != (video.height, video.width):
        labels = cv2.resize(labels, (video.width, video.height), interpolation=cv2.INTER_NEAREST)
    rows = []
    for obj in (int(v) for v in np.unique(labels) if v != 0):
        gt = labels == obj
        box = box_of(gt)
        x, y = centre_click(gt)
        row: dict[str, list[float]] = {}

        def session():  # noqa: ANN202
            state = engine.init_state(video=video)
            state.frames.rgb(0)  # the frame is on screen (decoded) before the user clicks: not timed
            return state

        state = session()
        res, dt = _timed(engine.add_new_points_or_box, state, 0, obj, box=box, rel_coordinates=False)
        row["box"] = [dt, region_similarity(masks_of(res)[obj], gt)]
        res, dt = _timed(engine.add_new_points_or_box, state, 0, obj, box=box, points=[[x, y]], labels=[1],
                         rel_coordinates=False)
        row["box+click"] = [dt, region_similarity(masks_of(res)[obj], gt)]
        state = session()
        res, dt = _timed(engine.add_new_points_or_box, state, 0, obj, points=[[x, y]], labels=[1],
                         rel_coordinates=False)
        pred = masks_of(res)[obj]
        row["click"] = [dt, region_similarity(pred, gt)]
        click = next_click(pred, gt)
        if click is not None:
            res, dt = _timed(engine.add_new_points_or_box, state, 0, obj, points=[[click[0], click[1]]],
                             labels=[click[2]], clear_old_points=False, rel_coordinates=False)
            row["refine"] = [dt, region_similarity(masks_of(res)[obj], gt)]
        row["plain-grabcut"] = _plain_grabcut(state, box, gt)
        rows.append(row)
    video.close()
    return rows


def _plain_grabcut(state, box, gt) -> list[float]:  # noqa: ANN001 - a ClassicalSession of any checkout
    """The textbook box cut (baseline): cv2.grabCut(rect, 5 iterations) on the work frame, upscaled."""
    import cv2
    import numpy as np

    from sam3core.eval.metrics import region_similarity

    t0 = time.perf_counter()
    image = state.frames.rgb(0)
    s = state.scale
    x0, y0, x1, y1 = (int(round(v * s)) for v in box)
    labels = np.zeros(image.shape[:2], np.uint8)
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)
    cv2.grabCut(image, labels, (x0, y0, max(1, x1 - x0), max(1, y1 - y0)), bgd, fgd, 5, cv2.GC_INIT_WITH_RECT)
    fg = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    mask = cv2.resize(fg, (state.width, state.height), interpolation=cv2.INTER_NEAREST) > 0
    return [time.perf_counter() - t0, region_similarity(mask, gt)]


def _measure_clip(path: Path, prompt: tuple) -> list[dict]:
    """The hand-placed prompts on frame 0 of a shared clip: op -> [seconds, NaN] (no ground truth)."""
    from sam3core.classical import ClassicalEngine
    from sam3core.video import VideoSource

    box, first, second = prompt
    engine = ClassicalEngine()
    row: dict[str, list[float]] = {}
    with VideoSource(path) as video:
        state = engine.init_state(video=video)
        state.frames.rgb(0)
        _res, dt = _timed(engine.add_new_points_or_box, state, 0, 1, box=list(box), rel_coordinates=False)
        row["box"] = [dt, float("nan")]
        _res, dt = _timed(engine.add_new_points_or_box, state, 0, 1, box=list(box), points=[list(first)],
                          labels=[1], rel_coordinates=False)
        row["box+click"] = [dt, float("nan")]
        state = engine.init_state(video=video)
        state.frames.rgb(0)
        _res, dt = _timed(engine.add_new_points_or_box, state, 0, 1, points=[list(first)], labels=[1],
                          rel_coordinates=False)
        row["click"] = [dt, float("nan")]
        _res, dt = _timed(engine.add_new_points_or_box, state, 0, 1, points=[list(second)], labels=[1],
                          clear_old_points=False, rel_coordinates=False)
        row["refine"] = [dt, float("nan")]
    return [row]


def worker(threads: int) -> int:
    """Answer one JSON job per stdin line ({"seq": dir} or {"clip": path, "prompt": ...}) on stdout."""
    import cv2
    import torch

    import sam3core.classical

    # Imported before bench_real_vos, which puts this bench's own checkout first on sys.path: the
    # worker must measure the checkout it was started for.
    print(f"# worker: {sam3core.classical.__file__}", file=sys.stderr, flush=True)
    cv2.setNumThreads(threads)
    torch.set_num_threads(threads)
    for line in sys.stdin:
        job = json.loads(line)
        try:
            rows = (_measure_davis(Path(job["seq"])) if "seq" in job
                    else _measure_clip(Path(job["clip"]), tuple(job["prompt"])))
            reply = {"rows": rows}
        except Exception as exc:  # reported per job: the other sequences still run
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)
    return 0


# -- parent ------------------------------------------------------------------------------------
def _start(checkout: Path, threads: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{checkout}{os.pathsep}{ROOT / 'bench'}")
    return subprocess.Popen([sys.executable, __file__, "--worker", "--threads", str(threads)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=checkout)


def _ask(proc: subprocess.Popen, job: dict) -> dict:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(job) + "\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def _summary(name: str, rows: list[dict], label: str) -> None:
    for op in (*OPS, "plain-grabcut"):
        vals = [r[op] for r in rows if op in r]
        if not vals:
            continue
        secs = [v[0] for v in vals]
        js = [v[1] for v in vals if v[1] == v[1]]
        over = sum(s > TARGET_S for s in secs)
        j = f"J {statistics.mean(js):.3f}" if js else "J   -  "
        print(f"{name:<22}{label:<8}{op:<14}n={len(vals):<3} median {statistics.median(secs):.3f} s  "
              f"max {max(secs):.3f} s  > {TARGET_S} s: {over:<3}{j}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA / "davis2016")
    ap.add_argument("--seq", action="append", help="only these sequence names (repeatable)")
    ap.add_argument("--checkout", action="append", type=Path, default=[],
                    help="also measure this checkout's code (repeatable), e.g. /work/main")
    ap.add_argument("--no-clips", action="store_true", help="skip the shared .mp4 clips")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.threads)
    found = sorted(p for p in args.data.iterdir() if (p / "Annotations").is_dir()) \
        if args.data.is_dir() else []
    seqs = [p for p in found if not args.seq or p.name in args.seq]
    clips = [] if args.no_clips else [(n, SHARED / f"{n}.mp4") for n in CLIPS
                                      if (SHARED / f"{n}.mp4").exists()]
    if not seqs and not clips:
        print(f"# bench_click_latency: no sequences under {args.data} and no shared clips; nothing to do")
        return 0
    trees = {"this": ROOT, **{str(c): c.resolve() for c in args.checkout}}
    procs = {name: _start(path, args.threads) for name, path in trees.items()}
    print(f"# bench_click_latency: {len(seqs)} DAVIS sequences, {len(clips)} clips, threads {args.threads}, "
          f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.2f}; trees: "
          + ", ".join(f"{n}={p}" for n, p in trees.items()), flush=True)
    davis: dict[str, list[dict]] = {n: [] for n in trees}
    mp4: dict[str, list[dict]] = {n: [] for n in trees}
    jobs = [({"seq": str(p)}, p.name, davis) for p in seqs]
    jobs += [({"clip": str(path), "prompt": CLIPS[n]}, n, mp4) for n, path in clips]
    for k, (job, label, into) in enumerate(jobs):
        # Alternate which tree goes first, so neither always meets a warmer cache or a quieter machine.
        order = list(trees) if k % 2 == 0 else list(reversed(trees))
        for name in order:
            reply = _ask(procs[name], job)
            if "error" in reply:
                print(f"! {name} {label}: {reply['error']}", flush=True)
                continue
            into[name].extend(reply["rows"])
            cells = "  ".join(f"{op} {v[0]:.3f}s/{v[1]:.3f}" for op, v in reply["rows"][0].items())
            print(f"  {label:<20}{name:<12}{cells}", file=sys.stderr, flush=True)
    for proc in procs.values():
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
    print()
    for name in trees:
        _summary(name, davis[name], "davis")
        _summary(name, mp4[name], "clips")
    print(f"# load avg after {os.getloadavg()[0]:.2f} (1 min), {os.getloadavg()[1]:.2f} (5 min); "
          "J = frame-0 region IoU, mean over objects")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
