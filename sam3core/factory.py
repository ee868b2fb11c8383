"""Building an engine by name: the engine names, device resolution and :func:`build_engine`.

The contract every engine follows is :mod:`sam3core.engine`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from sam3core.engine import Engine
from sam3core.errors import EngineError

CLASSICAL = "classical"
SAM2_MODELS = ("sam2.1_hiera_tiny", "sam2.1_hiera_small", "sam2.1_hiera_base_plus", "sam2.1_hiera_large")
SAM3_MODELS = ("sam3",)
ENGINE_NAMES = (CLASSICAL, *SAM2_MODELS, *SAM3_MODELS)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/"auto" picks CUDA, then MPS, then CPU; an unavailable device is a clear error."""
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise EngineError(f"device {device!r} requested but CUDA is not available on this machine")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise EngineError(f"device {device!r} requested but Apple MPS is not available on this machine")
    return dev


def available_devices() -> list[str]:
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def build_engine(name: str | None = None, *, checkpoint: str | Path | None = None,
                 device: str | torch.device | None = "cpu", random_weights: bool = False) -> Engine:
    """Build an engine by registry name; with a checkpoint and no name the model is detected from it.

    ``None`` with no checkpoint gives the classical engine, which needs no weights. A SAM model needs
    its checkpoint: without one it is refused (its masks would be noise), unless ``random_weights`` asks
    for untrained weights explicitly — for tests and benchmarks only. SAM 2.1 engines built here keep
    corrections on re-propagation (see below); use :func:`sam3core.sam.registry.build_tracker` for the
    reference's exact behaviour.
    """
    if checkpoint is None and not random_weights and (name in SAM2_MODELS or name in SAM3_MODELS):
        raise EngineError(
            f"{name} needs its checkpoint file: pass --checkpoint FILE (the README's 'Model checkpoints' "
            "table says where to download each; in the app: Tracking ▸ Engine and model… ▸ Download). "
            "Without weights its masks would be noise; the classical engine needs none.")
    if name is None:
        if checkpoint is None:
            name = CLASSICAL
        else:
            from sam3core.sam.checkpoint import detect_model_name

            name = detect_model_name(checkpoint)
    if name == CLASSICAL:
        from sam3core.classical import ClassicalEngine

        # OpenCV on the CPU: a GPU asked for by name is refused rather than silently not used
        if device is not None and str(device) != "auto" and torch.device(device).type != "cpu":
            raise EngineError(f"the classical engine runs on the CPU only; device {str(device)!r} applies to "
                              "the SAM models (use --device cpu or auto, or choose a SAM model)")
        return ClassicalEngine()
    if name in SAM2_MODELS or name in SAM3_MODELS:
        from sam3core.sam.registry import build_tracker

        # sam2 1.1.0 re-tracks a corrected frame on the next propagation, silently dropping the user's
        # fix; an annotation tool must keep it, so corrections become conditioning frames (as in SAM 3).
        # Small holes are filled as by the official video predictor on a GPU (its kernel is CUDA-only).
        # build_tracker itself keeps the CPU reference's behaviour, which the parity check relies on.
        overrides = ({"add_all_frames_to_correct_as_cond": True, "fill_hole_area": 8} if name in SAM2_MODELS
                     else None)
        return build_tracker(name, checkpoint=checkpoint, device=resolve_device(device),
                             tracker_overrides=overrides)
    raise EngineError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINE_NAMES)}")
