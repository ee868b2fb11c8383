"""Optional: SAM 3's tracker memory attention against Meta's sam3==0.1.4 with the same random weights.

Skips unless ``sam3`` is importable (run it in the scratch reference venv, docs/parity_sam3.md). The
memory attention is where SAM 3 shares the low-width cross-attention of SAM 2.1
(sam3core/sam/networks/memory_cross_attention.py); a small token grid keeps this fast, and the reference
recomputes its RoPE table for it as ours does.
"""

from __future__ import annotations

import warnings

import pytest
import torch

pytest.importorskip("sam3")

pytestmark = pytest.mark.parity


def test_sam3_memory_attention_matches_reference() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reference warns about CUDA autocast on import
        from sam3.model_builder import _create_tracker_transformer

    import sam3core.sam.networks.attention as attention_module
    from sam3core.sam.networks.build import build_memory_attention
    from sam3core.sam.sam3 import SAM3_CONFIG, heads_modules_config

    torch.manual_seed(0)
    ref = _create_tracker_transformer().encoder.eval()
    with torch.no_grad():  # biases and scales the reference initialises to constants must matter
        for param in ref.parameters():
            param.add_(0.02 * torch.randn_like(param))
    ours = build_memory_attention(heads_modules_config(SAM3_CONFIG)).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)

    side, frames, pointers = 16, 3, 4 * 4
    n_q = side * side
    curr, curr_pos = torch.randn(n_q, 1, 256), torch.randn(n_q, 1, 256)
    memory = torch.randn(frames * n_q + pointers, 1, 64)
    memory_pos = torch.randn_like(memory)
    calls = []
    low_width = attention_module.low_width_rope_cross_attention

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return low_width(*args, **kwargs)

    with torch.inference_mode(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(attention_module, "low_width_rope_cross_attention", counted)
        expected = ref(src=[curr], prompt=memory, src_key_padding_mask=[None], src_pos=[curr_pos],
                       prompt_pos=memory_pos, feat_sizes=[(side, side)],
                       num_obj_ptr_tokens=pointers)["memory"]
        got = ours(curr=[curr], memory=memory, curr_pos=[curr_pos], memory_pos=memory_pos,
                   num_obj_ptr_tokens=pointers)
    assert len(calls) == 4  # every layer's cross-attention took the low-width path
    assert got.shape == expected.shape
    assert float(expected.abs().max()) > 1.0
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-5)
