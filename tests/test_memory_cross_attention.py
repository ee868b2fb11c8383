"""The memory cross-attention evaluated in the memories' width must equal the full-width reference form."""

from __future__ import annotations

import pytest
import torch

import sam3core.sam.networks.attention as attention_module
from sam3core.sam.networks.attention import RoPEAttention
from sam3core.sam.networks.memory_attention import MemoryAttention, MemoryAttentionLayer
from sam3core.sam.networks.memory_cross_attention import low_width_worthwhile


def _cross(width: int, height: int, *, heads: int = 1, kv: int = 64, dim: int = 256) -> RoPEAttention:
    attn = RoPEAttention(dim, heads, kv_in_dim=kv, rope_k_repeat=True, feat_sizes=(width, height)).eval()
    with torch.no_grad():  # default init leaves biases near zero; the bias paths must matter
        for param in attn.parameters():
            param.add_(0.05 * torch.randn_like(param))
    return attn


@pytest.mark.parametrize(("width", "height", "frames", "pointers", "heads", "batch", "kv"), [
    (8, 8, 3, 0, 1, 1, 64),     # SAM 2.1 widths, no object pointers
    (8, 8, 7, 36, 1, 1, 64),    # a full bank: 7 frames + 9 pointers of 4 tokens
    (12, 8, 2, 4, 1, 2, 64),    # a grid wider than tall, two objects at once
    (6, 10, 3, 8, 2, 1, 16),    # taller than wide, two heads of 128
    (8, 8, 1, 0, 4, 1, 8),      # one memory frame, four heads of 64
])
def test_low_width_equals_full_width(width: int, height: int, frames: int, pointers: int, heads: int,
                                     batch: int, kv: int) -> None:
    torch.manual_seed(width * 100 + frames * 10 + heads)
    attn = _cross(width, height, heads=heads, kv=kv)
    n_q = width * height
    queries = torch.randn(batch, n_q, 256)
    memory = torch.randn(batch, frames * n_q + pointers, kv)
    keys = memory + torch.randn_like(memory)  # the layer adds position encodings to the keys only
    with torch.inference_mode():
        assert low_width_worthwhile(attn, keys, frames * n_q, n_q)
        fast = attn(queries, keys, memory, num_k_exclude_rope=pointers)
        full = attn.forward_full_width(queries, keys, memory, num_k_exclude_rope=pointers)
    assert fast.shape == full.shape == (batch, n_q, 256)
    assert full.abs().max() > 0.1
    assert torch.allclose(fast, full, atol=2e-6, rtol=1e-5), float((fast - full).abs().max())


def test_low_width_blocks_of_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several query blocks, the last one partial, give the same result as one block."""
    import sam3core.sam.networks.memory_cross_attention as low_width

    torch.manual_seed(3)
    attn = _cross(10, 10)
    queries, memory = torch.randn(1, 100, 256), torch.randn(1, 2 * 100 + 4, 64)
    with torch.inference_mode():
        full = attn.forward_full_width(queries, memory, memory, num_k_exclude_rope=4)
        monkeypatch.setattr(low_width, "SCORE_BLOCK_ELEMENTS", 200 * 40)  # blocks of 32 queries: 32+32+32+4
        blocked = attn(queries, memory, memory, num_k_exclude_rope=4)
    assert torch.allclose(blocked, full, atol=2e-6, rtol=1e-5)


def test_low_width_only_where_it_applies() -> None:
    attn = _cross(8, 8)
    keys = torch.randn(1, 3 * 64, 64)
    with torch.inference_mode():
        assert low_width_worthwhile(attn, keys, 3 * 64, 64)
        assert not low_width_worthwhile(attn, keys.double(), 3 * 64, 64)  # other dtypes: reference form
        assert not low_width_worthwhile(attn, keys, 3 * 64 - 1, 64)  # not whole frames
    assert not low_width_worthwhile(attn, keys, 3 * 64, 64)  # autograd on: reference form
    narrow = _cross(8, 8, kv=64, dim=128)  # keys of 128: the memories' width saves nothing
    with torch.inference_mode():
        assert not low_width_worthwhile(narrow, keys, 3 * 64, 64)


def test_memory_attention_stack_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two SAM 2.1-width layers (self + cross attention, FFN): same output through either form."""
    torch.manual_seed(5)
    side, dim, mem = 8, 256, 64

    def layer() -> MemoryAttentionLayer:
        return MemoryAttentionLayer(
            d_model=dim, dim_feedforward=512,
            self_attention=RoPEAttention(dim, 1, feat_sizes=(side, side)),
            cross_attention=RoPEAttention(dim, 1, kv_in_dim=mem, rope_k_repeat=True, feat_sizes=(side, side)))

    stack = MemoryAttention(d_model=dim, pos_enc_at_input=True, layers=[layer(), layer()]).eval()
    curr, curr_pos = torch.randn(side * side, 1, dim), torch.randn(side * side, 1, dim)
    memory = torch.randn(4 * side * side + 16, 1, mem)
    memory_pos = torch.randn_like(memory)
    with torch.inference_mode():
        fast = stack(curr, memory, curr_pos, memory_pos, num_obj_ptr_tokens=16)
        monkeypatch.setattr(attention_module, "low_width_worthwhile", lambda *args: False)
        full = stack(curr, memory, curr_pos, memory_pos, num_obj_ptr_tokens=16)
    assert torch.allclose(fast, full, atol=1e-5, rtol=1e-5), float((fast - full).abs().max())
