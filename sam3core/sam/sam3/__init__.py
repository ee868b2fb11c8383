"""SAM 3's video tracker: configuration (config.py), ``sam3.pt`` key map and loader (keys.py), the ViT
trunk (vit.py), the tracker's FPN neck (neck.py) and the networks (networks.py).

The registry (:mod:`sam3core.sam.registry`) builds it as ``"sam3"``; nothing here imports the registry.
"""

from __future__ import annotations

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

__all__ = [
    "SAM3_CONFIG", "SAM3_MEAN", "SAM3_STD", "TRACKER_NECK_PREFIX", "TRACKER_PREFIX", "TRUNK_PREFIX",
    "VISION_PREFIX", "Sam3Config", "Sam3MaskDownSampler", "Sam3TrackerModel", "heads_modules_config",
    "build_sam3_image_encoder", "build_sam3_tracker_model", "load_sam3_checkpoint",
    "looks_like_sam3", "notebook_preprocess", "official_key", "sam3_tiny_test_config",
    "sam3_tracker_settings", "tracker_key", "tracker_state_dict",
]
