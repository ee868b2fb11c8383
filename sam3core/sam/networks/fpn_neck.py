"""Feature-pyramid neck of SAM 2.1: 1x1 lateral convs to ``d_model`` channels, top-down sums on the
selected levels, and a sine position encoding per level."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import torch
import torch.nn.functional as F
from torch import nn


class FpnNeck(nn.Module):
    """forward(xs: per-stage maps, highest resolution first) -> (features, pos), both lists of
    (B, d_model, H_l, W_l) highest resolution first.

    ``backbone_channel_list`` is ordered lowest resolution first (``convs[0]`` handles the last
    trunk stage). Levels in ``fpn_top_down_levels`` add the upsampled coarser output; the others use
    their lateral features only.
    """

    def __init__(self, *, position_encoding: nn.Module, d_model: int, backbone_channel_list: list[int],
                 fpn_interp_model: str = "bilinear", fuse_type: str = "sum",
                 fpn_top_down_levels: list[int] | None = None) -> None:
        super().__init__()
        if fuse_type not in ("sum", "avg"):
            raise ValueError(f"fuse_type must be 'sum' or 'avg', got {fuse_type!r}")
        self.position_encoding = position_encoding
        self.d_model = d_model
        self.backbone_channel_list = list(backbone_channel_list)
        self.convs = nn.ModuleList()
        for dim in self.backbone_channel_list:
            lateral = nn.Sequential()
            lateral.add_module("conv", nn.Conv2d(dim, d_model, kernel_size=1))
            self.convs.append(lateral)
        self.fpn_interp_model = fpn_interp_model
        self.fuse_type = fuse_type
        levels = range(len(self.convs)) if fpn_top_down_levels is None else fpn_top_down_levels
        self.fpn_top_down_levels = list(levels)
        self._fold_cache: dict[int, tuple[tuple, tuple[torch.Tensor, torch.Tensor]]] = {}

    def forward(self, xs: list[torch.Tensor], *, pos_levels: Collection[int] | None = None,
                heads: Sequence[nn.Module | None] | None = None,
                ) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        """``pos_levels``: the levels whose position encoding is wanted (None: all); others get None.

        ``heads``: per level, a module applied to that level's output (the mask decoder's projections of
        the two fine levels). In inference a 1x1 conv head on a level that is lateral-only and feeds no
        finer level is folded into the lateral conv: one 96->32 conv instead of 96->256->32 at 256x256,
        never making the 64 MB 256-channel map.
        """
        n = len(self.convs)
        if len(xs) != n:
            raise ValueError(f"the neck expects {n} feature maps, got {len(xs)}")
        out: list[torch.Tensor] = [xs[0]] * n
        pos: list[torch.Tensor | None] = [None] * n
        prev = None
        for i in range(n - 1, -1, -1):  # coarse to fine
            head = heads[i] if heads is not None and i < len(heads) else None
            if head is not None and self._can_fold(i, head):
                out[i] = prev = F.conv2d(xs[i], *self._folded(i, head))
                if pos_levels is None or i in pos_levels:
                    pos[i] = self.position_encoding(prev).to(prev.dtype)
                continue
            lateral = self.convs[n - 1 - i](xs[i])
            if i in self.fpn_top_down_levels and prev is not None:
                top_down = F.interpolate(
                    prev.to(torch.float32), scale_factor=2.0, mode=self.fpn_interp_model,
                    align_corners=None if self.fpn_interp_model == "nearest" else False, antialias=False,
                )
                prev = lateral + top_down
                if self.fuse_type == "avg":
                    prev = prev / 2
            else:
                prev = lateral
            out[i] = prev if head is None else head(prev)
            if pos_levels is None or i in pos_levels:
                pos[i] = self.position_encoding(prev).to(prev.dtype)
        return out, pos

    def _can_fold(self, level: int, head: nn.Module) -> bool:
        lateral = self.convs[len(self.convs) - 1 - level].conv
        feeds_finer = level > 0 and level - 1 in self.fpn_top_down_levels
        return (not torch.is_grad_enabled() and level not in self.fpn_top_down_levels and not feeds_finer
                and all(isinstance(c, nn.Conv2d) and c.kernel_size == (1, 1) and c.stride == (1, 1)
                        and c.padding == (0, 0) and c.groups == 1 and c.bias is not None
                        for c in (lateral, head)))

    def _folded(self, level: int, head: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight (C_head, C_in, 1, 1) and bias of head(lateral(x)) as one conv, kept while unchanged."""
        lateral = self.convs[len(self.convs) - 1 - level].conv
        params = (lateral.weight, lateral.bias, head.weight, head.bias)
        key = tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in params)
        hit = self._fold_cache.get(level)
        if hit is not None and hit[0] == key:
            return hit[1]
        outer = head.weight[:, :, 0, 0]  # (C_head, d_model)
        weight = (outer @ lateral.weight[:, :, 0, 0])[:, :, None, None]  # (C_head, C_in, 1, 1)
        bias = outer @ lateral.bias + head.bias
        self._fold_cache[level] = (key, (weight, bias))
        return weight, bias
