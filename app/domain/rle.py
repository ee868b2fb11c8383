"""COCO run-length encoding of (H, W) bool masks, the storage and exchange format of every mask.

Compressed RLE (``{"size": [H, W], "counts": b"..."}``) is what pycocotools produces; JSON files carry
``counts`` as an ASCII string. Area and bounding box are computed on the RLE without decoding.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from pycocotools import mask as mask_utils

# pycocotools' Cython arrays predate NumPy 2's copy keyword; the warning is harmless and would fire
# once per decoded mask.
warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy keyword",
                        category=DeprecationWarning)


@dataclass(frozen=True)
class MaskRecord:
    """One stored mask, still encoded: what exporters stream without decoding whole frames."""

    frame: int
    obj_id: int
    height: int
    width: int
    counts: bytes          # compressed COCO RLE counts
    area: int              # foreground pixels
    bbox: tuple[int, int, int, int]  # x, y, w, h (0, 0, 0, 0) when empty

    @property
    def rle(self) -> dict:
        return {"size": [self.height, self.width], "counts": self.counts}

    def json_rle(self) -> dict:
        """The RLE as JSON-serialisable data (counts decoded to an ASCII string)."""
        return {"size": [self.height, self.width], "counts": self.counts.decode("ascii")}

    def decode(self) -> np.ndarray:
        return decode(self.counts, self.height, self.width)


def encode(mask: np.ndarray) -> tuple[bytes, int, tuple[int, int, int, int]]:
    """(H, W) bool/uint8 mask -> (compressed counts, area, bbox xywh)."""
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {mask.shape}")
    rle = mask_utils.encode(np.asfortranarray(mask, dtype=np.uint8))
    area = int(mask_utils.area(rle))
    x, y, w, h = (int(round(v)) for v in mask_utils.toBbox(rle))
    return rle["counts"], area, (x, y, w, h)


def decode(counts: bytes | str, height: int, width: int) -> np.ndarray:
    """Compressed counts -> (H, W) bool mask (C-contiguous)."""
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    return np.ascontiguousarray(mask_utils.decode({"size": [height, width], "counts": counts}), dtype=bool)


def to_compressed(segmentation: dict | list, height: int, width: int) -> bytes:
    """Any COCO segmentation (polygons, uncompressed or compressed RLE) -> compressed counts."""
    if isinstance(segmentation, list):
        if not segmentation:
            return encode(np.zeros((height, width), bool))[0]
        rles = mask_utils.frPyObjects(segmentation, height, width)
        return mask_utils.merge(rles)["counts"]
    if not isinstance(segmentation, dict) or "counts" not in segmentation:
        raise ValueError("segmentation must be a list of polygons or an RLE dict with 'counts'")
    size = segmentation.get("size", [height, width])
    if list(size) != [height, width]:
        raise ValueError(f"segmentation size {list(size)} differs from the video's [{height}, {width}]")
    if isinstance(segmentation["counts"], list):
        return mask_utils.frPyObjects(segmentation, height, width)["counts"]
    counts = segmentation["counts"]
    return counts.encode("ascii") if isinstance(counts, str) else counts
