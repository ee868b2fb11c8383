"""The classical engine on the real shared clips (skipped without ../shared/data).

The reference points and boxes below were read off the frames by eye (overlays checked as images):
they mark where the object is and where it is not, so each assertion is a measurement of the
engine's output, not a stored result.
"""

from __future__ import annotations

import numpy as np
import pytest

from sam3core.classical import ClassicalEngine
from sam3core.classical.segment import box_tightness
from sam3core.eval.metrics import region_similarity
from tests.conftest import shared_clip


def _mask(result: tuple, obj_id: int = 1) -> np.ndarray:
    return result[3][result[1].index(obj_id), 0].numpy() > 0


def _inside(mask: np.ndarray, box: tuple[int, int, int, int]) -> int:
    x0, y0, x1, y1 = box
    return int(mask[y0:y1, x0:x1].sum())


# dog.mp4 (1280x720), frame 0: a tight box around the dog (ball in its mouth on the left).
DOG_BOX = (445, 375, 705, 548)
DOG_BODY = [(610, 430), (500, 400), (670, 425)]  # back, head, hindquarters (x, y)
BALL = (465, 430)


def test_dog_box_gives_the_dog_not_just_the_ball() -> None:
    engine = ClassicalEngine()
    state = engine.init_state(str(shared_clip("dog.mp4")))
    mask = _mask(engine.add_new_points_or_box(state, 0, 1, box=DOG_BOX, rel_coordinates=False))
    for x, y in DOG_BODY:
        assert mask[y, x], f"dog body point {(x, y)} missing"
    x0, y0, x1, y1 = DOG_BOX
    fill = _inside(mask, DOG_BOX) / ((x1 - x0) * (y1 - y0))
    assert 0.35 <= fill <= 0.9  # the ball alone fills ~1 % of the box
    assert box_tightness(mask, DOG_BOX) >= 0.9  # it spans the box, as a tight box says it should
    assert mask.sum() - _inside(mask, DOG_BOX) < 0.05 * mask.sum()


def test_dog_negative_clicks_beside_and_on_a_leak_keep_the_dog() -> None:
    # The window's steps on frame 0 (a trial under Xvfb): the box, a click on the white chest, one on
    # a front leg (which lets in the concrete between the legs), a negative click meant for that
    # concrete that fell on the leash just outside the mask, and one on the concrete. Each negative
    # click used to leave only the two positive clicks' disks.
    engine = ClassicalEngine()
    state = engine.init_state(str(shared_clip("dog.mp4")))
    engine.add_new_points_or_box(state, 0, 1, box=DOG_BOX, rel_coordinates=False)
    clicks: list[tuple[float, float, int]] = []
    sizes = []
    for click in [(551.5, 446.9, 1), (548.0, 506.4, 1), (606.4, 517.8, 0), (624.8, 494.9, 0)]:
        clicks.append(click)
        mask = _mask(engine.add_new_points_or_box(
            state, 0, 1, points=[[x, y] for x, y, _ in clicks], labels=[lab for *_, lab in clicks],
            box=DOG_BOX, rel_coordinates=False))
        sizes.append(int(mask.sum()))
    assert sizes[2] >= 0.9 * sizes[1]
    # The clicked patch goes (with the white fur it runs into), not the dog.
    assert 0.6 * sizes[2] <= sizes[3] < sizes[2] and not mask[495, 625]
    for x, y in DOG_BODY:
        assert mask[y, x]


# blocks.mp4 (1280x720): the red "U" block, and the "E" and "M" blocks the old engine jumped to.
# (The hand lifts the U around frame 30 and sets it down ~90 px higher; E and M stay put.)
U_BOX = (768, 200, 870, 310)
E_BOX = (395, 250, 490, 345)  # still there on frames 200 and 280 (checked by eye)
M_BOX = (630, 298, 720, 395)


def test_blocks_u_never_jumps_to_another_block() -> None:
    engine = ClassicalEngine()
    state = engine.init_state(str(shared_clip("blocks.mp4")))
    first = _mask(engine.add_new_points_or_box(state, 0, 1, box=U_BOX, rel_coordinates=False))
    assert box_tightness(first, U_BOX) >= 0.9
    for frame, _ids, _low, video, scores in engine.propagate_in_video(state):
        mask = video[0, 0].numpy() > 0
        present = bool(mask.any())
        assert (scores[0, 0] > 0) == present  # the presence logit says what is shown
        if frame <= 15:  # nothing touches the U before the hand comes
            assert region_similarity(mask, first) >= 0.7
        if not present:
            continue  # lost (the hand picked it up) is allowed; claiming another block is not
        assert _inside(mask, E_BOX) < 0.05 * mask.sum(), f"frame {frame}: on the E block"
        assert _inside(mask, M_BOX) < 0.05 * mask.sum(), f"frame {frame}: on the M block"


# bedroom.mp4 (960x540), frame 0: the boy kneels on the bed in front of the curtain on the left.
SHORTS = (210, 350)
CURTAIN = (0, 0, 165, 365)  # curtain and wall only: no part of the boy lies here (checked by eye)
BOY_FROM_X = 180  # right of this column the mask is the boy (his shorts start at x ~ 175)


@pytest.mark.xfail(strict=True, reason="known gap (docs/classical.md): the curtain's shadowed folds "
                   "have the shorts' colour and touch them; one click cannot tell them apart")
def test_click_on_the_shorts_stays_off_the_curtain() -> None:
    engine = ClassicalEngine()
    state = engine.init_state(str(shared_clip("bedroom.mp4")))
    mask = _mask(engine.add_new_points_or_box(state, 0, 1, points=[SHORTS], labels=[1],
                                              rel_coordinates=False))
    assert mask[SHORTS[1], SHORTS[0]]
    assert _inside(mask, CURTAIN) < 0.02 * mask.sum()


