"""The engine contract: the one definition of what every engine (SAM 2.1, SAM 3, classical, remote, the
test fake) offers and how it refuses bad input. Engines are built by name in :mod:`sam3core.factory`.

Every engine exposes the seed notebook's predictor API (:class:`Engine`): ``init_state``,
``add_new_points_or_box`` / ``add_new_points`` / ``add_new_mask`` returning a :data:`MaskResult`,
``propagate_in_video`` yielding :data:`PropagationResult` tuples (and taking ``should_stop``, see below),
``clear_all_points_in_video``,
``reset_state``, ``remove_object``; and the capabilities every engine declares, so no caller has to
probe for them: ``device``, ``prefetch_features`` (False where there is nothing to encode ahead),
``frame_scores`` (per-object confidence beyond the yielded ``obj_scores``; empty where an engine has none)
and ``close`` (release a session's decoder, caches and files).

Shared rules (every engine follows them; the contract suite ``tests/test_engine_contract.py`` checks):

- Bad input raises the same :mod:`sam3core.errors` type from every engine: a frame index that is not an
  integer in ``[0, num_frames)`` :class:`FrameIndexError`; an object id that is not a non-negative integer
  (or is unknown to ``remove_object(strict=True)``) :class:`ObjectIdError`; bad points, labels or boxes,
  and a propagation with no prompt at all, :class:`PromptError`; a mask that is not (H, W) of the video
  (or (1, H, W)), or holds NaN, :class:`MaskError`. Masks are never resized: a mask of another size is
  almost always the wrong mask, and resizing it would silently misplace the annotation.
- ``remove_object`` is lenient by default (``strict=False``, as ``sam2``): an unknown id changes nothing.
- ``propagate_in_video`` starts by default at the earliest prompted frame, in both directions (as
  ``sam2``/``sam3``), and visits :func:`frame_order`'s frames. Its ``should_stop`` (keyword, optional)
  is asked at least before each frame and, where an engine can, between the blocks of a frame's work
  (SAM: image encoder, memory attention, memory encoder, decoder), since one SAM frame takes seconds on
  a CPU: True ends the generator without yielding the frame under way, whose partial results are
  dropped (a later run computes it again); frames already yielded stay stored.
- Masks are float logits, ``video_res_masks`` (N_obj, 1, H, W) at the video's size, positive = object;
  ``obj_scores`` (N_obj, 1) logits, > 0 = the object is present.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from sam3core.errors import EngineInputError, FrameIndexError, ObjectIdError, PromptError

if TYPE_CHECKING:  # torch only for the annotations: the window imports this before torch is loaded
    import torch

# (frame_idx, obj_ids, low_res_masks (N, 1, h, w), video_res_masks (N, 1, H, W)), masks as logits
MaskResult = tuple[int, list[int], "torch.Tensor", "torch.Tensor"]
# (frame_idx, obj_ids, low_res_masks, video_res_masks, obj_scores (N, 1))
PropagationResult = tuple[int, list[int], "torch.Tensor", "torch.Tensor", "torch.Tensor"]
# remove_object: (remaining obj_ids, [(prompted frame, its re-rendered video_res_masks)])
RemoveResult = tuple[list[int], list[tuple[int, "torch.Tensor"]]]
# frame_scores: {obj_id: {"iou" | "memory_score" | "engine_confidence": value or None}}
FrameScores = dict[int, dict[str, float | None]]
# should_stop() asked between pieces of work: True abandons it
StopCheck = Callable[[], bool]

NOTHING_TO_PROPAGATE = "nothing to propagate: add points, a box or a mask on some frame first"


class Engine(Protocol):
    """What the GUI worker, the CLI, a remote engine and the benchmarks may call on any engine."""

    name: str

    @property
    def device(self) -> torch.device:
        """Where the engine computes (the classical engine: always the CPU)."""
        ...

    def init_state(self, video_path: str | Path | None = None, *, video: Any = None,
                   offload_video_to_cpu: bool = False, offload_state_to_cpu: bool = False,
                   async_loading_frames: bool = False) -> Any:
        """A session on a video file / frame folder, or on an already open ``VideoSource`` (shared)."""
        ...

    def add_new_points_or_box(self, inference_state: Any, frame_idx: int, obj_id: int, points: Any = None,
                              labels: Any = None, clear_old_points: bool = True,
                              rel_coordinates: bool = True, box: Any = None) -> MaskResult:
        """Clicks and/or a box for one object on one frame (0..1 coordinates unless ``rel_coordinates``
        is False: video pixels); returns every object's mask on that frame."""
        ...

    def add_new_points(self, inference_state: Any, frame_idx: int, obj_id: int, points: Any, labels: Any,
                       clear_old_points: bool = True, rel_coordinates: bool = True) -> MaskResult: ...

    def add_new_mask(self, inference_state: Any, frame_idx: int, obj_id: int, mask: Any) -> MaskResult:
        """An (H, W) mask at the video's size as the object's prompt on a frame."""
        ...

    def propagate_in_video(self, inference_state: Any, start_frame_idx: int | None = None,
                           max_frame_num_to_track: int | None = None, reverse: bool = False,
                           propagate_preflight: bool = False, *,
                           should_stop: StopCheck | None = None) -> Iterator[PropagationResult]:
        """A generator over :func:`frame_order`'s frames; stop iterating to cancel (yielded frames are
        kept), or answer True from ``should_stop`` to cancel inside a frame's work (see the rules)."""
        ...

    def clear_all_points_in_video(self, inference_state: Any) -> None: ...

    def reset_state(self, inference_state: Any) -> None:
        """Forget every object, prompt and result (the video stays open)."""
        ...

    def remove_object(self, inference_state: Any, obj_id: int, strict: bool = False,
                      need_output: bool = True) -> RemoveResult: ...

    def prefetch_features(self, inference_state: Any, frame_idx: int,
                          should_stop: StopCheck | None = None) -> bool:
        """Encode a frame ahead of a click; whether work was done now (False: nothing to do, cached
        already, or stopped)."""
        ...

    def frame_scores(self, inference_state: Any, frame_idx: int) -> FrameScores:
        """Per object, the confidence of its current result on ``frame_idx`` beyond ``obj_scores``:
        ``{"iou", "memory_score", "engine_confidence"}`` values or None (SAM 2.1 / SAM 3: the decoder's
        predicted IoU, SAM 3's memory-selection score). Objects without one are left out; stored with each
        propagated mask (app/domain/provenance.py)."""
        ...

    def close(self, inference_state: Any) -> None:
        """Release the session: its caches, spill file, and the decoder if ``init_state`` opened it."""
        ...


