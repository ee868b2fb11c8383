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
from app.ui.compose import Layer, compose, downscale, hex_to_rgb


@dataclass
class ViewOptions:
    opacity: float = 0.5
    outline: bool = False
    show_masks: bool = True


class FrameRenderer:
    """``cache_bytes`` bounds the decoded masks kept, whatever the number of frames propagated.

    A propagation seeds one entry per frame; 32 MB is ~30 frames of two 960x540 objects or ~8 frames
    of two full-HD ones: enough to scrub back over what was just tracked, small next to the video's
    own frame cache.
    """

    def __init__(self, cache_bytes: int = 32 * 2**20) -> None:
        self.options = ViewOptions()
        self._cache: OrderedDict[int, dict[int, np.ndarray]] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._bytes = 0  # running total of the cached masks' nbytes

    @staticmethod
    def _size(masks: dict[int, np.ndarray]) -> int:
        return sum(m.nbytes for m in masks.values())

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def _store(self, frame: int, masks: dict[int, np.ndarray]) -> None:
        old = self._cache.pop(frame, None)
        if old is not None:
            self._bytes -= self._size(old)
        self._cache[frame] = masks
        self._bytes += self._size(masks)
        while len(self._cache) > 1 and self._bytes > self._cache_bytes:
            _, dropped = self._cache.popitem(last=False)
            self._bytes -= self._size(dropped)

    def invalidate(self, frame: int = -1) -> None:
        if frame < 0:
            self._cache.clear()
            self._bytes = 0
            return
        dropped = self._cache.pop(frame, None)
        if dropped is not None:
            self._bytes -= self._size(dropped)

    def put(self, frame: int, masks: dict[int, np.ndarray]) -> None:
        """Seed the cache with masks that are already decoded (fresh from the tracker)."""
        self._store(frame, dict(masks))

    def masks(self, project: Project, frame: int) -> dict[int, np.ndarray]:
        cached = self._cache.get(frame)
        if cached is None:
            cached = project.masks_on_frame(frame)
            self._store(frame, cached)
        else:
            self._cache.move_to_end(frame)
        return cached

    def render(self, project: Project, frame: int, objects: list[ObjectInfo],
               scale: float = 1.0) -> np.ndarray:
        """(h, w, 3) uint8 RGB of ``frame`` with every visible object's mask in its colour.

        ``scale`` < 1 composes at that fraction of the video's size (what a zoomed-out view shows):
        a full-HD frame then costs a fraction of the work on the UI thread.
        """
        rgb = project.video.frame(frame)
        masks = self.masks(project, frame) if self.options.show_masks else {}
        visible = [o for o in objects if not o.hidden and o.id in masks]
        if scale < 0.95:
            rgb, masks = downscale(rgb, {o.id: masks[o.id] for o in visible}, scale)
        layers = [Layer(masks[o.id], hex_to_rgb(o.color)) for o in visible]
        return compose(rgb, layers, opacity=self.options.opacity, outline=self.options.outline)
