"""Hiera trunk (hierarchical ViT with windowed attention and query pooling), the SAM 2.1 image backbone.

Tokens are kept channels-last, (B, H, W, C), between blocks. Stage ``s`` has ``stages[s]`` blocks; the
first block of each later stage max-pools its queries by ``q_stride`` (halving H and W) and widens the
channels by ``dim_mul``. Blocks listed in ``global_att_blocks`` attend globally; the others attend within
non-overlapping windows of ``window_spec[stage]`` tokens (zero padding to whole windows, padded tokens
are attended to, as in the released weights' training).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sam3core.sam.networks.common import BLOCK_ELEMENTS, MLP, add_mlp


def window_partition(x: torch.Tensor, window: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """(B, H, W, C) -> windows (B * nW, window, window, C) and the padded size (Hp, Wp)."""
    B, H, W, C = x.shape
    pad_h = (window - H % window) % window
    pad_w = (window - W % window) % window
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    Hp, Wp = H + pad_h, W + pad_w
    x = x.view(B, Hp // window, window, Wp // window, window, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window, window, C), (Hp, Wp)


def window_unpartition(windows: torch.Tensor, window: int, padded_hw: tuple[int, int],
                       hw: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B * nW, window, window, C) -> (B, H, W, C)."""
    Hp, Wp = padded_hw
    H, W = hw
    B = windows.shape[0] // ((Hp // window) * (Wp // window))
    x = windows.view(B, Hp // window, Wp // window, window, window, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(B, Hp, Wp, -1)
    if Hp > H or Wp > W:
        x = x[:, :H, :W, :]
    return x


def _pool_channels_last(x: torch.Tensor, pool: nn.Module) -> torch.Tensor:
    """Apply a (B, C, H, W) pooling to a (B, H, W, C) tensor."""
    return pool(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class PatchEmbed(nn.Module):
    """Strided convolution from pixels to tokens: (B, 3, H, W) -> (B, H/4, W/4, C)."""

    def __init__(self, *, embed_dim: int, in_chans: int = 3, kernel_size: int = 7, stride: int = 4,
                 padding: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class MultiScaleAttention(nn.Module):
    """Self-attention over (B, H, W, C) tokens whose queries may be pooled: -> (B, H', W', dim_out)."""

    def __init__(self, dim: int, dim_out: int, num_heads: int, q_pool: nn.Module | None = None) -> None:
        super().__init__()
        self.dim = dim
        self.dim_out = dim_out
        self.num_heads = num_heads
        self.q_pool = q_pool
        self.qkv = nn.Linear(dim, dim_out * 3)
        self.proj = nn.Linear(dim_out, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, _ = x.shape
        # (3, B, heads, HW, d) in one permute so q, k and v are views of a single buffer.
        qkv = self.qkv(x).view(B, H * W, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.q_pool is not None:
            d = q.shape[-1]
            q = q.transpose(1, 2).reshape(B, H, W, -1)  # (B, H, W, heads*d)
            q = _pool_channels_last(q, self.q_pool)
            H, W = q.shape[1:3]
            q = q.reshape(B, H * W, self.num_heads, d).transpose(1, 2)  # (B, heads, H'W', d)
        x = F.scaled_dot_product_attention(q, k, v)  # (B, heads, H'W', d)
        x = x.transpose(1, 2).reshape(B, H, W, -1)
        return self.proj(x)


class MultiScaleBlock(nn.Module):
    """Pre-norm transformer block on (B, H, W, C) tokens, optionally windowed and query-pooled."""

    def __init__(self, *, dim: int, dim_out: int, num_heads: int, mlp_ratio: float = 4.0,
                 q_stride: tuple[int, int] | None = None, window_size: int = 0) -> None:
        super().__init__()
        self.dim = dim
        self.dim_out = dim_out
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.window_size = window_size
        self.q_stride = q_stride
        self.pool = nn.MaxPool2d(kernel_size=q_stride, stride=q_stride) if q_stride else None
        self.attn = MultiScaleAttention(dim, dim_out, num_heads=num_heads, q_pool=self.pool)
        self.norm2 = nn.LayerNorm(dim_out, eps=1e-6)
        self.mlp = MLP(dim_out, int(dim_out * mlp_ratio), dim_out, 2, activation=nn.GELU)
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x  # (B, H, W, C)
        x = self.norm1(x)
        if self.dim != self.dim_out:
            shortcut = self.proj(x)
            if self.pool is not None:
                shortcut = _pool_channels_last(shortcut, self.pool)

        window = self.window_size
        if window > 0:
            H, W = x.shape[1], x.shape[2]
            x, padded_hw = window_partition(x, window)
        x = self._attend(x)
        if window > 0:
            if self.q_stride:
                # Query pooling shrank each window; rebuild the geometry at the pooled resolution.
                window = window // self.q_stride[0]
                H, W = shortcut.shape[1:3]
                padded_hw = (H + (window - H % window) % window, W + (window - W % window) % window)
            x = window_unpartition(x, window, padded_hw, (H, W))

        x = shortcut + x
        return add_mlp(x, self.norm2, self.mlp, self.mlp.layers[0].out_features)

    def _attend(self, x: torch.Tensor) -> torch.Tensor:
        """Attention on (N, h, w, C): N windows (or images), in inference a group of them at a time."""
        per_item = x[0].numel() * 3 * self.dim_out // self.dim  # q, k and v of one window
        if torch.is_grad_enabled() or x.shape[0] * per_item <= BLOCK_ELEMENTS:
            return self.attn(x)
        group = max(1, BLOCK_ELEMENTS // per_item)
        return torch.cat([self.attn(x[start:start + group]) for start in range(0, x.shape[0], group)])


class Hiera(nn.Module):
    """Hiera trunk. forward(x (B, 3, H, W)) -> one (B, C_s, H/2^(s+2), W/2^(s+2)) map per stage,
    highest resolution first; ``channel_list`` gives their widths lowest resolution first."""

    def __init__(self, *, embed_dim: int = 96, num_heads: int = 1, stages: tuple[int, ...] = (2, 3, 16, 3),
                 q_pool: int = 3, q_stride: tuple[int, int] = (2, 2), dim_mul: float = 2.0,
                 head_mul: float = 2.0, window_pos_embed_bkg_spatial_size: tuple[int, int] = (14, 14),
                 window_spec: tuple[int, ...] = (8, 4, 14, 7),
                 global_att_blocks: tuple[int, ...] = (12, 16, 20)) -> None:
        super().__init__()
        if len(stages) != len(window_spec):
            raise ValueError(f"{len(stages)} stages but {len(window_spec)} window sizes")
        self.window_spec = tuple(window_spec)
        self.q_stride = tuple(q_stride)
        self.stage_ends = [sum(stages[:i]) - 1 for i in range(1, len(stages) + 1)]
        if not 0 <= q_pool <= len(self.stage_ends) - 1:
            raise ValueError(f"q_pool={q_pool} must be between 0 and {len(self.stage_ends) - 1}")
        self.q_pool_blocks = [end + 1 for end in self.stage_ends[:-1]][:q_pool]
        self.global_att_blocks = tuple(global_att_blocks)
        self.patch_embed = PatchEmbed(embed_dim=embed_dim)
        self.window_pos_embed_bkg_spatial_size = tuple(window_pos_embed_bkg_spatial_size)
        # Position embedding = a background grid interpolated to the token grid + a per-window tile.
        self.pos_embed = nn.Parameter(torch.zeros(1, embed_dim, *self.window_pos_embed_bkg_spatial_size))
        win = self.window_spec[0]
        self.pos_embed_window = nn.Parameter(torch.zeros(1, embed_dim, win, win))

        self.blocks = nn.ModuleList()
        stage = 0
        dim = embed_dim
        for i in range(sum(stages)):
            dim_out = dim
            # The window size lags one block behind the stage change: the pooling block of a new stage
            # still uses the previous stage's window (which it pools down).
            window = 0 if i in self.global_att_blocks else self.window_spec[stage]
            if i - 1 in self.stage_ends:
                dim_out = int(dim * dim_mul)
                num_heads = int(num_heads * head_mul)
                stage += 1
            self.blocks.append(MultiScaleBlock(
                dim=dim, dim_out=dim_out, num_heads=num_heads,
                q_stride=self.q_stride if i in self.q_pool_blocks else None, window_size=window,
            ))
            dim = dim_out
        self.channel_list = [self.blocks[i].dim_out for i in self.stage_ends[::-1]]
        self._pos_cache: tuple[tuple, torch.Tensor] | None = None

    def _pos_embed(self, h: int, w: int) -> torch.Tensor:
        """(1, h, w, C) position embedding, reused while the parameters are unchanged (and no grad)."""
        params = (self.pos_embed, self.pos_embed_window)
        key = (h, w, *((p.data_ptr(), p._version, p.dtype, p.device) for p in params))
        cacheable = not torch.is_grad_enabled() or not any(p.requires_grad for p in params)
        if cacheable and self._pos_cache is not None and self._pos_cache[0] == key:
            return self._pos_cache[1]
        pos = F.interpolate(self.pos_embed, size=(h, w), mode="bicubic")
        win = self.pos_embed_window
        pos = pos + win.tile(1, 1, h // win.shape[-2], w // win.shape[-1])
        pos = pos.permute(0, 2, 3, 1)
        if cacheable:
            self._pos_cache = (key, pos)
        return pos

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.patch_embed(x)  # (B, H/4, W/4, C)
        x = x + self._pos_embed(x.shape[1], x.shape[2])
        outputs = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.stage_ends:
                outputs.append(x.permute(0, 3, 1, 2))
        return outputs
