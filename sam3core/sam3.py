"""SAM 3's video tracker on its own: configuration, ``sam3.pt`` key map and builder.

The official ``sam3.pt`` holds the whole SAM 3 model (~848M parameters): a detector (ViT vision
backbone with two simple-FPN branches, text encoder, DETR-style encoder/decoder, segmentation head)
and the tracker. The tracker only needs

- the detector's ViT trunk            ``detector.backbone.vision_backbone.trunk.*``
- the tracker's FPN branch (3 levels) ``detector.backbone.vision_backbone.sam2_convs.{0,1,2}.*``
- the tracker itself                  ``tracker.*`` (SAM 2.1-style heads, memory encoder/attention)

:func:`build_sam3_tracker` builds just that and copies those tensors, leaving the text encoder and
detector in the file (memory-mapped, never materialised), so the loaded tracker holds about half the
parameters of the reference model.

Network shapes of the full model: 1008 x 1008 input, 72 x 72 top features (stride 14), 288 x 288
low-resolution mask logits, masks resized to 1152 x 1152 before the memory encoder's 16x downsampler.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sam3core.build import TrackerSpec, build_tracker, register_tracker
from sam3core.configs import (
    HieraConfig,
    MemoryAttentionConfig,
    MemoryEncoderConfig,
    NeckConfig,
    Sam2Config,
    SamHeadsConfig,
)
from sam3core.modeling.common import MLP
from sam3core.modeling.image_encoder import ImageEncoder
from sam3core.modeling.sam3_neck import TRACKER_SCALES, TrackerFpnNeck
from sam3core.modeling.vit import ViT, ViTConfig
from sam3core.predictor import SamPredictor
from sam3core.state import PointPrompt
from sam3core.tracker import StepOutput, TrackerModel
from sam3core.tracker_config import IMAGENET_MEAN, IMAGENET_STD, PreprocessConfig, TrackerConfig

SAM3_MEAN = (0.5, 0.5, 0.5)
SAM3_STD = (0.5, 0.5, 0.5)

# Prefixes of the official file.
VISION_PREFIX = "detector.backbone.vision_backbone."
TRUNK_PREFIX = VISION_PREFIX + "trunk."
TRACKER_NECK_PREFIX = VISION_PREFIX + "sam2_convs."
TRACKER_PREFIX = "tracker."
# Renames inside ``tracker.*``: SAM 3 keeps SAM 2.1's modules under other attribute names.
_TRACKER_RENAMES = (("transformer.encoder.", "memory_attention."), ("maskmem_backbone.", "memory_encoder."))
# SAM 3's two-way transformer keeps its MLP as ``lin1``/``lin2`` (SAM 1 style); ours as ``layers.0``/``1``.
_MLP_OFFICIAL = re.compile(r"^(sam_mask_decoder\.transformer\.layers\.\d+\.mlp\.)lin([12])\.")
_MLP_OURS = re.compile(r"^(sam_mask_decoder\.transformer\.layers\.\d+\.mlp\.)layers\.([01])\.")


def sam3_tracker_settings(image_size: int = 1008, *, preprocess: PreprocessConfig | None = None,
                          use_memory_selection: bool = True) -> TrackerConfig:
    """The SAM 3 tracker's behaviour (``sam3.model_builder.build_tracker`` and its predictor's defaults).

    Differences from SAM 2.1: at most 4 conditioning frames in memory attention, memory selection
    (past frames kept only when object score x predicted IoU > 0.01), every corrected frame becomes a
    conditioning frame, clicks are decoded without memory, at most 16 clicks per frame reach the prompt
    encoder (first 8 + last 8), and the objects of a session are handled as one batch (see
    :mod:`sam3core.consolidation`).
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


