"""Image encoder = trunk + neck, returning the features the tracker consumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class BackboneOutput:
    """Features of one batch of images.

    vision_features: (B, C, h, w), the coarsest kept level (stride 16: 64x64 for a 1024 input).
    vision_pos_enc: per kept level, (B, C, h_l, w_l), highest resolution first; with
        ``coarse_pos_only`` only the last is computed, the others are None.
    backbone_fpn: per kept level, (B, C, h_l, w_l), highest resolution first; the last is vision_features.
    """

    vision_features: torch.Tensor
    vision_pos_enc: list[torch.Tensor | None]
    backbone_fpn: list[torch.Tensor]


class ImageEncoder(nn.Module):
    """forward(x (B, 3, H, W) normalised pixels) -> :class:`BackboneOutput`.

    ``scalp`` drops that many of the coarsest levels from the outputs (SAM 2.1 uses 1: the stride-32
    level only feeds the top-down path).
    """

    def __init__(self, *, trunk: nn.Module, neck: nn.Module, scalp: int = 0) -> None:
        super().__init__()
        trunk_channels = list(getattr(trunk, "channel_list", []))
        neck_channels = list(getattr(neck, "backbone_channel_list", []))
        if trunk_channels != neck_channels:
            raise ValueError(f"trunk channels {trunk_channels} do not match the neck's {neck_channels}")
        self.trunk = trunk
        self.neck = neck
        self.scalp = scalp

    def forward(self, x: torch.Tensor, *, coarse_pos_only: bool = False,
                heads: Sequence[nn.Module | None] | None = None) -> BackboneOutput:
        """``coarse_pos_only``: skip the fine levels' position encodings (the tracker uses only the
        coarsest; the finest is 256x256x256 floats, 64 MB, held in the encoding's cache).
        ``heads``: per kept level, a module the neck applies to it (see the necks)."""
        levels = None
        if coarse_pos_only:
            levels = (len(self.neck.convs) - 1 - self.scalp,)  # the neck makes one level per conv
        features, pos = self.neck(self.trunk(x), pos_levels=levels, heads=heads)
        if self.scalp > 0:
            features, pos = features[: -self.scalp], pos[: -self.scalp]
        return BackboneOutput(vision_features=features[-1], vision_pos_enc=pos, backbone_fpn=features)
