"""Forward-backward flow consistency in the classical tracker (ClassicalSettings.fb_check)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sam3core.classical import ClassicalEngine
from sam3core.classical.propagate import FlowField, flow_trust, pixel_grid
from sam3core.classical.state import ClassicalSettings
from sam3core.classical.track import learn_appearance, track_step
from sam3core.eval.metrics import region_similarity
from sam3core.eval.synthetic import generate_clip
from sam3core.video import write_video

H, W = 60, 80


def test_flow_trust_is_high_where_forward_and_backward_agree_and_low_where_not() -> None:
    grid = pixel_grid(H, W)
    backward = np.zeros((H, W, 2), np.float32)
    backward[..., 0] = -4.0  # everything moved 4 px right: each new pixel came from 4 px to its left
    forward = np.zeros((H, W, 2), np.float32)
    forward[..., 0] = 4.0
    agree = flow_trust(backward, forward, grid)
    assert agree[:, 8:].min() > 0.95
    # An occluded patch: the forward flow does not lead back (it moved somewhere else).
    forward[20:40, 20:40] = (-6.0, 3.0)
    trust = flow_trust(backward, forward, grid)
    assert trust[25:35, 30:40].max() <= 0.3
    assert trust[:, 60:].min() > 0.95
    assert trust.min() >= 0.2  # never zero: the prior still counts a little


def test_low_trust_lets_colour_remove_a_carried_region() -> None:
    # The object is red on blue; on the new frame a carried part of it shows blue (it was covered).
    first = np.zeros((H, W, 3), np.uint8)
    first[:] = (30, 40, 200)
    first[20:40, 20:50] = (210, 30, 30)
    mask = np.zeros((H, W), bool)
    mask[20:40, 20:50] = True
    model = learn_appearance(first, mask, 3)
    assert model is not None and model.reliability > 0.9
    new = first.copy()
    new[20:40, 40:50] = (30, 40, 200)  # the right part is covered by background-coloured stuff
    flow = np.zeros((H, W, 2), np.float32)
    grid = pixel_grid(H, W)
    kw = dict(colour_weight=0.5, reach_px=3, prior_blur=0.0, ref_area=float(mask.sum()))
    trusted = track_step(mask.astype(np.float32), flow, grid, new, model, **kw)
    assert trusted.mask[25:35, 42:48].all()  # a sure prior outweighs half-weighted colour
    trust = np.ones((H, W), np.float32)
    trust[20:40, 40:50] = 0.2  # the flow there was not confirmed
    checked = track_step(mask.astype(np.float32), flow, grid, new, model, trust=trust, **kw)
    assert not checked.mask[25:35, 42:48].any()
    assert checked.mask[25:35, 22:38].all()  # the confirmed part stays


@pytest.mark.parametrize(("size", "shift"), [(12, 2), (20, 3), (30, 4)])
def test_fine_flow_follows_a_small_object_that_medium_blurs(size: int, shift: int) -> None:
    # A small textured patch moves right over a still textured background. "medium" stops its search
    # at half the resolution, where the patch is a few pixels wide and its motion is averaged with the
    # still background around it; "fine" (the default) searches at full resolution.
    rng = np.random.default_rng(3)
    h, w = 120, 160
    bg = cv2.GaussianBlur((rng.random((h, w)) * 255).astype(np.float32), (0, 0), 2)
    patch = cv2.GaussianBlur((rng.random((size, size)) * 255).astype(np.float32), (0, 0), 2)
    old, new = bg.copy(), bg.copy()
    old[50:50 + size, 60:60 + size] = patch
    new[50:50 + size, 60 + shift:60 + shift + size] = patch
    old_g = cv2.normalize(old, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    new_g = cv2.normalize(new, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    inner = np.s_[52:48 + size, 62 + shift:58 + shift + size]  # the patch on the new frame, less its edge
    error = {p: float(np.abs(FlowField(p).backward(new_g, old_g)[inner][..., 0] + shift).mean())
             for p in ("medium", "fine")}
    assert error["fine"] < 0.2 < error["medium"]
    assert ClassicalSettings().flow_preset == "fine"


@pytest.mark.parametrize("fb_check", [False, True])
def test_engine_tracks_a_synthetic_clip_with_and_without_the_check(tmp_path: Path, fb_check: bool) -> None:
    clip = generate_clip(3, num_frames=12, height=120, width=200, num_objects=1, leave_frame=False)
    path = write_video(tmp_path / "frames", clip.frames)
    engine = ClassicalEngine(ClassicalSettings(fb_check=fb_check))
    state = engine.init_state(str(path))
    engine.add_new_mask(state, 0, 1, clip.object_mask(0, 1))
    js = [region_similarity(video[ids.index(1), 0].numpy() > 0, clip.object_mask(t, 1))
          for t, ids, _low, video, _s in engine.propagate_in_video(state)]
    assert len(js) == clip.num_frames and float(np.mean(js)) >= 0.85
    engine.close(state)


def _colour_shift_clip(tmp_path: Path) -> Path:
    # A square drifting right whose red slowly turns orange (the light changes as it moves).
    frames = []
    for t in range(12):
        frame = np.full((H * 2, W * 2, 3), (30, 60, 160), np.uint8)
        x = 30 + 3 * t
        frame[40:80, x:x + 40] = (220, 40 + 10 * t, 30)
        frames.append(frame)
    return write_video(tmp_path / "shift", frames)


@pytest.mark.parametrize("rate", [0.0, 0.05])
def test_the_fine_colour_model_follows_confident_frames_only_when_asked(tmp_path: Path, rate: float) -> None:
    engine = ClassicalEngine(ClassicalSettings(appearance_rate=rate))
    state = engine.init_state(str(_colour_shift_clip(tmp_path)))
    first = np.zeros((H * 2, W * 2), bool)
    first[40:80, 30:70] = True
    engine.add_new_mask(state, 0, 1, first)
    list(engine.propagate_in_video(state))
    track = state.tracks[1]
    assert track.appearance is not None
    learnt_on_anchor = engine.init_state(str(_colour_shift_clip(tmp_path)))
    engine.add_new_mask(learnt_on_anchor, 0, 1, first)
    list(engine.propagate_in_video(learnt_on_anchor, max_frame_num_to_track=0))
    anchor_model = learnt_on_anchor.tracks[1].appearance
    assert anchor_model is not None
    changed = not np.array_equal(track.appearance.fg, anchor_model.fg)
    assert changed == (rate > 0)
    assert track.outputs[11].unpack().any()  # still tracked at the end
    engine.close(state)
    engine.close(learnt_on_anchor)
