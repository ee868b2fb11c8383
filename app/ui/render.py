"""Builds what the canvas shows for a frame: the decoded frame with the visible objects' masks.

Decoded masks are cached per frame (LRU) and dropped when the Project reports the frame changed, so
scrubbing back and forth costs one composition per frame, not a database read plus RLE decode.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from app.domain.model import ObjectInfo
from app.domain.project import Project
from app.ui.compose import Layer, compose, hex_to_rgb


@dataclass
class ViewOptions:
    opacity: float = 0.5
    outline: bool = False
    show_masks: bool = True


class FrameRenderer:
    def __init__(self, cache_frames: int = 32) -> None:
        self.options = ViewOptions()
        self._cache: OrderedDict[int, dict[int, np.ndarray]] = OrderedDict()
        self._cache_frames = cache_frames

    def invalidate(self, frame: int = -1) -> None:
        if frame < 0:
            self._cache.clear()
        else:
            self._cache.pop(frame, None)

    def masks(self, project: Project, frame: int) -> dict[int, np.ndarray]:
        cached = self._cache.get(frame)
        if cached is None:
            cached = project.masks_on_frame(frame)
            self._cache[frame] = cached
            while len(self._cache) > self._cache_frames:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(frame)
        return cached

    def render(self, project: Project, frame: int, objects: list[ObjectInfo]) -> np.ndarray:
        """(H, W, 3) uint8 RGB of ``frame`` with every visible object's mask in its colour."""
        rgb = project.video.frame(frame)
        if not self.options.show_masks:
            return np.array(rgb, copy=True)
        masks = self.masks(project, frame)
        layers = [Layer(masks[o.id], hex_to_rgb(o.color)) for o in objects if not o.hidden and o.id in masks]
        return compose(rgb, layers, opacity=self.options.opacity, outline=self.options.outline)
