"""The official ``sam3.pt`` key map and the loader of the tracker's tensors from it.

The file holds the whole SAM 3 model; the tracker needs the detector's ViT trunk
(``detector.backbone.vision_backbone.trunk.*``), the tracker's FPN branch
(``detector.backbone.vision_backbone.sam2_convs.{0,1,2}.*``) and ``tracker.*``. Everything else is
left in the (memory-mapped) file and never read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from sam3core.sam.sam3.neck import TRACKER_SCALES
from sam3core.sam.tracker import TrackerModel

# Prefixes of the official file.
VISION_PREFIX = "detector.backbone.vision_backbone."
TRUNK_PREFIX = VISION_PREFIX + "trunk."
TRACKER_NECK_PREFIX = VISION_PREFIX + "sam2_convs."
TRACKER_PREFIX = "tracker."
# Renames inside ``tracker.*``: SAM 3 keeps SAM 2.1's modules under other attribute names.
_TRACKER_RENAMES = (("transformer.encoder.", "memory_attention."), ("maskmem_backbone.", "memory_encoder."))
# SAM 3's two-way transformer keeps its MLP as ``lin1``/``lin2`` (SAM 1 style); ours as ``layers.0``/``1``.
_MLP_OFFICIAL = re.compile(r"^(sam_mask_decoder\.transformer\.layers\.\d+\.mlp\.)lin([12])\.")
_MLP_OURS = re.compile(r"^(sam_mask_decoder\.transformer\.layers\.\d+\.mlp\.)layers\.([01])\.")


def tracker_key(official: str) -> str | None:
    """Name in our tracker of an official ``sam3.pt`` tensor, or None when the tracker does not use it
    (text encoder, detector heads, the detector's FPN branch, the discarded fourth tracker FPN level,
    and the ViT's stored RoPE tables, which are derived from the configuration)."""
    if official.startswith(TRUNK_PREFIX):
        rest = official[len(TRUNK_PREFIX):]
        if rest.endswith("attn.freqs_cis"):
            return None
        return "image_encoder.trunk." + rest
    if official.startswith(TRACKER_NECK_PREFIX):
        rest = official[len(TRACKER_NECK_PREFIX):]
        level = rest.split(".", 1)[0]
        if not level.isdigit() or int(level) >= len(TRACKER_SCALES):
            return None
        return "image_encoder.neck.convs." + rest
    if official.startswith(TRACKER_PREFIX):
        rest = official[len(TRACKER_PREFIX):]
        for old, new in _TRACKER_RENAMES:
            if rest.startswith(old):
                return new + rest[len(old):]
        return _MLP_OFFICIAL.sub(lambda m: f"{m.group(1)}layers.{int(m.group(2)) - 1}.", rest)
    return None


def official_key(ours: str) -> str:
    """Inverse of :func:`tracker_key` for the tensors our tracker holds."""
    if ours.startswith("image_encoder.trunk."):
        return TRUNK_PREFIX + ours[len("image_encoder.trunk."):]
    if ours.startswith("image_encoder.neck.convs."):
        return TRACKER_NECK_PREFIX + ours[len("image_encoder.neck.convs."):]
    for old, new in _TRACKER_RENAMES:
        if ours.startswith(new):
            return TRACKER_PREFIX + old + ours[len(new):]
    return TRACKER_PREFIX + _MLP_OURS.sub(lambda m: f"{m.group(1)}lin{int(m.group(2)) + 1}.", ours)


def looks_like_sam3(keys: object) -> bool:
    """Whether a state dict's key set has SAM 3's layout (a ViT trunk under the detector + a tracker)."""
    names = list(keys)  # type: ignore[call-overload]
    return any(k.startswith(TRUNK_PREFIX) for k in names) and any(k.startswith(TRACKER_PREFIX) for k in names)


def tracker_state_dict(official: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors the tracker uses, under our names (everything else in the file is skipped)."""
    mapped: dict[str, torch.Tensor] = {}
    for key, value in official.items():
        ours = tracker_key(key)
        if ours is not None:
            mapped[ours] = value
    return mapped


def load_sam3_checkpoint(model: TrackerModel, path: Path) -> None:
    """Copy the tracker's tensors of an official ``sam3.pt`` into ``model``; every tensor of the model must
    come from the file with the right shape, otherwise :class:`~sam3core.sam.checkpoint.CheckpointError`
    naming the file and the official names of the offending tensors (the model is left untouched)."""
    from sam3core.sam.checkpoint import CheckpointError, read_checkpoint

    path = Path(path)
    official = read_checkpoint(path)  # memory-mapped: tensors the tracker skips are never read
    if not looks_like_sam3(official.keys()):
        raise CheckpointError(
            f"{path}: not a SAM 3 checkpoint (expected '{TRUNK_PREFIX}*' and '{TRACKER_PREFIX}*' tensors)")
    mapped = tracker_state_dict(official)
    expected = model.state_dict()
    missing = [official_key(k) for k in expected if k not in mapped]
    unknown = [official_key(k) for k in mapped if k not in expected]
    wrong = [f"{official_key(k)} {tuple(mapped[k].shape)} (expected {tuple(v.shape)})"
             for k, v in expected.items() if k in mapped and mapped[k].shape != v.shape]
    problems = []
    for label, items in (("missing", missing), ("not understood", unknown), ("wrong shape", wrong)):
        if items:
            shown = ", ".join(items[:6]) + (f" ... ({len(items)} in all)" if len(items) > 6 else "")
            problems.append(f"{label}: {shown}")
    if problems:
        raise CheckpointError(f"{path}: does not fit the SAM 3 tracker of this configuration; "
                              + "; ".join(problems))
    model.load_state_dict(mapped, strict=True)
