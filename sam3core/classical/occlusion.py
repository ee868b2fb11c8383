"""Carrying an object's whole shape through an occlusion, so its parts can re-emerge.

The track step (:mod:`sam3core.classical.track`) carries a mask with per-pixel optical flow. A part
that goes behind an occluder (a pole, a tree trunk) is rightly dropped, but the same part coming out
on the other side is never claimed again: the backward flow there points at the occluder, which was
not object. A dog running past a thin pole is eaten away by it, frame by frame, until nothing is
left (DAVIS libby; the ball behind a trunk in soccerball).

So each object keeps the *whole shape* it last had while fully visible (its area at least
``WHOLE_FRACTION`` of its typical area) and its velocity. While less than that is visible, the shape
moves on at that velocity, which the visible part updates only when it agrees with it (what is still
visible may already be dragged along by the occluder: a hand picking up a block). The track step
offers the moved shape as a weak prior (``carry_prior``, close to 0.5 so colour and motion decide,
not the shape), only at pixels that move like the hidden object rather than the background around
it (``track.carry_gate``); a piece that does not touch the visible part is kept only when it moves
at that velocity (:func:`moves_with`) and looks like the object. After ``MAX_HIDDEN_FRAMES`` frames
without the object being whole again, the shape is forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from sam3core.classical.bilateral import object_shift

WHOLE_FRACTION = 0.85  # of the typical visible area: at least this much visible = the object is whole
MAX_HIDDEN_FRAMES = 12  # frames a hidden shape is carried without the object being whole again


@dataclass(frozen=True)
class HiddenShape:
    """The object's last whole shape and how far it has moved since."""

    shape: np.ndarray  # (h, w) float32 soft map in [0, 1] on the frame it was whole
    offset: tuple[float, float]  # (dx, dy) work pixels the object moved since that frame
    velocity: tuple[float, float] | None  # (dx, dy) work pixels per frame (smoothed); None: not yet measured
    frames: int  # frames since the object was last whole (0 = it is whole now)


@dataclass(frozen=True)
class Carry:
    """What the track step gets: the moved whole shape and the velocity it moves at."""

    shape: np.ndarray  # (h, w) float32 in [0, 1]
    velocity: tuple[float, float]  # (dx, dy) work pixels per frame


VELOCITY_SMOOTHING = 0.5  # weight of the newest measurement in the whole object's velocity


def agrees(motion: tuple[float, float], velocity: tuple[float, float]) -> bool:
    """Whether ``motion`` is ``velocity`` within 2 px, or half the speed for a fast object."""
    error = float(np.hypot(motion[0] - velocity[0], motion[1] - velocity[1]))
    return error <= max(2.0, 0.5 * float(np.hypot(*velocity)))


def moves_with(flow: np.ndarray, piece: np.ndarray, velocity: tuple[float, float]) -> bool:
    """Whether ``piece`` (h, w) bool moves at ``velocity`` by the backward ``flow`` (h, w, 2)."""
    back = np.median(flow[piece], axis=0)
    return agrees((-float(back[0]), -float(back[1])), velocity)


def object_motion(flow: np.ndarray, core: np.ndarray) -> tuple[float, float] | None:
    """The object's forward motion (dx, dy) from the backward ``flow`` (h, w, 2) over ``core``.

    None when fewer than 16 core pixels are visible (the motion is then not measurable).
    """
    if np.count_nonzero(core) < 16:
        return None
    dy, dx = object_shift(flow, core)
    return dx, dy


def carried(hidden: HiddenShape | None) -> Carry | None:
    """The whole shape moved to where the object should be on the next frame, or None.

    The offset so far plus one more frame at the latest velocity. None while the object is whole
    (the flow-carried mask is then the better prior), and before the object's motion was measured.
    """
    if hidden is None or hidden.frames == 0 or hidden.velocity is None:
        return None
    dx, dy = hidden.offset[0] + hidden.velocity[0], hidden.offset[1] + hidden.velocity[1]
    h, w = hidden.shape.shape
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    moved = cv2.warpAffine(hidden.shape, shift, (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    return Carry(moved, hidden.velocity)


def update_hidden(hidden: HiddenShape | None, soft: np.ndarray, mask: np.ndarray, ref_area: float,
                  motion: tuple[float, float] | None) -> HiddenShape | None:
    """The hidden shape after a tracked frame with result ``mask`` (h, w) bool and ``soft`` map.

    A whole object (area >= ``WHOLE_FRACTION`` of ``ref_area``) restarts it from ``soft`` and
    folds ``motion`` (its measured forward motion, None when not measurable) into the velocity. A
    partly or wholly hidden one moves it on at that velocity; its visible part's motion updates
    the velocity only when it agrees with it (:func:`agrees`): a dog speeding up behind a fence
    does, the last corner of a block that a hand drags away does not.
    """
    area = float(np.count_nonzero(mask))
    whole = ref_area > 0 and area >= WHOLE_FRACTION * ref_area
    if not whole and (hidden is None or hidden.frames >= MAX_HIDDEN_FRAMES):
        return None
    velocity = hidden.velocity if hidden is not None else None
    if motion is not None:
        if velocity is None:
            velocity = motion  # the first measurement (an anchor does not know how it moves)
        elif whole or agrees(motion, velocity):
            a = VELOCITY_SMOOTHING
            velocity = ((1 - a) * velocity[0] + a * motion[0], (1 - a) * velocity[1] + a * motion[1])
    if whole:
        return HiddenShape(np.where(mask, soft, 0.0).astype(np.float32), (0.0, 0.0), velocity, 0)
    assert hidden is not None
    step = velocity if velocity is not None else (0.0, 0.0)
    offset = (hidden.offset[0] + step[0], hidden.offset[1] + step[1])
    return replace(hidden, offset=offset, velocity=velocity, frames=hidden.frames + 1)
