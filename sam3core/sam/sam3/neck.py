"""The SAM 3 tracker's simple-FPN neck: one ViT feature map turned into a 3-level pyramid.

SAM 3's vision backbone carries two identical simple-FPN branches with separate weights over the
same ViT output: ``convs`` feeds the detector, ``sam2_convs`` feeds the tracker. Only the tracker's
branch is built here. Each level is a resampling step followed by a 1x1 and a 3x3 convolution to
``d_model`` channels; the branch's fourth level (a 2x max-pool) is discarded by the tracker and is
therefore not built.

For the full model (ViT output (B, 1024, 72, 72), d_model 256):

    scale 4: 2 transposed convs 2x2/2 with a GELU between (1024 -> 512 -> 256) -> (B, 256, 288, 288)
    scale 2: 1 transposed conv 2x2/2 (1024 -> 512)                             -> (B, 256, 144, 144)
    scale 1: no resampling                                                       -> (B, 256, 72, 72)

Submodule names (``convs.{i}.dconv_2x2_0`` ...) match the checkpoint's ``sam2_convs.{i}.*``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import torch
from torch import nn

from sam3core.sam.networks.position_encoding import PositionEmbeddingSine

TRACKER_SCALES = (4.0, 2.0, 1.0)


def _fpn_level(in_dim: int, d_model: int, scale: float) -> nn.Sequential:
    level = nn.Sequential()
    if scale == 4.0:
        level.add_module("dconv_2x2_0", nn.ConvTranspose2d(in_dim, in_dim // 2, kernel_size=2, stride=2))
        level.add_module("gelu", nn.GELU())
        level.add_module("dconv_2x2_1", nn.ConvTranspose2d(in_dim // 2, in_dim // 4, kernel_size=2, stride=2))
        out_dim = in_dim // 4
    elif scale == 2.0:
        level.add_module("dconv_2x2", nn.ConvTranspose2d(in_dim, in_dim // 2, kernel_size=2, stride=2))
        out_dim = in_dim // 2
    elif scale == 1.0:
        out_dim = in_dim
    else:
        raise ValueError(f"unsupported simple-FPN scale {scale}; the tracker uses {TRACKER_SCALES}")
    level.add_module("conv_1x1", nn.Conv2d(out_dim, d_model, kernel_size=1))
    level.add_module("conv_3x3", nn.Conv2d(d_model, d_model, kernel_size=3, padding=1))
    return level


class TrackerFpnNeck(nn.Module):
    """forward(x (B, in_dim, S, S)) -> (features, pos): two lists, highest resolution first, of
    (B, d_model, 4S, 4S), (B, d_model, 2S, 2S), (B, d_model, S, S) maps and their sine encodings."""

    def __init__(self, *, in_dim: int, d_model: int = 256, position_encoding: nn.Module | None = None,
                 scales: tuple[float, ...] = TRACKER_SCALES) -> None:
        super().__init__()
        self.scales = scales
        self.backbone_channel_list = [in_dim]
        self.convs = nn.ModuleList(_fpn_level(in_dim, d_model, s) for s in scales)
        self.position_encoding = position_encoding or PositionEmbeddingSine(d_model)

    def forward(self, x: torch.Tensor, *, pos_levels: Collection[int] | None = None,
                heads: Sequence[nn.Module | None] | None = None,
                ) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        """``pos_levels``: the levels whose position encoding is wanted (None: all); others get None.
        ``heads``: per level, a module applied to that level's output (after its encoding is taken)."""
        features = [level(x) for level in self.convs]
        pos = [self.position_encoding(f).to(f.dtype) if pos_levels is None or i in pos_levels else None
               for i, f in enumerate(features)]
        if heads is not None:
            features = [f if i >= len(heads) or heads[i] is None else heads[i](f)
                        for i, f in enumerate(features)]
        return features, pos