def test_negative_click_on_the_curtain_removes_it_and_nothing_else() -> None:
    engine = ClassicalEngine()
    state = engine.init_state(str(shared_clip("bedroom.mp4")))
    before = _mask(engine.add_new_points_or_box(state, 0, 1, points=[SHORTS], labels=[1],
                                                rel_coordinates=False))
    leak = before.copy()
    leak[:, CURTAIN[2]:] = False
    leak[CURTAIN[3]:, :] = False
    if not leak.any():
        pytest.skip("the click did not spread onto the curtain: nothing to remove")
    ys, xs = np.nonzero(leak)
    k = int(np.argmin(np.hypot(xs - xs.mean(), ys - ys.mean())))
    negative = (float(xs[k]), float(ys[k]))
    after = _mask(engine.add_new_points_or_box(state, 0, 1, points=[negative], labels=[0],
                                               clear_old_points=False, rel_coordinates=False))
    assert _inside(after, CURTAIN) < 0.25 * _inside(before, CURTAIN)  # the curtain part goes
    assert after[SHORTS[1], SHORTS[0]]
    boy = before.copy()
    boy[:, :BOY_FROM_X] = False
    # What lay outside the curtain stays: the negative click took nothing else with it.
    assert np.count_nonzero(after & boy) >= 0.85 * np.count_nonzero(boy)


# bedroom.mp4: a box around the kneeling boy on frame 0 (his box read off the frame by eye).
BOY_BOX = (165, 125, 285, 400)


def _boxed_boy() -> tuple[ClassicalEngine, object]:
    """A fresh engine and session on bedroom.mp4 with the boy boxed on frame 0."""
    engine = ClassicalEngine()
    state = engine.init_state(str(shared_clip("bedroom.mp4")))
    engine.add_new_points_or_box(state, 0, 1, box=BOY_BOX, rel_coordinates=False)
    return engine, state


def test_the_confidence_says_doubtful_when_the_girl_passes_in_front_of_the_boy() -> None:
    # From frame ~30 the girl jumps in front of the boy and the track drifts onto her arms (a known
    # gap, docs/classical.md): the timeline must at least show those frames as doubtful (< 0.6),
    # while the frames before she reaches him stay sure.
    engine, state = _boxed_boy()
    list(engine.propagate_in_video(state, max_frame_num_to_track=60))
    conf = state.confidence(1)
    assert isinstance(conf, dict)
    assert min(conf[t] for t in range(1, 10)) >= 0.6
    doubtful = [t for t in range(30, 61) if conf[t] < 0.6]
    assert len(doubtful) >= 10, f"only {doubtful} of frames 30-60 doubtful"


# bedroom.mp4, frame 0: a box around the jumping girl (read off the frame by eye, as BOY_BOX). From
# frame 150 on the boy stands at the left (x < 290) and the girl jumps at the right (x > 290).
GIRL_BOX = (310, 2, 515, 400)
SPLIT_X = 290


def test_with_both_children_annotated_each_keeps_its_own_child() -> None:
    # The notebook's workflow: both children boxed on frame 0. The girl passes in front of the boy
    # (frames ~20-120); alone, the boy's track drifts onto her (the test above), but with her own
    # track she keeps her pixels, and the boy's track comes back to him once he is seen again.
    engine, state = _boxed_boy()
    engine.add_new_points_or_box(state, 0, 2, box=GIRL_BOX, rel_coordinates=False)
    girl_areas = []
    for result in engine.propagate_in_video(state):
        frame, boy, girl = result[0], _mask(result, 1), _mask(result, 2)
        girl_areas.append(int(girl.sum()))
        if frame >= 150:
            assert boy.sum() >= 10_000, f"frame {frame}: the boy is not back ({boy.sum()} px)"
            assert boy[:, :SPLIT_X].sum() >= 0.95 * boy.sum(), f"frame {frame}: the boy's mask is on the girl"
            assert girl[:, SPLIT_X:].sum() >= 0.9 * girl.sum(), f"frame {frame}: the girl on the boy"
    assert len(girl_areas) == 200 and min(girl_areas) >= 10_000  # the girl is never lost


def test_erasing_the_drift_onto_the_girl_lets_the_boy_be_found_when_he_is_back() -> None:
    # The boy annotated alone: by frame 60 the girl, in front of him, holds his track. The annotator
    # erases it there (an empty mask) and propagates on: nothing is claimed while he is hidden (to
    # ~100), the girl is not re-detected as him, and he is found once he is back. (While they overlap
    # again, 135-150, his mask takes one of her legs; from 155 it is on him alone.)
    engine, state = _boxed_boy()
    drifted = [_mask(r) for r in engine.propagate_in_video(state, max_frame_num_to_track=60)][-1]
    assert drifted[:, SPLIT_X:].sum() > 0.5 * drifted.sum()  # the drift: mostly right of x = 290
    engine.add_new_mask(state, 60, 1, np.zeros_like(drifted))
    out = {r[0]: _mask(r) for r in engine.propagate_in_video(state, start_frame_idx=60)}
    assert not any(out[f].any() for f in range(60, 101)), "claimed something while the boy is hidden"
    assert out[110][:, :SPLIT_X].sum() >= 2_000, "the boy is not found when he is back"
    for f in range(155, 200):
        assert out[f].sum() >= 10_000, f"frame {f}: the boy is not back"
        assert out[f][:, :SPLIT_X].sum() >= 0.95 * out[f].sum(), f"frame {f}: on the girl"
