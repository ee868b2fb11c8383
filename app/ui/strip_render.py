"""Pixels of the timeline's object lanes, computed with numpy once per change (never per scrubbed frame).

Each lane (``ROW_HEIGHT`` px) stacks, top to bottom:

- a provenance band: grey where a person prompted (clicks/box), pink where painted, violet where
  imported; nothing where an engine tracked;
- the mask band: the object's colour where it has a mask;
- a review band: white where a person accepted/fixed the current mask, orange where it changed since;
- a heat band: the engine's confidence (red below the doubt threshold, yellow at it, green at 1), or,
  while an evaluation is shown, J against the ground truth on the same scale; grey where unscored.

A screen column covers several frames on long videos; each band then shows the column's most
telling frame (any mask, any human frame, the *lowest* confidence), so a doubtful frame never hides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtGui import QImage

# Provenance codes of :class:`RowLayers.kinds` (0 = no record).
KIND_CODES = {"prompted": 1, "painted": 2, "imported": 3, "tracked": 4}
KIND_COLORS = {1: (176, 176, 176), 2: (255, 119, 255), 3: (179, 136, 255)}
REVIEWED_COLOR = (255, 255, 255)  # white: no object colour and no heat colour is white
STALE_COLOR = (255, 133, 27)
UNSCORED = (70, 70, 70)
LANE_BG = (51, 51, 51)

ROW_HEIGHT = 16
BAND_PROVENANCE = (0, 2)
BAND_MASK = (2, 10)
BAND_REVIEW = (10, 12)
BAND_HEAT = (12, 16)


@dataclass(eq=False)
class RowLayers:
    """Per-frame data of one object's lane, arrays of length num_frames.

    confidence: float32, NaN where unscored. kinds: uint8 codes (KIND_CODES). reviewed: int8, 1 current
    review, 2 review of a mask that has changed since, 0 none. scores: float32 J per frame while an
    evaluation is shown (NaN elsewhere), else None.
    """

    confidence: np.ndarray
    kinds: np.ndarray
    reviewed: np.ndarray
    scores: np.ndarray | None = None

    @classmethod
    def empty(cls, num_frames: int) -> RowLayers:
        return cls(np.full(num_frames, np.nan, np.float32), np.zeros(num_frames, np.uint8),
                   np.zeros(num_frames, np.int8))


def column_starts(num_frames: int, width: int) -> np.ndarray:
    """First frame of each screen column (columns repeat frames when the video is shorter)."""
    return (np.arange(width, dtype=np.int64) * num_frames) // max(1, width)


def _reduce(values: np.ndarray, starts: np.ndarray, num_frames: int, ufunc: np.ufunc) -> np.ndarray:
    """Per column: ``ufunc`` over the frames it covers (exact, every frame counts)."""
    if num_frames >= len(starts):
        return ufunc.reduceat(values, starts)
    return values[starts]


def heat_colors(values: np.ndarray, threshold: float) -> np.ndarray:
    """(W,) scores in 0..1 (NaN = none) -> (W, 3) uint8: red below ``threshold``, yellow -> green above."""
    out = np.empty((len(values), 3), np.uint8)
    out[:] = UNSCORED
    scored = ~np.isnan(values)
    low = scored & (values < threshold)
    out[low] = (230, 40, 40)
    high = scored & ~low
    span = max(1e-6, 1.0 - threshold)
    t = np.clip((values[high] - threshold) / span, 0.0, 1.0)[:, None]
    yellow, green = np.array([240, 200, 40], np.float32), np.array([40, 200, 80], np.float32)
    out[high] = (yellow + (green - yellow) * t).astype(np.uint8)
    return out


def render_lane(image: np.ndarray, top: int, *, width: int, num_frames: int, color: tuple[int, int, int],
                alpha: int, mask_frames: np.ndarray, layers: RowLayers | None, threshold: float,
                show_scores: bool) -> None:
    """Paint one lane into ``image`` ((H, W, 4) uint8 RGBA) at row ``top``."""
    starts = column_starts(num_frames, width)
    lane = image[top:top + ROW_HEIGHT, :width]
    lane[..., :3] = LANE_BG
    lane[..., 3] = 255
    has = np.zeros(num_frames, np.uint8)
    if len(mask_frames):
        frames = mask_frames[(mask_frames >= 0) & (mask_frames < num_frames)]
        has[frames] = 1
    covered = _reduce(has, starts, num_frames, np.maximum).astype(bool)
    m0, m1 = BAND_MASK
    blend = np.array(color, np.float32) * (alpha / 255) + np.array(LANE_BG, np.float32) * (1 - alpha / 255)
    lane[m0:m1, covered, :3] = blend.astype(np.uint8)
    if layers is None:
        return
    human = np.where(layers.kinds == KIND_CODES["tracked"], 0, layers.kinds)
    kinds = _reduce(human, starts, num_frames, np.maximum)
    p0, p1 = BAND_PROVENANCE
    for code, rgb in KIND_COLORS.items():
        lane[p0:p1, kinds == code, :3] = rgb
    reviewed = _reduce(layers.reviewed, starts, num_frames, np.maximum)
    r0, r1 = BAND_REVIEW
    lane[r0:r1, reviewed == 1, :3] = REVIEWED_COLOR
    lane[r0:r1, reviewed == 2, :3] = STALE_COLOR
    values = layers.scores if show_scores and layers.scores is not None else layers.confidence
    with np.errstate(invalid="ignore"):
        lowest = _reduce(values, starts, num_frames, np.fmin)  # NaN only where every frame is unscored
    h0, h1 = BAND_HEAT
    lane[h0:h1, :, :3] = heat_colors(lowest, threshold if values is layers.confidence else 0.5)[None]


def to_qimage(image: np.ndarray) -> QImage:
    """(H, W, 4) uint8 RGBA -> a QImage owning its pixels."""
    height, width = image.shape[:2]
    data = np.ascontiguousarray(image)
    return QImage(data.data, width, height, width * 4, QImage.Format.Format_RGBA8888).copy()
