"""The engine contract shared by the SAM trackers and the classical (no-weights) engine, and the registry.

Every engine exposes the seed notebook's predictor API:

- ``init_state(video_path=None, *, video=None, offload_video_to_cpu=False, offload_state_to_cpu=False)``
  returns a typed session object; ``video`` may be an already open :class:`VideoSource` so the GUI and the
  engine share one decoder.
- ``add_new_points_or_box(inference_state, frame_idx, obj_id, points=None, labels=None, box=None,
  clear_old_points=True, rel_coordinates=True)`` and ``add_new_points(...)`` return
  ``(frame_idx, obj_ids, low_res_masks, video_res_masks)``; masks are float logits tensors,
  ``video_res_masks`` of shape (N_obj, 1, H, W) in original video pixels, positive = object.
- ``add_new_mask(inference_state, frame_idx, obj_id, mask)`` returns the same tuple.
- ``propagate_in_video(inference_state, start_frame_idx=None, max_frame_num_to_track=None, reverse=False,
  propagate_preflight=False)`` is a generator of ``(frame_idx, obj_ids, low_res_masks, video_res_masks,
  obj_scores)``.
- ``clear_all_points_in_video(state)``, ``reset_state(state)``, ``remove_object(state, obj_id)``.

Optional: ``prefetch_features(state, frame_idx, should_stop=None) -> bool`` encodes a frame ahead of a
click (the SAM trackers have it; the GUI worker calls it when the user rests on a frame).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import torch

from sam3core.errors import EngineError  # noqa: F401  (re-exported: callers import it from here)

CLASSICAL = "classical"
SAM2_MODELS = ("sam2.1_hiera_tiny", "sam2.1_hiera_small", "sam2.1_hiera_base_plus", "sam2.1_hiera_large")
SAM3_MODELS = ("sam3",)
ENGINE_NAMES = (CLASSICAL, *SAM2_MODELS, *SAM3_MODELS)

MaskResult = tuple[int, list[int], torch.Tensor, torch.Tensor]
PropagationResult = tuple[int, list[int], torch.Tensor, torch.Tensor, torch.Tensor]


class Engine(Protocol):
    """What the GUI worker, the CLI and the benchmarks may call on any engine."""

    name: str

    def init_state(self, video_path: str | Path | None = None, **kwargs: Any) -> Any: ...

    def add_new_points_or_box(self, inference_state: Any, frame_idx: int, obj_id: int, points: Any = None,
                              labels: Any = None, box: Any = None, clear_old_points: bool = True,
                              rel_coordinates: bool = True) -> MaskResult: ...

    def add_new_points(self, inference_state: Any, frame_idx: int, obj_id: int, points: Any, labels: Any,
                       clear_old_points: bool = True, rel_coordinates: bool = True) -> MaskResult: ...

    def add_new_mask(self, inference_state: Any, frame_idx: int, obj_id: int, mask: Any) -> MaskResult: ...

    def propagate_in_video(self, inference_state: Any, start_frame_idx: int | None = None,
                           max_frame_num_to_track: int | None = None, reverse: bool = False,
                           propagate_preflight: bool = False) -> Iterator[PropagationResult]: ...

    def clear_all_points_in_video(self, inference_state: Any) -> None: ...

    def reset_state(self, inference_state: Any) -> None: ...

    def remove_object(self, inference_state: Any, obj_id: int) -> Any: ...


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
    corrections on re-propagation (see below); use :func:`sam3core.build.build_tracker` for the
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
            from sam3core.checkpoint import detect_model_name

            name = detect_model_name(checkpoint)
    if name == CLASSICAL:
        from sam3core.classical import ClassicalEngine

        return ClassicalEngine()
    if name in SAM2_MODELS or name in SAM3_MODELS:
        from sam3core.build import build_tracker

        # sam2 1.1.0 re-tracks a corrected frame on the next propagation, silently dropping the user's
        # fix; an annotation tool must keep it, so corrections become conditioning frames (as in SAM 3).
        # Small holes are filled as by the official video predictor on a GPU (its kernel is CUDA-only).
        # build_tracker itself keeps the CPU reference's behaviour, which the parity check relies on.
        overrides = ({"add_all_frames_to_correct_as_cond": True, "fill_hole_area": 8} if name in SAM2_MODELS
                     else None)
        return build_tracker(name, checkpoint=checkpoint, device=resolve_device(device),
                             tracker_overrides=overrides)
    raise EngineError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINE_NAMES)}")
