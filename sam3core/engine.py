"""The engine contract shared by the SAM trackers and the classical (no-weights) engine.

Engines are built by name in :mod:`sam3core.factory`.

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
