"""The SAM 3 vision trunk: a plain ViT with windowed attention, a few global blocks and 2-D RoPE.

Shape walk-through for the full-size model (1008 px input, patch 14, width 1024):

    image (B, 3, 1008, 1008) -> patch embedding (B, 72, 72, 1024)
    + absolute position embedding, tiled from the 24 x 24 grid of the 336-px pretraining
    -> pre-LayerNorm -> 32 pre-norm blocks; windowed ones attend inside 24 x 24 windows (9 windows
    per image), the global ones (7, 15, 23, 31) over all 72 x 72 tokens
    -> (B, 1024, 72, 72), the output of the last global block.

Every block rotates queries and keys with an axial 2-D RoPE. Its positions are measured in units
of the 24-token pretraining window: windowed blocks use token positions 0..23 directly, global blocks
squeeze the 72-token grid into the same range (positions scaled by 24 / 72).

Parameter names follow the official checkpoint (``patch_embed.proj``, ``pos_embed``, ``ln_pre``,
``blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}``) so weights load without renaming.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sam3core.sam.networks.common import add_mlp
from sam3core.sam.networks.rope import apply_rope


@dataclass(frozen=True)
class ViTConfig:
    image_size: int = 1008
    patch_size: int = 14
    embed_dim: int = 1024
    depth: int = 32
    num_heads: int = 16
    mlp_ratio: float = 4.625
    window_size: int = 24
    global_blocks: tuple[int, ...] = (7, 15, 23, 31)
    pretrain_image_size: int = 336  # the absolute position embedding's grid is pretrain_image_size/patch
    rope_theta: float = 10000.0
    layer_norm_eps: float = 1e-5

    @property
    def grid_size(self) -> int:
        """Tokens per side of the patch grid (72 for the full model)."""
        return self.image_size // self.patch_size

    @property
    def pretrain_grid_size(self) -> int:
        return self.pretrain_image_size // self.patch_size

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise ValueError(f"image size {self.image_size} is no multiple of patch size {self.patch_size}")
        if self.embed_dim % self.num_heads or (self.embed_dim // self.num_heads) % 4:
            raise ValueError("the head dim (embed_dim / num_heads) must be a multiple of 4 for axial RoPE")
        if not self.global_blocks or any(not 0 <= i < self.depth for i in self.global_blocks):
            raise ValueError(f"global blocks {self.global_blocks} must be indices below depth {self.depth}")


def scaled_axial_rope_angles(head_dim: int, size: int, scale: float, theta: float) -> torch.Tensor:
    """Rotation angles (size*size, head_dim/2) of a row-major size x size grid whose integer token
    positions are multiplied by ``scale`` first; the first half of the pairs turns with x, the second
    with y."""
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 4)[: head_dim // 4].float() / head_dim))
    t = torch.arange(size * size, dtype=torch.float32)
    t_x = (t % size) * scale
    t_y = torch.div(t, size, rounding_mode="floor") * scale
    return torch.cat([torch.outer(t_x, freqs), torch.outer(t_y, freqs)], dim=-1)


def rotation_table(angles: torch.Tensor) -> torch.Tensor:
    """Angles -> the rotation table :func:`apply_rope` takes: unit complex numbers, or (cos, sin) pairs
    on MPS, which has no complex arithmetic."""
    if angles.device.type == "mps":
        return torch.stack((angles.cos(), angles.sin()), dim=-1)
    return torch.polar(torch.ones_like(angles), angles)


class PatchEmbed(nn.Module):
    """Non-overlapping patch projection without bias: (B, 3, H, W) -> (B, H/p, W/p, C)."""

    def __init__(self, *, patch_size: int, embed_dim: int, in_chans: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class Mlp(nn.Module):
    """fc1 -> exact GELU -> fc2."""

    def __init__(self, *, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class RopeAttention(nn.Module):
    """Multi-head self-attention over a square token grid with axial RoPE on queries and keys.

    forward(x (B, S, S, C)) -> (B, S, S, C), where S is the side the RoPE tables were built for.
    """

    def __init__(self, *, dim: int, num_heads: int, grid: int, rope_scale: float, rope_theta: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        # Derived from the config, so kept out of the state dict; follows the module across devices.
        angles = scaled_axial_rope_angles(dim // num_heads, grid, rope_scale, rope_theta)
        self.register_buffer("rope_angles", angles, persistent=False)
        self._table: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, C = x.shape
        L = H * W
        qkv = self.qkv(x).reshape(B, L, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, heads, L, head_dim)
        table = self._table
        if table is None or table.device != self.rope_angles.device:
            table = self._table = rotation_table(self.rope_angles)
        q = apply_rope(q, table)
        k = apply_rope(k, table)
        x = F.scaled_dot_product_attention(q, k, v)  # (B, heads, L, head_dim)
        x = x.transpose(1, 2).reshape(B, H, W, C)
        return self.proj(x)


def window_partition(x: torch.Tensor, window: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """(B, H, W, C) -> (B * nW, window, window, C), zero-padding H and W up to multiples of ``window``.
    Returns the windows and the padded (Hp, Wp)."""
    B, H, W, C = x.shape
    pad_h = (window - H % window) % window
    pad_w = (window - W % window) % window
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    Hp, Wp = H + pad_h, W + pad_w
    x = x.view(B, Hp // window, window, Wp // window, window, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window, window, C), (Hp, Wp)


def window_unpartition(windows: torch.Tensor, window: int, padded: tuple[int, int], size: tuple[int, int]
                       ) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (B * nW, window, window, C) -> (B, H, W, C)."""
    Hp, Wp = padded
    H, W = size
    B = windows.shape[0] // ((Hp // window) * (Wp // window))
    x = windows.reshape(B, Hp // window, Wp // window, window, window, -1).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(B, Hp, Wp, -1)
    return x[:, :H, :W, :] if (Hp > H or Wp > W) else x


class Block(nn.Module):
    """Pre-norm transformer block; ``window`` > 0 restricts attention to window x window tiles."""

    def __init__(self, *, dim: int, mlp_ratio: float, window: int, attn: RopeAttention, eps: float) -> None:
        super().__init__()
        self.window = window
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = attn
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim=dim, hidden_dim=int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x  # (B, H, W, C)
        x = self.norm1(x)
        if self.window > 0:
            H, W = x.shape[1], x.shape[2]
            x, padded = window_partition(x, self.window)
            x = window_unpartition(self.attn(x), self.window, padded, (H, W))
        else:
            x = self.attn(x)
        return add_mlp(shortcut + x, self.norm2, self.mlp, self.mlp.fc1.out_features)


class ViT(nn.Module):
    """forward(images (B, 3, S, S)) -> (B, embed_dim, S/p, S/p) features of the last global block.

    Blocks after the last global block would not change the output and are not built.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.channel_list = [c.embed_dim]  # one output map (what ImageEncoder checks against the neck)
        self.patch_embed = PatchEmbed(patch_size=c.patch_size, embed_dim=c.embed_dim)
        # One extra slot: the pretraining class token's embedding, kept to load the checkpoint, unused.
        self.pos_embed = nn.Parameter(torch.zeros(1, c.pretrain_grid_size**2 + 1, c.embed_dim))
        self.ln_pre = nn.LayerNorm(c.embed_dim, eps=c.layer_norm_eps)
        blocks = []
        for i in range(max(c.global_blocks) + 1):
            is_global = i in c.global_blocks
            grid = c.grid_size if is_global else c.window_size
            attn = RopeAttention(dim=c.embed_dim, num_heads=c.num_heads, grid=grid,
                                 rope_scale=c.window_size / grid, rope_theta=c.rope_theta)
            window = 0 if is_global else c.window_size
            blocks.append(Block(dim=c.embed_dim, mlp_ratio=c.mlp_ratio, window=window, attn=attn,
                                eps=c.layer_norm_eps))
        self.blocks = nn.ModuleList(blocks)

    def tiled_pos_embed(self, h: int, w: int) -> torch.Tensor:
        """(1, h, w, C): the pretraining grid's embedding repeated (not interpolated) to cover h x w."""
        g = self.config.pretrain_grid_size
        grid = self.pos_embed[:, 1:].reshape(1, g, g, -1)  # drop the class-token slot
        if (h, w) == (g, g):
            return grid
        reps_h, reps_w = h // g + 1, w // g + 1
        return grid.repeat(1, reps_h, reps_w, 1)[:, :h, :w, :]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(images)  # (B, h, w, C)
        h, w = x.shape[1], x.shape[2]
        if h != self.config.grid_size or w != self.config.grid_size:
            raise ValueError(
                f"the ViT expects {self.config.image_size}x{self.config.image_size} images, "
                f"got {images.shape[-2]}x{images.shape[-1]}"
            )
        x = x + self.tiled_pos_embed(h, w)
        x = self.ln_pre(x)
        for block in self.blocks:
            x = block(x)
        return x.permute(0, 3, 1, 2)  # (B, C, h, w)
