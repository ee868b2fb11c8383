"""SAM 3 tracker configuration: its tracking behaviour (:func:`sam3_tracker_settings`), the notebook's
preprocessing, and the network configuration :class:`Sam3Config` (full size and a tiny test size).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from sam3core.sam.network_config import MemoryAttentionConfig, MemoryEncoderConfig, SamHeadsConfig
from sam3core.sam.sam3.vit import ViTConfig
from sam3core.sam.tracking_config import IMAGENET_MEAN, IMAGENET_STD, PreprocessConfig, TrackerConfig

SAM3_MEAN = (0.5, 0.5, 0.5)
SAM3_STD = (0.5, 0.5, 0.5)


def sam3_tracker_settings(image_size: int = 1008, *, preprocess: PreprocessConfig | None = None,
                          use_memory_selection: bool = True) -> TrackerConfig:
    """The SAM 3 tracker's behaviour (``sam3.model_builder.build_tracker`` and its predictor's defaults).

    Differences from SAM 2.1: at most 4 conditioning frames in memory attention, memory selection
    (past frames kept only when object score x predicted IoU > 0.01), every corrected frame becomes a
    conditioning frame, clicks are decoded without memory, at most 16 clicks per frame reach the prompt
    encoder (first 8 + last 8), and the objects of a session are handled as one batch (see
    :mod:`sam3core.sam.consolidation`).
    """
    if preprocess is None:
        preprocess = PreprocessConfig(image_size=image_size, mean=SAM3_MEAN, std=SAM3_STD)
    return TrackerConfig(
        image_size=image_size,
        backbone_stride=14,
        num_maskmem=7,
        max_cond_frames_in_attn=4,
        keep_first_cond_frame=False,
        use_memory_selection=use_memory_selection,
        mf_threshold=0.01,
        max_obj_ptrs_in_encoder=16,
        multimask_output_in_sam=True,
        multimask_min_pt_num=0,
        multimask_max_pt_num=1,
        multimask_output_for_tracking=True,
        add_all_frames_to_correct_as_cond=True,
        # the reference's clearing only hides the surrounding frames from later look-ups of an object's
        # previous result: propagation keeps attending to them
        clear_non_cond_mem_around_input=True,
        clear_non_cond_mem_for_multi_obj=False,
        clear_hides_from_lookups_only=True,
        # the reference's predictor keeps all objects in one batch: prompted frames are merged for every
        # object (non-overlapping memories) and memory selection scores a frame over all objects
        consolidate_prompted_frames=True,
        shared_memory_selection=True,
        max_point_num_in_prompt_enc=16,
        non_overlap_masks_for_output=False,
        non_overlap_masks_for_mem_enc=False,
        preprocess=preprocess,
    )


def notebook_preprocess(image_size: int = 1008) -> PreprocessConfig:
    """What ``Sam3TrackerPredictor.init_state`` actually feeds the model: it loads frames with SAM 2's
    loader and therefore ImageNet mean/std, not the 0.5/0.5 the rest of SAM 3 (and its training) uses.
    Needed only to reproduce the reference notebook number for number."""
    return PreprocessConfig(image_size=image_size, mean=IMAGENET_MEAN, std=IMAGENET_STD)


@dataclass(frozen=True)
class Sam3Config:
    """Everything needed to build the SAM 3 tracker networks."""

    name: str
    vit: ViTConfig
    tracker: TrackerConfig
    d_model: int = 256  # neck, prompt/decoder tokens, memory attention
    sam_heads: SamHeadsConfig = field(default_factory=SamHeadsConfig)
    memory_encoder: MemoryEncoderConfig = field(default_factory=MemoryEncoderConfig)
    memory_attention: MemoryAttentionConfig = field(default_factory=MemoryAttentionConfig)

    def __post_init__(self) -> None:
        tracker, vit = self.tracker, self.vit
        if tracker.image_size != vit.image_size or tracker.backbone_stride != vit.patch_size:
            raise ValueError("the tracker settings must use the ViT's image size and patch size as stride")

    @property
    def image_size(self) -> int:
        return self.vit.image_size

    @property
    def feature_size(self) -> int:
        """Side of the top feature map (72)."""
        return self.vit.grid_size

    @property
    def low_res_mask_size(self) -> int:
        """Side of the decoder's mask logits (288)."""
        return self.feature_size * 4

    @property
    def mask_encoder_input_size(self) -> int:
        """Masks are resized to this side before the memory encoder's downsampler (1152)."""
        return self.feature_size * self.memory_encoder.downsampler_total_stride

    def with_tracker(self, **changes: object) -> Sam3Config:
        """A copy with some tracker settings replaced (e.g. ``preprocess=notebook_preprocess()``)."""
        return dataclasses.replace(self, tracker=dataclasses.replace(self.tracker, **changes))


SAM3_CONFIG = Sam3Config(name="sam3", vit=ViTConfig(), tracker=sam3_tracker_settings())


def sam3_tiny_test_config() -> Sam3Config:
    """A very small network in the same module tree and key layout, for fast tests (224 px input,
    16 x 16 features, two windowed and two global ViT blocks, narrow heads)."""
    vit = ViTConfig(image_size=224, patch_size=14, embed_dim=64, depth=4, num_heads=2, mlp_ratio=4.625,
                    window_size=8, global_blocks=(1, 3), pretrain_image_size=112)
    return Sam3Config(
        name="sam3_test_tiny",
        vit=vit,
        tracker=sam3_tracker_settings(vit.image_size),
        d_model=32,
        sam_heads=SamHeadsConfig(transformer_mlp_dim=64, transformer_num_heads=2, iou_head_hidden_dim=32),
        memory_encoder=MemoryEncoderConfig(out_dim=16),
        memory_attention=MemoryAttentionConfig(num_layers=2, dim_feedforward=64),
    )
