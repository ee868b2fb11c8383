"""What enters the view continues the object at the frame's edge, if the object moves its own way."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sam3core.classical import ClassicalEngine
from sam3core.classical.propagate import pixel_grid
from sam3core.classical.state import ClassicalSettings
from sam3core.classical.track import enters, from_outside, moves_its_own_way
from sam3core.video import write_video

H, W = 120, 200
BLOCK = 48  # the block's width; 12 px of it are in view on frame 0
SPEED = 4  # px a frame, leftwards


def _block_at(x0: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[40:80, max(x0, 0):min(x0 + BLOCK, W)] = True
    return mask


def _entering_clip(tmp_path: Path) -> Path:
    # A reddish textured block drives into the view through the right edge over a still background
    # a third of which has the block's colours, so colour alone does not claim the part that comes
    # in (as the car in DAVIS drift-straight): the frame edge it continues does.
    rng = np.random.default_rng(5)
    grey = rng.integers(70, 170, (H // 4, W // 4, 3))
    red = np.stack([rng.integers(130, 180, (H // 4, W // 4)), rng.integers(50, 100, (H // 4, W // 4)),
                    rng.integers(50, 100, (H // 4, W // 4))], axis=-1)
    mixed = np.where(rng.random((H // 4, W // 4, 1)) < 1 / 3, red, grey)
    base = np.kron(mixed, np.ones((4, 4, 1))).astype(np.uint8)
    block = np.kron(red[:10, : BLOCK // 4], np.ones((4, 4, 1))).astype(np.uint8)
    frames = []
    for t in range(20):
        im = base.copy()
        x = W - 12 - SPEED * t
        vis = _block_at(x)
        im[vis] = block[:, max(0, -x):][:, : int(vis[50].sum())].reshape(-1, 3)
        frames.append(im)
    path = tmp_path / "entering.mp4"
    write_video(path, frames, fps=10)
    return path


def test_engine_the_part_that_drives_into_view_is_claimed(tmp_path: Path) -> None:
    video = _entering_clip(tmp_path)
    cover, spill = {}, {}
    for entry in (False, True):
        engine = ClassicalEngine(ClassicalSettings(edge_entry=entry, work_long_side=W))
        state = engine.init_state(video_path=str(video))
        engine.add_new_mask(state, 0, 1, _block_at(W - 12))
        shown = {}
        for frame, _ids, _low, video_res, *_ in engine.propagate_in_video(state):
            shown[frame] = (video_res[0, 0] > 0).numpy()
        truth = _block_at(W - 12 - SPEED * 15)  # frame 15: the block is all in view
        cover[entry] = float(shown[15][truth].mean())
        spill[entry] = int(np.count_nonzero(shown[15] & ~truth))
    assert cover[False] < 0.5  # only the part first seen, and what colour grew of it
    assert cover[True] > 0.75 and cover[True] > cover[False] + 0.25
    assert spill[True] < 0.1 * truth.sum()


def test_only_pixels_that_came_from_outside_are_read_from_the_edge() -> None:
    grid = pixel_grid(H, W)
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = 6.0  # every new pixel came from 6 px to its right
    outside = from_outside(flow, grid)
    assert outside[:, W - 5:].all() and not outside[:, : W - 6].any()


def test_a_remnant_that_moves_with_its_surroundings_is_not_fed_by_a_pan() -> None:
    # A mask stuck on the background at the right edge while the camera pans: everything moves
    # alike, so what the pan brings in stays background (bmx-bumps' green fence).
    grid = pixel_grid(H, W)
    prev = np.zeros((H, W), np.float32)
    prev[40:80, W - 30:] = 1.0
    pan = np.zeros((H, W, 2), np.float32)
    pan[..., 0] = 6.0
    assert not moves_its_own_way(pan, prev, 4, exclude=from_outside(pan, grid))
    warped = np.zeros((H, W), np.float32)
    warped[40:80, W - 36: W - 6] = 1.0  # the remnant carried 6 px left; the new 6 columns read 0
    assert enters(prev, pan, grid, warped, 4)[40:80, W - 5:].max() == 0.0
    # The same mask moving its own way (the object enters while the background stands still).
    own = np.zeros((H, W, 2), np.float32)
    own[30:90, W - 40:, 0] = 6.0
    assert moves_its_own_way(own, warped, 4, exclude=from_outside(own, grid))
    assert enters(prev, own, grid, warped, 4)[40:80, W - 5:].min() > 0.99
