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


# Bounds on imported polygons, so that a hostile or broken file cannot make pycocotools allocate without
# limit (a NaN vertex once grew one import to 24 GB): coordinates within one image size beyond each
# border, and per annotation at most this many polygons, vertices and pixels of outline.
MAX_POLYGONS = 10_000
MAX_VERTICES = 1_000_000
MAX_OUTLINE_PX = 1_000_000


def compressed_runs(counts: bytes | str) -> np.ndarray:
    """The run lengths (int64) of COCO compressed RLE counts, decoded exactly as pycocotools does.

    Raises ValueError for characters outside the format, a truncated last run or a run too long to
    be one, instead of letting pycocotools read them (it does not check and writes out of bounds).
    """
    if isinstance(counts, str):
        try:
            counts = counts.encode("ascii")
        except UnicodeEncodeError as exc:
            raise ValueError("compressed RLE counts must be ASCII characters") from exc
    if not isinstance(counts, (bytes, bytearray)):
        raise ValueError(f"RLE counts must be a string or a list of integers, got {type(counts).__name__}")
    data = np.frombuffer(bytes(counts), np.uint8).astype(np.int64) - 48
    if data.size == 0:
        raise ValueError("RLE counts are empty")
    if (data < 0).any() or (data > 63).any():
        raise ValueError("RLE counts hold characters that are not COCO compressed RLE")
    more = (data & 0x20) != 0
    if more[-1]:
        raise ValueError("RLE counts end in the middle of a run")
    ends = np.flatnonzero(~more)
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts + 1
    if lengths.max() > 7:
        raise ValueError("RLE counts hold a run longer than any image")
    group = np.repeat(np.arange(len(ends)), lengths)
    values = np.zeros(len(ends), np.int64)
    np.add.at(values, group, (data & 0x1F) << (5 * (np.arange(data.size) - starts[group])))
    values = np.where((data[ends] & 0x10) != 0, values - (np.int64(1) << (5 * lengths)), values)
    # From the fourth run on, each is stored as the difference to the run two before it.
    runs = values.copy()
    runs[3::2] = np.cumsum(values[1::2])[1:]
    runs[4::2] = np.cumsum(values[2::2])[1:]
    return runs


def check_runs(runs: np.ndarray, height: int, width: int) -> None:
    """Run lengths must be non-negative and cover the (H, W) image exactly."""
    total = height * width
    if len(runs) > total + 1:
        raise ValueError(f"RLE holds {len(runs)} runs, more than the {height}x{width} image has pixels")
    if len(runs) and int(runs.min()) < 0:
        raise ValueError("RLE holds a negative run length")
    covered = int(runs.sum()) if len(runs) else 0
    if covered != total:
        raise ValueError(f"RLE runs cover {covered} pixels, but the {height}x{width} image has {total}")


def _uncompressed_runs(counts: list) -> np.ndarray:
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in counts):
        raise ValueError("uncompressed RLE counts must be integers")
    if any(v < 0 or v > 2**40 for v in counts):
        raise ValueError("uncompressed RLE counts must be non-negative run lengths")
    return np.asarray(counts, np.int64)


def _checked_polygons(segmentation: list, height: int, width: int) -> list[list[float]]:
    """COCO polygons, checked: lists of finite numbers (x, y pairs) near the image; degenerate ones
    (fewer than three points, no area) are dropped, as pycocotools would misread them as boxes."""
    if len(segmentation) > MAX_POLYGONS:
        raise ValueError(f"{len(segmentation)} polygons in one annotation (at most {MAX_POLYGONS})")
    kept: list[list[float]] = []
    vertices = 0
    outline = 0.0
    for k, polygon in enumerate(segmentation):
        if not isinstance(polygon, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in polygon):
            raise ValueError(f"polygon {k} must be a list of numbers x0, y0, x1, y1, ...")
        if len(polygon) % 2:
            raise ValueError(f"polygon {k} has an odd count of numbers ({len(polygon)}); give x, y pairs")
        if len(polygon) < 6:
            continue
        try:
            xy = np.asarray(polygon, np.float64).reshape(-1, 2)
        except OverflowError as exc:
            raise ValueError(f"polygon {k} holds a number too large") from exc
        if not np.isfinite(xy).all():
            raise ValueError(f"polygon {k} holds NaN or infinity")
        if (xy[:, 0] < -width).any() or (xy[:, 0] > 2 * width).any() or (xy[:, 1] < -height).any() \
                or (xy[:, 1] > 2 * height).any():
            raise ValueError(f"polygon {k} reaches far outside the {width}x{height} image")
        vertices += len(xy)
        outline += float(np.abs(np.diff(np.vstack([xy, xy[:1]]), axis=0)).max(axis=1).sum())
        if vertices > MAX_VERTICES or outline > MAX_OUTLINE_PX:
            raise ValueError(f"the polygons of one annotation are too large (more than {MAX_VERTICES} "
                             f"vertices or {MAX_OUTLINE_PX} pixels of outline)")
        kept.append([float(v) for v in polygon])
    return kept


def to_compressed(segmentation: dict | list, height: int, width: int) -> bytes:
    """Any COCO segmentation (polygons, uncompressed or compressed RLE) -> compressed counts, checked
    completely first: run lengths must cover H x W exactly, polygons be finite and of bounded size."""
    if isinstance(segmentation, list):
        polygons = _checked_polygons(segmentation, height, width)
        if not polygons:
            return encode(np.zeros((height, width), bool))[0]
        rles = mask_utils.frPyObjects(polygons, height, width)
        return mask_utils.merge(rles)["counts"]
    if not isinstance(segmentation, dict) or "counts" not in segmentation:
        raise ValueError("segmentation must be a list of polygons or an RLE dict with 'counts'")
    size = segmentation.get("size", [height, width])
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)):
        raise ValueError(f"segmentation size must be [height, width], got {str(size)[:40]}")
    if list(size) != [height, width]:
        raise ValueError(f"segmentation size {list(size)} differs from the video's [{height}, {width}]")
    counts = segmentation["counts"]
    if isinstance(counts, list):
        check_runs(_uncompressed_runs(counts), height, width)
        return mask_utils.frPyObjects({"size": [height, width], "counts": counts}, height, width)["counts"]
    check_runs(compressed_runs(counts), height, width)
    return counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
