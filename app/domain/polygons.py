"""Mask -> COCO polygons, holes included.

COCO polygons are filled and merged by union, so a hole cannot be written as a ring. Each shape
with holes is therefore cut (by shapely) along vertical lines through its holes into hole-free
pieces whose union is the shape with its holes open.

OpenCV traces contours through the centres of boundary pixels; buffering the traced shape by half a
pixel moves the outline onto the pixel edges (and holes shrink by the same half pixel), so that
one-pixel specks and thin lines survive and areas match the mask.
"""

from __future__ import annotations

import cv2
import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import split

_MITRE, _SQUARE = 2, 3


def _traced_shapes(mask: np.ndarray) -> list[BaseGeometry]:
    contours, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    links = hierarchy[0]  # per contour: next, previous, first child, parent
    shapes: list[BaseGeometry] = []
    for i, contour in enumerate(contours):
        if links[i][3] != -1:
            continue  # a hole; taken with its outer contour
        outline = contour[:, 0, :].astype(np.float64)
        holes = []
        child = links[i][2]
        while child != -1:
            hole = contours[child][:, 0, :].astype(np.float64)
            if len(hole) >= 3:
                holes.append(hole)
            child = links[child][0]
        if len(outline) >= 3:
            shape: BaseGeometry = Polygon(outline, holes).buffer(0)
            if shape.is_empty:  # a zero-area outline (a one-pixel-wide line traced both ways)
                shape = LineString(outline)
        elif len(outline) == 2:
            shape = LineString(outline)
        else:
            shape = Point(outline[0])
        shapes.append(shape.buffer(0.5, join_style=_MITRE, cap_style=_SQUARE))
    return shapes


def _without_holes(polygon: Polygon) -> list[Polygon]:
    if not polygon.interiors:
        return [polygon]
    x = polygon.interiors[0].centroid.x
    _, y0, _, y1 = polygon.bounds
    pieces = split(polygon, LineString([(x, y0 - 1), (x, y1 + 1)])).geoms
    result: list[Polygon] = []
    for piece in pieces:
        if isinstance(piece, Polygon) and not piece.is_empty:
            result.extend(_without_holes(piece))
    return result


def mask_to_polygons(mask: np.ndarray) -> list[list[float]]:
    """(H, W) bool mask -> COCO polygons ``[[x0, y0, x1, y1, ...], ...]`` (pixel-edge coordinates)."""
    shapes = _traced_shapes(mask)
    if not shapes:
        return []
    union = shapely.union_all(shapes)
    polygons = [g for g in getattr(union, "geoms", [union]) if isinstance(g, Polygon)]
    result: list[list[float]] = []
    for polygon in polygons:
        for piece in _without_holes(polygon):
            coords = np.asarray(piece.exterior.coords)[:-1]
            if len(coords) >= 3:
                result.append([round(float(v), 2) for v in coords.ravel()])
    return result
