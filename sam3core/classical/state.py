"""Typed session state of the classical engine: settings, prompts, per-object tracks, frame cache.

Masks are kept at the *work resolution* (the video scaled so its long side is
``ClassicalSettings.work_long_side``) as bit-packed arrays, so a long video with several objects
costs a few tens of kilobytes per frame and object. Masks the user painted are also kept at full
resolution, so they come back exactly as given.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import cv2
import numpy as np

from sam3core.classical.track import Appearance
from sam3core.video import VideoSource

# name -> (OpenCV DIS preset, finest pyramid scale, variational refinement iterations; None keeps
# the preset's own). "fine" is "medium" searched down to the work resolution itself (medium stops
# at half of it) with one refinement pass instead of five: on DAVIS 2016 a true mask warped one
# frame ahead overlaps the next true mask better (0.892 against 0.869) and the tracker scores
# higher, at 2-3x the flow time (docs/classical.md, "Finer flow").
FLOW_PRESETS: dict[str, tuple[int, int | None, int | None]] = {
    "ultrafast": (cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, None, None),
    "fast": (cv2.DISOPTICAL_FLOW_PRESET_FAST, None, None),
    "medium": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, None, None),
    "fine": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, 0, 1),
}


@dataclass(frozen=True)
class ClassicalSettings:
    """Speed/accuracy knobs; docs/classical.md lists measured J&F against frames/s for a few."""

    work_long_side: int = 480  # pixels of the long side at which everything is computed
    flow_preset: str = "fine"  # DIS optical-flow preset: ultrafast | fast | medium | fine
    click_iters: int = 4  # GrabCut iterations for a fresh click/box prompt
    click_refine_iters: int = 2  # GrabCut iterations when a further click refines a prompt
    click_box: float = 0.5  # clicks alone are first cut in a box of this share of the short side (0: off)
    colour_weight: float = 1.0  # weight of the colour posterior against the flow prior (0 = flow only)
    reach: float = 0.025  # how far (fraction of the work long side) a mask may grow in one frame
    prior_blur: float = 1.5  # sigma (work pixels) of the blur on the warped soft map
    shape_penalty: float = 0.0  # shape prior, logit per unit beyond the outline (0: measured worse)
    motion_penalty: float = 0.0  # logit per unit of unlike motion (0: measured worse)
    min_confidence: float = 0.0  # below this per-frame confidence a tracked object is dropped (lost)
    redetect: bool = True  # look for lost objects again by their colour model
    logit_scale: float = 2.0  # logit per work pixel of signed distance to the boundary (clipped to ±10)
    appearance_rate: float = 0.05  # how fast the fine colour model follows confident tracked frames
    correction_rate: float = 0.5  # how far a corrected frame moves the fine colour model (1: restart)
    fb_check: bool = True  # forward-backward flow check: unconfirmed flow weakens the carried prior
    local_weight: float = 0.0  # weight of the local (position + colour) model from the previous frame
    local_cell: float = 0.05  # its spatial cell side, fraction of the object's size (sqrt of its area)
    motion_contrast: float = 2.0  # logit per unit of background-like motion (track.background_motion)
    motion_reward: float = 0.5  # logit per unit of object-like motion, up to 1 unit (same measure)
    confidence_recovery: float = 0.01  # per frame, how fast the reported confidence may climb back
    box_motion_veto: bool = True  # a box cut loses what moves like the background (classical.boxmotion)
    click_motion_veto: bool = True  # so does a click result, around its own box
    occlusion_carry: bool = True  # a partly hidden object's whole shape moves on (classical.occlusion)
    carry_prior: float = 0.6  # the prior that moved shape gives where the flow carried nothing
    edge_entry: bool = True  # what enters the view continues the object at the frame edge (track.enters)
    band_refine: bool = False  # narrow-band GrabCut on every tracked mask (measured worse and 3x slower)

    def __post_init__(self) -> None:
        if self.flow_preset not in FLOW_PRESETS:
            choices = ", ".join(FLOW_PRESETS)
            raise ValueError(f"flow_preset must be one of {choices}, got {self.flow_preset!r}")
        if not 64 <= self.work_long_side <= 4096:
            raise ValueError(f"work_long_side must be in 64..4096, got {self.work_long_side}")
        if self.click_iters < 1 or self.click_refine_iters < 1:
            raise ValueError("click iterations must be >= 1")
        if min(self.colour_weight, self.prior_blur, self.shape_penalty, self.motion_penalty,
               self.local_weight, self.motion_contrast, self.motion_reward) < 0:
            raise ValueError("colour_weight, prior_blur, shape_penalty, motion_penalty, local_weight and "
                             "motion_contrast must be >= 0")
        if not 0 <= self.click_box <= 1:
            raise ValueError(f"click_box must be in [0, 1], got {self.click_box}")
        if not 0 < self.correction_rate <= 1:
            raise ValueError(f"correction_rate must be in (0, 1], got {self.correction_rate}")
        if not 0 < self.carry_prior < 1:
            raise ValueError(f"carry_prior must be in (0, 1), got {self.carry_prior}")
        if not 0 < self.local_cell <= 0.5:
            raise ValueError(f"local_cell must be in (0, 0.5], got {self.local_cell}")
        if not 0 < self.reach <= 0.5:
            raise ValueError(f"reach must be in (0, 0.5], got {self.reach}")
        if not 0 <= self.appearance_rate <= 1:
            raise ValueError(f"appearance_rate must be in [0, 1], got {self.appearance_rate}")
        if not 0 < self.confidence_recovery <= 1:
            raise ValueError(f"confidence_recovery must be in (0, 1], got {self.confidence_recovery}")
        if not 0 <= self.min_confidence < 1:
            raise ValueError(f"min_confidence must be in [0, 1), got {self.min_confidence}")

    def reach_px(self, work_long_side: int) -> int:
        return max(2, round(self.reach * work_long_side))


@dataclass
class PackedMask:
    """A bool (H, W) mask stored with 1 bit per pixel."""

    shape: tuple[int, int]
    bits: np.ndarray

    @classmethod
    def pack(cls, mask: np.ndarray) -> PackedMask:
        mask = np.asarray(mask, dtype=bool)
        return cls((int(mask.shape[0]), int(mask.shape[1])), np.packbits(mask, axis=None))

    def unpack(self) -> np.ndarray:
        count = self.shape[0] * self.shape[1]
        return np.unpackbits(self.bits, count=count).reshape(self.shape).astype(bool)


@dataclass
class GrabCutMemory:
    """What a later click on the same frame continues from instead of starting over."""

    labels: np.ndarray  # (h, w) uint8 GrabCut labels (GC_BGD/FGD/PR_BGD/PR_FGD) at work resolution
    bgd_model: np.ndarray  # (1, 65) float64 background GMM
    fgd_model: np.ndarray  # (1, 65) float64 foreground GMM
    crop: tuple[int, int, int, int]  # x0, y0, x1, y1 of the window GrabCut ran on, work pixels


@dataclass
class FramePrompt:
    """The prompt of one object on one frame, in video pixels. Either clicks/box or a mask."""

    points: list[tuple[float, float, int]] = field(default_factory=list)  # (x, y, label 1=pos 0=neg)
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1
    mask: PackedMask | None = None  # full resolution, from add_new_mask
    grabcut: GrabCutMemory | None = None
    result: PackedMask | None = None  # work-resolution mask the prompt produced (before the overlap rule)
    base: PackedMask | None = None  # work-resolution tracked or painted mask the clicks correct, if any


@dataclass
class ColourModel:
    """Foreground/background colour histograms for re-detecting an object that was lost."""

    ratio_lut: np.ndarray  # (512,) float32: P(object | quantised RGB colour)
    fg_hist: np.ndarray  # (512,) float32: the object's own colour distribution, sums to 1
    ref_area: float  # typical visible area in work pixels
    last_box: tuple[int, int, int, int]  # x0, y0, x1, y1 when last seen, work pixels
    exit_sides: tuple[bool, bool, bool, bool] = (False, False, False, False)  # left, top, right, bottom


@dataclass
class ObjectTrack:
    obj_id: int
    prompts: dict[int, FramePrompt] = field(default_factory=dict)  # frame -> prompt (anchors)
    outputs: dict[int, PackedMask] = field(default_factory=dict)  # frame -> work-res mask after overlap rule
    colour: ColourModel | None = None  # coarse model for re-detection
    appearance: Appearance | None = None  # fine model for tracking (learnt on the latest anchor)
    confidence: dict[int, float] = field(default_factory=dict)  # frame -> 0..1 of the latest result
    # frame -> the mask an empty anchor there erased: not this object, so re-detection keeps off it
    rejected: dict[int, PackedMask] = field(default_factory=dict)


class FrameCache:
    """Work-resolution RGB and grey frames, a small LRU over the shared :class:`VideoSource`."""

    def __init__(self, video: VideoSource, work_size: tuple[int, int], capacity: int = 8) -> None:
        self.video = video
        self.work_size = work_size  # (w, h)
        self._capacity = capacity
        self._rgb: OrderedDict[int, np.ndarray] = OrderedDict()
        self._grey: OrderedDict[int, np.ndarray] = OrderedDict()

    def rgb(self, index: int) -> np.ndarray:
        """(h, w, 3) uint8 RGB at work resolution."""
        cached = self._rgb.get(index)
        if cached is None:
            frame = self.video.frame(index)
            if (frame.shape[1], frame.shape[0]) != self.work_size:
                frame = cv2.resize(frame, self.work_size, interpolation=cv2.INTER_AREA)
            cached = np.ascontiguousarray(frame)
            self._rgb[index] = cached
            while len(self._rgb) > self._capacity:
                self._rgb.popitem(last=False)
        self._rgb.move_to_end(index)
        return cached

    def grey(self, index: int) -> np.ndarray:
        """(h, w) uint8 luminance at work resolution (the optical-flow input)."""
        cached = self._grey.get(index)
        if cached is None:
            cached = cv2.cvtColor(self.rgb(index), cv2.COLOR_RGB2GRAY)
            self._grey[index] = cached
            while len(self._grey) > self._capacity:
                self._grey.popitem(last=False)
        self._grey.move_to_end(index)
        return cached

    def clear(self) -> None:
        self._rgb.clear()
        self._grey.clear()


@dataclass
class ClassicalSession:
    """The inference state returned by ``ClassicalEngine.init_state``."""

    video: VideoSource
    owns_video: bool
    frames: FrameCache
    height: int  # video pixels
    width: int
    work_height: int
    work_width: int
    tracks: dict[int, ObjectTrack] = field(default_factory=dict)  # obj_id -> track, insertion = order
    frames_tracked: set[int] = field(default_factory=set)

    @property
    def num_frames(self) -> int:
        return self.video.num_frames

    @property
    def obj_ids(self) -> list[int]:
        return list(self.tracks)

    def confidence(self, obj_id: int, frame_idx: int | None = None) -> dict[int, float] | float | None:
        """How sure the engine is of an object, 0..1, per frame it produced a result for.

        1.0 on prompted frames; on tracked frames the agreement of the result with the optical-flow
        prior, the colour evidence and the area stability (see :func:`track.step_confidence`); 0.0
        where the object was lost (no mask). With ``frame_idx``: that frame's value, None when the
        frame has no result. Unknown objects raise KeyError.
        """
        track = self.tracks[obj_id]
        if frame_idx is None:
            return dict(sorted(track.confidence.items()))
        return track.confidence.get(frame_idx)

    @property
    def scale(self) -> float:
        """Work pixels per video pixel."""
        return self.work_width / self.width
