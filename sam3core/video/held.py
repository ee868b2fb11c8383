"""A video as a tracker reads it: damaged frames held over by a neighbour, so one bad packet does not
end a propagation. Nothing may be stored for those frames (see ``VideoSource.damaged_frames``)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from sam3core.video.errors import DamagedFrameError
from sam3core.video.source import VideoSource

log = logging.getLogger(__name__)

MAX_HOLD = 30  # frames to look for a decodable neighbour


class HeldFrames(VideoSource):
    """Shares everything with ``base`` (cache, decoders, index, damaged frames); only ``frame`` differs:
    a damaged frame comes back as the nearest decodable frame before it (after it, at the start), the
    way a player keeps showing the last good picture. ``close`` leaves ``base`` open."""

    def __init__(self, base: VideoSource) -> None:  # no super().__init__: every state read goes to base
        self.base = base
        self.path = base.path

    def __getattr__(self, name: str) -> Any:
        if name == "base":  # not set yet (unpickling, copying): no recursion through __getattr__
            raise AttributeError(name)
        return getattr(self.base, name)

    def frame(self, index: int) -> np.ndarray:
        try:
            return self.base.frame(index)
        except DamagedFrameError:
            count = self.base.num_frames
            nearby = [*range(index - 1, max(-1, index - MAX_HOLD - 1), -1),
                      *range(index + 1, min(count, index + MAX_HOLD + 1))]
            for other in nearby:
                try:
                    rgb = self.base.frame(other)
                except DamagedFrameError:
                    continue
                log.warning("%s: frame %d is damaged; the tracker sees frame %d in its place and nothing is "
                            "stored for it", self.path, index, other)
                return rgb
            raise

    def holding_damaged(self) -> VideoSource:
        return self

    def close(self) -> None:
        pass

    def __enter__(self) -> HeldFrames:
        return self
