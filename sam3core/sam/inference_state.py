"""Typed session state of the memory tracker (what the reference keeps in an 18-key dict).

A :class:`Session` belongs to one video. It holds one :class:`ObjectState` per object id, and each of those
keeps its prompts and its per-frame :class:`FrameMemory` entries, split like the reference into
conditioning frames (prompted, attended to from every frame) and non-conditioning frames (tracked).
Memory features of tracked frames are the bulky part: they are kept only for a bounded set of recently
used frames and recomputed exactly from the stored mask logits when an evicted one is needed again.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import torch

from sam3core.runtime.spill import LogitSpill, SpilledLogits
from sam3core.video import VideoSource


@dataclass
class PointPrompt:
    """Clicks (and a box as its two corner clicks, labels 2 and 3) on one frame, in model pixels."""

    coords: torch.Tensor  # (1, P, 2) float32, x/y in 0..image_size
    labels: torch.Tensor  # (1, P) int32: 1 positive, 0 negative, 2/3 box corners


@dataclass
class FrameMemory:
    """One object's result on one frame, kept compactly: low-res logits on the CPU (256 KB at 256x256),
    moved to the session's spill file once the frame's spatial memory is evicted."""

    logits: torch.Tensor | SpilledLogits  # (1, 1, h, w) float32 low-res logits, CPU, or where they went
    obj_ptr: torch.Tensor  # (1, C) float32 object pointer, compute device (1 KB)
    object_score_logits: torch.Tensor  # (1, 1) float32
    # (1, C_mem, H, W) bfloat16 spatial memory; None until encoded or after eviction
    maskmem_features: torch.Tensor | None = None
    # whether the memory encoder sees binarised masks (frames the user prompted) or soft ones
    mask_from_pts: bool = False
    eff_iou_score: float | None = None  # memory-selection score (object score x IoU), SAM 3
    iou_score: float | None = None  # the decoder's predicted IoU of the chosen mask (a confidence)
    # the memory was encoded from masks of several objects (non-overlap constraint): it cannot be
    # recomputed from this entry's logits alone, so it is never evicted
    pinned: bool = False
    # the logits its memory was encoded from, kept only where hole filling changed them (exact recompute)
    memory_logits: torch.Tensor | None = None

    @property
    def has_memory(self) -> bool:
        return self.maskmem_features is not None

    @property
    def pred_masks(self) -> torch.Tensor:
        """(1, 1, h, w) float32 low-res logits (read back from the spill file when spilled)."""
        return self.logits if isinstance(self.logits, torch.Tensor) else self.logits.load()

    def spill(self, store: LogitSpill, key: tuple[int, int]) -> None:
        if isinstance(self.logits, torch.Tensor):
            self.logits = store.put(key, self.logits)


@dataclass
class ObjectState:
    """Prompts and results of one object; frames map to entries in insertion order."""

    obj_id: int
    point_inputs: dict[int, PointPrompt] = field(default_factory=dict)
    mask_inputs: dict[int, torch.Tensor] = field(default_factory=dict)  # (1, 1, S, S) float 0/1
    cond: dict[int, FrameMemory] = field(default_factory=dict)
    non_cond: dict[int, FrameMemory] = field(default_factory=dict)
    # results of prompts not yet merged into the memory bank (merged when propagation starts)
    temp_cond: dict[int, FrameMemory] = field(default_factory=dict)
    temp_non_cond: dict[int, FrameMemory] = field(default_factory=dict)
    tracked: dict[int, bool] = field(default_factory=dict)  # frame -> tracked in reverse
    # non-conditioning frames hidden from look-ups of previous results (still read as memory)
    hidden: set[int] = field(default_factory=set)

    def visible_non_cond(self, frame_idx: int) -> FrameMemory | None:
        return None if frame_idx in self.hidden else self.non_cond.get(frame_idx)

    def latest_output(self, frame_idx: int) -> FrameMemory | None:
        """The most recent result on a frame: an unmerged prompt result first, then the memory bank."""
        for bank in (self.temp_cond, self.temp_non_cond, self.cond, self.non_cond):
            out = bank.get(frame_idx)
            if out is not None:
                return out
        return None

    def clear_results(self) -> None:
        for bank in (self.point_inputs, self.mask_inputs, self.cond, self.non_cond, self.temp_cond,
                     self.temp_non_cond, self.tracked, self.hidden):
            bank.clear()


@dataclass
class FrameFeatures:
    """Image-encoder output of one frame, flattened the way the tracking step consumes it."""

    vision_feats: list[torch.Tensor]  # per level (HW_l, 1, C_l); levels 0/1 projected for the decoder
    vision_pos: torch.Tensor  # (HW, 1, C) positional encoding of the top level
    feat_sizes: list[tuple[int, int]]  # per level (H_l, W_l)


@dataclass
class SessionStats:
    image_encoder_calls: int = 0
    memory_recomputes: int = 0


@dataclass
class Session:
    """The ``inference_state`` handed out by ``init_state``: one video, its objects and caches."""

    video: VideoSource
    num_frames: int
    video_height: int
    video_width: int
    device: torch.device
    storage_device: torch.device  # where spatial memories live (CPU with offload_state_to_cpu)
    offload_video_to_cpu: bool = False
    offload_state_to_cpu: bool = False
    owns_video: bool = False  # opened by init_state(video_path=...), closed with the session
    objects: dict[int, ObjectState] = field(default_factory=dict)  # obj_id -> state, in creation order
    # LRU of image features of recently visited frames (a second click re-uses them)
    feature_cache: OrderedDict[int, FrameFeatures] = field(default_factory=OrderedDict)
    feature_cache_size: int = 4
    # LRU of (obj_id, frame) non-conditioning entries whose memory features are held
    memory_lru: OrderedDict[tuple[int, int], None] = field(default_factory=OrderedDict)
    memory_cache_size: int = 32  # per object
    maskmem_pos_enc: torch.Tensor | None = None  # (1, C_mem, H, W), identical for every frame
    stats: SessionStats = field(default_factory=SessionStats)
    spill: LogitSpill = field(default_factory=LogitSpill)  # logits of results whose memory was evicted

    @property
    def obj_ids(self) -> list[int]:
        return list(self.objects)

    def close(self) -> None:
        self.feature_cache.clear()
        self.memory_lru.clear()
        self.spill.close()
        if self.owns_video:
            self.video.close()

    # Dict-style access for code written against the reference's inference_state.
    def __getitem__(self, key: str) -> object:
        if key in ("num_frames", "video_height", "video_width", "device", "obj_ids"):
            return getattr(self, key)
        raise KeyError(key)
