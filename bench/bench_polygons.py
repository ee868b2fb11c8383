"""How exactly polygon exports decode back to real masks, and what the tracing costs.

    python bench/bench_polygons.py /work/data/vos/davis2016 [--scales 1 0.25 0.125] [--every 1]

Reads every ``<seq>/Annotations/*.png`` under the folder (binary or indexed DAVIS masks), and for
each mask and scale (masks shrunk with nearest-neighbour sampling, so small curved objects are
measured too) compares the decoded polygons with the mask:

- ``coco``: :func:`app.domain.polygons.mask_to_polygons`, decoded by pycocotools (``frPyObjects`` +
  ``merge``), the way COCO tools, FiftyOne and Masklet's import read them;
- ``yolo``: :func:`app.domain.polygons.mask_to_yolo_polygons` written as in the YOLO export, filled
  the way Ultralytics' ``polygon2mask`` fills them (int32 truncation, ``cv2.fillPoly``);
- ``baseline``: the earlier COCO method, measured in the same run: contours through the boundary
  pixel centres, buffered by half a pixel (shapely, mitred corners).

Prints, per method and scale, the mean and worst IoU, the share of masks decoded exactly and the
tracing time per mask.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import shapely
from PIL import Image
from pycocotools import mask as mask_utils
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import split

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.domain.polygons import mask_to_polygons, mask_to_yolo_polygons  # noqa: E402


def baseline_polygons(mask: np.ndarray) -> list[list[float]]:
    """The earlier method (pixel-centre contours buffered by 0.5), kept here as the baseline."""
    contours, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    shapes = []
    for i, contour in enumerate(contours):
        if hierarchy[0][i][3] != -1:
            continue
        outline = contour[:, 0, :].astype(np.float64)
        holes, child = [], hierarchy[0][i][2]
        while child != -1:
            if len(contours[child]) >= 3:
                holes.append(contours[child][:, 0, :].astype(np.float64))
            child = hierarchy[0][child][0]
        if len(outline) >= 3:
            shape = Polygon(outline, holes).buffer(0)
            shape = LineString(outline) if shape.is_empty else shape
        elif len(outline) == 2:
            shape = LineString(outline)
        else:
            shape = Point(outline[0])
        shapes.append(shape.buffer(0.5, join_style=2, cap_style=3))
    union = shapely.union_all(shapes)
    out = []
    for g in getattr(union, "geoms", [union]):
        if isinstance(g, Polygon):
            for piece in _cut_holes(g):
                out.append([float(v) for v in np.asarray(piece.exterior.coords)[:-1].ravel()])
    return out


def _cut_holes(polygon: Polygon) -> list[Polygon]:
    """Hole-free pieces, cut along a vertical line through each hole (as the baseline did)."""
    if not polygon.interiors:
        return [polygon]
    x = polygon.interiors[0].centroid.x
    _, y0, _, y1 = polygon.bounds
    pieces = []
    for piece in split(polygon, LineString([(x, y0 - 1), (x, y1 + 1)])).geoms:
        if isinstance(piece, Polygon) and not piece.is_empty:
            pieces.extend(_cut_holes(piece))
    return pieces


def decode_coco(polygons: list[list[float]], height: int, width: int) -> np.ndarray:
    if not polygons:
        return np.zeros((height, width), bool)
    return mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))).astype(bool)


def decode_yolo(polygons: list[np.ndarray], height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    for polygon in polygons:
        normalised = np.round((polygon + 0.5) / [width, height], 6)  # as the export writes them
        cv2.fillPoly(mask, [(normalised * [width, height]).astype(np.int32).reshape(-1, 2)], 1)
    return mask.astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.25, 0.125])
    parser.add_argument("--every", type=int, default=1, help="use every n-th mask")
    args = parser.parse_args()
    files = sorted(args.root.glob("*/Annotations/*.png"))[::args.every]
    if not files:
        print(f"{args.root}: no <seq>/Annotations/*.png", file=sys.stderr)
        return 2
    methods = {"coco": (mask_to_polygons, decode_coco), "yolo": (mask_to_yolo_polygons, decode_yolo),
               "baseline": (baseline_polygons, decode_coco)}
    print(f"{len(files)} masks from {len({f.parent.parent for f in files})} sequences under {args.root}")
    print(f"{'method':<9} {'scale':>5} {'masks':>6} {'mean px':>8} {'mean IoU':>9} {'worst IoU':>9} "
          f"{'exact':>6} {'ms/mask':>8}")
    for scale in args.scales:
        masks = []
        for file in files:
            labels = np.asarray(Image.open(file))
            mask = labels > 0 if labels.ndim == 2 else labels[..., 0] > 0
            if scale != 1:
                h, w = mask.shape
                mask = cv2.resize(mask.astype(np.uint8), (max(1, round(w * scale)), max(1, round(h * scale))),
                                  interpolation=cv2.INTER_NEAREST).astype(bool)
            if mask.any():
                masks.append(mask)
        for name, (trace, decode) in methods.items():
            scores, spent = [], 0.0
            for mask in masks:
                start = time.perf_counter()
                polygons = trace(mask)
                spent += time.perf_counter() - start
                scores.append(iou(decode(polygons, *mask.shape), mask))
            scores_a = np.asarray(scores)
            print(f"{name:<9} {scale:>5g} {len(masks):>6} {np.mean([m.sum() for m in masks]):>8.0f} "
                  f"{scores_a.mean():>9.4f} {scores_a.min():>9.4f} {(scores_a == 1).mean():>6.1%} "
                  f"{1000 * spent / len(masks):>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
