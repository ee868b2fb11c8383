"""Real-footage video-object-segmentation benchmark: DAVIS-style folders with real ground truth.

Reads ``<data>/<dataset>/<sequence>/{JPEGImages,Annotations}`` (DAVIS layout: numbered .jpg frames,
.png masks that are binary 0/255 or palette object ids; a sequence may annotate only some frames).
The data stays outside the repository (see /work/data/vos/README.md for where ours came from); without
it the script says so and exits 0.

Protocols, each run per sequence with all of its frame-0 objects prompted at once (one session, one
propagation; every object is scored on its own and a sequence's score is the mean over its objects):

- ``box+click`` (default): what an annotator gives -- each object's tight box on frame 0 plus one
  positive click at its centre (the maximum of the mask's distance transform).
- ``mask``: the frame-0 ground-truth mask (the standard semi-supervised protocol).
- ``naive``: the baseline in the same run -- the frame-0 ground truth copied to every frame.

Scores follow the DAVIS definitions (:mod:`sam3core.eval.metrics`): J region IoU, F boundary measure,
J&F their mean, on the annotated frames except the first and the last frame of the video (as the
official toolkit does). Also printed: object-frames/s of propagation, the frame-0 J of the box alone
and of box+click, the box+click -> mask latency, and with ``--effort`` the annotator effort of a
simulated annotator who always clicks at the centre of the largest error region (positive on a miss,
negative on a false area):

- NoC@85: clicks alone (no box) on frame 0 until J >= 0.85, at most 20 (20 = not reached).
- corrections: after box+click and propagation, one click on the worst frame (lowest J, any object)
  then propagation onwards from that frame (``--repropagate both``: backwards to frame 0 first, then
  onwards), repeated until every scored frame has J >= 0.8; capped
  by ``--max-corrections`` (a count at the cap means "not reached"); ``below 0.8`` is the share of
  scored frames still below J 0.8 when the corrections stop (so progress shows below the cap too).

- confidence quality: over every tracked frame of a split, the AUC of the engine's per-frame
  confidence (``frame_scores``) for telling frames with J >= 0.5 from worse ones, and the share of
  bad and of good frames below the timeline's doubtful threshold (0.6).

A deterministic third of the sequences (crc32 of the name) is the held-out ``test`` split, the rest
``tune``; report both, tune on ``tune`` only.

    python bench/bench_real_vos.py --data /work/data/vos                     # every sequence
    python bench/bench_real_vos.py --split tune --max-frames 30 --protocol box+click
    python bench/bench_real_vos.py --split test --effort --engine classical --engine classical:colour_weight=0
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import traceback
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_vos import make_engine  # noqa: E402

from sam3core.eval.metrics import boundary_f_measure, region_similarity  # noqa: E402
from sam3core.video import VideoSource, list_image_frames  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("MASKLET_VOS_DATA", "/work/data/vos"))
PROTOCOLS = ("box+click", "mask")
NOC_TARGET, NOC_MAX = 0.85, 20
CORRECTION_TARGET = 0.8
BAD_J = 0.5  # a tracked frame below this J is one the confidence should call doubtful
DOUBTFUL = 0.6  # the timeline's and `masklet status`'s default doubtful threshold


@dataclass
class Sequence:
    dataset: str
    name: str
    frames_dir: Path
    annotations: dict[int, Path]  # frame index -> mask file

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.name}"

    @property
    def split(self) -> str:
        return "test" if zlib.crc32(self.key.encode()) % 3 == 0 else "tune"


def read_labels(path: Path) -> np.ndarray:
    """(H, W) int32 object ids of a DAVIS mask: palette indices, or 1 for a binary 0/255 mask."""
    image = Image.open(path)
    arr = np.asarray(image)
    if arr.ndim == 3:
        arr = arr[..., 0]
    if image.mode != "P" and arr.max() > 1 and len(np.unique(arr)) <= 2:
        arr = (arr > 127).astype(np.uint8)
    labels = arr.astype(np.int32)
    labels[labels == 255] = 0  # DAVIS 2017 "void" border pixels are not an object
    return labels


def find_sequences(root: Path) -> list[Sequence]:
    seqs: list[Sequence] = []
    if not root.is_dir():
        return seqs
    for dataset in sorted(p for p in root.iterdir() if p.is_dir()):
        for seq in sorted(p for p in dataset.iterdir() if p.is_dir()):
            frames, masks = seq / "JPEGImages", seq / "Annotations"
            if not frames.is_dir() or not masks.is_dir():
                continue
            names = {p.stem: i for i, p in enumerate(list_image_frames(frames))}
            annotations = {names[p.stem]: p for p in sorted(masks.glob("*.png")) if p.stem in names}
            if 0 in annotations and len(names) >= 3:
                seqs.append(Sequence(dataset.name, seq.name, frames, annotations))
    return seqs


@dataclass
class Loaded:
    seq: Sequence
    video: VideoSource
    num_frames: int
    gt: dict[int, np.ndarray]  # annotated frame -> (H, W) labels (within the evaluated range)
    obj_ids: list[int]
    scored: list[int]  # frames scored: annotated, not the first, not the last


def load(seq: Sequence, max_frames: int | None) -> Loaded:
    video = VideoSource(seq.frames_dir)
    n = video.num_frames if max_frames is None else min(video.num_frames, max_frames)
    gt = {}
    for t, path in seq.annotations.items():
        if t < n:
            labels = read_labels(path)
            if labels.shape != (video.height, video.width):  # a mask a pixel off (it happens): fit it
                labels = cv2.resize(labels, (video.width, video.height), interpolation=cv2.INTER_NEAREST)
            gt[t] = labels
    obj_ids = [int(v) for v in np.unique(gt[0]) if v != 0]
    scored = [t for t in sorted(gt) if 0 < t < n - 1]
    return Loaded(seq, video, n, gt, obj_ids, scored)


def centre_click(mask: np.ndarray) -> tuple[float, float]:
    """The pixel deepest inside ``mask`` (maximum of its distance transform), as (x, y)."""
    padded = np.pad(mask.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(x), float(y)


def next_click(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float, int] | None:
    """The simulated annotator's next click: centre of the largest error region, label 1 on a miss."""
    best: tuple[int, np.ndarray, int] | None = None
    for region, label in ((gt & ~pred, 1), (pred & ~gt, 0)):
        count, comp, stats, _ = cv2.connectedComponentsWithStats(region.astype(np.uint8), connectivity=8)
        if count > 1:
            k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            if best is None or stats[k, cv2.CC_STAT_AREA] > best[0]:
                best = (int(stats[k, cv2.CC_STAT_AREA]), comp == k, label)
    if best is None:
        return None
    x, y = centre_click(best[1])
    return x, y, best[2]


