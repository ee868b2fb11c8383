"""The classical tracker's local (position + colour) model, sam3core.classical.bilateral."""

from __future__ import annotations

import cv2
import numpy as np

from sam3core.classical.bilateral import local_posterior, object_shift, object_window
from sam3core.classical.propagate import pixel_grid
from sam3core.classical.track import learn_appearance, track_step

H, W = 80, 120
RED, GREEN, GREY = (200, 30, 30), (40, 160, 50), (120, 120, 120)


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)


def _scene(dx: int) -> tuple[np.ndarray, np.ndarray]:
    """A red-and-green object on grey beside a red background patch, the object moved by ``dx``.

    The red patch has the object's colour, so a colour-only model cannot tell them apart; only
    where red was object *near this position* can.
    """
    image = np.zeros((H, W, 3), np.uint8)
    image[:] = GREY
    image[25:55, 70:90] = RED  # background, never object
    mask = np.zeros((H, W), bool)
    image[20:60, 20 + dx:35 + dx] = RED
    image[20:60, 35 + dx:50 + dx] = GREEN
    mask[20:60, 20 + dx:50 + dx] = True
    return image, mask


def test_the_local_model_tells_the_object_from_a_same_coloured_neighbour() -> None:
    prev, prev_mask = _scene(0)
    new, new_mask = _scene(6)
    window = object_window(new_mask, 40)
    assert window[2] > 90  # the window holds the red patch too
    p = local_posterior(_lab(prev), prev_mask.astype(np.float32), _lab(new), (0.0, 6.0), window, cell=8.0)
    assert p[25:55, 28:54].min() > 0.65  # the moved object, both of its colours
    assert p[30:50, 74:86].max() < 0.3  # the red patch stays background
    assert p[5:15, 30:40].max() < 0.3  # grey, seen as background nearby
    assert (p[:, :window[0]] == 0.5).all()  # outside the window: no opinion


def test_without_the_motion_the_moved_edge_is_unsure_and_unseen_colours_say_nothing() -> None:
    prev, prev_mask = _scene(0)
    new, _ = _scene(0)
    new[30:40, 30:40] = (20, 20, 240)  # a colour nobody saw on the previous frame
    window = (0, 0, W, H)
    p = local_posterior(_lab(prev), prev_mask.astype(np.float32), _lab(new), (0.0, 0.0), window, cell=8.0)
    assert abs(float(p[33:37, 33:37].mean()) - 0.5) < 0.1


def test_object_shift_is_measured_where_the_object_now_is() -> None:
    flow = np.zeros((H, W, 2), np.float32)
    core = np.zeros((H, W), bool)
    core[20:40, 30:50] = True
    flow[core] = (-7.0, 2.0)  # new(x) ~ old(x + f): it moved 7 right and 2 up
    assert object_shift(flow, core) == (-2.0, 7.0)
    assert object_shift(flow, np.zeros_like(core)) == (0.0, 0.0)


def test_tracking_with_the_local_model_keeps_the_object_off_the_red_patch() -> None:
    # The flow is wrong on the red patch (it says those pixels came from inside the object), so the
    # carried mask leaks onto it (weakened by the forward-backward check); the global colour model
    # calls the patch object-coloured, the local model knows red was background there on the
    # previous frame.
    prev, prev_mask = _scene(0)
    new, new_mask = _scene(0)
    model = learn_appearance(prev, prev_mask, 3)
    assert model is not None
    flow = np.zeros((H, W, 2), np.float32)
    flow[25:55, 56:80, 0] = -30.0  # a new pixel at x looks up x - 30, inside the object
    grid = pixel_grid(H, W)
    prev_soft = np.where(prev_mask, 0.95, 0.02).astype(np.float32)
    trust = np.ones((H, W), np.float32)
    trust[25:55, 56:80] = 0.2  # the forward-backward check did not confirm that flow
    kw = dict(colour_weight=0.5, reach_px=4, prior_blur=0.0, ref_area=float(prev_mask.sum()), trust=trust)
    plain = track_step(prev_soft, flow, grid, new, model, **kw)
    assert plain.mask[30:50, 70:78].all()  # colour alone keeps the red part of the leak
    local = track_step(prev_soft, flow, grid, new, model, local=(_lab(prev), _lab(new)),
                       local_weight=3.0, local_cell=0.25, **kw)
    assert not local.mask[30:50, 70:78].any()
    assert local.mask[22:58, 22:48].all()
    assert np.count_nonzero(local.mask & new_mask) / np.count_nonzero(local.mask | new_mask) > 0.9
