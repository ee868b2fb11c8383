"""Multi-head attention with separate q/k/v projections (SAM layout) and its rotary variant."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sam3core.sam.networks.memory_cross_attention import low_width_rope_cross_attention, low_width_worthwhile
from sam3core.sam.networks.rope import AxialRope, apply_rope_


class Attention(nn.Module):
    """Attention whose projections may shrink the width by ``downsample_rate``.

    forward(q (B, Nq, C), k (B, Nk, Ckv), v (B, Nk, Ckv)) -> (B, Nq, C).
    """

    def __init__(self, embedding_dim: int, num_heads: int, *, downsample_rate: int = 1,
                 kv_in_dim: int | None = None) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.kv_in_dim = embedding_dim if kv_in_dim is None else kv_in_dim
        self.internal_dim = embedding_dim // downsample_rate
        self.num_heads = num_heads
        if self.internal_dim % num_heads:
            raise ValueError(f"{num_heads} heads do not divide the internal width {self.internal_dim}")
        self.q_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.k_proj = nn.Linear(self.kv_in_dim, self.internal_dim)
        self.v_proj = nn.Linear(self.kv_in_dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, embedding_dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.view(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)  # (B, heads, N, c/h)

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        b, h, n, d = x.shape
        return x.transpose(1, 2).reshape(b, n, h * d)  # (B, N, C)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        q, k, v = self._heads(self.q_proj(q)), self._heads(self.k_proj(k)), self._heads(self.v_proj(v))
        return self.out_proj(self._merge(F.scaled_dot_product_attention(q, k, v)))


class RoPEAttention(Attention):
    """Attention with axial RoPE on queries and keys (memory attention).

    Queries are a square grid of tokens. With ``rope_k_repeat`` the keys may be several frames of that
    grid stacked (the rotation table is tiled per frame); the last ``num_k_exclude_rope`` keys
    (object pointers) are left unrotated.
    forward(q (B, Nq, C), k (B, Nk, Ckv), v (B, Nk, Ckv), num_k_exclude_rope=0) -> (B, Nq, C).
    """

    def __init__(self, embedding_dim: int, num_heads: int, *, downsample_rate: int = 1,
                 kv_in_dim: int | None = None, rope_theta: float = 10000.0, rope_k_repeat: bool = False,
                 feat_sizes: tuple[int, int] = (64, 64)) -> None:
        super().__init__(embedding_dim, num_heads, downsample_rate=downsample_rate, kv_in_dim=kv_in_dim)
        self.rope = AxialRope(self.internal_dim // num_heads, rope_theta)
        self.rope_k_repeat = rope_k_repeat
        self.feat_sizes = tuple(feat_sizes)

    def _grid(self, num_tokens: int) -> tuple[int, int]:
        w, h = self.feat_sizes
        if w * h == num_tokens:
            return w, h
        side = math.isqrt(num_tokens)
        if side * side != num_tokens:
            raise ValueError(f"RoPE attention needs a square token grid, got {num_tokens} query tokens")
        return side, side

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                num_k_exclude_rope: int = 0) -> torch.Tensor:
        n_rope = k.shape[-2] - num_k_exclude_rope
        if self.rope_k_repeat and low_width_worthwhile(self, k, n_rope, q.shape[-2]):
            # memories narrower than the keys: the same attention in their own width (CPU inference)
            return low_width_rope_cross_attention(self, q, k, v, self._grid(q.shape[-2]), num_k_exclude_rope)
        return self.forward_full_width(q, k, v, num_k_exclude_rope)

    def forward_full_width(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                           num_k_exclude_rope: int = 0) -> torch.Tensor:
        """:meth:`forward` as the reference computes it: keys and values projected to full width."""
        n_rope = k.shape[-2] - num_k_exclude_rope
        q, k, v = self._heads(self.q_proj(q)), self._heads(self.k_proj(k)), self._heads(self.v_proj(v))
        n_q = q.shape[-2]
        table = self.rope.table(*self._grid(n_q), q.device)
        q = apply_rope_(q, table)
        if n_rope > 0:
            if n_rope != n_q and not self.rope_k_repeat:
                raise ValueError(f"{n_rope} rotated keys for {n_q} queries needs rope_k_repeat=True")
            if n_rope % n_q:
                raise ValueError(f"{n_rope} rotated keys are not whole frames of {n_q} tokens")
            # k is this call's own projection output, so it may be rotated in place; pointer keys stay
            k_rot = apply_rope_(k[:, :, :n_rope], table, repeat=n_rope // n_q)
            if num_k_exclude_rope == 0:
                k = k_rot
            elif k_rot.data_ptr() != k.data_ptr() or k_rot.stride() != k.stride():  # not in place
                k[:, :, :n_rope] = k_rot
        return self.out_proj(self._merge(F.scaled_dot_product_attention(q, k, v)))
