"""A mask's outline as editable polygons (outer rings and holes), and the polygons back to a mask.

The outline tool (app/ui/outline_tool.py) shows these rings, lets the user drag, insert and delete
vertices, and stores the filled result as a brush edit would. Qt-free.

Coordinates are video pixels as the canvas uses them: pixel (row r, column c) covers
[c, c+1) x [r, r+1) and its centre is (c + 0.5, r + 0.5).

- Tracing: OpenCV's contours run through the centres of boundary pixels, so a one-pixel line would
  have no area and a hole's ring would run over the object's own pixels. As in app/domain/polygons.py
  (the COCO export) the mask is traced upsampled twice: the rings then run a quarter pixel inside the
  pixel edges, a one-pixel speck or line keeps a ring with area, and a hole's ring lies a quarter
  pixel inside the object. (That module's polygons are cut into hole-free strips for COCO, which is
  no shape to edit, hence this module.) The rings are simplified with ``approxPolyDP`` so that a
  user sees tens of vertices, not one per boundary pixel.
- Filling: a pixel belongs to a part when its centre is inside the part's outer ring and outside each
  of its holes (even-odd within one ring, so a ring dragged across itself still fills predictably).
  Parts are filled separately and united, so an island inside another part's hole survives.
  Unsimplified, tracing and filling give the mask back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

DEFAULT_EPSILON = 1.0  # simplification tolerance, video pixels: tens of vertices on a typical object

VertexRef = tuple[int, int]  # (ring index, vertex index)


@dataclass(frozen=True)
class Ring:
    """A closed polygon: ``points`` (K, 2) float x, y (not repeated at the end); ``parent`` is the index of
    the outer ring a hole belongs to, -1 for an outer ring."""

    points: np.ndarray
    parent: int = -1

    @property
    def is_hole(self) -> bool:
        return self.parent >= 0


def trace(mask: np.ndarray, epsilon: float = DEFAULT_EPSILON) -> Outline:
    """The rings of an (H, W) bool mask: outer contours and holes (OpenCV RETR_CCOMP), simplified."""
    mask = np.asarray(mask, bool)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return Outline((), epsilon)
    # Traced within the mask's bounding box: a small object on an HD frame costs what its box costs.
    top, left = int(rows[0]), int(cols[0])
    box = mask[top:int(rows[-1]) + 1, left:int(cols[-1]) + 1].astype(np.uint8)
    up = cv2.resize(box, (2 * box.shape[1], 2 * box.shape[0]), interpolation=cv2.INTER_NEAREST)
    contours, hierarchy = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    links = hierarchy[0]  # per contour: next, previous, first child, parent
    offset = np.array((left, top), np.float64)
    rings: list[Ring] = []
    for i, contour in enumerate(contours):
        if links[i][3] != -1:
            continue  # a hole: taken right after its outer ring
        outer = len(rings)
        rings.append(Ring(_simplified(contour, epsilon) + offset))
        child = links[i][2]
        while child != -1:
            rings.append(Ring(_simplified(contours[child], epsilon) + offset, outer))
            child = links[child][0]
    return Outline(tuple(rings), epsilon)


def _simplified(contour: np.ndarray, epsilon: float) -> np.ndarray:
    """Upsampled contour -> simplified ring in the box's pixels (a speck keeps its unsimplified ring)."""
    simple = cv2.approxPolyDP(contour, 2 * epsilon, True)  # upsampled pixels: twice the tolerance
    if len(simple) < 3:
        simple = contour
    return (simple[:, 0, :].astype(np.float64) + 0.5) / 2


