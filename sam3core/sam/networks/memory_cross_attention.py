"""The memory cross-attention evaluated in the memories' own 64-channel width (exact, CPU inference).

The tracker's cross-attention projects 64-channel memories ``z`` to 256-wide keys ``k = R_p (W_k z + b_k)``
(``R_p`` the axial RoPE rotation of the key's grid position) and values ``v = W_v z + b_v``, and the
reference evaluates softmax(q k^T / sqrt(d)) v at that width: 4096 x 28,736 x 256 multiply-adds for the
scores and as many for the values, 120 GFLOP per layer for SAM 2.1 at 1024 px (four layers: ~2/3 of a
propagated frame's arithmetic on a CPU). Two identities give the same result with fewer products (only
the float summation order changes, ~1e-7 relative):

* Values. Softmax rows sum to one, so ``P v = W_v (P z) + b_v``: the weighted sum runs over the
  64-channel memories and the projection is applied once per query (a quarter of the work).
* Keys. A RoPE pair ``i`` is rotated by the key's column (first half of the pairs) or row (second half).
  For the row-rotated half the score of query ``a`` on key ``(f, y, x)`` is
  ``Re sum_i qhat_i(a) e^{-i phi_i(y)} conj(W_i . z + b_i) = u(a, y) . [z, 1]``, with
  ``u(a, y) = Re(qhat(a) G(y))`` a (C_kv + 1)-vector per query and key row: for all keys of one row the
  128 rotated channels collapse to 65. The column-rotated half collapses the same way per key column.
  Scores are kept keys-major with keys ordered (row, frame, column), so the keys of one row and those of
  one column are each a plain strided matrix of one score block, and both halves are summed into it.

Per layer that is 65 + 65 channels for the scores and 65 for the values (the extra one gives the softmax
denominators) instead of 256 + 256, plus the per-query maps u: ~54 instead of ~120 GFLOP at 1024 px.
Object-pointer keys (not rotated) are scored at full width. Queries are processed in blocks so a block
of scores (block x keys floats) stays a few MB.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sam3core.sam.networks.rope import apply_rope_

# Scores held at once (floats, 24 MB): 192 queries x 28,672 keys for SAM 2.1 at 1024 px. Smaller blocks
# run the products as narrower, slower GEMMs; larger ones only add resident memory.
SCORE_BLOCK_ELEMENTS = 6 << 20


def low_width_worthwhile(attn: nn.Module, k_in: torch.Tensor, n_rope: int, n_q: int) -> bool:
    """Whether :func:`low_width_rope_cross_attention` applies and saves work for this call."""
    head_dim = attn.internal_dim // attn.num_heads
    return (k_in.device.type == "cpu" and k_in.dtype == torch.float32 and not torch.is_grad_enabled()
            and attn.kv_in_dim + 1 < head_dim // 2 and head_dim % 4 == 0
            and n_rope > 0 and n_rope % n_q == 0)


def _score_maps(weight: torch.Tensor, bias: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
    """Maps from rotated query reals to per-position key coefficients, for one half of the pairs.

    weight (D', C_kv) and bias (D',) the rows of one head's key projection for that half (D'/2 pairs),
    rot (P, D'/2) the unit rotations of those pairs at positions 0..P-1 (columns or rows). Returns
    (D', P * (C_kv + 1)): a rotated query's D' reals (interleaved re, im) times this gives, for every
    position p, the coefficients u(a, p) that score a key there as u(a, p) . [z, 1].
    """
    aug = torch.cat([weight, bias[:, None]], dim=1)  # (D', C_kv + 1)
    pairs = aug.view(weight.shape[0] // 2, 2, -1)  # (D'/2, 2, C_kv + 1): (re, im) rows of each pair
    w_conj = torch.complex(pairs[:, 0], -pairs[:, 1])  # conj(W_i) (D'/2, C_kv + 1)
    g = rot.conj()[:, :, None] * w_conj[None]  # (P, D'/2, C_kv + 1): e^{-i phi_i(p)} conj(W_i)
    # Re(qhat g) = q_re g_re - q_im g_im: interleave the two real planes along the pair axis
    real = torch.stack([g.real, -g.imag], dim=2)  # (P, D'/2, 2, C_kv + 1)
    return real.reshape(g.shape[0], weight.shape[0], -1).permute(1, 0, 2).reshape(weight.shape[0], -1)


def low_width_rope_cross_attention(attn: nn.Module, q_in: torch.Tensor, k_in: torch.Tensor,
                                   v_in: torch.Tensor, grid: tuple[int, int],
                                   num_k_exclude_rope: int = 0) -> torch.Tensor:
    """RoPE cross-attention of :class:`~sam3core.sam.networks.attention.RoPEAttention` ``attn``, evaluated
    as the module docstring explains.

    q_in (B, Nq, C) queries on a ``grid`` = (W, H) token grid (row-major), k_in / v_in (B, Nk, C_kv)
    key / value inputs whose first Nk - num_k_exclude_rope tokens are whole frames of that grid and the
    rest unrotated pointer tokens. Returns (B, Nq, C), as ``attn.forward`` does.
    """
    heads = attn.num_heads
    d = attn.internal_dim // heads
    table = attn.rope.table(grid[0], grid[1], q_in.device)  # (Nq, D/2) complex unit rotations
    q_all = attn.q_proj(q_in)  # (B, Nq, heads * D)
    outputs = []
    for b in range(q_in.shape[0]):
        keys = _MemoryKeys(k_in[b], v_in[b], grid, k_in.shape[1] - num_k_exclude_rope)
        head_out = []
        for h in range(heads):
            rows = slice(h * d, (h + 1) * d)
            q = q_all[b:b + 1, :, rows].unsqueeze(1).contiguous()  # (1, 1, Nq, D)
            q = apply_rope_(q, table)[0, 0].mul_(1.0 / math.sqrt(d))  # (Nq, D) rotated and scaled
            pooled = keys.attend(q, attn.k_proj.weight[rows], attn.k_proj.bias[rows], table)  # (Nq, C_kv)
            # rows of the softmax sum to one, so the value projection's bias passes through unchanged
            head_out.append(torch.addmm(attn.v_proj.bias[rows], pooled, attn.v_proj.weight[rows].t()))
        outputs.append(torch.cat(head_out, dim=1) if heads > 1 else head_out[0])
    return attn.out_proj(torch.stack(outputs))  # (B, Nq, C)


class _MemoryKeys:
    """One object's memory tokens laid out for :meth:`attend`.

    Spatial keys are ordered (row, frame, column); every layout carries a constant 1 channel so the key
    bias and the softmax denominators come out of the same products.
    """

    def __init__(self, z: torch.Tensor, values: torch.Tensor, grid: tuple[int, int], n_rope: int) -> None:
        width, height = grid
        c_kv = z.shape[1]
        frames = n_rope // (width * height)
        self.width, self.height, self.frames, self.c_kv = width, height, frames, c_kv
        z_sp = z[:n_rope].view(frames, height, width, c_kv).permute(1, 0, 2, 3)  # (H, F, W, C_kv)
        z_aug = torch.cat([z_sp, z_sp.new_ones(height, frames, width, 1)], dim=3)  # (H, F, W, C_kv + 1)
        self.z_rows = z_aug.view(height, frames * width, c_kv + 1)  # (H, F*W, C_kv + 1)
        self.z_cols = z_aug.view(height * frames, width, c_kv + 1).transpose(0, 1).contiguous()  # (W, H*F, .)
        self.z_ptr = z[n_rope:]  # (P, C_kv) pointer keys' inputs, not rotated
        v_sp = values[:n_rope].view(frames, height, width, c_kv).permute(1, 0, 2, 3)
        self.v_sp = torch.cat([v_sp, v_sp.new_ones(height, frames, width, 1)], dim=3).view(n_rope, c_kv + 1)
        v_ptr = values[n_rope:]
        self.v_ptr = torch.cat([v_ptr, v_ptr.new_ones(v_ptr.shape[0], 1)], dim=1)  # (P, C_kv + 1)
        self.n_rope = n_rope

    def attend(self, q: torch.Tensor, w_k: torch.Tensor, b_k: torch.Tensor,
               table: torch.Tensor) -> torch.Tensor:
        """Softmax-weighted mean of the memory values (Nq, C_kv) for rotated, scaled queries q (Nq, D),
        keys projected by one head's w_k (D, C_kv), b_k (D,) and rotated by ``table`` (Nq, D/2)."""
        width, height, frames, c_kv = self.width, self.height, self.frames, self.c_kv
        d = q.shape[1]
        half = d // 2
        col_maps = _score_maps(w_k[:half], b_k[:half], table[:width, : d // 4])  # (D/2, W * (C_kv + 1))
        row_maps = _score_maps(w_k[half:], b_k[half:], table[::width, d // 4:])  # (D/2, H * (C_kv + 1))
        k_ptr = torch.addmm(b_k, self.z_ptr, w_k.t()) if len(self.z_ptr) else None  # (P, D)
        n_q = q.shape[0]
        block = max(32, SCORE_BLOCK_ELEMENTS // self.n_rope // 32 * 32)
        out = q.new_empty(n_q, c_kv + 1)
        # Scores are kept keys-major, (keys, queries): the keys of one column and those of one row are
        # then each a plain strided matrix of the block, written in place by batched products.
        scores = q.new_empty(self.n_rope, min(block, n_q))
        for start in range(0, n_q, block):
            qb = q[start:start + block]  # (c, D)
            c = qb.shape[0]
            s = scores[:, :c]  # (keys, c)
            u_col = torch.mm(qb[:, :half], col_maps).view(c, width, c_kv + 1).permute(1, 2, 0)  # (W, ., c)
            u_row = torch.mm(qb[:, half:], row_maps).view(c, height, c_kv + 1).permute(1, 2, 0)  # (H, ., c)
            s.view(height * frames, width, c).transpose(0, 1).baddbmm_(self.z_cols, u_col, beta=0.0)
            s.view(height, frames * width, c).baddbmm_(self.z_rows, u_row)
            peak = s.amax(dim=0, keepdim=True)  # (1, c)
            s_ptr = None
            if k_ptr is not None:
                s_ptr = k_ptr @ qb.t()  # (P, c)
                peak = torch.maximum(peak, s_ptr.amax(dim=0, keepdim=True))
            s.sub_(peak).exp_()
            ob = torch.mm(s.t(), self.v_sp, out=out[start:start + c])  # (c, C_kv + 1); last: sum of weights
            if s_ptr is not None:
                ob.addmm_(s_ptr.sub_(peak).exp_().t(), self.v_ptr)
        return out[:, :c_kv] / out[:, c_kv:]
