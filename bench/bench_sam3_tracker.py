"""Speed and memory of the SAM 3 tracker on CPU, side by side with Meta's reference when importable.

Full-size networks (ViT-L trunk at 1008 px) with random weights written in ``sam3.pt``'s layout: the
tracker's tensors plus the detector's FPN branch and a filler standing for the rest of the detector and
the text encoder, so the file is as large as the real one (~848M values, 3.4 GB). The object-score head
is forced to "present" so masks and memories are real. One object is clicked on frame 0 of a 960x540
clip, then propagated. Each side runs in its own process:

- ours: ``build_tracker("sam3", checkpoint=...)`` (loads only the tracker's tensors; the file is
  memory-mapped, so skipped tensors are never read into RAM);
- reference: ``sam3==0.1.4``'s tracker with its vision backbone (``build_reference_tracker()`` from
  /work/shared/tools/sam3_reference_cpu.py, which neutralises its CUDA-only calls), loaded with the same
  tensors. The notebook's ``build_sam3_video_model()`` would add the detector and text encoder (~848M
  parameters in all); it cannot be built here (its BPE vocabulary is not shipped in the wheel), so the
  reference's memory below is a lower bound of what the notebook holds.

Measured: s/frame of propagation (tracked frames only), latency of a second click on the prompted frame,
parameters held, RSS after building + loading, after ``init_state``, peak RSS.

    python bench/bench_sam3_tracker.py --frames 4                            # ours only (project venv)
    /tmp/masklet-refenv/bin/python bench/bench_sam3_tracker.py --frames 4    # + reference and ratios
"""

from __future__ import annotations

import argparse
import json
import os
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
from benchutil import make_clip, peak_rss_mb, rss_mb  # noqa: E402

REFERENCE_TOOLS = ROOT.parent / "shared" / "tools"
# the notebook's clicks (210, 350) and (250, 220) on the 960x540 frame, as fractions of the frame: with
# rel_coordinates=False the reference takes pixels of its 1008 x 1008 input, ours pixels of the video
CLICK = [[210.0 / 960, 350.0 / 540]]
SECOND_CLICK = [[250.0 / 960, 220.0 / 540]]
FULL_SAM3_PARAMS = 848_000_000  # the figure for the whole SAM 3 model


def make_checkpoint(path: Path) -> dict[str, int]:
    """A random full-size file in sam3.pt's layout; returns value counts (tracker part, whole file)."""
    from sam3core.sam.sam3 import SAM3_CONFIG, build_sam3_tracker_model, official_key

    torch.manual_seed(0)
    model = build_sam3_tracker_model(SAM3_CONFIG)
    with torch.no_grad():
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(8.0)
    sd = {official_key(k): v for k, v in model.state_dict().items()}
    tracker_values = sum(v.numel() for v in sd.values())
    del model
    vision = "detector.backbone.vision_backbone."

    def conv(name: str, shape: tuple[int, ...], transposed: bool = False) -> None:
        sd[name + ".weight"] = torch.randn(*shape) * 0.02
        sd[name + ".bias"] = torch.zeros(shape[1] if transposed else shape[0])

    # the detector's FPN branch and the tracker branch's fourth (max-pool) level: real names and shapes
    for branch, levels in (("convs", range(4)), ("sam2_convs", range(3, 4))):
        for i in levels:
            conv_in = {0: 256, 1: 512}.get(i, 1024)
            if i == 0:
                conv(f"{vision}{branch}.0.dconv_2x2_0", (1024, 512, 2, 2), transposed=True)
                conv(f"{vision}{branch}.0.dconv_2x2_1", (512, 256, 2, 2), transposed=True)
            elif i == 1:
                conv(f"{vision}{branch}.1.dconv_2x2", (1024, 512, 2, 2), transposed=True)
            conv(f"{vision}{branch}.{i}.conv_1x1", (256, conv_in, 1, 1))
            conv(f"{vision}{branch}.{i}.conv_3x3", (256, 256, 3, 3))
    total = sum(v.numel() for v in sd.values())
    # stands for the text encoder and the detector's heads, which the tracker must not load
    sd["detector.backbone.language_backbone.filler"] = torch.zeros(max(0, FULL_SAM3_PARAMS - total))
    torch.save({"model": sd}, path)
    return {"tracker_values": tracker_values, "file_values": sum(v.numel() for v in sd.values())}


def _reference_predictor(checkpoint: Path) -> torch.nn.Module:
    sys.path.insert(0, str(REFERENCE_TOOLS))
    from sam3_reference_cpu import build_reference_tracker

    predictor = build_reference_tracker()
    official = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)["model"]
    wanted = predictor.state_dict()
    state = {}
    for key in wanted:
        name = ("detector." + key) if key.startswith("backbone.") else ("tracker." + key)
        name = name.replace(".mlp.layers.0.", ".mlp.lin1.").replace(".mlp.layers.1.", ".mlp.lin2.")
        if name in official:
            state[key] = official[name]
    missing = [k for k in wanted if k not in state and not k.endswith("freqs_cis")]  # RoPE tables: derived
    if missing:
        raise RuntimeError(f"reference weights missing from the file: {missing[:5]}")
    predictor.load_state_dict(state, strict=False)
    del official
    return predictor


