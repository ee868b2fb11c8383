"""Shapes, prompt semantics and the official key layout of the SAM 2.1 modules (tiny test config)."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
import torch

from sam3core.sam.network_config import SAM2_CONFIGS, tiny_test_config
from sam3core.sam.networks import build_sam2_modules
from sam3core.sam.networks.hiera import window_partition, window_unpartition
from sam3core.sam.networks.rope import AxialRope, apply_rope

CFG = tiny_test_config()  # 128 px input, hidden 32, memories 16
C, MEM, SIDE = CFG.hidden_dim, CFG.mem_dim, CFG.feature_size  # 32, 16, 8


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    # The tiny networks gain nothing from threads, and on a shared machine thread hand-offs dominate.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def modules():
    torch.manual_seed(0)
    return build_sam2_modules(CFG)


@pytest.fixture(scope="module")
def features(modules):
    with torch.inference_mode():
        return modules.image_encoder(torch.randn(2, 3, CFG.image_size, CFG.image_size))


def test_image_encoder_levels(features):
    assert features.vision_features.shape == (2, C, SIDE, SIDE)
    sizes = [(2, C, SIDE * 4, SIDE * 4), (2, C, SIDE * 2, SIDE * 2), (2, C, SIDE, SIDE)]
    assert [tuple(t.shape) for t in features.backbone_fpn] == sizes
    assert [tuple(t.shape) for t in features.vision_pos_enc] == sizes
    assert features.backbone_fpn[-1] is features.vision_features
    with pytest.raises(dataclasses.FrozenInstanceError):
        features.vision_features = None  # type: ignore[misc]


def test_image_encoder_batch_items_independent(modules):
    torch.manual_seed(1)
    x = torch.randn(2, 3, CFG.image_size, CFG.image_size)
    with torch.inference_mode():
        both = modules.image_encoder(x).vision_features
        second = modules.image_encoder(x[1:]).vision_features
    torch.testing.assert_close(both[1:], second, atol=1e-5, rtol=1e-5)


def test_window_partition_round_trip_with_padding():
    x = torch.randn(2, 10, 7, 3)
    windows, padded = window_partition(x, 4)
    assert padded == (12, 8) and windows.shape == (2 * 3 * 2, 4, 4, 3)
    assert torch.equal(window_unpartition(windows, 4, padded, (10, 7)), x)
    assert windows[-1, -1, -1].abs().sum() == 0  # zero padding at the bottom-right


def test_prompt_encoder_points_boxes_masks(modules):
    pe = modules.sam_prompt_encoder
    assert pe.image_embedding_size == (SIDE, SIDE) and pe.input_image_size == (128, 128)
    assert pe.mask_input_size == (4 * SIDE, 4 * SIDE)
    coords = torch.tensor([[[10.0, 20.0], [50.0, 60.0]]])
    labels = torch.tensor([[1, 0]])
    with torch.inference_mode():
        sparse, dense = pe((coords, labels), None, None)
        assert sparse.shape == (1, 3, C)  # two points + one padding point
        # the padding point is exactly the "not a point" embedding
        torch.testing.assert_close(sparse[0, 2], pe.not_a_point_embed.weight[0])
        assert dense.shape == (1, C, SIDE, SIDE)
        torch.testing.assert_close(dense[0, :, 3, 5], pe.no_mask_embed.weight[0])
        box = torch.tensor([[5.0, 6.0, 70.0, 90.0]])
        sparse_pb, _ = pe((coords, labels), box, None)
        assert sparse_pb.shape == (1, 4, C)  # no padding when a box is given
        sparse_b, _ = pe(None, box, None)
        corners, _ = pe((box.view(1, 2, 2), torch.tensor([[2, 3]])), torch.zeros(1, 4), None)
        torch.testing.assert_close(sparse_b, corners[:, :2])  # a box == its two labelled corners
        _, dense_m = pe(None, None, torch.randn(3, 1, 4 * SIDE, 4 * SIDE))
        assert dense_m.shape == (3, C, SIDE, SIDE)
        assert pe.get_dense_pe().shape == (1, C, SIDE, SIDE)
        # positive and negative labels at the same place give different tokens
        s_pos, _ = pe((coords[:, :1], torch.tensor([[1]])), None, None)
        s_neg, _ = pe((coords[:, :1], torch.tensor([[0]])), None, None)
        assert not torch.allclose(s_pos[:, 0], s_neg[:, 0])


def _high_res(modules, features):
    dec = modules.sam_mask_decoder
    return [dec.conv_s0(features.backbone_fpn[0]), dec.conv_s1(features.backbone_fpn[1])]


@pytest.mark.parametrize("multimask", [True, False])
def test_mask_decoder_outputs(modules, features, multimask):
    pe, dec = modules.sam_prompt_encoder, modules.sam_mask_decoder
    with torch.inference_mode():
        sparse, dense = pe((torch.rand(3, 2, 2) * 128, torch.tensor([[1, 1], [1, 0], [0, 1]])), None, None)
        hr = [t[:1] for t in _high_res(modules, features)]
        masks, iou, tokens, score = dec(features.vision_features[:1], pe.get_dense_pe(), sparse, dense,
                                        multimask_output=multimask, repeat_image=True, high_res_features=hr)
    m = 3 if multimask else 1
    assert masks.shape == (3, m, 4 * SIDE, 4 * SIDE)
    assert iou.shape == (3, m) and bool(((iou >= 0) & (iou <= 1)).all())  # sigmoid IoU head
    assert tokens.shape == (3, m, C)  # multimask tokens feed the object pointer in SAM 2.1
    assert score.shape == (3, 1)


def test_mask_decoder_needs_high_res_features(modules, features):
    pe, dec = modules.sam_prompt_encoder, modules.sam_mask_decoder
    sparse, dense = pe(None, torch.tensor([[0.0, 0.0, 50.0, 50.0]]), None)
    with torch.inference_mode(), pytest.raises(ValueError, match="high_res_features"):
        dec(features.vision_features[:1], pe.get_dense_pe(), sparse, dense, False, True, None)


def test_dynamic_multimask_falls_back_to_best_multimask(modules):
    dec = modules.sam_mask_decoder
    masks = torch.zeros(2, 4, 4, 4)
    masks[0, 0] = 5.0  # stable single mask (all logits far from 0)
    masks[1, 0] = 0.01  # unstable: inside +-delta everywhere
    masks[:, 2] = 7.0
    iou = torch.tensor([[0.1, 0.2, 0.9, 0.3], [0.1, 0.2, 0.9, 0.3]])
    out_masks, out_iou = dec._dynamic_multimask_via_stability(masks, iou)
    assert torch.equal(out_masks[0, 0], masks[0, 0]) and out_iou[0, 0] == 0.1
    assert torch.equal(out_masks[1, 0], masks[1, 2]) and out_iou[1, 0] == pytest.approx(0.9)


@pytest.mark.parametrize("skip_sigmoid", [False, True])
def test_memory_encoder(modules, features, skip_sigmoid):
    with torch.inference_mode():
        feats, pos = modules.memory_encoder(features.vision_features, torch.randn(2, 1, 128, 128),
                                            skip_mask_sigmoid=skip_sigmoid)
    assert feats.shape == (2, MEM, SIDE, SIDE)
    assert len(pos) == 1 and pos[0].shape == (2, MEM, SIDE, SIDE)


def test_memory_attention_with_object_pointers(modules):
    hw = SIDE * SIDE
    curr, curr_pos = torch.randn(hw, 2, C), torch.randn(hw, 2, C)
    mem = torch.randn(3 * hw + 4, 2, MEM)
    mem_pos = torch.randn(3 * hw + 4, 2, MEM)
    with torch.inference_mode():
        out = modules.memory_attention(curr, mem, curr_pos, mem_pos, num_obj_ptr_tokens=4)
        assert out.shape == (hw, 2, C)
        # pointer tokens are not rotated: the output is invariant to their order
        perm = torch.cat([torch.arange(3 * hw), 3 * hw + torch.tensor([2, 0, 3, 1])])
        out_perm = modules.memory_attention(curr, mem[perm], curr_pos, mem_pos[perm], num_obj_ptr_tokens=4)
        torch.testing.assert_close(out, out_perm, atol=1e-5, rtol=1e-5)
        # ... while spatial memory tokens are: swapping two of them changes the result
        swap = torch.arange(3 * hw + 4)
        swap[[0, 5]] = swap[[5, 0]]
        out_swap = modules.memory_attention(curr, mem[swap], curr_pos, mem_pos[swap], num_obj_ptr_tokens=4)
        assert not torch.allclose(out, out_swap, atol=1e-5)
        with pytest.raises(ValueError, match="whole frames"):
            modules.memory_attention(curr, mem[:-5], curr_pos, mem_pos[:-5], num_obj_ptr_tokens=0)


def test_rope_is_relative_and_tiles_over_frames():
    rope = AxialRope(8)
    table = rope.table(4, 4, torch.device("cpu"))
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def score(pq: int, pk: int) -> float:
        rq = apply_rope(q.expand(1, 1, 16, 8), table)[0, 0, pq]
        rk = apply_rope(k.expand(1, 1, 16, 8), table)[0, 0, pk]
        return float(rq @ rk)

    # shifting both tokens by the same grid offset (one column, one row) keeps the score
    assert score(0, 5) == pytest.approx(score(1, 6), abs=1e-5)
    assert score(0, 5) == pytest.approx(score(4, 9), abs=1e-5)
    assert score(0, 5) != pytest.approx(score(0, 6), abs=1e-3)
    x = torch.randn(1, 2, 32, 8)
    tiled = apply_rope(x, table, repeat=2)
    torch.testing.assert_close(tiled[:, :, 16:], apply_rope(x[:, :, 16:], table))


# sha256 of the sorted "key:shape" lines of image_encoder/sam_prompt_encoder/sam_mask_decoder/
# memory_encoder/memory_attention in Meta's sam2==1.1.0 models built from the sam2.1 yamls.
OFFICIAL_LAYOUT = {
    "sam2.1_hiera_tiny": (456, "28ff2794021f6126176e1592b1f675fe14044a860e6faa2438f860f024f532fe"),
    "sam2.1_hiera_small": (504, "a2e767883995e94071b5bd11061e3ccff59b65b90bde11d08db3f5ee4ebc997b"),
    "sam2.1_hiera_base_plus": (600, "c04c641182bcbc6756da453e2d1cfbe9c74a00fd558e3d79f0e23b5c462a43aa"),
    "sam2.1_hiera_large": (888, "fac20ac0a02d086950d301beb497f97226b864df72016252fb104ce8ce3b2c03"),
}


@pytest.mark.parametrize("name", sorted(OFFICIAL_LAYOUT))
def test_official_key_layout(name):
    modules = build_sam2_modules(SAM2_CONFIGS[name], device="meta")
    lines = sorted(
        f"{prefix}.{key}:{','.join(map(str, value.shape))}"
        for prefix, module in modules.named().items()
        for key, value in module.state_dict().items()
    )
    count, digest = OFFICIAL_LAYOUT[name]
    assert len(lines) == count
    assert hashlib.sha256("\n".join(lines).encode()).hexdigest() == digest


def test_rope_real_fallback_matches_complex():
    rope = AxialRope(16)
    table = rope.table(4, 4, torch.device("cpu"))
    assert table.is_complex()
    x = torch.randn(2, 3, 32, 16)
    real = apply_rope(x, torch.view_as_real(table), repeat=2)
    torch.testing.assert_close(real, apply_rope(x, table, repeat=2))


def test_hiera_position_cache_follows_weight_updates(modules):
    encoder = modules.image_encoder
    x = torch.randn(1, 3, CFG.image_size, CFG.image_size)
    with torch.inference_mode():
        first = encoder(x).vision_features
        again = encoder(x).vision_features
    assert torch.equal(first, again)
    saved = encoder.trunk.pos_embed.detach().clone()
    try:
        with torch.no_grad():
            encoder.trunk.pos_embed.add_(1.0)  # what load_state_dict does: an in-place copy
        with torch.inference_mode():
            changed = encoder(x).vision_features
        assert not torch.allclose(first, changed)
    finally:
        with torch.no_grad():
            encoder.trunk.pos_embed.copy_(saved)


def test_inference_shortcuts_match_the_plain_computation(modules, monkeypatch):
    """Blocked MLPs and window attention, the fine-level projections folded into the neck's lateral
    convs, skipped fine-level encodings and in-place RoPE (all taken in inference only) give the results
    of the plain computation (the autograd path, which takes none of them)."""
    import sam3core.sam.networks.common as common
    import sam3core.sam.networks.hiera as hiera

    # tiny blocks, so that every blocked path runs on the tiny config
    monkeypatch.setattr(common, "BLOCK_ELEMENTS", 512)
    monkeypatch.setattr(hiera, "BLOCK_ELEMENTS", 512)
    torch.manual_seed(3)
    x = torch.randn(1, 3, CFG.image_size, CFG.image_size)
    dec = modules.sam_mask_decoder
    heads = [dec.conv_s0, dec.conv_s1]
    with torch.no_grad():
        fast = modules.image_encoder(x, coarse_pos_only=True, heads=heads)
    with torch.enable_grad():
        plain = modules.image_encoder(x)
        plain_fine = [dec.conv_s0(plain.backbone_fpn[0]), dec.conv_s1(plain.backbone_fpn[1])]
    assert fast.vision_pos_enc[:2] == [None, None]
    torch.testing.assert_close(fast.vision_pos_enc[2], plain.vision_pos_enc[2].detach())
    torch.testing.assert_close(fast.vision_features, plain.vision_features.detach(), atol=1e-5, rtol=1e-5)
    for got, want in zip(fast.backbone_fpn[:2], plain_fine, strict=True):
        torch.testing.assert_close(got, want.detach(), atol=1e-5, rtol=1e-5)

    from sam3core.sam.networks.rope import apply_rope_

    table = AxialRope(16).table(4, 4, torch.device("cpu"))
    keys = torch.randn(1, 1, 3 * 16 + 2, 16)
    expected = apply_rope(keys[:, :, :48], table, repeat=3)
    with torch.no_grad():
        view = keys[:, :, :48]
        assert apply_rope_(view, table, repeat=3) is view  # rotated where it lies
    torch.testing.assert_close(keys[:, :, :48], expected, atol=0, rtol=0)
