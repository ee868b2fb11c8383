"""A local appearance model for tracking: the previous frame's labels in a bilateral grid.

The global colour model of :mod:`sam3core.classical.track` asks "is this colour object-coloured?"
over the whole object, which fails where the object shares colours with its surroundings elsewhere
(a dark leg beside a dark shadow, a red shirt beside a red car). A *local* model asks "near this
position, were pixels of this colour object on the previous frame?" -- the idea behind Video
SnapCut's local classifiers along the outline and bilateral-space VOS (Maerki et al. 2016).

Here it is one dense grid over (y, x, L, a, b) around the object: the previous frame's pixels are
splatted into it with weights soft / (1 - soft) (object / background), the grid is blurred along
each axis, and the new frame's pixels read P(object) back from their cell. Cells nobody visited say
0.5 (no opinion), so the model only speaks where it has seen similar colours nearby. The previous
frame's pixels keep their own positions shifted by the object's median motion: a grid cell spans
``cell`` work pixels, so the deformation left after that shift is absorbed by the spatial blur,
and nothing is learnt from flow-warped pixels, which are garbage exactly where the flow fails.
"""

from __future__ import annotations

import numpy as np

# Lab units (OpenCV's 8-bit Lab) per grid cell: lightness coarser than chroma, whose values natural
# images spread over only ~60 of the 256 units.
COLOUR_CELL = np.array([32, 12, 12])
# Pseudo-count (pixels) pulling thinly visited cells towards 0.5 (no opinion): a cell speaks only
# when it saw a few pixels of a colour, so a small object's model (few pixels per cell) speaks
# softly. Measured on DAVIS (tune split, docs/classical.md): better than a count relative to the
# typical cell's mass (J&F 0.654 against 0.640).
_PRIOR = 2.0


def _blur_axis(grid: np.ndarray, axis: int) -> np.ndarray:
    """[1, 2, 1] / 4 along one axis, zero beyond the ends."""
    g = np.moveaxis(grid, axis, 0)
    out = 0.5 * g
    out[1:] += 0.25 * g[:-1]
    out[:-1] += 0.25 * g[1:]
    return np.moveaxis(out, 0, axis)


def _spatial(ys: np.ndarray, xs: np.ndarray, origin: tuple[float, float], cell: float,
             shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Flat spatial cell of each pixel and whether it lies inside the grid."""
    gy = np.floor((ys - origin[0]) / cell).astype(np.int64)
    gx = np.floor((xs - origin[1]) / cell).astype(np.int64)
    inside = (gy >= 0) & (gy < shape[0]) & (gx >= 0) & (gx < shape[1])
    return gy * shape[1] + gx, inside


def local_posterior(prev_lab: np.ndarray, prev_soft: np.ndarray, lab: np.ndarray,
                    shift: tuple[float, float], window: tuple[int, int, int, int], *,
                    cell: float) -> np.ndarray:
    """(h, w) float32 P(object | position, colour) on ``lab`` from ``prev_soft`` on ``prev_lab``.

    ``prev_lab``/``lab``: (h, w, 3) uint8 CIE Lab (OpenCV's 8-bit scaling); ``prev_soft``: (h, w)
    float in [0, 1];
    ``shift``: (dy, dx) the object moved from the previous frame to this one; ``window``: (x0, y0,
    x1, y1) of this frame where the answer is wanted (0.5 outside it); ``cell``: spatial cell side,
    work pixels.
    """
    h, w = prev_soft.shape
    out = np.full((h, w), 0.5, np.float32)
    x0, y0, x1, y1 = window
    if x1 <= x0 or y1 <= y0:
        return out
    gh, gw = int(np.ceil((y1 - y0) / cell)), int(np.ceil((x1 - x0) / cell))
    # Source: the previous frame around the window, moved by the object's motion.
    dy, dx = shift
    sy0, sy1 = max(0, int(np.floor(y0 - dy - cell))), min(h, int(np.ceil(y1 - dy + cell)))
    sx0, sx1 = max(0, int(np.floor(x0 - dx - cell))), min(w, int(np.ceil(x1 - dx + cell)))
    if sy1 <= sy0 or sx1 <= sx0:
        return out
    src = prev_lab[sy0:sy1, sx0:sx1]
    dst = lab[y0:y1, x0:x1]
    src_c = src.reshape(-1, 3) // COLOUR_CELL
    dst_c = dst.reshape(-1, 3) // COLOUR_CELL
    # The grid spans only the colours present (natural images use a small part of Lab), plus one
    # cell on each side for the blur.
    lo = np.minimum(src_c.min(axis=0), dst_c.min(axis=0)).astype(np.int64) - 1
    dims = (np.maximum(src_c.max(axis=0), dst_c.max(axis=0)).astype(np.int64) - lo + 2)
    nc = int(dims[0] * dims[1] * dims[2])

    def colour_cell(c: np.ndarray) -> np.ndarray:
        d = c.astype(np.int64) - lo
        return (d[:, 0] * dims[1] + d[:, 1]) * dims[2] + d[:, 2]

    ys, xs = np.mgrid[sy0:sy1, sx0:sx1]
    cell_xy, inside = _spatial(ys.ravel() + dy, xs.ravel() + dx, (y0, x0), cell, (gh, gw))
    idx = cell_xy * nc + colour_cell(src_c)
    p = prev_soft[sy0:sy1, sx0:sx1].ravel().astype(np.float64)
    size = gh * gw * nc
    fg = np.bincount(idx[inside], weights=p[inside], minlength=size).astype(np.float32)
    bg = np.bincount(idx[inside], weights=1.0 - p[inside], minlength=size).astype(np.float32)
    grid = np.stack([fg, bg]).reshape(2, gh, gw, *(int(d) for d in dims))
    for axis in range(1, 6):
        grid = _blur_axis(grid, axis)
    flat = grid.reshape(2, -1)
    # Slice: each new pixel reads its own cell.
    ys, xs = np.mgrid[y0:y1, x0:x1]
    cell_xy, _ = _spatial(ys.ravel().astype(np.float64), xs.ravel().astype(np.float64), (y0, x0), cell,
                          (gh, gw))
    q = cell_xy * nc + colour_cell(dst_c)
    f, b = flat[0][q], flat[1][q]
    prob = (f + 0.5 * _PRIOR) / (f + b + _PRIOR)
    out[y0:y1, x0:x1] = prob.reshape(y1 - y0, x1 - x0)
    return out


def object_shift(flow: np.ndarray, core: np.ndarray) -> tuple[float, float]:
    """(dy, dx) the object moved from the previous frame to the new one: minus its median backward flow."""
    if np.count_nonzero(core) < 16:
        return (0.0, 0.0)
    med = np.median(flow[core], axis=0)  # backward flow: new(x) ~ old(x + f)
    return (-float(med[1]), -float(med[0]))


def object_window(mask: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) around ``mask`` grown by ``margin`` pixels, clipped to the frame."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    if xs.size == 0:
        return (0, 0, 0, 0)
    return (max(0, int(xs.min()) - margin), max(0, int(ys.min()) - margin),
            min(w, int(xs.max()) + 1 + margin), min(h, int(ys.max()) + 1 + margin))
