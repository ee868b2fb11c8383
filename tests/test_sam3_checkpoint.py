"""Loading SAM 3's tracker out of a checkpoint in the official ``sam3.pt`` layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sam3core.sam.checkpoint import CheckpointError, detect_model_name
from sam3core.sam.registry import build_tracker
from sam3core.sam.sam3 import (
    SAM3_CONFIG,
    build_sam3_tracker_model,
    official_key,
    sam3_tiny_test_config,
    tracker_key,
)

# Tensors of the full sam3.pt that the tracker must skip (text encoder, detector heads, the detector's
# FPN branch, the tracker branch's discarded fourth level, the ViT's stored RoPE tables).
SKIPPED = {
    "detector.backbone.language_backbone.encoder.transformer.resblocks.0.attn.in_proj_weight": (24, 8),
    "detector.transformer.decoder.layers.0.linear1.weight": (16, 8),
    "detector.segmentation_head.pixel_decoder.conv_layers.0.weight": (4, 4, 3, 3),
    "detector.backbone.vision_backbone.convs.0.conv_1x1.weight": (8, 8, 1, 1),
    "detector.backbone.vision_backbone.sam2_convs.3.conv_1x1.weight": (8, 8, 1, 1),
    "detector.backbone.vision_backbone.trunk.blocks.0.attn.freqs_cis": (16, 4),
}


def _official_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    sd = {official_key(k): v.clone() for k, v in model.state_dict().items()}
    gen = torch.Generator().manual_seed(7)
    for name, shape in SKIPPED.items():
        sd[name] = torch.randn(*shape, generator=gen)
    return sd


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    torch.manual_seed(3)
    model = build_sam3_tracker_model(sam3_tiny_test_config())
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))  # every tensor distinct from a fresh model's
    sd = _official_state_dict(model)
    path = tmp_path_factory.mktemp("ckpt") / "sam3.pt"
    torch.save({"model": sd}, path)
    return path, {k: v.clone() for k, v in model.state_dict().items()}


def test_key_map_on_official_names() -> None:
    cases = {
        "detector.backbone.vision_backbone.trunk.blocks.7.attn.qkv.weight":
            "image_encoder.trunk.blocks.7.attn.qkv.weight",
        "detector.backbone.vision_backbone.trunk.pos_embed": "image_encoder.trunk.pos_embed",
        "detector.backbone.vision_backbone.sam2_convs.0.dconv_2x2_1.bias":
            "image_encoder.neck.convs.0.dconv_2x2_1.bias",
        "tracker.transformer.encoder.layers.3.cross_attn_image.k_proj.weight":
            "memory_attention.layers.3.cross_attn_image.k_proj.weight",
        "tracker.transformer.encoder.norm.bias": "memory_attention.norm.bias",
        "tracker.maskmem_backbone.mask_downsampler.encoder.12.weight":
            "memory_encoder.mask_downsampler.encoder.12.weight",
        "tracker.sam_mask_decoder.transformer.layers.1.mlp.lin1.weight":
            "sam_mask_decoder.transformer.layers.1.mlp.layers.0.weight",
        "tracker.sam_mask_decoder.transformer.layers.0.mlp.lin2.bias":
            "sam_mask_decoder.transformer.layers.0.mlp.layers.1.bias",
        "tracker.sam_mask_decoder.pred_obj_score_head.layers.2.bias":
            "sam_mask_decoder.pred_obj_score_head.layers.2.bias",
        "tracker.no_obj_embed_spatial": "no_obj_embed_spatial",
    }
    for official, ours in cases.items():
        assert tracker_key(official) == ours
        assert official_key(ours) == official
    for skipped in SKIPPED:
        assert tracker_key(skipped) is None


def test_full_size_tracker_needs_exactly_the_official_tensors() -> None:
    with torch.device("meta"):  # shapes only, nothing allocated
        model = build_sam3_tracker_model(SAM3_CONFIG)
    shapes = {official_key(k): tuple(v.shape) for k, v in model.state_dict().items()}
    # 715 tensors of sam3==0.1.4's tracker + vision trunk + tracker FPN levels 0-2 (no RoPE tables)
    assert len(shapes) == 715
    assert sum(torch.Size(s).numel() for s in shapes.values()) == 464_930_946
    expected = {
        "detector.backbone.vision_backbone.trunk.pos_embed": (1, 577, 1024),
        "detector.backbone.vision_backbone.trunk.patch_embed.proj.weight": (1024, 3, 14, 14),
        "detector.backbone.vision_backbone.trunk.blocks.31.mlp.fc1.weight": (4736, 1024),
        "detector.backbone.vision_backbone.sam2_convs.0.dconv_2x2_0.weight": (1024, 512, 2, 2),
        "detector.backbone.vision_backbone.sam2_convs.2.conv_1x1.weight": (256, 1024, 1, 1),
        "tracker.maskmem_tpos_enc": (7, 1, 1, 64),
        "tracker.transformer.encoder.layers.0.cross_attn_image.k_proj.weight": (256, 64),
        "tracker.sam_mask_decoder.conv_s0.weight": (32, 256, 1, 1),
        "tracker.sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix": (2, 128),
        "tracker.obj_ptr_tpos_proj.weight": (64, 256),
    }
    for name, shape in expected.items():
        assert shapes[name] == shape
    assert not any(".blocks.32." in k for k in shapes)


def test_round_trip_loads_only_the_tracker_tensors(
        tiny_checkpoint: tuple[Path, dict[str, torch.Tensor]]) -> None:
    path, saved = tiny_checkpoint
    assert detect_model_name(path) == "sam3"
    predictor = build_tracker(None, checkpoint=path, config=sam3_tiny_test_config())
    assert predictor.name == "sam3"
    loaded = predictor.model.state_dict()
    assert set(loaded) == set(saved)
    for key, value in saved.items():
        assert torch.equal(loaded[key], value), key


def _write(tmp_path: Path, sd: dict[str, torch.Tensor]) -> Path:
    path = tmp_path / "broken_sam3.pt"
    torch.save({"model": sd}, path)
    return path


def test_missing_tensor_is_a_clear_error(tmp_path: Path, tiny_checkpoint: tuple[Path, dict[str, torch.Tensor]]
                                         ) -> None:
    sd = torch.load(tiny_checkpoint[0], weights_only=True)["model"]
    del sd["tracker.transformer.encoder.layers.1.linear2.weight"]
    path = _write(tmp_path, sd)
    model = build_sam3_tracker_model(sam3_tiny_test_config())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError) as err:
        build_tracker("sam3", checkpoint=path, config=sam3_tiny_test_config())
    message = str(err.value)
    assert str(path) in message and "missing" in message
    assert "tracker.transformer.encoder.layers.1.linear2.weight" in message
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_wrong_shape_and_unknown_tracker_tensor_are_errors(
        tmp_path: Path, tiny_checkpoint: tuple[Path, dict[str, torch.Tensor]]) -> None:
    sd = torch.load(tiny_checkpoint[0], weights_only=True)["model"]
    sd["tracker.no_mem_embed"] = torch.zeros(1, 1, 7)
    sd["tracker.some_future_head.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError) as err:
        build_tracker("sam3", checkpoint=_write(tmp_path, sd), config=sam3_tiny_test_config())
    message = str(err.value)
    assert "tracker.no_mem_embed (1, 1, 7)" in message
    assert "tracker.some_future_head.weight" in message


def test_full_size_config_refuses_a_tiny_file(tiny_checkpoint: tuple[Path, dict[str, torch.Tensor]]) -> None:
    from sam3core.sam.sam3 import load_sam3_checkpoint

    with torch.device("meta"):
        model = build_sam3_tracker_model(SAM3_CONFIG)
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_sam3_checkpoint(model, tiny_checkpoint[0])


def test_sam2_file_is_not_taken_for_sam3(tmp_path: Path) -> None:
    from sam3core.sam.sam3 import load_sam3_checkpoint

    path = _write(tmp_path, {"image_encoder.trunk.pos_embed": torch.zeros(1, 8, 4, 4)})
    with pytest.raises(CheckpointError, match="not a SAM 3 checkpoint"):
        load_sam3_checkpoint(build_sam3_tracker_model(sam3_tiny_test_config()), path)
