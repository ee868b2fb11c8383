"""Small building blocks shared by the SAM 2.1 modules: an MLP and a channels-first LayerNorm."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Activations made at once in inference by blocked computations (4M floats, 16 MB): at full size the
# first Hiera stage's MLP hidden layer is 65536 tokens x 384 channels, 100 MB (twice over with the
# activation), and SAM 3's ViT MLP 5184 x 4736, 98 MB. Blocks this size are recycled by the heap
# (sam3core.runtime.heap) instead of being mapped and faulted in anew for every call.
BLOCK_ELEMENTS = 4 << 20


def add_mlp(x: torch.Tensor, norm: nn.Module, mlp: nn.Module, hidden: int) -> torch.Tensor:
    """x + mlp(norm(x)) for channels-last tokens (..., C); in inference a block of tokens at a time,
    added in place into ``x``, which must be the caller's own fresh tensor. ``hidden``: the MLP's width."""
    tokens = x.numel() // x.shape[-1]
    if torch.is_grad_enabled() or tokens * hidden <= BLOCK_ELEMENTS:
        return x + mlp(norm(x))
    x = x.contiguous()  # a sum may keep an input's channels-last strides
    flat = x.view(tokens, x.shape[-1])
    rows = max(1, BLOCK_ELEMENTS // hidden)
    for start in range(0, tokens, rows):
        part = flat[start:start + rows]
        part += mlp(norm(part))
    return x


class MLP(nn.Module):
    """``num_layers`` linear layers with an activation between them (none after the last).

    Parameters live in ``layers.{i}.weight/bias`` so checkpoints of the official layout load unchanged
    (the tracker's ``obj_ptr_proj`` and the decoder's heads are instances of this class).
    Input (..., input_dim) -> output (..., output_dim).
    """

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int, *,
                 activation: type[nn.Module] = nn.ReLU, sigmoid_output: bool = False) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"an MLP needs at least one layer, got num_layers={num_layers}")
        self.num_layers = num_layers
        dims_in = [input_dim] + [hidden_dim] * (num_layers - 1)
        dims_out = [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(dims_in, dims_out))
        self.act = activation()
        self.sigmoid_output = sigmoid_output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = self.num_layers - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < last:
                x = self.act(x)
        if self.sigmoid_output:
            x = torch.sigmoid(x)
        return x


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of a (B, C, H, W) tensor, with a per-channel affine."""

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)  # (B, 1, H, W)
        var = (x - mean).pow(2).mean(1, keepdim=True)  # biased variance, as the checkpoints were trained
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


def activation_fn(name: str):
    """Functional activation by name (``relu``, ``gelu``), as the memory-attention FFN configures it."""
    table = {"relu": F.relu, "gelu": F.gelu}
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(table)}")
    return table[name]