# -- key map ----------------------------------------------------------------------------------
def tracker_key(official: str) -> str | None:
    """Name in our tracker of an official ``sam3.pt`` tensor, or None when the tracker does not use it
    (text encoder, detector heads, the detector's FPN branch, the discarded fourth tracker FPN level,
    and the ViT's stored RoPE tables, which are derived from the configuration)."""
    if official.startswith(TRUNK_PREFIX):
        rest = official[len(TRUNK_PREFIX):]
        if rest.endswith("attn.freqs_cis"):
            return None
        return "image_encoder.trunk." + rest
    if official.startswith(TRACKER_NECK_PREFIX):
        rest = official[len(TRACKER_NECK_PREFIX):]
        level = rest.split(".", 1)[0]
        if not level.isdigit() or int(level) >= len(TRACKER_SCALES):
            return None
        return "image_encoder.neck.convs." + rest
    if official.startswith(TRACKER_PREFIX):
        rest = official[len(TRACKER_PREFIX):]
        for old, new in _TRACKER_RENAMES:
            if rest.startswith(old):
                return new + rest[len(old):]
        return _MLP_OFFICIAL.sub(lambda m: f"{m.group(1)}layers.{int(m.group(2)) - 1}.", rest)
    return None


def official_key(ours: str) -> str:
    """Inverse of :func:`tracker_key` for the tensors our tracker holds."""
    if ours.startswith("image_encoder.trunk."):
        return TRUNK_PREFIX + ours[len("image_encoder.trunk."):]
    if ours.startswith("image_encoder.neck.convs."):
        return TRACKER_NECK_PREFIX + ours[len("image_encoder.neck.convs."):]
    for old, new in _TRACKER_RENAMES:
        if ours.startswith(new):
            return TRACKER_PREFIX + old + ours[len(new):]
    return TRACKER_PREFIX + _MLP_OURS.sub(lambda m: f"{m.group(1)}lin{int(m.group(2)) + 1}.", ours)


def looks_like_sam3(keys: object) -> bool:
    """Whether a state dict's key set has SAM 3's layout (a ViT trunk under the detector + a tracker)."""
    names = list(keys)  # type: ignore[call-overload]
    return any(k.startswith(TRUNK_PREFIX) for k in names) and any(k.startswith(TRACKER_PREFIX) for k in names)


# -- networks ---------------------------------------------------------------------------------
class Sam3MaskDownSampler(nn.Module):
    """SAM 3's memory-encoder mask path: resize the (B, 1, S, S) mask to the downsampler's input size
    (1152 for a 1008 model, bilinear with antialiasing) and then apply the strided convs, so that a
    stride-16 stack lands exactly on the 72 x 72 feature grid."""

    def __init__(self, *, downsampler: nn.Module, input_size: int) -> None:
        super().__init__()
        self.encoder = downsampler.encoder  # keep the official ``mask_downsampler.encoder.N`` names
        self.input_size = input_size

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        if tuple(masks.shape[-2:]) != (self.input_size, self.input_size):
            masks = F.interpolate(masks.float(), size=(self.input_size, self.input_size), mode="bilinear",
                                  align_corners=False, antialias=True)
        return self.encoder(masks)


def build_sam3_image_encoder(config: Sam3Config) -> ImageEncoder:
    """ViT trunk + the tracker's FPN branch -> 3 levels of ``config.d_model`` channels."""
    trunk = ViT(config.vit)
    neck = TrackerFpnNeck(in_dim=config.vit.embed_dim, d_model=config.d_model)
    return ImageEncoder(trunk=trunk, neck=neck, scalp=0)


def _heads_modules_config(config: Sam3Config) -> Sam2Config:
    """The SAM 2.1 module config whose head fields describe SAM 3's tracker heads; the shared head
    builders never read its ``hiera`` (SAM 3's trunk is the ViT), so a placeholder stands there."""
    placeholder = HieraConfig(embed_dim=0, num_heads=0, stages=(), global_att_blocks=())
    return Sam2Config(name=config.name, hiera=placeholder,
                      neck=NeckConfig(d_model=config.d_model), sam_heads=config.sam_heads,
                      memory_encoder=config.memory_encoder, memory_attention=config.memory_attention,
                      image_size=config.image_size, backbone_stride=config.vit.patch_size)


