"""Tracking-step pieces and the SAM 3 behaviours that are configuration of the same tracker."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from sam3core.sam.inference_state import FrameMemory
from sam3core.sam.memory import memory_score, select_cond_frames, selected_memory_frames
from sam3core.sam.network_config import tiny_test_config
from sam3core.sam.predictor import SamPredictor
from sam3core.sam.prompt_input import limit_points, to_point_prompt
from sam3core.sam.registry import TRACKERS, build_sam2_tracker_model, build_tracker, sam2_tracker_config
from sam3core.sam.tracker import sine_pe_1d
from sam3core.video import write_video

OFFICIAL_TOP_LEVEL = ("maskmem_tpos_enc", "no_mem_embed", "no_mem_pos_enc", "no_obj_ptr",
                      "no_obj_embed_spatial", "obj_ptr_proj.layers.0.weight", "obj_ptr_tpos_proj.weight",
                      "mask_downsample.weight")


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> object:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def entry(score: float | None = None) -> FrameMemory:
    return FrameMemory(logits=torch.zeros(1, 1, 4, 4), obj_ptr=torch.zeros(1, 8),
                       object_score_logits=torch.ones(1, 1), eff_iou_score=score)


def test_model_uses_official_parameter_names() -> None:
    model = build_sam2_tracker_model(tiny_test_config())
    keys = set(model.state_dict())
    for name in OFFICIAL_TOP_LEVEL:
        assert name in keys
    prefixes = {k.split(".")[0] for k in keys}
    assert prefixes == {"image_encoder", "memory_attention", "memory_encoder", "sam_prompt_encoder",
                        "sam_mask_decoder", *(name.split(".")[0] for name in OFFICIAL_TOP_LEVEL)}
    assert model.maskmem_tpos_enc.shape == (7, 1, 1, 16)


def test_registry_and_unknown_names() -> None:
    sizes = ("tiny", "small", "base_plus", "large")
    assert {f"sam2.1_hiera_{size}" for size in sizes} <= set(TRACKERS)
    with pytest.raises(ValueError, match="unknown tracker"):
        build_tracker("sam2.1_hiera_huge")
    with pytest.raises(ValueError, match="name or a checkpoint"):
        build_tracker(None)
    predictor = build_tracker("sam2.1_hiera_tiny", config=tiny_test_config())
    assert predictor.name == "sam2.1_hiera_tiny" and predictor.device == torch.device("cpu")
    assert predictor.config.image_size == 128 and predictor.config.low_res_mask_size == 32


def test_checkpoint_round_trip_and_clear_errors(tmp_path: Path) -> None:
    from sam3core.sam.checkpoint import CheckpointError

    torch.manual_seed(1)
    source = build_sam2_tracker_model(tiny_test_config())
    path = tmp_path / "tiny.pt"
    torch.save({"model": source.state_dict()}, path)
    loaded = build_tracker("sam2.1_hiera_tiny", checkpoint=path, config=tiny_test_config())
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value), key
    broken = tmp_path / "broken.pt"
    broken.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="broken.pt"):
        build_tracker("sam2.1_hiera_tiny", checkpoint=broken, config=tiny_test_config())
    # a file whose trunk says "tiny" asked for as "small": refused before anything is built
    fake = {"image_encoder.trunk.patch_embed.proj.weight": torch.zeros(96, 3, 7, 7)}
    fake.update({f"image_encoder.trunk.blocks.{i}.norm1.weight": torch.zeros(1) for i in range(12)})
    torch.save({"model": fake}, tmp_path / "fake_tiny.pt")
    with pytest.raises(CheckpointError, match="sam2.1_hiera_tiny"):
        build_tracker("sam2.1_hiera_small", checkpoint=tmp_path / "fake_tiny.pt")


def test_tracker_overrides_make_sam2_corrections_conditioning(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    frames = [rng.integers(0, 255, (64, 80, 3), dtype=np.uint8) for _ in range(8)]
    video = write_video(tmp_path / "clip", frames)
    predictor = build_tracker("sam2.1_hiera_tiny", config=tiny_test_config(),
                              tracker_overrides={"add_all_frames_to_correct_as_cond": True})
    assert predictor.config.add_all_frames_to_correct_as_cond and predictor.config.image_size == 128
    state = predictor.init_state(video_path=video)
    predictor.add_new_points(state, 0, 1, [[0.5, 0.5]], [1])
    list(predictor.propagate_in_video(state))
    predictor.add_new_points(state, 5, 1, [[0.2, 0.2]], [0])
    list(predictor.propagate_in_video(state, 0))
    assert sorted(state.objects[1].cond) == [0, 5]  # the correction is kept through re-propagation
    with pytest.raises(ValueError, match="no_such_field"):
        build_tracker("sam2.1_hiera_tiny", config=tiny_test_config(), tracker_overrides={"no_such_field": 1})


def test_conditioning_frame_selection() -> None:
    cond = {t: entry() for t in (0, 10, 20, 30, 40)}
    chosen, rest = select_cond_frames(25, cond, -1)
    assert list(chosen) == [0, 10, 20, 30, 40] and rest == {}
    chosen, rest = select_cond_frames(25, cond, 3)
    assert sorted(chosen) == [10, 20, 30] and sorted(rest) == [0, 40]  # before, after, then nearest
    chosen, _ = select_cond_frames(25, cond, 3, keep_first=True)
    assert sorted(chosen) == [0, 20, 30]
    with pytest.raises(ValueError):
        select_cond_frames(25, cond, 1)


def test_memory_selection_keeps_confident_frames_and_the_previous_one() -> None:
    class Bank:
        cond: dict[int, FrameMemory] = {}
        non_cond = {t: entry(0.5 if t % 3 == 0 else 0.001) for t in range(1, 30)}

    frames = selected_memory_frames(Bank(), 20, 40, reverse=False, stride=1, max_ptrs=16, threshold=0.01)
    assert frames == [3, 6, 9, 12, 15, 18, 19]  # oldest first; 19 kept as the previous frame
    frames = selected_memory_frames(Bank(), 10, 40, reverse=True, stride=1, max_ptrs=16, threshold=0.01)
    assert frames[-1] == 11 and 12 in frames and 13 not in frames
    assert selected_memory_frames(Bank(), 0, 40, reverse=False, stride=1, max_ptrs=16, threshold=0.01) == []
    present, absent = torch.tensor([[5.0]]), torch.tensor([[-5.0]])
    assert memory_score(absent, torch.tensor([0.9])) == 0.0
    assert 0.8 < memory_score(present, torch.tensor([0.9])) < 0.9


def test_prompt_point_limit_and_conversion() -> None:
    prompt = to_point_prompt([[0.1 * i, 0.5] for i in range(10)], [1] * 10, [0.0, 0.0, 1.0, 1.0],
                             rel_coordinates=True, video_width=200, video_height=100, image_size=1008)
    assert prompt.labels[0, :3].tolist() == [2, 3, 1] and prompt.coords.shape == (1, 12, 2)
    assert prompt.coords[0, 1].tolist() == [1008.0, 1008.0]
    limited = limit_points(prompt, 4)
    assert limited.labels.shape == (1, 4)
    torch.testing.assert_close(limited.coords[0], prompt.coords[0, [0, 1, 10, 11]])
    assert limit_points(prompt, 0) is prompt


def test_temporal_encoding_is_sine_cosine() -> None:
    pe = sine_pe_1d(torch.tensor([0.0, 1.0]), dim=8)
    assert pe.shape == (2, 8)
    torch.testing.assert_close(pe[0], torch.tensor([0.0] * 4 + [1.0] * 4))


def sam3_style_predictor() -> SamPredictor:
    modules = tiny_test_config()
    config = dataclasses.replace(sam2_tracker_config(modules), max_cond_frames_in_attn=2,
                                 keep_first_cond_frame=True, use_memory_selection=True,
                                 add_all_frames_to_correct_as_cond=True, clear_non_cond_mem_around_input=True,
                                 max_point_num_in_prompt_enc=4, multimask_output_for_tracking=True)
    torch.manual_seed(0)
    model = build_sam2_tracker_model(modules, tracker_config=config)
    with torch.no_grad():
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(4.0)
    return SamPredictor(model, name="sam3-style-test")


def test_sam3_settings_corrections_become_conditioning_frames(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 255, (64, 80, 3), dtype=np.uint8) for _ in range(30)]
    video = write_video(tmp_path / "clip", frames)
    predictor = sam3_style_predictor()
    state = predictor.init_state(video_path=video)
    predictor.add_new_points(state, 0, 1, [[0.1 * i, 0.5] for i in range(6)], [1] * 6)
    assert state.objects[1].point_inputs[0].labels.shape == (1, 4)  # first 2 + last 2 clicks
    list(predictor.propagate_in_video(state))
    obj = state.objects[1]
    assert all(e.eff_iou_score is not None for e in obj.non_cond.values())
    predictor.add_new_points(state, 15, 1, [[0.5, 0.5]], [0])
    assert 15 in obj.temp_cond  # a corrected frame is a conditioning frame
    predictor.add_new_points(state, 25, 1, [[0.5, 0.5]], [1])
    predictor.propagate_in_video_preflight(state)
    assert sorted(obj.cond) == [0, 15, 25]
    # non-conditioning memories within num_maskmem frames of a corrected frame are stale: dropped
    assert sorted(obj.non_cond) == list(range(1, 8))
    frames = [f for f, *_ in predictor.propagate_in_video(state, 0)]
    assert frames == list(range(30))
    # reaching a corrected frame clears its neighbourhood again (as SAM 3 does): 8..22 and 18..32
    assert sorted(obj.non_cond) == [*range(1, 8), 16, 17, *range(26, 30)]