def box_of(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


def masks_of(result: tuple) -> dict[int, np.ndarray]:
    video_res = result[3]
    return {int(o): (video_res[k, 0] > 0).cpu().numpy() for k, o in enumerate(result[1])}


@dataclass
class Row:
    engine: str
    seq: str
    split: str
    protocol: str
    objects: int
    frames: int
    j: float = float("nan")
    f: float = float("nan")
    jf: float = float("nan")
    obj_fps: float = float("nan")
    j0_box: float = float("nan")  # frame-0 J from the box alone
    j0: float = float("nan")  # frame-0 J of the prompt (box+click; 1 for a mask)
    click_s: float = float("nan")  # slowest prompt -> mask of the sequence
    noc: float = float("nan")  # mean NoC@85 over the objects
    corrections: float = float("nan")
    below: float = float("nan")  # share of frames with J < CORRECTION_TARGET after the corrections
    worst_j: list[float] = field(default_factory=list)  # per-frame worst J (timeline), for inspection
    confidence: list[tuple[float, float]] = field(default_factory=list)  # (confidence, J) per tracked frame
    error: str | None = None


def score(data: Loaded, preds: dict[int, dict[int, np.ndarray]]) -> tuple[float, float, dict]:
    """Mean J and F over objects (each: mean over scored frames) and per (frame, obj) J."""
    js, fs, per = [], [], {}
    for o in data.obj_ids:
        oj, of = [], []
        for t in data.scored:
            g = data.gt[t] == o
            p = preds.get(t, {}).get(o)
            p = np.zeros_like(g) if p is None else p
            jv = region_similarity(p, g)
            oj.append(jv)
            of.append(boundary_f_measure(p, g))
            per[(t, o)] = jv
        js.append(float(np.mean(oj)))
        fs.append(float(np.mean(of)))
    return float(np.mean(js)), float(np.mean(fs)), per


def prompt_frame0(engine, state, data: Loaded, protocol: str) -> tuple[float, float, float]:
    """Prompt every object on frame 0; returns (J of the box alone, J of the prompt, slowest latency)."""
    j_box, j_prompt, slowest = [], [], 0.0
    for o in data.obj_ids:
        gt0 = data.gt[0] == o
        if protocol == "mask":
            t0 = time.perf_counter()
            engine.add_new_mask(state, 0, o, gt0)
            slowest = max(slowest, time.perf_counter() - t0)
            j_prompt.append(1.0)
            continue
        box = box_of(gt0)
        res = engine.add_new_points_or_box(state, 0, o, box=box, rel_coordinates=False)
        j_box.append(region_similarity(masks_of(res)[o], gt0))
        x, y = centre_click(gt0)
        t0 = time.perf_counter()
        res = engine.add_new_points_or_box(state, 0, o, box=box, points=[[x, y]], labels=[1],
                                           rel_coordinates=False)
        slowest = max(slowest, time.perf_counter() - t0)
        j_prompt.append(region_similarity(masks_of(res)[o], gt0))
    def avg(v: list[float]) -> float:
        return float(np.mean(v)) if v else float("nan")

    return avg(j_box), avg(j_prompt), slowest


def propagate(engine, state, data: Loaded, preds: dict, start: int = 0,
              confidence: dict | None = None, reverse: bool = False) -> float:
    """Propagate from ``start`` to the last evaluated frame (``reverse``: to frame 0) into ``preds``;
    returns seconds spent.

    With ``confidence``: (frame, obj) -> the engine's per-frame confidence (``frame_scores``; the
    sigmoid of the presence logit for an engine without it), read outside the timed loop.
    """
    elapsed = 0.0
    count = start if reverse else data.num_frames - 1 - start
    stream = engine.propagate_in_video(state, start_frame_idx=start, max_frame_num_to_track=count,
                                       reverse=reverse)
    while True:
        t0 = time.perf_counter()
        item = next(stream, None)
        elapsed += time.perf_counter() - t0
        if item is None:
            return elapsed
        frame, ids, _low, video_res, scores = item
        masks = (video_res[:, 0] > 0).cpu().numpy()
        preds[frame] = {int(o): masks[k] for k, o in enumerate(ids)}
        if confidence is not None:
            reported = engine.frame_scores(state, frame) if hasattr(engine, "frame_scores") else {}
            for k, o in enumerate(ids):
                value = reported.get(int(o), {}).get("engine_confidence")
                if value is None:
                    value = float(torch.sigmoid(scores[k].float()).flatten()[0])
                confidence[(frame, int(o))] = float(value)


def confidence_quality(pairs: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(AUC, bad frames flagged, good frames flagged) of per-frame confidences against J.

    AUC: the chance that a frame with J >= BAD_J gets a higher confidence than one below it (0.5 =
    the confidence says nothing, 1 = it ranks every bad frame below every good one). Flagged: the
    share of bad / good frames whose confidence is below the DOUBTFUL threshold (the timeline's
    warning): the first should be high, the second low.
    """
    conf = np.array([c for c, _ in pairs], np.float64)
    j = np.array([v for _, v in pairs], np.float64)
    bad = j < BAD_J
    if not len(pairs) or bad.all() or not bad.any():
        return float("nan"), float("nan"), float("nan")
    # Mann-Whitney U from mid-ranks (ties count a half).
    order = np.argsort(conf, kind="mergesort")
    ranks = np.empty(len(conf))
    sorted_conf = conf[order]
    i = 0
    while i < len(conf):
        k = i
        while k + 1 < len(conf) and sorted_conf[k + 1] == sorted_conf[i]:
            k += 1
        ranks[order[i:k + 1]] = (i + k) / 2 + 1
        i = k + 1
    good = ~bad
    n_good, n_bad = int(good.sum()), int(bad.sum())
    auc = (ranks[good].sum() - n_good * (n_good + 1) / 2) / (n_good * n_bad)
    flagged = conf < DOUBTFUL
    return float(auc), float(flagged[bad].mean()), float(flagged[good].mean())


def noc85(engine, data: Loaded) -> float:
    """Mean over objects of the clicks (no box) on frame 0 until J >= 0.85 (NOC_MAX when never)."""
    counts = []
    for o in data.obj_ids:
        gt0 = data.gt[0] == o
        state = engine.init_state(video=data.video)
        pred = np.zeros_like(gt0)
        n = NOC_MAX
        for k in range(1, NOC_MAX + 1):
            click = next_click(pred, gt0)
            if click is None:
                n = k - 1
                break
            x, y, label = click
            res = engine.add_new_points_or_box(state, 0, o, points=[[x, y]], labels=[label],
                                               clear_old_points=(k == 1), rel_coordinates=False)
            pred = masks_of(res)[o]
            if region_similarity(pred, gt0) >= NOC_TARGET:
                n = k
                break
        counts.append(n)
        engine.close(state)
    return float(np.mean(counts))


def corrections(engine, data: Loaded, cap: int, both: bool = False) -> tuple[float, float]:
    """Corrections (one click on the worst frame, re-propagate onwards; ``both``: backwards to frame 0
    first, as the app's "propagate both ways" does) until every J >= 0.8.

    Returns (corrections made, share of the frames still below 0.8 at the end)."""
    state = engine.init_state(video=data.video)
    prompt_frame0(engine, state, data, "box+click")
    preds: dict[int, dict[int, np.ndarray]] = {}
    propagate(engine, state, data, preds)
    frames = [t for t in sorted(data.gt) if t > 0]
    done = 0
    while done < cap:
        worst, where = 1.0, None
        for t in frames:
            for o in data.obj_ids:
                p = preds.get(t, {}).get(o, np.zeros_like(data.gt[t], bool))
                jv = region_similarity(p, data.gt[t] == o)
                if jv < worst:
                    worst, where = jv, (t, o)
        if where is None or worst >= CORRECTION_TARGET:
            break
        t, o = where
        click = next_click(preds.get(t, {}).get(o, np.zeros_like(data.gt[t], bool)), data.gt[t] == o)
        if click is None:
            break
        x, y, label = click
        engine.add_new_points_or_box(state, t, o, points=[[x, y]], labels=[label], clear_old_points=False,
                                     rel_coordinates=False)
        if both:
            propagate(engine, state, data, preds, start=t, reverse=True)
        propagate(engine, state, data, preds, start=t)
        done += 1
    below = [region_similarity(preds.get(t, {}).get(o, np.zeros_like(data.gt[t], bool)), data.gt[t] == o)
             < CORRECTION_TARGET for t in frames for o in data.obj_ids]
    engine.close(state)
    return float(done), float(np.mean(below)) if below else float("nan")


def run(engine, spec: str, data: Loaded, protocol: str, effort: bool, cap: int, both: bool = False) -> Row:
    row = Row(spec, data.seq.key, data.seq.split, protocol, len(data.obj_ids), data.num_frames)
    state = engine.init_state(video=data.video)
    row.j0_box, row.j0, row.click_s = prompt_frame0(engine, state, data, protocol)
    preds: dict[int, dict[int, np.ndarray]] = {}
    confidence: dict[tuple[int, int], float] = {}
    elapsed = propagate(engine, state, data, preds, confidence=confidence)
    engine.close(state)
    row.j, row.f, per = score(data, preds)
    row.confidence = [(confidence[key], round(per[key], 4)) for key in sorted(per) if key in confidence]
    row.jf = (row.j + row.f) / 2
    row.obj_fps = data.num_frames * len(data.obj_ids) / max(elapsed, 1e-9)
    row.worst_j = [round(min(per[(t, o)] for o in data.obj_ids), 3) for t in data.scored]
    if effort and protocol == "box+click":
        row.noc = noc85(engine, data)
        row.corrections, row.below = corrections(engine, data, cap, both)
    return row


def naive(data: Loaded) -> Row:
    row = Row("naive", data.seq.key, data.seq.split, "naive", len(data.obj_ids), data.num_frames)
    first = {o: data.gt[0] == o for o in data.obj_ids}
    row.j, row.f, _ = score(data, {t: first for t in data.scored})
    row.jf = (row.j + row.f) / 2
    return row


def mean(rows: list[Row], name: str) -> float:
    vals = [getattr(r, name) for r in rows if not r.error and not np.isnan(getattr(r, name))]
    return statistics.mean(vals) if vals else float("nan")


def print_table(rows: list[Row]) -> None:
    head = (f"{'engine':<26}{'protocol':<10}{'sequence':<30}{'split':<6}{'obj':>4}{'frm':>5}{'J':>7}{'F':>7}"
            f"{'J&F':>7}{'obj/s':>7}{'J0box':>7}{'J0':>7}{'clk s':>7}{'NoC85':>7}{'corr':>6}")
    print(head)
    for r in rows:
        if r.error:
            print(f"{r.engine:<26}{r.protocol:<10}{r.seq:<30}failed: {r.error}")
            continue
        print(f"{r.engine:<26}{r.protocol:<10}{r.seq:<30}{r.split:<6}{r.objects:>4}{r.frames:>5}{r.j:7.3f}"
              f"{r.f:7.3f}{r.jf:7.3f}{r.obj_fps:7.1f}{r.j0_box:7.3f}{r.j0:7.3f}{r.click_s:7.3f}"
              f"{r.noc:7.1f}{r.corrections:6.1f}")
    print()
    groups = sorted({(r.engine, r.protocol) for r in rows}, key=lambda g: (g[0] != "naive", g))
    for split in ("tune", "test", "all"):
        for eng, proto in groups:
            ok = [r for r in rows if r.engine == eng and r.protocol == proto and not r.error
                  and (split == "all" or r.split == split)]
            if not ok:
                continue
            slowest = max((r.click_s for r in ok), default=float("nan"))
            auc, bad_flagged, good_flagged = confidence_quality([p for r in ok for p in r.confidence])
            print(f"{eng + ' MEAN ' + split:<36}{proto:<10}n={len(ok):<4}J {mean(ok, 'j'):.3f}  "
                  f"F {mean(ok, 'f'):.3f}  J&F {mean(ok, 'jf'):.3f}  obj/s {mean(ok, 'obj_fps'):.1f}  "
                  f"J0box {mean(ok, 'j0_box'):.3f}  J0 {mean(ok, 'j0'):.3f}  click s (max) {slowest:.3f}  "
                  f"NoC@85 {mean(ok, 'noc'):.2f}  corrections {mean(ok, 'corrections'):.2f}  "
                  f"below 0.8 after {mean(ok, 'below'):.2f}  "
                  f"conf AUC {auc:.3f}  doubtful: bad {bad_flagged:.2f} good {good_flagged:.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="root of <dataset>/<sequence> folders")
    ap.add_argument("--engine", action="append",
                    help="engine spec (repeatable, as bench_vos.py); default classical")
    ap.add_argument("--protocol", action="append", choices=PROTOCOLS, help="repeatable; default both")
    ap.add_argument("--split", choices=("tune", "test", "all"), default="all")
    ap.add_argument("--seq", action="append", help="only these sequence names (repeatable)")
    ap.add_argument("--max-frames", type=int, default=None, help="evaluate only the first N frames")
    ap.add_argument("--effort", action="store_true", help="also NoC@85 and corrections (slow)")
    ap.add_argument("--max-corrections", type=int, default=10)
    ap.add_argument("--repropagate", choices=("forward", "both"), default="forward",
                    help="after each correction propagate onwards only, or backwards to frame 0 first")
    ap.add_argument("--threads", type=int, default=2, help="OpenCV/torch threads (the target is 2 cores)")
    ap.add_argument("--json", type=Path, default=None, help="also write every row to this file")
    args = ap.parse_args(argv)
    seqs = [s for s in find_sequences(args.data)
            if (args.split == "all" or s.split == args.split) and (not args.seq or s.name in args.seq)]
    if not seqs:
        print(f"# bench_real_vos: no sequences under {args.data} (DAVIS layout <dataset>/<seq>/JPEGImages, "
              "Annotations); nothing to do")
        return 0
    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)
    load_avg = os.getloadavg()
    print(f"# bench_real_vos: {len(seqs)} sequences from {args.data}, split {args.split}, max frames "
          f"{args.max_frames}, threads {args.threads}, cores {os.cpu_count()}, load {load_avg[0]:.1f}",
          flush=True)
    specs = args.engine or ["classical"]
    engines = {}
    for spec in specs:
        try:
            engines[spec] = make_engine(spec, None, "cpu")
        except Exception as exc:  # report and go on: the other engines still run
            print(f"! engine {spec}: cannot be built: {type(exc).__name__}: {exc}")
    protocols = args.protocol or list(PROTOCOLS)
    rows: list[Row] = []
    for seq in seqs:
        data = load(seq, args.max_frames)
        rows.append(naive(data))
        for spec, engine in engines.items():
            for protocol in protocols:
                try:
                    r = run(engine, spec, data, protocol, args.effort, args.max_corrections,
                            args.repropagate == "both")
                except Exception as exc:
                    r = Row(spec, seq.key, seq.split, protocol, len(data.obj_ids), data.num_frames,
                            error=f"{type(exc).__name__}: {exc}")
                    traceback.print_exc(limit=4, file=sys.stderr)
                rows.append(r)
                print(f"  {seq.key} {spec} {protocol}: J&F {r.jf:.3f} J0 {r.j0:.3f} obj/s {r.obj_fps:.1f}"
                      f" NoC {r.noc:.1f} corr {r.corrections:.0f}", file=sys.stderr, flush=True)
        data.video.close()
    print()
    print_table(rows)
    print(f"# load avg after {os.getloadavg()[0]:.1f}; scored: annotated frames except the first and "
          "the last; obj/s: object-frames per second of propagation; naive = frame-0 ground truth on "
          "every frame; conf AUC: how well the engine's per-frame confidence ranks frames with J >= "
          f"{BAD_J} above those below it (0.5 = no information); doubtful: share of bad / good frames "
          f"with confidence < {DOUBTFUL}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return 0 if any(not r.error for r in rows if r.engine != "naive") else 1


if __name__ == "__main__":
    raise SystemExit(main())
