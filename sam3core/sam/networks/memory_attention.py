"""Memory attention: conditions the current frame's features on memories of other frames.

Inputs are sequence-first, as the tracker assembles them: tokens (L, B, C).
"""

from __future__ import annotations

import torch
from torch import nn

from sam3core.sam.networks.attention import RoPEAttention
from sam3core.sam.networks.common import activation_fn


class MemoryAttentionLayer(nn.Module):
    """Pre-norm RoPE self-attention, RoPE cross-attention to memories, FFN; batch-first (B, L, C)."""

    def __init__(self, *, d_model: int, self_attention: nn.Module, cross_attention: nn.Module,
                 dim_feedforward: int, activation: str = "relu", pos_enc_at_attn: bool = False,
                 pos_enc_at_cross_attn_keys: bool = True,
                 pos_enc_at_cross_attn_queries: bool = False) -> None:
        super().__init__()
        self.d_model = d_model
        self.dim_feedforward = dim_feedforward
        self.self_attn = self_attention
        self.cross_attn_image = cross_attention
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.activation_name = activation
        self.activation = activation_fn(activation)
        self.pos_enc_at_attn = pos_enc_at_attn
        self.pos_enc_at_cross_attn_queries = pos_enc_at_cross_attn_queries
        self.pos_enc_at_cross_attn_keys = pos_enc_at_cross_attn_keys

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor, pos: torch.Tensor | None = None,
                query_pos: torch.Tensor | None = None, num_k_exclude_rope: int = 0) -> torch.Tensor:
        """tgt (B, HW, C), memory (B, M, C_mem), pos (B, M, C_mem), query_pos (B, HW, C) -> (B, HW, C)."""
        x = self.norm1(tgt)
        q = x + query_pos if self.pos_enc_at_attn else x
        tgt = tgt + self.self_attn(q, q, x)

        x = self.norm2(tgt)
        q = x + query_pos if self.pos_enc_at_cross_attn_queries else x
        k = memory + pos if self.pos_enc_at_cross_attn_keys else memory
        if isinstance(self.cross_attn_image, RoPEAttention):
            tgt = tgt + self.cross_attn_image(q, k, memory, num_k_exclude_rope=num_k_exclude_rope)
        else:
            if num_k_exclude_rope:
                raise ValueError("num_k_exclude_rope needs a RoPE cross-attention")
            tgt = tgt + self.cross_attn_image(q, k, memory)

        x = self.norm3(tgt)
        return tgt + self.linear2(self.activation(self.linear1(x)))


class MemoryAttention(nn.Module):
    """forward(curr (HW, B, C), memory (M, B, C_mem), curr_pos (HW, B, C), memory_pos (M, B, C_mem),
    num_obj_ptr_tokens=0) -> (HW, B, C).

    The last ``num_obj_ptr_tokens`` memory tokens are object pointers: attended to but not rotated.
    """

    def __init__(self, *, d_model: int, pos_enc_at_input: bool, layers: list[nn.Module]) -> None:
        super().__init__()
        self.d_model = d_model
        self.layers = nn.ModuleList(layers)
        self.num_layers = len(self.layers)
        self.norm = nn.LayerNorm(d_model)
        self.pos_enc_at_input = pos_enc_at_input

    def forward(self, curr: torch.Tensor | list[torch.Tensor], memory: torch.Tensor,
                curr_pos: torch.Tensor | list[torch.Tensor] | None = None,
                memory_pos: torch.Tensor | None = None,
                num_obj_ptr_tokens: int = 0) -> torch.Tensor:
        if isinstance(curr, list):
            if not isinstance(curr_pos, list) or len(curr) != 1 or len(curr_pos) != 1:
                raise ValueError("list inputs must hold exactly one level of features and encodings")
            curr, curr_pos = curr[0], curr_pos[0]
        if curr.shape[1] != memory.shape[1]:
            raise ValueError(f"batch mismatch: curr has {curr.shape[1]}, memory has {memory.shape[1]}")
        output = curr
        if self.pos_enc_at_input and curr_pos is not None:
            output = output + 0.1 * curr_pos
        output = output.transpose(0, 1)  # (B, HW, C)
        query_pos = curr_pos.transpose(0, 1) if curr_pos is not None else None
        memory_b = memory.transpose(0, 1)  # (B, M, C_mem)
        memory_pos_b = memory_pos.transpose(0, 1) if memory_pos is not None else None
        for layer in self.layers:
            output = layer(output, memory_b, pos=memory_pos_b, query_pos=query_pos,
                           num_k_exclude_rope=num_obj_ptr_tokens)
        return self.norm(output).transpose(0, 1)  # (HW, B, C)