def run_side(side: str, clip: Path, checkpoint: Path, frames: int, threads: int) -> dict[str, object]:
    """One side's measurements (runs in a child process)."""
    warnings.filterwarnings("ignore")
    if threads > 0:
        torch.set_num_threads(threads)
    rss_start = rss_mb()
    start = time.perf_counter()
    if side == "ours":
        from sam3core.sam.registry import build_tracker

        predictor = build_tracker("sam3", checkpoint=checkpoint)
        params = sum(p.numel() for p in predictor.model.parameters())
    else:
        predictor = _reference_predictor(checkpoint)
        params = sum(p.numel() for p in predictor.parameters())
    load_s = time.perf_counter() - start
    rss_model = rss_mb()
    start = time.perf_counter()
    state = predictor.init_state(video_path=str(clip))
    init_s = time.perf_counter() - start
    rss_init = rss_mb()
    start = time.perf_counter()
    predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, points=CLICK, labels=[1])
    first_click_s = time.perf_counter() - start
    start = time.perf_counter()
    predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, points=SECOND_CLICK, labels=[1],
                                    clear_old_points=False)
    second_click_s = time.perf_counter() - start
    times, fg = [], []
    start = time.perf_counter()
    for out in predictor.propagate_in_video(state, start_frame_idx=0, max_frame_num_to_track=frames - 1,
                                            reverse=False, propagate_preflight=True):
        now = time.perf_counter()
        if out[0] > 0:  # frame 0 is the prompted frame: nothing is tracked there
            times.append(now - start)
        fg.append(float((out[3][0] > 0).float().mean()))
        start = time.perf_counter()
    return {"side": side, "threads": torch.get_num_threads(), "frames_tracked": len(times),
            "s_per_frame": float(np.mean(times)), "load_s": load_s, "init_s": init_s,
            "first_click_s": first_click_s, "second_click_s": second_click_s, "params_m": params / 1e6,
            "rss_start_mb": rss_start, "rss_model_mb": rss_model, "rss_after_init_mb": rss_init,
            "peak_rss_mb": peak_rss_mb(), "fg_fraction_min": min(fg), "fg_fraction_max": max(fg)}


def reference_importable() -> bool:
    try:
        import sam3  # noqa: F401
    except ImportError:
        return False
    return (REFERENCE_TOOLS / "sam3_reference_cpu.py").exists()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=4, help="clip length (the first frame is prompted)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per side (0: torch default)")
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--side", choices=("ours", "ref"), help=argparse.SUPPRESS)
    parser.add_argument("--clip", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.frames < 2:
        parser.error("--frames must be at least 2 (one prompted, one tracked)")
    if args.side:
        print(json.dumps(run_side(args.side, args.clip, args.checkpoint, args.frames, args.threads)))
        return 0
    sides = ["ours"] + (["ref"] if reference_importable() and not args.no_reference else [])
    results = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("MASKLET_BENCH_TMP")) as tmp:
        clip, checkpoint = Path(tmp) / "frames", Path(tmp) / "sam3_random.pt"
        make_clip(clip, args.frames)
        sizes = make_checkpoint(checkpoint)
        for side in sides:
            cmd = [sys.executable, __file__, "--side", side, "--clip", str(clip), "--checkpoint",
                   str(checkpoint), "--frames", str(args.frames), "--threads", str(args.threads)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr[-3000:], file=sys.stderr)
                return 1
            results[side] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"SAM 3 tracker, full size (1008 px), random weights, file of {sizes['file_values'] / 1e6:.0f}M "
          f"values ({sizes['tracker_values'] / 1e6:.1f}M for the tracker), {args.frames} frames 960x540, "
          "one object, CPU")
    keys = ("s_per_frame", "second_click_s", "first_click_s", "load_s", "init_s", "params_m", "rss_model_mb",
            "rss_after_init_mb", "peak_rss_mb", "threads", "fg_fraction_min", "fg_fraction_max")
    header = "".join(f"{side:>12s}" for side in results) + ("  ours / ref" if "ref" in results else "")
    print(f"{'':22s}{header}")
    for key in keys:
        row = f"{key:22s}" + "".join(f"{results[side][key]:12.3f}" for side in results)
        if "ref" in results and results["ref"][key]:
            row += f"{results['ours'][key] / results['ref'][key]:12.2f}"
        print(row)
    share = results["ours"]["params_m"] * 1e6 / FULL_SAM3_PARAMS
    print(f"parameters held by ours vs the whole SAM 3 model (~848M): {share:.2f}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
