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

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sam3core.sam.inference_state import PointPrompt
from sam3core.sam.network_config import HieraConfig, NeckConfig, Sam2Config
from sam3core.sam.networks.common import MLP
from sam3core.sam.networks.image_encoder import ImageEncoder
from sam3core.sam.sam3.config import SAM3_CONFIG, Sam3Config
from sam3core.sam.sam3.neck import TrackerFpnNeck
from sam3core.sam.sam3.vit import ViT
from sam3core.sam.tracker import StepOutput, TrackerModel


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


def heads_modules_config(config: Sam3Config) -> Sam2Config:
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
    from sam3core.sam.networks.build import (
        build_mask_decoder,
        build_memory_attention,
        build_memory_encoder,
        build_prompt_encoder,
    )

    config = config or SAM3_CONFIG
    heads = heads_modules_config(config)
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