class Sam3TrackerModel(TrackerModel):
    """The shared tracking step with SAM 3's one rule about clicks: the reference predictor decodes every
    click (also a correction on an already tracked frame) from the frame's own features plus the
    no-memory embedding, never from the memory bank; memory conditions propagated frames only."""

    def track_step(self, *, is_init_cond_frame: bool, points: PointPrompt | None = None,
                   **kwargs: Any) -> StepOutput:
        # With multimask-for-tracking on, "initial conditioning frame" only selects the no-memory path.
        return super().track_step(is_init_cond_frame=is_init_cond_frame or points is not None, points=points,
                                  **kwargs)


def build_sam3_tracker_model(config: Sam3Config | None = None) -> Sam3TrackerModel:
    """Randomly initialised SAM 3 tracker networks (ViT trunk, tracker neck, SAM heads, memory) on the CPU."""
    from sam3core.modeling.build import (
        build_mask_decoder,
        build_memory_attention,
        build_memory_encoder,
        build_prompt_encoder,
    )

    config = config or SAM3_CONFIG
    heads = _heads_modules_config(config)
    memory_encoder = build_memory_encoder(heads)
    memory_encoder.mask_downsampler = Sam3MaskDownSampler(downsampler=memory_encoder.mask_downsampler,
                                                          input_size=config.mask_encoder_input_size)
    hidden = config.d_model
    model = Sam3TrackerModel(
        image_encoder=build_sam3_image_encoder(config), memory_attention=build_memory_attention(heads),
        memory_encoder=memory_encoder, prompt_encoder=build_prompt_encoder(heads),
        mask_decoder=build_mask_decoder(heads), obj_ptr_proj=MLP(hidden, hidden, hidden, 3),
        config=config.tracker, hidden_dim=hidden, mem_dim=config.memory_encoder.out_dim)
    return model.eval()


# -- checkpoint -------------------------------------------------------------------------------
def tracker_state_dict(official: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors the tracker uses, under our names (everything else in the file is skipped)."""
    mapped: dict[str, torch.Tensor] = {}
    for key, value in official.items():
        ours = tracker_key(key)
        if ours is not None:
            mapped[ours] = value
    return mapped


def load_sam3_checkpoint(model: TrackerModel, path: Path) -> None:
    """Copy the tracker's tensors of an official ``sam3.pt`` into ``model``; every tensor of the model must
    come from the file with the right shape, otherwise :class:`~sam3core.checkpoint.CheckpointError`
    naming the file and the official names of the offending tensors (the model is left untouched)."""
    from sam3core.checkpoint import CheckpointError, read_checkpoint

    path = Path(path)
    official = read_checkpoint(path)  # memory-mapped: tensors the tracker skips are never read
    if not looks_like_sam3(official.keys()):
        raise CheckpointError(
            f"{path}: not a SAM 3 checkpoint (expected '{TRUNK_PREFIX}*' and '{TRACKER_PREFIX}*' tensors)")
    mapped = tracker_state_dict(official)
    expected = model.state_dict()
    missing = [official_key(k) for k in expected if k not in mapped]
    unknown = [official_key(k) for k in mapped if k not in expected]
    wrong = [f"{official_key(k)} {tuple(mapped[k].shape)} (expected {tuple(v.shape)})"
             for k, v in expected.items() if k in mapped and mapped[k].shape != v.shape]
    problems = []
    for label, items in (("missing", missing), ("not understood", unknown), ("wrong shape", wrong)):
        if items:
            shown = ", ".join(items[:6]) + (f" ... ({len(items)} in all)" if len(items) > 6 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise CheckpointError(f"{path}: does not fit the SAM 3 tracker of this configuration; "
                              + "; ".join(problems))
    model.load_state_dict(mapped, strict=True)


def _build_for_registry(config: Any = None) -> TrackerModel:
    return build_sam3_tracker_model(config)


register_tracker("sam3", TrackerSpec(build=_build_for_registry, load=load_sam3_checkpoint,
                                     description="SAM 3 tracker (ViT-L trunk, 1008 px)"))


def build_sam3_tracker(checkpoint: str | Path | None = None, device: str | torch.device = "cpu",
                       config: Sam3Config | None = None, **predictor_options: Any) -> SamPredictor:
    """The SAM 3 video predictor (``build_tracker("sam3", ...)``); random weights without a checkpoint."""
    return build_tracker("sam3", checkpoint=checkpoint, device=device, config=config, **predictor_options)
