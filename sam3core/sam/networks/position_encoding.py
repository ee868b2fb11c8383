"""Positional encodings: the sine grid used by the FPN neck and memory encoder, and SAM's random
Fourier features used by the prompt encoder."""

from __future__ import annotations

import math

import torch
from torch import nn


def _sine_frequencies(num_feats: int, temperature: float, device: torch.device) -> torch.Tensor:
    """(num_feats,) wavelengths; consecutive pairs share one frequency (sin on even, cos on odd)."""
    idx = torch.arange(num_feats, dtype=torch.float32, device=device)
    return temperature ** (2 * torch.div(idx, 2, rounding_mode="floor") / num_feats)


def _interleave_sin_cos(angles: torch.Tensor) -> torch.Tensor:
    """(..., F) angles -> (..., F): sin of the even columns and cos of the odd ones, interleaved."""
    return torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1).flatten(-2)


class PositionEmbeddingSine(nn.Module):
    """DETR-style 2-D sine encoding of a feature map's grid.

    forward(x (B, C', H, W)) -> (B, num_pos_feats, H, W), the first half encoding y, the second x.
    Only the shape and device of ``x`` matter; the (H, W) grid is cached, and the result is an
    expanded view over the batch (do not write into it).
    """

    def __init__(self, num_pos_feats: int, *, temperature: float = 10000.0, normalize: bool = True,
                 scale: float | None = None) -> None:
        super().__init__()
        if num_pos_feats % 2:
            raise ValueError(f"num_pos_feats must be even, got {num_pos_feats}")
        if scale is not None and not normalize:
            raise ValueError("a scale only makes sense with normalize=True")
        self.num_pos_feats = num_pos_feats // 2  # per axis
        self.temperature = temperature
        self.normalize = normalize
        self.scale = 2 * math.pi if scale is None else scale
        self._cache: dict[tuple[int, int, torch.device], torch.Tensor] = {}

    @torch.no_grad()
    def grid(self, height: int, width: int, device: torch.device) -> torch.Tensor:
        """(num_pos_feats*2, H, W) encoding of an H x W grid, cached per size and device."""
        key = (height, width, device)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        y = torch.arange(1, height + 1, dtype=torch.float32, device=device)
        x = torch.arange(1, width + 1, dtype=torch.float32, device=device)
        if self.normalize:
            eps = 1e-6
            y = y / (y[-1:] + eps) * self.scale
            x = x / (x[-1:] + eps) * self.scale
        freqs = _sine_frequencies(self.num_pos_feats, self.temperature, device)
        pos_y = _interleave_sin_cos(y[:, None] / freqs)  # (H, F)
        pos_x = _interleave_sin_cos(x[:, None] / freqs)  # (W, F)
        pos = torch.cat(
            (pos_y[:, None, :].expand(height, width, -1), pos_x[None, :, :].expand(height, width, -1)), dim=-1
        ).permute(2, 0, 1).contiguous()  # (2F, H, W)
        self._cache[key] = pos
        return pos

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pos = self.grid(x.shape[-2], x.shape[-1], x.device)
        return pos.unsqueeze(0).expand(x.shape[0], -1, -1, -1)  # (B, 2F, H, W)


class PositionEmbeddingRandom(nn.Module):
    """Random Fourier features of normalised (x, y) coordinates (SAM's prompt positional encoding).

    The Gaussian matrix is a persistent buffer (``positional_encoding_gaussian_matrix``, (2, F)) and is
    part of the checkpoint. Encodings have 2F channels: sin then cos.
    """

    def __init__(self, num_pos_feats: int = 64, scale: float | None = None) -> None:
        super().__init__()
        if scale is None or scale <= 0.0:
            scale = 1.0
        self.register_buffer("positional_encoding_gaussian_matrix", scale * torch.randn((2, num_pos_feats)))

    def _encode(self, coords: torch.Tensor) -> torch.Tensor:
        """(..., 2) coordinates in [0, 1] -> (..., 2F)."""
        proj = (2 * coords - 1) @ self.positional_encoding_gaussian_matrix
        proj = 2 * math.pi * proj
        return torch.cat([proj.sin(), proj.cos()], dim=-1)

    def forward(self, size: tuple[int, int]) -> torch.Tensor:
        """Dense encoding of an (h, w) grid of cell centres -> (2F, h, w)."""
        h, w = size
        device = self.positional_encoding_gaussian_matrix.device
        ys = (torch.arange(h, dtype=torch.float32, device=device) + 0.5) / h
        xs = (torch.arange(w, dtype=torch.float32, device=device) + 0.5) / w
        coords = torch.stack(
            (xs[None, :].expand(h, w), ys[:, None].expand(h, w)), dim=-1
        )  # (h, w, 2) as (x, y)
        return self._encode(coords).permute(2, 0, 1)

    def forward_with_coords(self, coords: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
        """(B, N, 2) pixel (x, y) in an image of ``image_size`` (H, W) -> (B, N, 2F)."""
        size_xy = coords.new_tensor([float(image_size[1]), float(image_size[0])])
        return self._encode((coords / size_xy).to(torch.float32))
