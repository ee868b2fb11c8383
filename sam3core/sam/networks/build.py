"""Builds the SAM 2.1 networks of a :class:`~sam3core.sam.network_config.Sam2Config`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sam3core.sam.network_config import Sam2Config
from sam3core.sam.networks.attention import RoPEAttention
from sam3core.sam.networks.fpn_neck import FpnNeck
from sam3core.sam.networks.hiera import Hiera
from sam3core.sam.networks.image_encoder import ImageEncoder
from sam3core.sam.networks.mask_decoder import MaskDecoder
from sam3core.sam.networks.memory_attention import MemoryAttention, MemoryAttentionLayer
from sam3core.sam.networks.memory_encoder import CXBlock, Fuser, MaskDownSampler, MemoryEncoder
from sam3core.sam.networks.position_encoding import PositionEmbeddingSine
from sam3core.sam.networks.prompt_encoder import PromptEncoder
from sam3core.sam.networks.two_way_transformer import TwoWayTransformer


@dataclass
class Sam2Modules:
    """The five networks of a SAM 2.1 tracker, named as in the official checkpoints."""

    image_encoder: ImageEncoder
    sam_prompt_encoder: PromptEncoder
    sam_mask_decoder: MaskDecoder
    memory_encoder: MemoryEncoder
    memory_attention: MemoryAttention

    def named(self) -> dict[str, nn.Module]:
        """Checkpoint prefix -> network."""
        return {
            "image_encoder": self.image_encoder,
            "sam_prompt_encoder": self.sam_prompt_encoder,
            "sam_mask_decoder": self.sam_mask_decoder,
            "memory_encoder": self.memory_encoder,
            "memory_attention": self.memory_attention,
        }


def build_image_encoder(config: Sam2Config) -> ImageEncoder:
    h = config.hiera
    trunk = Hiera(embed_dim=h.embed_dim, num_heads=h.num_heads, stages=h.stages, q_pool=h.q_pool,
                  q_stride=h.q_stride, dim_mul=h.dim_mul, head_mul=h.head_mul,
                  window_pos_embed_bkg_spatial_size=h.window_pos_embed_bkg_spatial_size,
                  window_spec=h.window_spec, global_att_blocks=h.global_att_blocks)
    n = config.neck
    neck = FpnNeck(position_encoding=PositionEmbeddingSine(n.d_model, temperature=n.pos_temperature),
                   d_model=n.d_model, backbone_channel_list=list(h.channel_list),
                   fpn_interp_model=n.fpn_interp_model, fuse_type=n.fuse_type,
                   fpn_top_down_levels=list(n.fpn_top_down_levels))
    return ImageEncoder(trunk=trunk, neck=neck, scalp=n.scalp)


def build_prompt_encoder(config: Sam2Config) -> PromptEncoder:
    side = config.feature_size
    return PromptEncoder(embed_dim=config.hidden_dim, image_embedding_size=(side, side),
                         input_image_size=(config.image_size, config.image_size),
                         mask_in_chans=config.sam_heads.mask_in_chans)


def build_mask_decoder(config: Sam2Config) -> MaskDecoder:
    s = config.sam_heads
    dim = config.hidden_dim
    transformer = TwoWayTransformer(depth=s.transformer_depth, embedding_dim=dim,
                                    mlp_dim=s.transformer_mlp_dim, num_heads=s.transformer_num_heads,
                                    attention_downsample_rate=s.attention_downsample_rate)
    return MaskDecoder(
        transformer_dim=dim, transformer=transformer, num_multimask_outputs=s.num_multimask_outputs,
        iou_head_depth=s.iou_head_depth, iou_head_hidden_dim=s.iou_head_hidden_dim,
        use_high_res_features=s.use_high_res_features,
        iou_prediction_use_sigmoid=s.iou_prediction_use_sigmoid,
        dynamic_multimask_via_stability=s.dynamic_multimask_via_stability,
        dynamic_multimask_stability_delta=s.dynamic_multimask_stability_delta,
        dynamic_multimask_stability_thresh=s.dynamic_multimask_stability_thresh,
        pred_obj_scores=s.pred_obj_scores, pred_obj_scores_mlp=s.pred_obj_scores_mlp,
        use_multimask_token_for_obj_ptr=s.use_multimask_token_for_obj_ptr,
    )


def build_memory_encoder(config: Sam2Config) -> MemoryEncoder:
    m = config.memory_encoder
    dim = config.hidden_dim
    downsampler = MaskDownSampler(embed_dim=dim, kernel_size=m.downsampler_kernel_size,
                                  stride=m.downsampler_stride, padding=m.downsampler_padding,
                                  total_stride=m.downsampler_total_stride)
    fuser = Fuser(layers=[
        CXBlock(dim=dim, kernel_size=m.cx_kernel_size, padding=m.cx_padding,
                layer_scale_init_value=m.cx_layer_scale_init_value)
        for _ in range(m.fuser_num_layers)
    ])
    return MemoryEncoder(out_dim=m.out_dim, mask_downsampler=downsampler, fuser=fuser,
                         position_encoding=PositionEmbeddingSine(m.out_dim, temperature=m.pos_temperature),
                         in_dim=dim)


def build_memory_attention(config: Sam2Config) -> MemoryAttention:
    a = config.memory_attention
    dim = config.hidden_dim
    side = config.feature_size

    def layer() -> MemoryAttentionLayer:
        return MemoryAttentionLayer(
            d_model=dim,
            self_attention=RoPEAttention(dim, a.num_heads, rope_theta=a.rope_theta, feat_sizes=(side, side)),
            cross_attention=RoPEAttention(dim, a.num_heads, kv_in_dim=config.mem_dim, rope_theta=a.rope_theta,
                                          rope_k_repeat=True, feat_sizes=(side, side)),
            dim_feedforward=a.dim_feedforward, activation=a.activation, pos_enc_at_attn=a.pos_enc_at_attn,
            pos_enc_at_cross_attn_keys=a.pos_enc_at_cross_attn_keys,
            pos_enc_at_cross_attn_queries=a.pos_enc_at_cross_attn_queries,
        )

    return MemoryAttention(d_model=dim, pos_enc_at_input=a.pos_enc_at_input,
                           layers=[layer() for _ in range(a.num_layers)])


def build_sam2_modules(config: Sam2Config, device: torch.device | str | None = None) -> Sam2Modules:
    """All five networks, randomly initialised, in eval mode, on ``device`` (CPU when None;
    ``"meta"`` gives a shape-only tree without allocating weights)."""
    modules = Sam2Modules(
        image_encoder=build_image_encoder(config),
        sam_prompt_encoder=build_prompt_encoder(config),
        sam_mask_decoder=build_mask_decoder(config),
        memory_encoder=build_memory_encoder(config),
        memory_attention=build_memory_attention(config),
    )
    for module in modules.named().values():
        module.eval()
        if device is not None:
            module.to(device)
    return modules
