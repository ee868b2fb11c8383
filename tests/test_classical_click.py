"""Clicks on a multi-coloured object: positive clicks on differently coloured parts grow one object."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sam3core.classical import ClassicalEngine
from sam3core.classical.segment import click_box, click_radius, memory_from_mask, negative_step, paint_seeds
from sam3core.classical.state import ClassicalSettings
from sam3core.eval.metrics import region_similarity
from sam3core.video import write_video

H, W = 270, 480
TOP_CLICK = (240.0, 105.0)  # on the white top
BOTTOM_CLICK = (240.0, 185.0)  # on the brown bottom
NEG_CLICK = (60.0, 60.0)  # on the background


def person_frame(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A "person" (white top over brown bottom) on a striped, noisy background -> (RGB frame, truth)."""
    rng = np.random.default_rng(seed)
    xs = np.arange(W)[None, :, None]
    stripes = np.where((xs // 14) % 2 == 0, (214, 178, 176), (236, 214, 208))  # pink wallpaper
    frame = np.broadcast_to(stripes, (H, W, 3)).astype(np.float32).copy()
    frame[200:, :] = (150, 150, 165)  # a grey bed along the bottom
    frame[210:, ::9] = (95, 95, 110)  # its stripes
    cv2.rectangle(frame, (390, 40), (470, 120), (120, 90, 60), -1)  # a brown picture on the wall
    top = np.zeros((H, W), np.uint8)
    cv2.rectangle(top, (205, 80), (275, 150), 1, -1)
    cv2.ellipse(top, (205, 95), (12, 35), 20, 0, 360, 1, -1)  # arms
    cv2.ellipse(top, (275, 95), (12, 35), -20, 0, 360, 1, -1)
    bottom = np.zeros((H, W), np.uint8)
    cv2.rectangle(bottom, (208, 150), (272, 215), 1, -1)
    head = np.zeros((H, W), np.uint8)
    cv2.circle(head, (240, 62), 20, 1, -1)
    frame[top > 0] = (245, 245, 240)
    frame[bottom > 0] = (150, 110, 70)
    frame[head > 0] = (225, 180, 150)
    frame += rng.normal(0.0, 6.0, frame.shape)
    frame = cv2.GaussianBlur(frame, (3, 3), 0)
    truth = (top > 0) | (bottom > 0)
    return np.clip(frame, 0, 255).astype(np.uint8), truth


@pytest.fixture(scope="module")
def video_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame, _truth = person_frame()
    return write_video(tmp_path_factory.mktemp("person") / "frames", [frame, frame])


def _mask(result: tuple) -> np.ndarray:
    return result[3][result[1].index(1), 0].numpy() > 0


def test_two_clicks_one_after_the_other_give_the_whole_object(video_path: Path) -> None:
    engine = ClassicalEngine()
    state = engine.init_state(str(video_path))
    _frame, truth = person_frame()
    engine.add_new_points_or_box(state, 0, 1, points=[TOP_CLICK], labels=[1], rel_coordinates=False)
    result = engine.add_new_points_or_box(state, 0, 1, points=[BOTTOM_CLICK], labels=[1],
                                          clear_old_points=False, rel_coordinates=False)
    mask = _mask(result)
    # The whole person up to the head (head not in the truth: a neck edge; allow it either way).
    assert region_similarity(mask & ~_head(), truth) >= 0.8


def test_two_clicks_at_once_give_the_whole_object(video_path: Path) -> None:
    engine = ClassicalEngine()
    state = engine.init_state(str(video_path))
    _frame, truth = person_frame()
    result = engine.add_new_points_or_box(state, 0, 1, points=[TOP_CLICK, BOTTOM_CLICK], labels=[1, 1],
                                          rel_coordinates=False)
    assert region_similarity(_mask(result) & ~_head(), truth) >= 0.8


def test_a_negative_click_still_removes_a_region(video_path: Path) -> None:
    engine = ClassicalEngine()
    state = engine.init_state(str(video_path))
    _frame, truth = person_frame()
    result = engine.add_new_points_or_box(state, 0, 1, points=[TOP_CLICK, BOTTOM_CLICK], labels=[1, 1],
                                          rel_coordinates=False)
    before = _mask(result)
    # Remove the bottom half with a negative click there: the top stays, the bottom goes.
    result = engine.add_new_points_or_box(state, 0, 1, points=[(240.0, 200.0)], labels=[0],
                                          clear_old_points=False, rel_coordinates=False)
    after = _mask(result)
    bottom = truth.copy()
    bottom[:150] = False
    assert np.count_nonzero(after & bottom) < 0.5 * np.count_nonzero(before & bottom)
    assert after[105, 240]


def _head() -> np.ndarray:
    head = np.zeros((H, W), np.uint8)
    cv2.circle(head, (240, 62), 22, 1, -1)
    return head > 0


def test_a_later_positive_click_keeps_a_negative_clicks_colour_patch() -> None:
    # One white patch (a curtain and a shirt of the same white): a negative click on it marks the whole
    # patch background, unless a positive click given after it lands in the patch.
    image = np.full((60, 80, 3), 90, np.uint8)
    image[10:50, 10:70] = 245
    for points, expect_patch in (([(15.0, 30.0, 1), (20.0, 30.0, 0)], True),
                                 ([(20.0, 30.0, 0), (60.0, 30.0, 1)], False)):
        labels = np.full((60, 80), cv2.GC_PR_BGD, np.uint8)
        paint_seeds(labels, image, points, None)
        assert (labels[30, 45] == cv2.GC_BGD) == expect_patch
        assert labels[30, 20] == cv2.GC_BGD  # the negative click's own disk always


def test_a_negative_click_removes_the_clicked_region_and_nothing_else(tmp_path: Path) -> None:
    # A brown "curtain" patch touching the person's brown bottom: one colour patch, two regions.
    frame, truth = person_frame()
    patch = np.zeros((H, W), bool)
    patch[150:215, 150:208] = True
    frame = frame.copy()
    noise = np.random.default_rng(5).normal(0, 6, (int(patch.sum()), 3))
    frame[patch] = np.clip(np.array([150, 110, 70]) + noise, 0, 255).astype(np.uint8)
    path = write_video(tmp_path / "curtain", [frame, frame])
    engine = ClassicalEngine()
    state = engine.init_state(str(path))
    # On the bottom beside the patch: a first click is cut in a box around it (``click_box``), which
    # must hold the patch for the click to spread onto it.
    click = (215.0, 185.0)
    before = _mask(engine.add_new_points_or_box(state, 0, 1, points=[click], labels=[1],
                                                rel_coordinates=False))
    assert before[patch].mean() > 0.9, "setup: the click should have spread onto the patch"
    after = _mask(engine.add_new_points_or_box(state, 0, 1, points=[(170.0, 185.0)], labels=[0],
                                               clear_old_points=False, rel_coordinates=False))
    assert after[patch].mean() < 0.1  # the clicked region goes
    part = before & truth & ~patch
    assert np.count_nonzero(after & part) >= 0.9 * np.count_nonzero(part)  # and nothing else
    assert after[int(click[1]), int(click[0])]


@pytest.mark.parametrize("click", [(430.0, 80.0), (240.0, 185.0)])
def test_a_positive_click_adds_to_a_painted_mask_and_keeps_all_of_it(video_path: Path, click) -> None:
    """Correcting a painted (or tracked) mask with a positive click on a part it missed -- apart
    from it (the picture on the wall) or touching it (the brown bottom) -- adds that part and keeps
    the mask: a click kept only the clicked part before (DAVIS goat: a correction took J 0.71 -> 0.01)."""
    frame, truth = person_frame()
    top = truth.copy()
    top[150:] = False
    engine = ClassicalEngine()
    state = engine.init_state(str(video_path))
    engine.add_new_mask(state, 0, 1, top)
    after = _mask(engine.add_new_points(state, 0, 1, [click], [1], rel_coordinates=False))
    assert after[int(click[1]), int(click[0])]
    assert np.count_nonzero(after & top) > 0.95 * np.count_nonzero(top)


def test_a_correction_click_keeps_a_mask_that_moves_like_its_background(tmp_path: Path) -> None:
    """The click motion veto judges only what a click adds. Here the camera pans and the painted
    part (the head) moves with the background while the clicked part (the top) stays: judged as a
    whole, the head went as background (DAVIS goat: a correction click took most of the body)."""
    frame, truth = person_frame()
    head = np.zeros((H, W), np.uint8)
    cv2.circle(head, (240, 62), 20, 1, -1)
    frames = [frame]
    for step in (6, 12):
        moved = np.roll(frame, step, axis=1)  # the background and the head move with the camera
        moved[truth] = frame[truth]  # the body does not
        frames.append(moved)
    path = write_video(tmp_path / "pan", frames)
    engine = ClassicalEngine()
    state = engine.init_state(str(path))
    engine.add_new_mask(state, 0, 1, head > 0)
    after = _mask(engine.add_new_points(state, 0, 1, [TOP_CLICK], [1], rel_coordinates=False))
    assert after[int(TOP_CLICK[1]), int(TOP_CLICK[0])]
    assert np.count_nonzero(after & (head > 0)) > 0.9 * np.count_nonzero(head)


def test_a_negative_and_a_positive_click_together_on_a_painted_mask(tmp_path: Path) -> None:
    """As the window sends them on a tracked frame: the mask, then every click at once. The negative
    click on a neighbour the mask had taken (the picture) removes it, the positive one on a missed
    part apart from the mask adds that part, and the rest stays (before, only the clicked part
    stayed)."""
    frame, truth = person_frame()
    path = write_video(tmp_path / "person", [frame, frame])
    top = truth.copy()
    top[150:] = False
    picture = np.zeros((H, W), bool)
    picture[40:120, 390:470] = True
    engine = ClassicalEngine()
    state = engine.init_state(str(path))
    engine.add_new_mask(state, 0, 1, top | picture)
    clicks = [(430.0, 80.0), BOTTOM_CLICK]
    after = _mask(engine.add_new_points_or_box(state, 0, 1, points=clicks, labels=[0, 1],
                                               rel_coordinates=False))
    assert np.count_nonzero(after & picture) < 0.1 * np.count_nonzero(picture)
    assert np.count_nonzero(after & top) > 0.95 * np.count_nonzero(top)
    assert after[int(BOTTOM_CLICK[1]), int(BOTTOM_CLICK[0])]


def test_a_negative_click_on_a_corrected_mask_never_adds_to_it(tmp_path: Path) -> None:
    """A negative click says "less". Continued from a painted (or tracked) mask, GrabCut learns the
    mask's colours as object and grew into more of them: here the rest of the brown bottom (DAVIS
    scooter-black: a negative click on the parked scooters behind the rider flooded every parked
    scooter, J 0.68 -> 0.42)."""
    frame, truth = person_frame()
    path = write_video(tmp_path / "person", [frame, frame])
    painted = truth.copy()
    painted[182:] = False  # the upper half of the brown bottom only
    wallpaper = np.zeros((H, W), bool)
    wallpaper[90:140, 120:190] = True  # and a piece of the wall beside the arm
    painted |= wallpaper
    engine = ClassicalEngine()
    state = engine.init_state(str(path))
    engine.add_new_mask(state, 0, 1, painted)
    after = _mask(engine.add_new_points(state, 0, 1, [(140.0, 115.0)], [0], rel_coordinates=False))
    assert not (after & ~painted).any()
    assert not after[115, 140]


def test_a_negative_click_inside_a_mask_leaves_a_hole(tmp_path: Path) -> None:
    """A negative click in the middle of a false area takes out at least the disk under it: the
    hole-filling of the clean-up closed it again, so the same click changed nothing however often it
    was given (the simulated annotator clicked the same pixel ten times)."""
    frame, truth = person_frame()
    path = write_video(tmp_path / "person", [frame, frame])
    engine = ClassicalEngine()
    state = engine.init_state(str(path))
    engine.add_new_mask(state, 0, 1, truth)
    x, y = 240, 115  # the middle of the white top: one colour, so no colour patch is taken with it
    after = _mask(engine.add_new_points(state, 0, 1, [(float(x), float(y))], [0], rel_coordinates=False))
    assert not after[y, x]
    assert np.count_nonzero(after & truth) > 0.9 * np.count_nonzero(truth)


def test_a_corrected_frame_does_not_make_the_tracker_forget_the_first_prompt(tmp_path: Path) -> None:
    """Re-tracking from a correction blends its colours into the object's model instead of restarting
    from it: a negative click that also took part of the object (DAVIS drift-straight: a click on the
    car's shadow took a wheel) made everything tracked after it lose that part's colours."""
    from sam3core.classical.track import fine_index

    frame, truth = person_frame()
    path = write_video(tmp_path / "person", [frame] * 4)
    engine = ClassicalEngine()
    state = engine.init_state(str(path))
    engine.add_new_mask(state, 0, 1, truth)
    for _ in engine.propagate_in_video(state):
        pass
    # The correction on frame 1 takes the brown bottom away (a negative click on it).
    after = _mask(engine.add_new_points(state, 1, 1, [BOTTOM_CLICK], [0], rel_coordinates=False))
    assert not after[int(BOTTOM_CLICK[1]), int(BOTTOM_CLICK[0])], "setup: the click should remove the bottom"
    for _ in engine.propagate_in_video(state, start_frame_idx=1):
        pass
    bottom = truth.copy()
    bottom[:155] = False
    small = cv2.resize(frame, (state.work_width, state.work_height), interpolation=cv2.INTER_AREA)
    small_bottom = cv2.resize(bottom.astype(np.uint8), (state.work_width, state.work_height)) > 0
    model = state.tracks[1].appearance
    assert model is not None
    # Still a good part of the object's colour mass sits on the bottom's colours (none after a restart).
    assert model.fg[np.unique(fine_index(small)[small_bottom])].sum() > 0.1


def test_a_positive_click_on_a_missed_part_of_the_masks_colour_adds_the_part(tmp_path: Path) -> None:
    """A rider's red jacket above a red-and-black motorbike against the sky, the mask on the bike
    only: a click in the middle of the jacket added 57 pixels (DAVIS motocross-jump), because the
    click alone is cut in a window the jacket fills. The mask's own colours find it."""
    rng = np.random.default_rng(11)
    frame = np.empty((H, W, 3), np.float32)
    frame[:] = (175, 200, 235)  # sky
    bike = np.zeros((H, W), bool)
    bike[150:230, 150:330] = True
    jacket = np.zeros((H, W), bool)
    jacket[40:150, 190:290] = True
    frame[bike] = (200, 35, 35)
    frame[170:230, 150:330][:, ::12] = (25, 25, 25)  # black spokes
    frame[jacket] = (205, 40, 38)
    frame = np.clip(frame + rng.normal(0, 5, frame.shape), 0, 255).astype(np.uint8)
    path = write_video(tmp_path / "rider", [frame, frame])
    engine = ClassicalEngine()
    state = engine.init_state(str(path))
    engine.add_new_mask(state, 0, 1, bike)
    after = _mask(engine.add_new_points(state, 0, 1, [(240.0, 95.0)], [1], rel_coordinates=False))
    assert np.count_nonzero(after & jacket) > 0.8 * np.count_nonzero(jacket)
    assert np.count_nonzero(after & bike) > 0.95 * np.count_nonzero(bike)
    assert np.count_nonzero(after & ~(bike | jacket)) < 0.05 * np.count_nonzero(jacket)


def test_a_negative_click_keeps_a_part_joined_to_the_clicked_region_by_a_thin_neck() -> None:
    """A tracked mask had leaked from a dog along a woman's arm onto her white shirt (dog.mp4, her
    hand on the dog's head joined them). Two negative clicks, on the shirt and the arm, made GrabCut
    drop the whole mask, and the dog, one connected piece with the clicked shirt, went too. A large
    part beyond a thin neck is another region and stays; a small one beyond it goes."""
    shown, dog, shirt, speck = (np.zeros((H, W), np.uint8) for _ in range(4))
    cv2.circle(dog, (330, 160), 60, 1, -1)
    cv2.rectangle(shirt, (60, 60), (150, 150), 1, -1)
    cv2.line(shown, (150, 120), (275, 150), 1, 9)  # the arm: thinner than two click disks (4 px here)
    cv2.line(shown, (150, 60), (150, 30), 1, 5)
    cv2.circle(speck, (150, 22), 9, 1, -1)  # a small blob beyond another neck: part of what is clicked
    shown = (shown | dog | shirt | speck) > 0
    collapsed = np.zeros((H, W), bool)  # GrabCut's answer: nothing left
    clicks = [(105.0, 105.0, 0), (200.0, 132.0, 0)]
    after = negative_step(collapsed, memory_from_mask(shown), clicks, shown)
    assert not (after & shirt.astype(bool)).any() and not after[132, 200]  # the clicked regions go
    assert not (after & speck.astype(bool)).any()
    assert after[dog > 0].all()  # the dog beyond the arm stays
    assert not (after & ~shown).any()


def test_a_positive_click_given_with_negative_ones_adds_and_takes_nothing_else() -> None:
    """The window gives a tracked frame's clicks all at once with the mask shown. On dog.mp4, two
    negative clicks on a leaked shirt and arm and a positive one on the dog left a brown patch of
    its back: GrabCut had dropped the white dog with the shirt, and the positive click kept only
    its own piece. Now the clicked regions go, the rest of the shown mask stays, and GrabCut's piece
    at the positive click is added."""
    shown, dog, shirt = (np.zeros((H, W), np.uint8) for _ in range(3))
    cv2.circle(dog, (330, 160), 60, 1, -1)
    cv2.rectangle(shirt, (60, 60), (150, 150), 1, -1)
    cv2.line(shown, (150, 120), (275, 150), 1, 9)
    shown = (shown | dog | shirt) > 0
    cut = np.zeros((H, W), bool)  # GrabCut kept only a patch at the positive click, and a tail
    cut[150:175, 380:430] = True  # reaching beyond the shown mask
    clicks = [(105.0, 105.0, 0), (200.0, 132.0, 0), (385.0, 160.0, 1)]
    after = negative_step(cut, memory_from_mask(shown), clicks, shown)
    assert not (after & shirt.astype(bool)).any() and not after[132, 200]
    assert after[dog > 0].all() and after[cut].all()
    assert not (after & ~(shown | cut)).any()


def test_a_negative_click_beside_the_mask_takes_only_its_disk() -> None:
    """dog.mp4, through the window: after a box and two positive clicks, a negative click meant for a
    leak between the dog's legs fell on the leash just beside the mask. GrabCut dropped the whole
    dog, and the whole dog, one piece touching the click's disk, went. A click that is not on the
    mask points at no region of it: only what its disk covers goes."""
    shown = np.zeros((H, W), np.uint8)
    cv2.circle(shown, (200, 120), 60, 1, -1)
    shown = shown > 0
    collapsed = np.zeros((H, W), bool)  # GrabCut's answer: nothing left
    r = click_radius(H, W)
    clicks = [(200.0, 120.0 + 60 + r // 2, 0)]  # below the mask's lowest row, its disk reaching in
    after = negative_step(collapsed, memory_from_mask(shown), clicks, shown)
    lost = shown & ~after
    assert 0 < np.count_nonzero(lost) <= np.pi * (r + 1) ** 2
    assert not after[181, 200] and after[120, 200]
    # The same click on the mask takes the region GrabCut dropped with it, as before.
    on = negative_step(collapsed, memory_from_mask(shown), [(200.0, 150.0, 0)], shown)
    assert not on.any()


def test_a_negative_click_on_a_leak_keeps_the_object_when_grabcut_collapses() -> None:
    """dog.mp4, through the window: a positive click on a front leg let in the concrete between the
    legs, broadly joined to the dog's belly; a negative click on that concrete made GrabCut drop the
    whole dog, and the whole dog, one piece with the concrete, went. When the cut keeps less than
    a quarter of the shown mask, the click's region is its colour patch."""
    rng = np.random.default_rng(3)
    image = np.full((H, W, 3), 200, np.uint8)  # pale concrete
    dog = np.zeros((H, W), bool)
    dog[60:140, 150:330] = True  # brown and white fur: a coarse texture unlike the concrete
    fur = np.kron(rng.integers(0, 2, (20, 45)), np.ones((4, 4))).astype(bool)
    image[60:140, 150:330] = np.where(fur[..., None], [150, 90, 50], [245, 240, 235])
    leak = np.zeros((H, W), bool)
    leak[140:190, 170:310] = True  # the concrete under the belly, along its whole width
    shown = dog | leak
    collapsed = np.zeros((H, W), bool)  # GrabCut's answer: nothing left
    clicks = [(240.0, 170.0, 0)]
    after = negative_step(collapsed, memory_from_mask(shown), clicks, shown, image)
    assert not (after & leak).any()
    assert after[dog].mean() > 0.99
    # Without the image (the old rule) every piece touching the click goes.
    assert not negative_step(collapsed, memory_from_mask(shown), clicks, shown).any()


def two_part_frame() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A red top over blue trousers on a blurred-noise background, 240x320 -> (frame, top, trousers)."""
    rng = np.random.default_rng(1)
    frame = cv2.GaussianBlur(rng.integers(70, 190, (240, 320, 3), dtype=np.uint8), (0, 0), 3.0)
    frame = frame.astype(np.float32)
    top, low = np.zeros((240, 320), np.uint8), np.zeros((240, 320), np.uint8)
    cv2.rectangle(top, (135, 80), (185, 119), 1, -1)
    cv2.rectangle(low, (140, 120), (180, 165), 1, -1)
    frame[top > 0] = (200, 40, 40)
    frame[low > 0] = (40, 60, 180)
    frame = np.clip(frame + rng.normal(0, 5, frame.shape), 0, 255).astype(np.uint8)
    return frame, top > 0, low > 0


def test_a_first_click_alone_is_cut_in_a_box_guessed_around_it(tmp_path: Path) -> None:
    """One click on the trousers gives the top too: clicks alone are cut as a box of half the frame's
    shorter side around them (``click_box``); without it the click keeps its own colour patch."""
    assert click_box([(10.0, 20.0, 1)], 240, 320, 0.5) == (0.0, 0.0, 70.0, 80.0)  # clipped to the frame
    assert click_box([(100.0, 100.0, 1), (200.0, 120.0, 1), (5.0, 5.0, 0)], 240, 320, 0.5) == (
        85.0, 50.0, 215.0, 170.0)  # spans every positive click, a little wider than their extent
    assert click_box([(5.0, 5.0, 0)], 240, 320, 0.5) is None
    frame, top, low = two_part_frame()
    path = write_video(tmp_path / "two_parts", [frame, frame])
    found = {}
    for share in (0.5, 0.0):
        engine = ClassicalEngine(ClassicalSettings(click_box=share))
        state = engine.init_state(str(path))
        found[share] = _mask(engine.add_new_points_or_box(state, 0, 1, points=[(160.0, 140.0)], labels=[1],
                                                          rel_coordinates=False))
    assert found[0.5][top].mean() > 0.9 and found[0.5][low].mean() > 0.9
    assert np.count_nonzero(found[0.5] & ~(top | low)) < 0.05 * np.count_nonzero(top | low)
    assert found[0.0][low].mean() > 0.9 and found[0.0][top].mean() < 0.1
