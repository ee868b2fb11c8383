"""SAM 3 vision trunk and tracker neck: shapes, windowing, RoPE tables, tiled position embedding."""

from __future__ import annotations

import pytest
import torch

from sam3core.sam.sam3 import SAM3_CONFIG, build_sam3_image_encoder, sam3_tiny_test_config
from sam3core.sam.sam3.neck import TrackerFpnNeck
from sam3core.sam.sam3.vit import (
    ViT,
    ViTConfig,
    scaled_axial_rope_angles,
    window_partition,
    window_unpartition,
)

TINY = ViTConfig(image_size=112, patch_size=14, embed_dim=32, depth=4, num_heads=2, window_size=4,
                 global_blocks=(1, 3), pretrain_image_size=56)


def test_full_size_numbers_match_sam3() -> None:
    vit = SAM3_CONFIG.vit
    assert (vit.image_size, vit.patch_size, vit.embed_dim) == (1008, 14, 1024)
    assert (vit.depth, vit.num_heads) == (32, 16)
    assert vit.mlp_ratio == 4.625 and int(vit.embed_dim * vit.mlp_ratio) == 4736
    assert vit.window_size == 24 and vit.global_blocks == (7, 15, 23, 31)
    assert vit.grid_size == 72 and vit.pretrain_grid_size == 24
    assert SAM3_CONFIG.feature_size == 72
    assert SAM3_CONFIG.low_res_mask_size == 288
    assert SAM3_CONFIG.mask_encoder_input_size == 1152
    assert SAM3_CONFIG.tracker.preprocess.image_size == 1008
    assert SAM3_CONFIG.tracker.preprocess.mean == (0.5, 0.5, 0.5) == SAM3_CONFIG.tracker.preprocess.std


def test_full_size_parameter_count_without_building() -> None:
    # Counted on the meta device: no memory is allocated for the 440M-parameter trunk.
    with torch.device("meta"):
        trunk = ViT(SAM3_CONFIG.vit)
    n = sum(p.numel() for p in trunk.parameters())
    per_block = 4 * 1024 + 3 * 1024 * 1024 + 3 * 1024 + 1024 * 1024 + 1024 + 2 * 4736 * 1024 + 4736 + 1024
    assert n == 1024 * 3 * 14 * 14 + 577 * 1024 + 2 * 1024 + 32 * per_block


def test_vit_output_shape_and_block_kinds() -> None:
    torch.manual_seed(0)
    vit = ViT(TINY).eval()
    assert [b.window for b in vit.blocks] == [4, 0, 4, 0]
    with torch.inference_mode():
        out = vit(torch.randn(2, 3, 112, 112))
    assert out.shape == (2, 32, 8, 8)
    assert torch.isfinite(out).all()


def test_vit_rejects_wrong_input_size() -> None:
    vit = ViT(TINY)
    with pytest.raises(ValueError, match="112x112"):
        vit(torch.randn(1, 3, 98, 98))


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="no multiple of patch size"):
        ViTConfig(image_size=100)
    with pytest.raises(ValueError, match="global blocks"):
        ViTConfig(depth=4, global_blocks=(5,))


def test_window_partition_round_trip_with_padding() -> None:
    x = torch.randn(2, 10, 7, 3)
    windows, padded = window_partition(x, 4)
    assert padded == (12, 8)
    assert windows.shape == (2 * 3 * 2, 4, 4, 3)
    # the first window is the top-left 4x4 block of the first image
    assert torch.equal(windows[0], x[0, :4, :4])
    assert torch.equal(window_unpartition(windows, 4, padded, (10, 7)), x)


def test_windowed_block_only_mixes_tokens_inside_a_window() -> None:
    torch.manual_seed(0)
    vit = ViT(TINY).eval()
    block = vit.blocks[0]  # windowed, window 4 on an 8x8 grid
    x = torch.randn(1, 8, 8, 32)
    y = x.clone()
    y[0, 6, 6] += 1.0  # a token in the bottom-right window
    with torch.inference_mode():
        a, b = block(x), block(y)
    changed = (a - b).abs().amax(-1)[0] > 0
    assert changed[4:, 4:].any()
    assert not changed[:4].any() and not changed[:, :4].any()


def test_rope_angles_scale_global_positions_to_the_window_range() -> None:
    win = scaled_axial_rope_angles(8, 4, 1.0, 10000.0)
    glob = scaled_axial_rope_angles(8, 12, 4 / 12, 10000.0)
    assert win.shape == (16, 4) and glob.shape == (144, 4)
    # token (row 3, col 3) of the 12-grid sits at 1.0 in window units, like token (1, 1) of the 4-grid
    assert torch.allclose(glob[3 * 12 + 3], win[1 * 4 + 1], atol=1e-6)
    # the first frequency (1.0) of x turns by the column, of y by the row
    assert win[1 * 4 + 2, 0].item() == 2.0 and win[1 * 4 + 2, 2].item() == 1.0
    # RoPE tables are derived, not checkpoint tensors
    assert not any("rope" in k for k in ViT(TINY).state_dict())


def test_pos_embed_is_tiled_not_interpolated() -> None:
    vit = ViT(TINY)
    with torch.no_grad():
        vit.pos_embed.copy_(torch.randn_like(vit.pos_embed))
    tiled = vit.tiled_pos_embed(8, 8)  # pretraining grid 4x4 repeated twice each way
    grid = vit.pos_embed[0, 1:].reshape(4, 4, -1)
    assert torch.equal(tiled[0, :4, :4], grid)
    assert torch.equal(tiled[0, 4:, 4:], grid)
    assert torch.equal(tiled[0, 2, 5], grid[2, 1])


def test_neck_levels_and_position_encoding() -> None:
    neck = TrackerFpnNeck(in_dim=32, d_model=16)
    feats, pos = neck(torch.randn(1, 32, 8, 8))
    assert [tuple(f.shape) for f in feats] == [(1, 16, 32, 32), (1, 16, 16, 16), (1, 16, 8, 8)]
    assert [tuple(p.shape) for p in pos] == [(1, 16, 32, 32), (1, 16, 16, 16), (1, 16, 8, 8)]
    names = set(neck.state_dict())
    assert {"convs.0.dconv_2x2_0.weight", "convs.0.dconv_2x2_1.weight", "convs.1.dconv_2x2.weight",
            "convs.2.conv_1x1.weight", "convs.2.conv_3x3.bias"} <= names
    assert not any(k.startswith("convs.3") for k in names)


def test_tiny_image_encoder_outputs_tracker_levels() -> None:
    config = sam3_tiny_test_config()
    encoder = build_sam3_image_encoder(config).eval()
    with torch.inference_mode():
        out = encoder(torch.randn(1, 3, config.image_size, config.image_size))
    side = config.feature_size
    assert [tuple(f.shape[-2:]) for f in out.backbone_fpn] == [(4 * side,) * 2, (2 * side,) * 2, (side,) * 2]
    assert out.vision_features.shape == (1, config.d_model, side, side)
