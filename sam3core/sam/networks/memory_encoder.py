"""Memory encoder: fuses a frame's image features with its (sigmoid) mask into a compact memory."""

from __future__ import annotations

import math

import torch
from torch import nn

from sam3core.sam.networks.common import LayerNorm2d


class MaskDownSampler(nn.Module):
    """Strided convs (each x``stride``, channels x stride^2) + LayerNorm2d + GELU, then a 1x1 conv:
    (B, 1, H, W) -> (B, embed_dim, H/total_stride, W/total_stride)."""

    def __init__(self, *, embed_dim: int = 256, kernel_size: int = 4, stride: int = 4, padding: int = 0,
                 total_stride: int = 16, activation: type[nn.Module] = nn.GELU) -> None:
        super().__init__()
        num_layers = round(math.log(total_stride, stride))
        if stride ** num_layers != total_stride:
            raise ValueError(f"total_stride {total_stride} is not a power of stride {stride}")
        self.encoder = nn.Sequential()
        chans = 1
        for _ in range(num_layers):
            out = chans * stride ** 2
            self.encoder.append(
                nn.Conv2d(chans, out, kernel_size=kernel_size, stride=stride, padding=padding))
            self.encoder.append(LayerNorm2d(out))
            self.encoder.append(activation())
            chans = out
        self.encoder.append(nn.Conv2d(chans, embed_dim, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)


class CXBlock(nn.Module):
    """ConvNeXt block: depthwise conv, LayerNorm2d, channels-last MLP (x4) with layer scale, residual.
    (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, *, dim: int, kernel_size: int = 7, padding: int = 3,
                 layer_scale_init_value: float = 1e-6, use_dwconv: bool = True) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=kernel_size, padding=padding,
                                groups=dim if use_dwconv else 1)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = (nn.Parameter(layer_scale_init_value * torch.ones(dim))
                      if layer_scale_init_value > 0 else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x)).permute(0, 2, 3, 1)  # (B, H, W, C)
        y = self.pwconv2(self.act(self.pwconv1(y)))
        if self.gamma is not None:
            y = self.gamma * y
        return x + y.permute(0, 3, 1, 2)


class Fuser(nn.Module):
    """A stack of :class:`CXBlock` (``layers``), optionally after a 1x1 input projection."""

    def __init__(self, *, layers: list[nn.Module], dim: int | None = None,
                 input_projection: bool = False) -> None:
        super().__init__()
        self.proj: nn.Module = nn.Identity()
        if input_projection:
            if dim is None:
                raise ValueError("input_projection needs dim")
            self.proj = nn.Conv2d(dim, dim, kernel_size=1)
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    """forward(pix_feat (B, in_dim, h, w), masks (B, 1, 16h, 16w) logits or probabilities,
    skip_mask_sigmoid=False) -> (features (B, out_dim, h, w), [pos (B, out_dim, h, w)]).

    Masks go through a sigmoid unless ``skip_mask_sigmoid`` (the tracker passes already-scaled
    probabilities and skips it)."""

    def __init__(self, *, out_dim: int, mask_downsampler: nn.Module, fuser: nn.Module,
                 position_encoding: nn.Module, in_dim: int = 256) -> None:
        super().__init__()
        self.mask_downsampler = mask_downsampler
        self.pix_feat_proj = nn.Conv2d(in_dim, in_dim, kernel_size=1)
        self.fuser = fuser
        self.position_encoding = position_encoding
        self.out_proj: nn.Module = nn.Identity()
        if out_dim != in_dim:
            self.out_proj = nn.Conv2d(in_dim, out_dim, kernel_size=1)

    def forward(self, pix_feat: torch.Tensor, masks: torch.Tensor,
                skip_mask_sigmoid: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        if not skip_mask_sigmoid:
            masks = torch.sigmoid(masks)
        masks = self.mask_downsampler(masks)
        x = self.pix_feat_proj(pix_feat.to(masks.device)) + masks
        x = self.out_proj(self.fuser(x))
        return x, [self.position_encoding(x).to(x.dtype)]
