"""An object's whole shape is carried through an occlusion so it re-emerges (classical.occlusion)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sam3core.classical import ClassicalEngine
from sam3core.classical.occlusion import MAX_HIDDEN_FRAMES, Carry, carried, object_motion, update_hidden
from sam3core.classical.state import ClassicalSettings
from sam3core.classical.track import carry_gate
from sam3core.video import write_video

H, W = 120, 200


def _block(x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[40:80, x0:x1] = True
    return mask


def test_a_whole_object_restarts_the_shape_and_a_hidden_one_moves_it_on() -> None:
    whole = _block(20, 60)
    hidden = update_hidden(None, whole.astype(np.float32), whole, 1600.0, (5.0, 0.0))
    assert hidden is not None and hidden.frames == 0 and carried(hidden) is None  # whole: no carry
    half = _block(20, 40)  # the front half went behind something
    hidden = update_hidden(hidden, half.astype(np.float32), half, 1600.0, (5.0, 0.0))
    assert hidden.frames == 1 and hidden.offset == (5.0, 0.0)
    moved = carried(hidden)  # where it should be on the next frame: 10 px on
    assert moved is not None and moved.velocity == (5.0, 0.0)
    assert moved.shape[40:80, 31:69].min() > 0.99 and moved.shape[:, :29].max() == 0.0
    gone = np.zeros((H, W), bool)  # all hidden: no motion to measure, the last velocity goes on
    hidden = update_hidden(hidden, gone.astype(np.float32), gone, 1600.0, None)
    assert hidden.offset == (10.0, 0.0) and hidden.velocity == (5.0, 0.0)


def test_a_visible_remnant_moving_another_way_does_not_change_the_velocity() -> None:
    # A hand drags the last corner of a still block away: the shape stays where the block was.
    whole = _block(20, 60)
    hidden = update_hidden(None, whole.astype(np.float32), whole, 1600.0, None)
    assert hidden is not None and hidden.velocity is None
    half = _block(20, 40)
    unknown = update_hidden(hidden, half.astype(np.float32), half, 1600.0, None)
    assert carried(unknown) is None  # no motion measured yet: nowhere to carry it to
    hidden = update_hidden(hidden, whole.astype(np.float32), whole, 1600.0, (0.0, 0.0))
    assert hidden.velocity == (0.0, 0.0)  # the first measurement is taken as it is
    dragged = update_hidden(hidden, half.astype(np.float32), half, 1600.0, (6.0, -3.0))
    assert dragged.velocity == (0.0, 0.0) and dragged.offset == (0.0, 0.0)
    slower = update_hidden(hidden, half.astype(np.float32), half, 1600.0, (1.0, 0.0))
    assert slower.velocity == (0.5, 0.0)  # within 2 px: followed (smoothed)


def test_the_hidden_shape_is_forgotten_after_a_while() -> None:
    whole = _block(20, 60)
    hidden = update_hidden(None, whole.astype(np.float32), whole, 1600.0, None)
    gone = np.zeros((H, W), bool)
    for _ in range(MAX_HIDDEN_FRAMES):
        hidden = update_hidden(hidden, gone.astype(np.float32), gone, 1600.0, None)
        assert hidden is not None
    assert update_hidden(hidden, gone.astype(np.float32), gone, 1600.0, None) is None
    assert update_hidden(None, gone.astype(np.float32), gone, 1600.0, None) is None


def test_object_motion_is_the_negated_median_backward_flow_of_the_core() -> None:
    flow = np.zeros((H, W, 2), np.float32)
    flow[40:80, 20:60] = (-4.0, 1.0)
    assert object_motion(flow, _block(20, 60)) == (4.0, -1.0)
    tiny = np.zeros((H, W), bool)
    tiny[0:3, 0:3] = True
    assert object_motion(flow, tiny) is None


def _pole_clip(tmp_path: Path) -> Path:
    # A textured block runs right at 5 px a frame over a still background of the same colours (so
    # only its motion tells it apart, as the dark dog on dark ground in DAVIS libby) and passes
    # behind a still dark pole 14 px wide, drawn over it.
    rng = np.random.default_rng(3)
    base = np.kron(rng.integers(70, 170, (H // 4, W // 4, 3)), np.ones((4, 4, 1))).astype(np.uint8)
    block = np.kron(rng.integers(70, 170, (10, 10, 3)), np.ones((4, 4, 1))).astype(np.uint8)
    frames = []
    for t in range(20):
        im = base.copy()
        x = 20 + 5 * t
        im[40:80, x:x + 40] = block
        im[:, 90:104] = (25, 25, 25)
        frames.append(im)
    path = tmp_path / "pole.mp4"
    write_video(path, frames, fps=10)
    return path


def test_engine_an_object_that_passed_behind_a_pole_is_still_tracked(tmp_path: Path) -> None:
    video = _pole_clip(tmp_path)
    cover = {}
    for carry in (False, True):
        engine = ClassicalEngine(ClassicalSettings(occlusion_carry=carry, work_long_side=W))
        state = engine.init_state(video_path=str(video))
        engine.add_new_mask(state, 0, 1, _block(20, 60))
        shown = {}
        for frame, _ids, _low, video_res, *_ in engine.propagate_in_video(state):
            shown[frame] = (video_res[0, 0] > 0).numpy()
        # Frame 18: the block is at x 110..150, fully out from behind the pole.
        cover[carry] = float(shown[18][_block(110, 150)].mean())
        assert not shown[18][:, :88].any() or not carry  # nothing claimed back behind it
    assert cover[False] < 0.3  # eaten by the pole: what came out on the other side was never claimed
    assert cover[True] > 0.65


def test_the_carried_shape_counts_only_where_pixels_move_like_the_hidden_object() -> None:
    shape = _block(60, 100).astype(np.float32)
    flow = np.zeros((H, W, 2), np.float32)
    flow[...] = (4.0, 0.0)  # the background (the camera pans): backward flow +4, it moves 4 px left
    flow[40:80, 60:80] = (-5.0, 0.0)  # the object's half that is out moves 5 px right
    gate = carry_gate(flow, Carry(shape, (5.0, 0.0)), reach_px=4)
    assert gate[40:80, 60:80].all()
    assert not gate[40:80, 80:100].any()  # the other half of the shape shows background: not object
    still = np.zeros((H, W, 2), np.float32)  # object and background alike: motion tells nothing
    assert not carry_gate(still, Carry(shape, (0.0, 0.0)), reach_px=4).any()
