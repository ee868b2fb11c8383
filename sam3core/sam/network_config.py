"""Frozen module configurations of the four SAM 2.1 sizes and a tiny test configuration.

Values are those of the official ``configs/sam2.1/sam2.1_hiera_{t,s,b+,l}.yaml`` (plus the constants
``SAM2Base`` hard-codes for the SAM heads, and the video builder's dynamic-multimask overrides).
Tracking behaviour (memory count, sigmoid scaling, multimask policy...) lives in
:mod:`sam3core.sam.tracking_config`; this module only describes how to build the networks.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class HieraConfig:
    """Hiera trunk. The sizes differ only in these fields."""

    embed_dim: int
    num_heads: int
    stages: tuple[int, ...]
    global_att_blocks: tuple[int, ...]
    window_spec: tuple[int, ...] = (8, 4, 14, 7)
    window_pos_embed_bkg_spatial_size: tuple[int, int] = (14, 14)
    q_pool: int = 3
    q_stride: tuple[int, int] = (2, 2)
    dim_mul: float = 2.0
    head_mul: float = 2.0

    @property
    def channel_list(self) -> tuple[int, ...]:
        """Stage widths, lowest resolution first (the neck's ``backbone_channel_list``)."""
        widths = [int(self.embed_dim * self.dim_mul ** i) for i in range(len(self.stages))]
        return tuple(reversed(widths))


@dataclass(frozen=True)
class NeckConfig:
    """FPN neck and the image encoder's level selection."""

    d_model: int = 256
    fpn_top_down_levels: tuple[int, ...] = (2, 3)
    fpn_interp_model: str = "nearest"
    fuse_type: str = "sum"
    scalp: int = 1  # drop the coarsest level from the encoder outputs
    pos_temperature: float = 10000.0


@dataclass(frozen=True)
class SamHeadsConfig:
    """Prompt encoder + mask decoder (SAM2Base builds them with these constants)."""

    mask_in_chans: int = 16
    num_multimask_outputs: int = 3
    transformer_depth: int = 2
    transformer_mlp_dim: int = 2048
    transformer_num_heads: int = 8
    attention_downsample_rate: int = 2
    iou_head_depth: int = 3
    iou_head_hidden_dim: int = 256
    use_high_res_features: bool = True
    iou_prediction_use_sigmoid: bool = True
    pred_obj_scores: bool = True
    pred_obj_scores_mlp: bool = True
    use_multimask_token_for_obj_ptr: bool = True
    # the video predictor's post-processing overrides (build_sam2_video_predictor)
    dynamic_multimask_via_stability: bool = True
    dynamic_multimask_stability_delta: float = 0.05
    dynamic_multimask_stability_thresh: float = 0.98


@dataclass(frozen=True)
class MemoryEncoderConfig:
    """Mask downsampler (stride-2 convs to stride 16), ConvNeXt fuser and output projection."""

    out_dim: int = 64
    downsampler_kernel_size: int = 3
    downsampler_stride: int = 2
    downsampler_padding: int = 1
    downsampler_total_stride: int = 16
    fuser_num_layers: int = 2
    cx_kernel_size: int = 7
    cx_padding: int = 3
    cx_layer_scale_init_value: float = 1e-6
    pos_temperature: float = 10000.0


@dataclass(frozen=True)
class MemoryAttentionConfig:
    """RoPE self-/cross-attention layers over the current frame and the memories."""

    num_layers: int = 4
    num_heads: int = 1
    dim_feedforward: int = 2048
    activation: str = "relu"
    rope_theta: float = 10000.0
    pos_enc_at_input: bool = True
    pos_enc_at_attn: bool = False
    pos_enc_at_cross_attn_keys: bool = True
    pos_enc_at_cross_attn_queries: bool = False


@dataclass(frozen=True)
class Sam2Config:
    """Everything needed to build the SAM 2.1 networks of one size."""

    name: str
    hiera: HieraConfig
    neck: NeckConfig = field(default_factory=NeckConfig)
    sam_heads: SamHeadsConfig = field(default_factory=SamHeadsConfig)
    memory_encoder: MemoryEncoderConfig = field(default_factory=MemoryEncoderConfig)
    memory_attention: MemoryAttentionConfig = field(default_factory=MemoryAttentionConfig)
    image_size: int = 1024
    backbone_stride: int = 16

    @property
    def hidden_dim(self) -> int:
        """Width of the neck, prompt tokens, decoder and memory attention (256)."""
        return self.neck.d_model

    @property
    def mem_dim(self) -> int:
        """Width of the stored memories and object-pointer tokens (64)."""
        return self.memory_encoder.out_dim

    @property
    def feature_size(self) -> int:
        """Side of the stride-16 feature map (64 for a 1024 input)."""
        return self.image_size // self.backbone_stride


SAM2_CONFIGS: dict[str, Sam2Config] = {
    "sam2.1_hiera_tiny": Sam2Config(
        name="sam2.1_hiera_tiny",
        hiera=HieraConfig(embed_dim=96, num_heads=1, stages=(1, 2, 7, 2), global_att_blocks=(5, 7, 9),
                          window_pos_embed_bkg_spatial_size=(7, 7)),
    ),
    "sam2.1_hiera_small": Sam2Config(
        name="sam2.1_hiera_small",
        hiera=HieraConfig(embed_dim=96, num_heads=1, stages=(1, 2, 11, 2), global_att_blocks=(7, 10, 13),
                          window_pos_embed_bkg_spatial_size=(7, 7)),
    ),
    "sam2.1_hiera_base_plus": Sam2Config(
        name="sam2.1_hiera_base_plus",
        hiera=HieraConfig(embed_dim=112, num_heads=2, stages=(2, 3, 16, 3), global_att_blocks=(12, 16, 20),
                          window_pos_embed_bkg_spatial_size=(14, 14)),
    ),
    "sam2.1_hiera_large": Sam2Config(
        name="sam2.1_hiera_large",
        hiera=HieraConfig(embed_dim=144, num_heads=2, stages=(2, 6, 36, 4), global_att_blocks=(23, 33, 43),
                          window_spec=(8, 4, 16, 8), window_pos_embed_bkg_spatial_size=(7, 7)),
    ),
}


def tiny_test_config(image_size: int = 128) -> Sam2Config:
    """A very small network with the official key layout (same module tree, tiny widths and depths)
    for fast tests. ``image_size`` must be a multiple of 64 (the stride-32 trunk level must tile the
    smallest window)."""
    if image_size % 64:
        raise ValueError(f"image_size must be a multiple of 64, got {image_size}")
    return Sam2Config(
        name="sam2.1_test_tiny",
        # Windows of 6 at stride 16 and 3 at stride 32 exercise the zero padding of partial windows.
        hiera=HieraConfig(embed_dim=8, num_heads=1, stages=(1, 2, 2, 2), global_att_blocks=(4,),
                          window_spec=(4, 2, 6, 3), window_pos_embed_bkg_spatial_size=(4, 4)),
        neck=NeckConfig(d_model=32),
        sam_heads=SamHeadsConfig(transformer_mlp_dim=64, transformer_num_heads=2, iou_head_hidden_dim=32),
        memory_encoder=MemoryEncoderConfig(out_dim=16),
        memory_attention=MemoryAttentionConfig(num_layers=2, dim_feedforward=64),
        image_size=image_size,
    )
