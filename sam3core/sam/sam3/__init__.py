"""SAM 3's video tracker: configuration (config.py), ``sam3.pt`` key map and loader (keys.py), the ViT
trunk (vit.py), the tracker's FPN neck (neck.py) and the networks (networks.py).

Importing this package registers ``"sam3"`` with :mod:`sam3core.sam.registry`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sam3core.sam.predictor import SamPredictor
from sam3core.sam.registry import TrackerSpec, build_tracker, register_tracker
from sam3core.sam.sam3.config import (
    SAM3_CONFIG,
    SAM3_MEAN,
    SAM3_STD,
    Sam3Config,
    notebook_preprocess,
    sam3_tiny_test_config,
    sam3_tracker_settings,
)
from sam3core.sam.sam3.keys import (
    TRACKER_NECK_PREFIX,
    TRACKER_PREFIX,
    TRUNK_PREFIX,
    VISION_PREFIX,
    load_sam3_checkpoint,
    looks_like_sam3,
    official_key,
    tracker_key,
    tracker_state_dict,
)
from sam3core.sam.sam3.networks import (
    Sam3MaskDownSampler,
    Sam3TrackerModel,
    build_sam3_image_encoder,
    build_sam3_tracker_model,
    heads_modules_config,
)
from sam3core.sam.tracker import TrackerModel

__all__ = [
    "SAM3_CONFIG", "SAM3_MEAN", "SAM3_STD", "TRACKER_NECK_PREFIX", "TRACKER_PREFIX", "TRUNK_PREFIX",
    "VISION_PREFIX", "Sam3Config", "Sam3MaskDownSampler", "Sam3TrackerModel", "heads_modules_config",
    "build_sam3_image_encoder", "build_sam3_tracker", "build_sam3_tracker_model", "load_sam3_checkpoint",
    "looks_like_sam3", "notebook_preprocess", "official_key", "sam3_tiny_test_config",
    "sam3_tracker_settings", "tracker_key", "tracker_state_dict",
]


def _build_for_registry(config: Any = None) -> TrackerModel:
    return build_sam3_tracker_model(config)


register_tracker("sam3", TrackerSpec(build=_build_for_registry, load=load_sam3_checkpoint,
                                     description="SAM 3 tracker (ViT-L trunk, 1008 px)"))


def build_sam3_tracker(checkpoint: str | Path | None = None, device: str | torch.device = "cpu",
                       config: Sam3Config | None = None, **predictor_options: Any) -> SamPredictor:
    """The SAM 3 video predictor (``build_tracker("sam3", ...)``); random weights without a checkpoint."""
    return build_tracker("sam3", checkpoint=checkpoint, device=device, config=config, **predictor_options)
