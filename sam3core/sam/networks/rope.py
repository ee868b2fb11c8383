"""Axial rotary position encoding (RoPE) for the memory attention's 2-D token grids.

Channels of each head are rotated in consecutive pairs (2i, 2i+1). The first half of the pairs is
rotated by the token's column (x) index, the second half by its row (y) index, with frequencies
``theta ** (-4k / head_dim)``. The rotation is a complex multiplication of each pair viewed as a
complex number, with a real (cos, sin) fallback on backends without complex support (MPS).
"""

from __future__ import annotations

import torch


def axial_rope_angles(head_dim: int, end_x: int, end_y: int, theta: float = 10000.0) -> torch.Tensor:
    """Rotation angles (end_x*end_y, head_dim // 2) for a row-major end_y x end_x grid."""
    if head_dim % 4:
        raise ValueError(f"axial RoPE needs a head dim divisible by 4, got {head_dim}")
    exponents = torch.arange(0, head_dim, 4)[: head_dim // 4].float() / head_dim
    freqs = 1.0 / (theta ** exponents)  # (head_dim/4,)
    t = torch.arange(end_x * end_y, dtype=torch.float32)
    t_x = t % end_x
    t_y = torch.div(t, end_x, rounding_mode="floor")
    return torch.cat([torch.outer(t_x, freqs), torch.outer(t_y, freqs)], dim=-1)


class AxialRope:
    """Cached rotation tables of :func:`axial_rope_angles` per grid size and device."""

    def __init__(self, head_dim: int, theta: float = 10000.0) -> None:
        self.head_dim = head_dim
        self.theta = theta
        self._cache: dict[tuple[int, int, torch.device], torch.Tensor] = {}

    def table(self, end_x: int, end_y: int, device: torch.device) -> torch.Tensor:
        """Unit rotations (end_x*end_y, head_dim // 2): complex64, or real (..., 2) = (cos, sin) on MPS."""
        key = (end_x, end_y, device)
        hit = self._cache.get(key)
        if hit is None:
            angles = axial_rope_angles(self.head_dim, end_x, end_y, self.theta)
            rot = torch.polar(torch.ones_like(angles), angles)
            hit = torch.view_as_real(rot).to(device) if device.type == "mps" else rot.to(device)
            self._cache[key] = hit
        return hit


def apply_rope(x: torch.Tensor, table: torch.Tensor, repeat: int = 1) -> torch.Tensor:
    """Rotate (B, heads, N, D) by per-token rotations ``table`` (L, D/2) from :class:`AxialRope`,
    with N == L * repeat (the table is tiled ``repeat`` times along the tokens, as for the memories
    of several frames). Returns a new tensor of x's dtype."""
    B, H, N, D = x.shape
    pairs = x.float().reshape(B, H, repeat, N // repeat, D // 2, 2)
    if table.is_complex():
        out = torch.view_as_real(torch.view_as_complex(pairs) * table)
    else:
        cos, sin = table[..., 0], table[..., 1]
        x_even, x_odd = pairs[..., 0], pairs[..., 1]
        out = torch.stack((x_even * cos - x_odd * sin, x_even * sin + x_odd * cos), dim=-1)
    return out.reshape(B, H, N, D).to(x.dtype)


def apply_rope_(x: torch.Tensor, table: torch.Tensor, repeat: int = 1) -> torch.Tensor:
    """In-place :func:`apply_rope` where it can be (float32, complex table, pairs adjacent in memory, no
    autograd); else the out-of-place result. Same arithmetic either way; saves a copy of the keys
    (28,736 x 256 floats, 29 MB, per memory-attention layer)."""
    B, H, N, D = x.shape
    if not table.is_complex() or x.dtype != torch.float32 or torch.is_grad_enabled():
        return apply_rope(x, table, repeat)
    try:
        pairs = torch.view_as_complex(x.view(B, H, repeat, N // repeat, D // 2, 2))
    except RuntimeError:  # pairs not adjacent in memory (a strided view): no in-place rotation
        return apply_rope(x, table, repeat)
    pairs.mul_(table)
    return x