def check_frame_index(frame_idx: Any, num_frames: int) -> int:
    """``frame_idx`` as an int in ``[0, num_frames)``, else :class:`FrameIndexError`."""
    if isinstance(frame_idx, bool) or not isinstance(frame_idx, (int, np.integer)):
        raise FrameIndexError(f"frame index must be an integer, got {frame_idx!r}")
    if not 0 <= int(frame_idx) < num_frames:
        raise FrameIndexError(f"frame index {int(frame_idx)} outside 0..{num_frames - 1}")
    return int(frame_idx)


def check_object_id(obj_id: Any) -> int:
    """``obj_id`` as a non-negative int, else :class:`ObjectIdError`."""
    if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)):
        raise ObjectIdError(f"object ids are non-negative integers, got {obj_id!r}")
    if int(obj_id) < 0:
        raise ObjectIdError(f"object ids are non-negative integers, got {int(obj_id)}")
    return int(obj_id)


def default_start_frame(prompted_frames: Iterable[int]) -> int:
    """Where a propagation starts when no frame is given: the earliest prompted frame, either way."""
    frames = list(prompted_frames)
    if not frames:
        raise PromptError(NOTHING_TO_PROPAGATE)
    return min(frames)


def frame_order(num_frames: int, start_frame_idx: int, max_frame_num_to_track: int | None = None,
                reverse: bool = False) -> range:
    """The frames one propagation visits, in order (``sam2``'s rule, kept by every engine).

    From ``start_frame_idx`` over at most ``max_frame_num_to_track`` further frames (None: to the video's
    end or start), the start frame included: forward ``start .. min(start + max, num_frames - 1)``,
    backward ``start .. max(start - max, 0)``; a backward run from frame 0 visits nothing (there is
    nothing before it, and frame 0 itself is a forward run's).
    """
    start = check_frame_index(start_frame_idx, num_frames)
    count = num_frames if max_frame_num_to_track is None else max_frame_num_to_track
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise EngineInputError(f"max_frame_num_to_track must be a non-negative integer, got {count!r}")
    if reverse:
        return range(start, max(start - int(count), 0) - 1, -1) if start > 0 else range(0)
    return range(start, min(start + int(count), num_frames - 1) + 1)
