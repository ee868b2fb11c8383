"""Optional: the seed notebook's SAM 3 session against Meta's ``sam3==0.1.4`` (skipped where it is absent).

The reference tracker is built as ``sam3.model_builder.build_tracker(apply_temporal_disambiguation=True,
with_backbone=True)`` builds it, with only the ViT shrunk (width 256, 4 blocks, 224 px input: full-size
heads, memory encoder and memory attention) and the memory encoder's mask resize set to the 16 x 16 grid;
its CUDA-only calls are redirected to the CPU by ``/work/shared/tools/sam3_reference_cpu.py``. Random
weights (every tensor perturbed, object-score head forced to "present") are written in ``sam3.pt``'s
layout plus four detector/text tensors, loaded into ours by the real loader (which must skip those), and
the notebook's session runs through both predictors on the same JPEG frames (docs/parity_sam3.md):
ex1 clicks, propagate, a negative correction, re-propagate; ex2 a box, box + click, propagate; ex3 three
objects, propagate, a correction on one of them, re-propagate. Every returned mask and object score is
compared. Run in the reference venv (one thread: on a shared 2-core machine more only spin):

    OMP_NUM_THREADS=1 /tmp/masklet-refenv/bin/python tests/test_parity_sam3.py --frames 12 --refine-frame 8
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

try:
    import pytest
except ImportError:  # the reference venv runs run_parity() directly, without pytest
    pytest = None

BEDROOM = Path(__file__).resolve().parents[2] / "shared" / "data" / "bedroom.mp4"
CPU_TOOLS = Path("/work/shared/tools")
IMAGE_SIZE, WIDTH, DEPTH, HEADS = 224, 256, 4, 4


def _frames(count: int) -> list[np.ndarray]:
    from sam3core.video import VideoSource

    if BEDROOM.exists():
        with VideoSource(BEDROOM, cache_frames=2) as video:
            return [video[i].copy() for i in range(count)]
    rng = np.random.default_rng(5)  # a synthetic stand-in of bedroom.mp4's size
    background = rng.integers(20, 120, size=(540, 960, 3), dtype=np.uint8)
    frames = []
    for i in range(count):
        frame = background.copy()
        frame[200:480, 150 + 4 * i:300 + 4 * i] = (210, 60, 40)
        frame[20:380, 320:480] = (40, 180, 200)
        frames.append(frame)
    return frames


def _reference() -> Any:
    sys.path.insert(0, str(CPU_TOOLS))
    from sam3_reference_cpu import cpu_patches

    cpu_patches()
    from sam3 import model_builder as mb
    from sam3.model.vitdet import ViT
    from sam3.model.vl_combiner import SAM3VLBackbone

    vit = ViT(img_size=IMAGE_SIZE, pretrain_img_size=112, patch_size=14, embed_dim=WIDTH, depth=DEPTH,
              num_heads=HEADS, mlp_ratio=4.625, norm_layer="LayerNorm", drop_path_rate=0.0, qkv_bias=True,
              use_abs_pos=True, tile_abs_pos=True, global_att_blocks=(1, 3), rel_pos_blocks=(),
              use_rope=True, use_interp_rope=True, window_size=8, pretrain_use_cls_token=True,
              retain_cls_token=False, ln_pre=True, ln_post=False, return_interm_layers=False,
              bias_patch_embed=False)
    neck = mb._create_vit_neck(mb._create_position_encoding(precompute_resolution=IMAGE_SIZE), vit,
                               enable_inst_interactivity=True)
    maskmem = mb._create_tracker_maskmem_backbone()
    maskmem.mask_downsampler.interpol_size = [IMAGE_SIZE // 14 * 16] * 2  # 16 x 16 memories, as ours
    model = mb.Sam3TrackerPredictor(
        image_size=IMAGE_SIZE, num_maskmem=7, backbone=SAM3VLBackbone(scalp=1, visual=neck, text=None),
        backbone_stride=14, transformer=mb._create_tracker_transformer(), maskmem_backbone=maskmem,
        multimask_output_in_sam=True, forward_backbone_per_frame_for_eval=True,
        trim_past_non_cond_mem_for_eval=False, multimask_output_for_tracking=True, multimask_min_pt_num=0,
        multimask_max_pt_num=1, always_start_from_first_ann_frame=False, non_overlap_masks_for_mem_enc=False,
        non_overlap_masks_for_output=False, max_cond_frames_in_attn=4, offload_output_to_cpu_for_eval=False,
        sam_mask_decoder_extra_args={"dynamic_multimask_via_stability": True,
                                     "dynamic_multimask_stability_delta": 0.05,
                                     "dynamic_multimask_stability_thresh": 0.98},
        clear_non_cond_mem_around_input=True, fill_hole_area=0, use_memory_selection=True)
    return model.eval()


def _ours(checkpoint: Path) -> Any:
    from sam3core.sam.registry import build_tracker
    from sam3core.sam.sam3.config import Sam3Config, notebook_preprocess, sam3_tracker_settings
    from sam3core.sam.sam3.vit import ViTConfig

    vit = ViTConfig(image_size=IMAGE_SIZE, patch_size=14, embed_dim=WIDTH, depth=DEPTH, num_heads=HEADS,
                    window_size=8, global_blocks=(1, 3), pretrain_image_size=112)
    config = Sam3Config(name="sam3", vit=vit, tracker=sam3_tracker_settings(
        IMAGE_SIZE, preprocess=notebook_preprocess(IMAGE_SIZE)))
    return build_tracker("sam3", checkpoint=checkpoint, config=config)


Output = tuple[str, int, list[int], torch.Tensor, torch.Tensor | None]  # step, frame, ids, masks, scores


def _session(predictor: Any, state: Any, frames: int, refine: int, size: tuple[int, int]) -> Iterator[Output]:
    width, height = size

    def rel(points: list[tuple[float, float]]) -> torch.Tensor:
        return torch.tensor([[x / width, y / height] for x, y in points], dtype=torch.float32)

    def click(frame: int, obj: int, points: list[tuple[float, float]] | None, labels: list[int] | None,
              box: tuple[float, float, float, float] | None = None, clear: bool = True) -> Any:
        kwargs: dict[str, Any] = {"clear_old_points": clear}
        if points is not None:
            kwargs.update(points=rel(points), labels=torch.tensor(labels, dtype=torch.int32))
        if box is not None:
            x0, y0, x1, y1 = box
            kwargs["box"] = np.array([[x0 / width, y0 / height, x1 / width, y1 / height]], np.float32)
        out = predictor.add_new_points_or_box(inference_state=state, frame_idx=frame, obj_id=obj, **kwargs)
        return out[0], list(out[1]), out[3], None

    def propagate() -> Iterator[tuple[int, list[int], torch.Tensor, torch.Tensor]]:
        for out in predictor.propagate_in_video(state, start_frame_idx=0, max_frame_num_to_track=frames,
                                                reverse=False, propagate_preflight=True):
            yield out[0], list(out[1]), out[3], out[4]

    # ex1: the notebook's clicks on the left child, propagation, a negative correction, re-propagation
    yield ("ex1 clicks", *click(0, 1, [(210, 350)], [1], clear=False))
    yield ("ex1 clicks", *click(0, 1, [(210, 350), (250, 220)], [1, 1], clear=False))
    for out in propagate():
        yield ("ex1 propagate", *out)
    yield ("ex1 correction", *click(refine, 1, [(82, 410)], [0], clear=False))
    for out in propagate():
        yield ("ex1 re-propagate", *out)
    # ex2: a box on the right child, box + click, propagation
    predictor.clear_all_points_in_video(state)
    yield ("ex2 box", *click(0, 4, None, None, box=(300, 0, 500, 400)))
    yield ("ex2 box", *click(0, 4, [(460, 60)], [1], box=(300, 0, 500, 400)))
    for out in propagate():
        yield ("ex2 propagate", *out)
    # ex3: three objects, propagation, a correction on one of them (all masks returned), re-propagation
    predictor.clear_all_points_in_video(state)
    yield ("ex3 clicks", *click(0, 2, [(200, 300)], [1]))
    yield ("ex3 clicks", *click(0, 2, [(200, 300), (275, 175)], [1, 0]))
    yield ("ex3 clicks", *click(0, 3, [(400, 150)], [1]))
    yield ("ex3 clicks", *click(0, 5, [(700, 300)], [1]))
    for out in propagate():
        yield ("ex3 propagate", *out)
    yield ("ex3 correction", *click(refine // 2, 3, [(420, 170)], [1], clear=False))
    for out in propagate():
        yield ("ex3 re-propagate", *out)


def run_parity(frames: int = 12, refine_frame: int = 8) -> dict[str, Any]:
    """Run the session through both predictors; the worst mask and score differences, overall and per step."""
    from sam3core.video import write_video

    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    ref = _reference()
    with torch.no_grad():
        for param in ref.parameters():  # constant-initialised tensors must matter too
            param.add_(0.02 * torch.randn_like(param))
        ref.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(8.0)
    official = {}
    for key, value in ref.state_dict().items():
        official[("detector." + key) if key.startswith("backbone.") else ("tracker." + key)] = value
    for key in ("detector.transformer.encoder.layers.0.norm1.weight",
                "detector.dot_prod_scoring.prompt_mlp.bias",
                "detector.backbone.language_backbone.encoder.ln_final.weight",
                "detector.segmentation_head.pixel_decoder.conv_layers.0.bias"):
        official[key] = torch.randn(8)  # the detector and text encoder: in the file, not the tracker's
    clip = _frames(frames + 1)
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "sam3.pt"
        torch.save({"model": official}, checkpoint)
        ours = _ours(checkpoint)
        video = write_video(Path(tmp) / "frames", clip)
        size = (clip[0].shape[1], clip[0].shape[0])
        start = time.perf_counter()
        with torch.inference_mode():
            ref_out = [(s, f, ids, m.clone(), None if sc is None else sc.clone()) for s, f, ids, m, sc in
                       _session(ref, ref.init_state(video_path=str(video)), frames, refine_frame, size)]
        seconds["ref"] = time.perf_counter() - start
        start = time.perf_counter()
        our_out = list(_session(ours, ours.init_state(video_path=video), frames, refine_frame, size))
        seconds["ours"] = time.perf_counter() - start
    assert len(ref_out) == len(our_out), (len(ref_out), len(our_out))
    worst, worst_score, min_iou, fg, per_step = 0.0, 0.0, 1.0, [], {}
    for (step, f, ids, a, sa), (step2, f2, ids2, b, sb) in zip(ref_out, our_out):
        assert (step, f, ids) == (step2, f2, ids2), ((step, f, ids), (step2, f2, ids2))
        if sa is not None:
            score_diff = (sa.float().reshape(-1) - sb.float().reshape(-1)).abs().max()
            worst_score = max(worst_score, float(score_diff))
        for i in range(len(ids)):
            diff = float((a[i].float() - b[i].float()).abs().max())
            worst = max(worst, diff)
            ma, mb = a[i] > 0, b[i] > 0
            union = int((ma | mb).sum())
            iou = 1.0 if union == 0 else int((ma & mb).sum()) / union
            min_iou = min(min_iou, iou)
            prev = per_step.get(step, (0.0, 1.0))
            per_step[step] = (max(prev[0], diff), min(prev[1], iou))
            fg.append(float(ma.float().mean()))
    return {"outputs": len(fg), "max_abs_diff": worst, "min_iou": min_iou, "max_score_diff": worst_score,
            "fg_min": min(fg), "fg_max": max(fg), "per_step": per_step, "session_s": seconds}


def test_session_matches_reference() -> None:
    if importlib.util.find_spec("sam3") is None or not (CPU_TOOLS / "sam3_reference_cpu.py").exists():
        pytest.skip("Meta's sam3 reference (and the CPU patches) are not here")
    summary = run_parity(frames=4, refine_frame=2)
    assert summary["max_abs_diff"] <= 1e-3 and summary["min_iou"] >= 0.999
    assert summary["max_score_diff"] <= 1e-3
    assert summary["fg_min"] > 0.0 and summary["fg_max"] < 1.0


if __name__ == "__main__":  # docs/parity_sam3.md's session, in the reference venv
    import argparse

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # sam3core from this checkout
    parser = argparse.ArgumentParser(description="SAM 3 notebook-session parity against sam3==0.1.4")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--refine-frame", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(run_parity(args.frames, args.refine_frame))
