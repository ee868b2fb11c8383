"""Speed and memory of the SAM 2.1 tracker on CPU, side by side with Meta's reference when importable.

SAM 2.1-tiny networks with random weights (the object-score head forced to "present" so masks and
memories are real), one object clicked on frame 0 of a 960x540 clip, then propagated. Measured per
side, each in its own process so resident memory is not shared:

- s/frame of propagation (tracked frames only), latency of a second click on the prompted frame,
- RSS right after ``init_state``, peak RSS, and RSS growth per propagated frame (least-squares slope
  after the first 8 tracked frames, which fill the memory bank and caches; use >= 20 frames);
- with the reference: how far apart the two sides' masks are (max |logit difference| at video
  resolution and min IoU over the propagated frames), so a speed-up is only counted with identical masks.

    python bench/bench_sam2_tracker.py --frames 20          # ours only (project venv)
    /tmp/masklet-refenv/bin/python bench/bench_sam2_tracker.py --frames 20   # + reference and ratios

The clip is /work/shared/data/bedroom.mp4 when present, else a synthetic one (sam3core.video.write_video).
Both sides read the same JPEG frames (the reference only reads JPEG folders without decord).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchutil import BEDROOM, make_clip, peak_rss_mb, rss_mb  # noqa: E402

WARMUP_FRAMES = 8
CLICK = [[210.0, 350.0]]  # pixels of a 960x540 frame (the notebook's first click)
SECOND_CLICKS = 11  # latency of a click on a frame whose features are cached: the median of these


def make_checkpoint(path: Path) -> None:
    from sam3core.sam.network_config import SAM2_CONFIGS
    from sam3core.sam.registry import build_sam2_tracker_model

    torch.manual_seed(0)
    model = build_sam2_tracker_model(SAM2_CONFIGS["sam2.1_hiera_tiny"])
    with torch.no_grad():
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(4.0)
    torch.save({"model": model.state_dict()}, path)


def run_side(side: str, clip: Path, checkpoint: Path, frames: int, threads: int,
             masks_out: Path | None = None) -> dict[str, object]:
    """One side's measurements (runs in a child process); the propagated frames' video-resolution logits
    go to ``masks_out`` (raw float32, frame after frame) so the parent can compare the two sides."""
    warnings.filterwarnings("ignore")
    if threads > 0:
        torch.set_num_threads(threads)
    if side == "ours":
        from sam3core.sam.registry import build_tracker

        predictor = build_tracker("sam2.1_hiera_tiny", checkpoint=checkpoint)
        kwargs: dict[str, object] = {"rel_coordinates": False}
    else:
        from sam2.build_sam import build_sam2_video_predictor

        predictor = build_sam2_video_predictor("configs/sam2.1/sam2.1_hiera_t.yaml",
                                               ckpt_path=str(checkpoint), device="cpu")
        kwargs = {}
    rss_model = rss_mb()
    start = time.perf_counter()
    state = predictor.init_state(video_path=str(clip))
    init_s = time.perf_counter() - start
    rss_init = rss_mb()
    start = time.perf_counter()
    predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, points=CLICK, labels=[1], **kwargs)
    first_click_s = time.perf_counter() - start
    second = []
    for k in range(SECOND_CLICKS):  # 12 points in all: under SAM 2.1's limit of 16 per prompt
        start = time.perf_counter()
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, points=[[250.0 + k, 220.0]], labels=[1],
                                        clear_old_points=False, **kwargs)
        second.append(time.perf_counter() - start)
    times, rss, fg = [], [], []
    logits, mask_shape = None, None
    start = time.perf_counter()
    for out in predictor.propagate_in_video(state, start_frame_idx=0, max_frame_num_to_track=frames - 1):
        now = time.perf_counter()
        if out[0] > 0:  # frame 0 is the prompted frame: nothing is tracked there
            times.append(now - start)
            rss.append(rss_mb())
        video_res = out[-1 if side == "ref" else 3][0, 0]  # (H, W) logits of the object
        fg.append(float((video_res > 0).float().mean()))
        if masks_out is not None:
            if logits is None:  # written out, not mapped: the RSS measured here stays the tracker's
                logits = open(masks_out, "wb")  # noqa: SIM115 (closed below)
                mask_shape = list(video_res.shape)
            logits.seek(out[0] * video_res.numel() * 4)
            logits.write(video_res.float().contiguous().numpy().tobytes())
        start = time.perf_counter()
    if logits is not None:
        logits.close()
    # the first frames fill the memory bank (up to 7 memories) and the caches: growth is measured after
    steady = rss[WARMUP_FRAMES:]
    slope = float(np.polyfit(np.arange(len(steady)), steady, 1)[0]) if len(steady) > 2 else float("nan")
    return {"side": side, "threads": torch.get_num_threads(), "frames_tracked": len(times),
            "s_per_frame": float(np.mean(times)), "s_per_frame_median": float(np.median(times)),
            "init_s": init_s, "first_click_s": first_click_s, "second_click_s": float(np.median(second)),
            "rss_model_mb": rss_model, "rss_after_init_mb": rss_init, "rss_last_frame_mb": rss[-1],
            "peak_rss_mb": peak_rss_mb(),
            "rss_growth_mb_per_frame": slope, "fg_fraction_min": min(fg), "fg_fraction_max": max(fg),
            "mask_shape": mask_shape}


def reference_importable() -> bool:
    try:
        import sam2  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200, help="clip length (200 = the issue's setting)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per side (0: torch default)")
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--side", choices=("ours", "ref"), help=argparse.SUPPRESS)
    parser.add_argument("--clip", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--masks-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        print(json.dumps(run_side(args.side, args.clip, args.checkpoint, args.frames, args.threads,
                                  args.masks_out)))
        return 0
    sides = ["ours"] + (["ref"] if reference_importable() and not args.no_reference else [])
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        clip, checkpoint = Path(tmp) / "frames", Path(tmp) / "random_tiny.pt"
        make_clip(clip, args.frames)
        make_checkpoint(checkpoint)
        for side in sides:
            cmd = [sys.executable, __file__, "--side", side, "--clip", str(clip), "--checkpoint",
                   str(checkpoint), "--frames", str(args.frames), "--threads", str(args.threads),
                   "--masks-out", str(Path(tmp) / f"{side}.f32")]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr[-3000:], file=sys.stderr)
                return 1
            results[side] = json.loads(done.stdout.strip().splitlines()[-1])
        agreement = None
        if "ref" in results:
            agreement = compare_masks(Path(tmp) / "ours.f32", Path(tmp) / "ref.f32", args.frames,
                                      results["ours"]["mask_shape"])
    print(f"SAM 2.1-tiny, random weights, {args.frames} frames 960x540, one object, CPU "
          f"({'bedroom.mp4' if BEDROOM.exists() else 'synthetic clip'})")
    keys = ("s_per_frame", "s_per_frame_median", "second_click_s", "first_click_s", "init_s",
            "rss_after_init_mb", "rss_last_frame_mb", "peak_rss_mb", "rss_growth_mb_per_frame", "threads",
            "fg_fraction_min")
    header = "".join(f"{side:>12s}" for side in results) + ("       ratio" if "ref" in results else "")
    print(f"{'':26s}{header}")
    for key in keys:
        row = f"{key:26s}" + "".join(f"{results[side][key]:12.3f}" for side in results)
        if "ref" in results and results["ref"][key]:
            row += f"{results['ours'][key] / results['ref'][key]:12.2f}"
        print(row)
    if agreement is not None:
        print(f"masks, ours vs ref over {agreement['frames']} frames: max |logit diff| "
              f"{agreement['max_abs_logit_diff']:.3g}, min IoU {agreement['min_iou']:.6f}")
        results["agreement"] = agreement
    print(json.dumps(results))
    return 0


def compare_masks(ours: Path, ref: Path, frames: int, shape: list[int]) -> dict[str, float]:
    """Largest logit difference and smallest IoU of the binarised masks over the propagated frames."""
    a = np.memmap(ours, dtype=np.float32, mode="r", shape=(frames, *shape))
    b = np.memmap(ref, dtype=np.float32, mode="r", shape=(frames, *shape))
    worst, min_iou = 0.0, 1.0
    for i in range(frames):
        x, y = np.asarray(a[i]), np.asarray(b[i])
        worst = max(worst, float(np.abs(x - y).max()))
        union = int(np.count_nonzero((x > 0) | (y > 0)))
        inter = int(np.count_nonzero((x > 0) & (y > 0)))
        min_iou = min(min_iou, inter / union if union else 1.0)
    return {"frames": frames, "max_abs_logit_diff": worst, "min_iou": min_iou}


if __name__ == "__main__":
    sys.exit(main())
