"""Registry and builders of the SAM trackers.

``build_tracker("sam2.1_hiera_tiny", checkpoint=..., device=...)`` returns the video predictor.

``TRACKERS`` maps a registry name to a :class:`TrackerSpec` (how to build the networks, how to load an
official checkpoint into them). The SAM 2.1 sizes and ``"sam3"`` are registered here (SAM 3's networks
are imported the first time they are built: :mod:`sam3core.sam.sam3` never imports this module); other
families add themselves with :func:`register_tracker`.

``checkpoint=None`` gives randomly initialised weights: the outputs are meaningless, which is only useful
for tests and benchmarks of speed and memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sam3core.sam.network_config import SAM2_CONFIGS, Sam2Config
from sam3core.sam.predictor import SamPredictor
from sam3core.sam.tracker import TrackerModel
from sam3core.sam.tracking_config import SAM2_TRACKER_CONFIG, PreprocessConfig, TrackerConfig

__all__ = ["TRACKERS", "PreprocessConfig", "TrackerConfig", "TrackerSpec", "build_sam2_tracker_model",
           "build_sam3_tracker", "build_tracker", "register_tracker"]


@dataclass(frozen=True)
class TrackerSpec:
    """How to make one registered tracker."""

    # module config (None: the registered size) -> randomly initialised model on the CPU
    build: Callable[[Any], TrackerModel]
    # strict load of an official checkpoint file into the model; raises CheckpointError
    load: Callable[[TrackerModel, Path], None]
    description: str = ""


def sam2_tracker_config(modules: Sam2Config, base: TrackerConfig = SAM2_TRACKER_CONFIG) -> TrackerConfig:
    """SAM 2.1 tracking behaviour at the image size of ``modules``."""
    if modules.image_size == base.image_size and modules.backbone_stride == base.backbone_stride:
        return base
    preprocess = dataclasses.replace(base.preprocess, image_size=modules.image_size)
    return dataclasses.replace(base, image_size=modules.image_size, backbone_stride=modules.backbone_stride,
                               preprocess=preprocess)


def build_sam2_tracker_model(modules_config: Sam2Config,
                             tracker_config: TrackerConfig | None = None) -> TrackerModel:
    """Randomly initialised SAM 2.1 tracker with the networks of ``modules_config``."""
    from sam3core.sam.networks import MLP, build_sam2_modules

    config = tracker_config or sam2_tracker_config(modules_config)
    if config.image_size != modules_config.image_size:
        raise ValueError(f"tracker image size {config.image_size} differs from the networks' "
                         f"{modules_config.image_size}")
    parts = build_sam2_modules(modules_config)
    hidden = modules_config.hidden_dim
    model = TrackerModel(image_encoder=parts.image_encoder, memory_attention=parts.memory_attention,
                         memory_encoder=parts.memory_encoder, prompt_encoder=parts.sam_prompt_encoder,
                         mask_decoder=parts.sam_mask_decoder, obj_ptr_proj=MLP(hidden, hidden, hidden, 3),
                         config=config, hidden_dim=hidden, mem_dim=modules_config.mem_dim)
    return model.eval()


def load_sam2_checkpoint(model: TrackerModel, path: Path, name: str = "SAM 2.1") -> None:
    """Strictly load an official ``sam2.1_hiera_*.pt`` (``{"model": state_dict}``) into ``model``."""
    from sam3core.sam.checkpoint import load_state_dict_strict, read_checkpoint

    load_state_dict_strict(model, read_checkpoint(path), path, expected=name)


def _sam2_spec(name: str) -> TrackerSpec:
    def build(modules_config: Any = None) -> TrackerModel:
        return build_sam2_tracker_model(modules_config or SAM2_CONFIGS[name])

    def load(model: TrackerModel, path: Path) -> None:
        load_sam2_checkpoint(model, path, name)

    return TrackerSpec(build=build, load=load, description=f"SAM 2.1 {name.split('_')[-1]}")


def _build_sam3(config: Any = None) -> TrackerModel:
    from sam3core.sam.sam3.networks import build_sam3_tracker_model

    return build_sam3_tracker_model(config)


def _load_sam3(model: TrackerModel, path: Path) -> None:
    from sam3core.sam.sam3.keys import load_sam3_checkpoint

    load_sam3_checkpoint(model, path)


TRACKERS: dict[str, TrackerSpec] = {name: _sam2_spec(name) for name in SAM2_CONFIGS}
TRACKERS["sam3"] = TrackerSpec(build=_build_sam3, load=_load_sam3,
                               description="SAM 3 tracker (ViT-L trunk, 1008 px)")


def register_tracker(name: str, spec: TrackerSpec) -> None:
    """Add (or replace) a registry entry; model families outside this module call this on import."""
    TRACKERS[name] = spec


def _spec(name: str) -> TrackerSpec:
    if name not in TRACKERS:
        raise ValueError(f"unknown tracker {name!r}; choose one of: {', '.join(sorted(TRACKERS))}")
    return TRACKERS[name]


def build_tracker(name: str | None, checkpoint: str | Path | None = None, device: str | torch.device = "cpu",
                  config: Any = None, tracker_overrides: dict[str, Any] | None = None,
                  **predictor_options: Any) -> SamPredictor:
    """The video predictor of a registered tracker.

    ``name=None`` detects the model from ``checkpoint``; with both given, the checkpoint must be of that
    model (a mismatch is a :class:`~sam3core.sam.checkpoint.CheckpointError` naming both); loading is strict
    (every tensor used, none missing, shapes equal) and all-or-nothing. Without a checkpoint
    the weights are random (tests and benchmarks only). ``config`` overrides the networks' configuration
    (e.g. :func:`sam3core.sam.network_config.tiny_test_config`); ``tracker_overrides`` replace fields of the
    tracking behaviour (:class:`TrackerConfig`), e.g. ``{"add_all_frames_to_correct_as_cond": True}`` so
    that a correction survives re-propagation with SAM 2.1; ``predictor_options`` go to :class:`SamPredictor`.
    """
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and (name is None or config is None):
        # with custom networks (``config``) the strict load below is the only possible check
        from sam3core.sam.checkpoint import CheckpointError, detect_model_name

        detected = detect_model_name(path)
        if name is None:
            name = detected
        elif detected != name:
            raise CheckpointError(f"{path}: this is a {detected} checkpoint, but {name} was asked for")
    if name is None:
        raise ValueError("give a tracker name or a checkpoint to detect it from")
    spec = _spec(name)
    model = spec.build(config)
    if path is not None:
        spec.load(model, path)
    if tracker_overrides:
        known = {f.name for f in dataclasses.fields(TrackerConfig)}
        unknown = sorted(set(tracker_overrides) - known)
        if unknown:
            raise ValueError(f"unknown tracker setting(s) {', '.join(unknown)}; known: {sorted(known)}")
        model.config = dataclasses.replace(model.config, **tracker_overrides)
    model = model.to(torch.device(device)).eval()
    return SamPredictor(model, name=name, **predictor_options)


def build_sam3_tracker(checkpoint: str | Path | None = None, device: str | torch.device = "cpu",
                       config: Any = None, **predictor_options: Any) -> SamPredictor:
    """The SAM 3 video predictor (``build_tracker("sam3", ...)``); random weights without a checkpoint.
    ``config``: a :class:`~sam3core.sam.sam3.config.Sam3Config` (default the full size)."""
    return build_tracker("sam3", checkpoint=checkpoint, device=device, config=config, **predictor_options)
