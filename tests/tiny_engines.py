"""Tiny random-weight SAM engines for tests (the official module trees and key layouts, small sizes)."""

from __future__ import annotations

import torch

from sam3core.sam.network_config import tiny_test_config
from sam3core.sam.predictor import SamPredictor
from sam3core.sam.registry import build_tracker
from sam3core.sam.sam3 import sam3_tiny_test_config


def tiny_sam(name: str = "sam2.1_hiera_tiny", *, present_bias: float = 4.0, seed: int = 0) -> SamPredictor:
    """``name``: a SAM 2.1 registry name or "sam3". Random weights call every object absent; the
    object-score head's bias is forced to ``present_bias`` so masks carry real logits."""
    torch.manual_seed(seed)
    config = sam3_tiny_test_config() if name == "sam3" else tiny_test_config()
    predictor = build_tracker(name, config=config)
    with torch.no_grad():
        predictor.model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(present_bias)
    return predictor