@dataclass(frozen=True)
class Outline:
    """Rings of one mask; the edits return a new Outline (the drag keeps its starting one for undo)."""

    rings: tuple[Ring, ...]
    tolerance: float = DEFAULT_EPSILON  # how far the traced rings may stray from the mask's boundary

    @property
    def vertex_count(self) -> int:
        return sum(len(r.points) for r in self.rings)

    def vertex(self, ref: VertexRef) -> tuple[float, float]:
        x, y = self.rings[ref[0]].points[ref[1]]
        return float(x), float(y)

    # -- hit-testing --------------------------------------------------------------------------
    def nearest_vertex(self, x: float, y: float, radius: float) -> VertexRef | None:
        """The vertex closest to (x, y) within ``radius``, or None."""
        best, best_d = None, radius * radius
        for r, ring in enumerate(self.rings):
            d = ((ring.points - (x, y)) ** 2).sum(axis=1)
            k = int(np.argmin(d))
            if d[k] <= best_d:
                best, best_d = (r, k), float(d[k])
        return best

    def nearest_edge(self, x: float, y: float, radius: float) -> tuple[VertexRef, tuple[float, float]] | None:
        """The edge closest to (x, y) within ``radius``: where a vertex inserted on it goes (ring, index
        of the new vertex) and the point of the edge nearest (x, y)."""
        best, best_d = None, radius * radius
        p = np.array((x, y), np.float64)
        for r, ring in enumerate(self.rings):
            a = ring.points
            b = np.roll(a, -1, axis=0)
            ab = b - a
            length2 = (ab ** 2).sum(axis=1)
            t = np.clip(((p - a) * ab).sum(axis=1) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
            foot = a + t[:, None] * ab
            d = ((foot - p) ** 2).sum(axis=1)
            k = int(np.argmin(d))
            if d[k] <= best_d:
                best_d = float(d[k])
                best = ((r, k + 1), (float(foot[k, 0]), float(foot[k, 1])))
        return best

    # -- edits --------------------------------------------------------------------------------
    def _with_ring(self, index: int, points: np.ndarray) -> Outline:
        rings = list(self.rings)
        rings[index] = Ring(points, rings[index].parent)
        return Outline(tuple(rings), self.tolerance)

    def moved(self, ref: VertexRef, x: float, y: float) -> Outline:
        points = self.rings[ref[0]].points.copy()
        points[ref[1]] = (x, y)
        return self._with_ring(ref[0], points)

    def inserted(self, ref: VertexRef, x: float, y: float) -> Outline:
        """A new vertex at (x, y) that becomes vertex ``ref[1]`` of ring ``ref[0]``."""
        points = np.insert(self.rings[ref[0]].points, ref[1], (x, y), axis=0)
        return self._with_ring(ref[0], points)

    def deleted(self, ref: VertexRef) -> Outline:
        """Without that vertex. A ring left with fewer than 3 vertices goes (an outer ring with its holes)."""
        r, k = ref
        points = np.delete(self.rings[r].points, k, axis=0)
        if len(points) >= 3:
            return self._with_ring(r, points)
        gone = {r} if self.rings[r].is_hole else {r} | {i for i, g in enumerate(self.rings) if g.parent == r}
        renumber: dict[int, int] = {}
        kept: list[Ring] = []
        for i, ring in enumerate(self.rings):
            if i not in gone:
                renumber[i] = len(kept)
                kept.append(ring)
        rings = tuple(Ring(ring.points, renumber[ring.parent] if ring.is_hole else -1) for ring in kept)
        return Outline(rings, self.tolerance)

    def edges(self) -> set[tuple[tuple[float, float], tuple[float, float]]]:
        """Every edge as a pair of end points in a fixed order (so that an edge compares equal in two
        outlines whatever its direction or its ring's index)."""
        result = set()
        for ring in self.rings:
            starts = [(float(x), float(y)) for x, y in ring.points]
            for a, b in zip(starts, starts[1:] + starts[:1]):
                result.add((a, b) if a <= b else (b, a))
        return result

    # -- back to a mask -----------------------------------------------------------------------
    def to_mask(self, shape: tuple[int, int], origin: tuple[int, int] = (0, 0)) -> np.ndarray:
        """(H, W) bool: each outer ring filled with its holes cut out, the parts united; ``origin`` (x, y)
        is the video pixel at the array's top-left (a window of the frame)."""
        height, width = shape
        mask = np.zeros((height, width), bool)
        for r, ring in enumerate(self.rings):
            if ring.is_hole:
                continue
            part = fill_ring(ring.points - origin, shape)
            for hole in self.rings:
                if hole.parent == r:
                    part &= ~fill_ring(hole.points - origin, shape)
            mask |= part
        return mask


def apply_edit(mask: np.ndarray, before: Outline, after: Outline) -> np.ndarray:
    """``mask`` after its outline was edited from ``before`` to ``after``.

    Only where the edit reaches does the mask take ``after``'s fill: the pixels the two outlines fill
    differently, and those near an edge that one has and the other lacks. Elsewhere the mask keeps its
    own pixels, so that moving one vertex never reshapes the rest of the boundary by the simplification
    error (up to ``tolerance``), and the sliver between a moved edge and the true boundary goes with it.
    """
    mask = np.asarray(mask, bool)
    result = mask.copy()
    changed = before.edges() ^ after.edges()
    if not changed:
        return result
    # Both fills differ only between the changed edges: work in their bounding box (plus the reach).
    reach = max(before.tolerance, after.tolerance) + 1.0
    ends = np.array([point for edge in changed for point in edge])
    left, top = np.maximum(np.floor(ends.min(axis=0) - reach).astype(int) - 1, 0)
    right = min(mask.shape[1], int(np.ceil(ends[:, 0].max() + reach)) + 2)
    bottom = min(mask.shape[0], int(np.ceil(ends[:, 1].max() + reach)) + 2)
    if left >= right or top >= bottom:
        return result
    shape, origin = (bottom - top, right - left), (int(left), int(top))
    new = after.to_mask(shape, origin)
    region = before.to_mask(shape, origin) != new
    for (x0, y0), (x1, y1) in changed:
        region |= near_segment((x0 - left, y0 - top), (x1 - left, y1 - top), reach, shape)
    window = result[top:bottom, left:right]
    window[region] = new[region]
    return result


def near_segment(start: tuple[float, float], end: tuple[float, float], distance: float,
                 shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the pixels whose centre lies within ``distance`` of the segment."""
    height, width = shape
    near = np.zeros((height, width), bool)
    (x0, y0), (x1, y1) = start, end
    c0 = max(0, int(np.floor(min(x0, x1) - distance)))
    c1 = min(width, int(np.ceil(max(x0, x1) + distance)) + 1)
    r0 = max(0, int(np.floor(min(y0, y1) - distance)))
    r1 = min(height, int(np.ceil(max(y0, y1) + distance)) + 1)
    if c0 >= c1 or r0 >= r1:
        return near
    ys, xs = np.mgrid[r0:r1, c0:c1] + 0.5
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / length2, 0.0, 1.0) if length2 > 0 else 0.0
    near[r0:r1, c0:c1] = (xs - x0 - t * dx) ** 2 + (ys - y0 - t * dy) ** 2 <= distance * distance
    return near


def fill_ring(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the pixels whose centre lies inside the closed polygon ``points`` (even-odd rule).

    A scanline fill: each edge gives its crossings with the pixel-centre rows it spans (half-open in y,
    so a vertex on a row counts once); sorted by row and x, consecutive crossings pair up into spans.
    Work grows with the polygon's height and edges, not with the frame's area (one cumulative sum).
    """
    height, width = shape
    mask = np.zeros((height, width), bool)
    if len(points) < 3:
        return mask
    a = np.asarray(points, np.float64)
    b = np.roll(a, -1, axis=0)
    # Centre rows y = r + 0.5 with min(ya, yb) <= y < max(ya, yb).
    y_lo, y_hi = np.minimum(a[:, 1], b[:, 1]), np.maximum(a[:, 1], b[:, 1])
    first = np.ceil(y_lo - 0.5).astype(np.int64)
    counts = np.maximum(np.ceil(y_hi - 0.5).astype(np.int64) - first, 0)
    total = int(counts.sum())
    if total == 0:
        return mask
    edge = np.repeat(np.arange(len(a)), counts)
    starts = np.cumsum(counts) - counts
    rows = first[edge] + (np.arange(total) - starts[edge])
    ya, yb, xa, xb = a[edge, 1], b[edge, 1], a[edge, 0], b[edge, 0]
    xs = xa + (rows + 0.5 - ya) * (xb - xa) / (yb - ya)  # yb != ya: a horizontal edge spans no row
    order = np.lexsort((xs, rows))
    rows, xs = rows[order][0::2], xs[order].reshape(-1, 2)  # every row has an even number of crossings
    keep = (rows >= 0) & (rows < height)
    rows, xs = rows[keep], xs[keep]
    # Columns c with centre c + 0.5 in [x0, x1).
    start = np.clip(np.ceil(xs[:, 0] - 0.5), 0, width).astype(np.int64)
    stop = np.clip(np.ceil(xs[:, 1] - 0.5), 0, width).astype(np.int64)
    if not len(rows):
        return mask
    top, bottom = int(rows.min()), int(rows.max()) + 1
    left, right = int(start.min()), int(stop.max())
    spans = np.zeros((bottom - top, right - left + 1), np.int32)
    np.add.at(spans, (rows - top, start - left), 1)
    np.add.at(spans, (rows - top, stop - left), -1)
    mask[top:bottom, left:right] = np.cumsum(spans, axis=1)[:, :right - left] > 0
    return mask
