"""Optional: our modules against Meta's sam2==1.1.0 modules with the same random weights.

Skips unless ``sam2`` is importable (it is not in the project's environment; run it in the scratch
reference venv, see docs/parity_sam2_modules.md). Uses the tiny test configuration so it stays fast;
the full-size comparison is the procedure in that document.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sam3core.sam.network_config import tiny_test_config
from sam3core.sam.networks import build_sam2_modules

sam2 = pytest.importorskip("sam2")

pytestmark = pytest.mark.parity

CFG = tiny_test_config()
TOL = 1e-5


def _reference_modules() -> nn.ModuleDict:
    from sam2.modeling.backbones.hieradet import Hiera
    from sam2.modeling.backbones.image_encoder import FpnNeck, ImageEncoder
    from sam2.modeling.memory_attention import MemoryAttention, MemoryAttentionLayer
    from sam2.modeling.memory_encoder import CXBlock, Fuser, MaskDownSampler, MemoryEncoder
    from sam2.modeling.position_encoding import PositionEmbeddingSine
    from sam2.modeling.sam.mask_decoder import MaskDecoder
    from sam2.modeling.sam.prompt_encoder import PromptEncoder
    from sam2.modeling.sam.transformer import RoPEAttention, TwoWayTransformer

    h, c, side = CFG.hiera, CFG.hidden_dim, CFG.feature_size
    trunk = Hiera(embed_dim=h.embed_dim, num_heads=h.num_heads, stages=h.stages,
                  global_att_blocks=h.global_att_blocks, window_spec=h.window_spec,
                  window_pos_embed_bkg_spatial_size=h.window_pos_embed_bkg_spatial_size)
    neck = FpnNeck(position_encoding=PositionEmbeddingSine(c), d_model=c,
                   backbone_channel_list=list(h.channel_list), fpn_top_down_levels=[2, 3],
                   fpn_interp_model="nearest")
    s = CFG.sam_heads
    decoder = MaskDecoder(
        num_multimask_outputs=3, transformer_dim=c, iou_head_depth=3,
        iou_head_hidden_dim=s.iou_head_hidden_dim,
        transformer=TwoWayTransformer(depth=2, embedding_dim=c, mlp_dim=s.transformer_mlp_dim,
                                      num_heads=s.transformer_num_heads),
        use_high_res_features=True, iou_prediction_use_sigmoid=True, pred_obj_scores=True,
        pred_obj_scores_mlp=True, use_multimask_token_for_obj_ptr=True, dynamic_multimask_via_stability=True,
        dynamic_multimask_stability_delta=0.05, dynamic_multimask_stability_thresh=0.98,
    )
    m = CFG.memory_encoder
    memory_encoder = MemoryEncoder(
        out_dim=m.out_dim, in_dim=c, position_encoding=PositionEmbeddingSine(m.out_dim),
        mask_downsampler=MaskDownSampler(embed_dim=c, kernel_size=3, stride=2, padding=1),
        fuser=Fuser(CXBlock(dim=c, kernel_size=7, padding=3, layer_scale_init_value=1e-6), num_layers=2),
    )
    a = CFG.memory_attention
    layer = MemoryAttentionLayer(
        activation="relu", d_model=c, dim_feedforward=a.dim_feedforward, dropout=0.1, pos_enc_at_attn=False,
        pos_enc_at_cross_attn_keys=True, pos_enc_at_cross_attn_queries=False,
        self_attention=RoPEAttention(embedding_dim=c, num_heads=1, rope_theta=1e4, feat_sizes=(side, side)),
        cross_attention=RoPEAttention(embedding_dim=c, num_heads=1, rope_theta=1e4, feat_sizes=(side, side),
                                      rope_k_repeat=True, kv_in_dim=m.out_dim),
    )
    return nn.ModuleDict({
        "image_encoder": ImageEncoder(trunk=trunk, neck=neck, scalp=1),
        "sam_prompt_encoder": PromptEncoder(embed_dim=c, image_embedding_size=(side, side),
                                            input_image_size=(CFG.image_size, CFG.image_size),
                                            mask_in_chans=16),
        "sam_mask_decoder": decoder,
        "memory_encoder": memory_encoder,
        "memory_attention": MemoryAttention(d_model=c, pos_enc_at_input=True, layer=layer,
                                            num_layers=a.num_layers),
    }).eval()


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    ref = _reference_modules()
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.05 * torch.randn_like(p))  # zero-initialised and layer-scale parameters must matter
    ours = nn.ModuleDict(build_sam2_modules(CFG).named()).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ref, ours


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape
    assert (a - b).abs().max().item() <= TOL


def test_image_encoder(pair):
    ref, ours = pair
    x = torch.randn(2, 3, CFG.image_size, CFG.image_size)
    with torch.inference_mode():
        r, o = ref["image_encoder"](x), ours["image_encoder"](x)
    _close(o.vision_features, r["vision_features"])
    for a, b in zip(o.backbone_fpn, r["backbone_fpn"], strict=True):
        _close(a, b)
    for a, b in zip(o.vision_pos_enc, r["vision_pos_enc"], strict=True):
        _close(a, b)


def _prompts():
    pts = torch.rand(2, 3, 2) * CFG.image_size
    labels = torch.tensor([[1, 0, 1], [1, -1, 0]], dtype=torch.int32)
    box = torch.tensor([[10.0, 20.0, 60.0, 90.0], [1.0, 2.0, 120.0, 70.0]])
    mask = torch.randn(2, 1, 4 * CFG.feature_size, 4 * CFG.feature_size) * 5
    return {"points": ((pts, labels), None, None), "box": (None, box, None),
            "points+box": ((pts, labels), box, None), "points+mask": ((pts, labels), None, mask)}


@pytest.mark.parametrize("multimask", [True, False])
def test_prompt_encoder_and_mask_decoder(pair, multimask):
    ref, ours = pair
    side = CFG.feature_size
    img = torch.randn(1, CFG.hidden_dim, side, side)
    s0 = torch.randn(1, CFG.hidden_dim // 8, 4 * side, 4 * side)
    s1 = torch.randn(1, CFG.hidden_dim // 4, 2 * side, 2 * side)
    with torch.inference_mode():
        _close(ours["sam_prompt_encoder"].get_dense_pe(), ref["sam_prompt_encoder"].get_dense_pe())
        pe = ref["sam_prompt_encoder"].get_dense_pe()
        for args in _prompts().values():
            sr, dr = ref["sam_prompt_encoder"](*args)
            so, do = ours["sam_prompt_encoder"](*args)
            _close(so, sr)
            _close(do, dr)
            outr = ref["sam_mask_decoder"](img, pe, sr, dr, multimask, True, [s0, s1])
            outo = ours["sam_mask_decoder"](img, pe, sr, dr, multimask, True, [s0, s1])
            for a, b in zip(outo, outr, strict=True):
                _close(a, b)


def test_memory_encoder(pair):
    ref, ours = pair
    side = CFG.feature_size
    pix = torch.randn(2, CFG.hidden_dim, side, side)
    masks = torch.randn(2, 1, CFG.image_size, CFG.image_size) * 10
    with torch.inference_mode():
        r = ref["memory_encoder"](pix, masks)
        feats, pos = ours["memory_encoder"](pix, masks)
    _close(feats, r["vision_features"])
    _close(pos[0], r["vision_pos_enc"][0])


@pytest.mark.parametrize(("frames", "pointers"), [(1, 0), (3, 8)])
def test_memory_attention(pair, frames, pointers):
    ref, ours = pair
    hw, c, cm = CFG.feature_size ** 2, CFG.hidden_dim, CFG.mem_dim
    curr, curr_pos = torch.randn(hw, 2, c), torch.randn(hw, 2, c)
    mem, mem_pos = torch.randn(frames * hw + pointers, 2, cm), torch.randn(frames * hw + pointers, 2, cm)
    with torch.inference_mode():
        r = ref["memory_attention"](curr, mem, curr_pos, mem_pos, num_obj_ptr_tokens=pointers)
        o = ours["memory_attention"](curr, mem, curr_pos, mem_pos, num_obj_ptr_tokens=pointers)
    _close(o, r)
