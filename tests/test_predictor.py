"""The seed notebook's predictor API on a tiny random-weight SAM 2.1 tracker and synthetic videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sam3core.errors import ObjectIdError, PromptError
from sam3core.sam.network_config import tiny_test_config
from sam3core.sam.predictor import SamPredictor
from sam3core.sam.registry import build_tracker
from sam3core.video import VideoSource, write_video

HEIGHT, WIDTH = 72, 96


def clip_frames(num_frames: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    background = rng.integers(30, 100, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    frames = []
    for i in range(num_frames):
        frame = background.copy()
        x = 5 + 2 * i % (WIDTH - 30)
        frame[20:50, x:x + 25] = (220, 40, 30)
        frames.append(frame)
    return frames


def make_predictor(**options: object) -> SamPredictor:
    torch.manual_seed(0)
    predictor = build_tracker("sam2.1_hiera_tiny", config=tiny_test_config(), **options)
    with torch.no_grad():  # random weights call every object absent; make them "present"
        predictor.model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(4.0)
    return predictor


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> object:
    # On a shared, busy machine torch's multi-threaded kernels spin-wait; one thread is many times faster.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def predictor() -> SamPredictor:
    return make_predictor()


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("clip") / "frames", clip_frames(10))


def rel(points: list[list[float]]) -> torch.Tensor:
    return torch.tensor([[x / WIDTH, y / HEIGHT] for x, y in points], dtype=torch.float32)


def test_notebook_call_sequence(predictor: SamPredictor, video_dir: Path) -> None:
    state = predictor.init_state(video_path=str(video_dir))
    predictor.clear_all_points_in_video(state)
    labels = torch.tensor([1], dtype=torch.int32)
    frame, ids, low, video = predictor.add_new_points(inference_state=state, frame_idx=0, obj_id=1,
                                                      points=rel([[30, 35]]), labels=labels,
                                                      clear_old_points=False)
    assert (frame, ids) == (0, [1])
    assert video.shape == (1, 1, HEIGHT, WIDTH) and low.shape == (1, 1, 32, 32)
    _, ids, _, video = predictor.add_new_points(state, 0, 1, rel([[30, 35], [40, 30]]),
                                                np.array([1, 1], np.int32), clear_old_points=False)
    assert state.objects[1].point_inputs[0].labels.shape == (1, 3)  # earlier click kept
    frames = []
    for frame_idx, obj_ids, low, video, scores in predictor.propagate_in_video(
            state, start_frame_idx=0, max_frame_num_to_track=240, reverse=False, propagate_preflight=True):
        frames.append(frame_idx)
        assert obj_ids == [1] and video.shape == (1, 1, HEIGHT, WIDTH) and scores.shape == (1, 1)
        assert low.shape == (1, 1, 32, 32)
        mask = (video[0] > 0.0).cpu().numpy()
        assert 0 < mask.mean() < 1
    assert frames == list(range(10))
    # refinement on a later frame, then propagate again
    predictor.add_new_points(state, 7, 1, rel([[82, 60]]), np.array([0], np.int32), clear_old_points=False)
    assert 7 in state.objects[1].temp_non_cond  # a correction, not a new conditioning frame (SAM 2.1)
    assert [f for f, *_ in predictor.propagate_in_video(state, 0, 300, False, propagate_preflight=True)] \
        == list(range(10))
    # box, then box + click on another object
    predictor.clear_all_points_in_video(state)
    box = np.array([[10 / WIDTH, 5 / HEIGHT, 60 / WIDTH, 60 / HEIGHT]], dtype=np.float32)
    _, ids, _, video = predictor.add_new_points_or_box(inference_state=state, frame_idx=0, obj_id=4, box=box)
    assert ids == [4] and video.shape == (1, 1, HEIGHT, WIDTH)
    _, ids, _, video = predictor.add_new_points_or_box(state, 0, 4, points=rel([[50, 10]]),
                                                       labels=torch.tensor([1], dtype=torch.int32), box=box)
    assert state.objects[4].point_inputs[0].labels.tolist() == [[2, 3, 1]]
    # two objects, the second with plain lists, then reverse propagation from the last frame
    predictor.clear_all_points_in_video(state)
    predictor.add_new_points_or_box(state, 0, 2, points=rel([[30, 35]]), labels=[1])
    _, ids, _, video = predictor.add_new_points_or_box(state, 0, 3, points=[[0.8, 0.2], [0.5, 0.5]],
                                                       labels=[1, 0])
    assert ids == [2, 3] and video.shape == (2, 1, HEIGHT, WIDTH)
    list(predictor.propagate_in_video(state, 0, 5))
    order = [f for f, ids, *_ in predictor.propagate_in_video(state, start_frame_idx=5, reverse=True)]
    assert order == [5, 4, 3, 2, 1, 0]
    state.close()


def test_relative_and_pixel_coordinates_agree(predictor: SamPredictor, video_dir: Path) -> None:
    # separate sessions: a second prompt on the same frame would also see the first one's mask
    by_rel, by_pix = predictor.init_state(video_path=video_dir), predictor.init_state(video_path=video_dir)
    pixels = [[30.0, 35.0], [40.0, 30.0]]
    box_rel = [10 / WIDTH, 5 / HEIGHT, 60 / WIDTH, 60 / HEIGHT]
    _, _, _, a = predictor.add_new_points_or_box(by_rel, 2, 1, rel(pixels), [1, 0])
    _, _, _, b = predictor.add_new_points_or_box(by_pix, 2, 1, pixels, [1, 0], rel_coordinates=False)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    _, _, _, a = predictor.add_new_points_or_box(by_rel, 3, 2, box=box_rel)
    _, _, _, b = predictor.add_new_points_or_box(by_pix, 3, 2, box=[10, 5, 60, 60], rel_coordinates=False)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_second_click_reuses_cached_image_features(predictor: SamPredictor, video_dir: Path) -> None:
    calls = []
    hook = predictor.model.image_encoder.register_forward_hook(lambda *args: calls.append(1))
    try:
        state = predictor.init_state(video_path=video_dir)
        predictor.add_new_points(state, 4, 1, [[0.3, 0.4]], [1])
        assert len(calls) == 1
        predictor.add_new_points(state, 4, 1, [[0.5, 0.5]], [0], clear_old_points=False)
        predictor.add_new_points(state, 4, 2, [[0.7, 0.5]], [1])
        assert len(calls) == 1 and state.stats.image_encoder_calls == 1
        predictor.add_new_points(state, 5, 1, [[0.3, 0.4]], [1])
        assert len(calls) == 2
    finally:
        hook.remove()


def test_prefetched_features_serve_the_click_and_a_stale_prefetch_stops(predictor: SamPredictor,
                                                                        video_dir: Path) -> None:
    state = predictor.init_state(video_path=video_dir)
    fresh = predictor.init_state(video_path=video_dir)
    assert predictor.prefetch_features(state, 6) is True
    assert predictor.prefetch_features(state, 6) is False  # cached already
    assert state.stats.image_encoder_calls == 1
    ahead = predictor.add_new_points(state, 6, 1, [[0.3, 0.4]], [1])[-1]
    assert state.stats.image_encoder_calls == 1  # the click ran only the prompt encoder and decoder
    torch.testing.assert_close(ahead, predictor.add_new_points(fresh, 6, 1, [[0.3, 0.4]], [1])[-1])

    asked = []

    def stop() -> bool:  # the user moves on after the first encoder block
        asked.append(1)
        return len(asked) > 1

    assert predictor.prefetch_features(state, 7, should_stop=stop) is False
    assert 7 not in state.feature_cache and len(asked) == 2
    assert not any(block._forward_pre_hooks for block in predictor.model.image_encoder.trunk.blocks)
    with pytest.raises(ValueError, match="frame index"):
        predictor.prefetch_features(state, 10)


def test_new_object_after_propagation_keeps_other_results(predictor: SamPredictor, video_dir: Path) -> None:
    state = predictor.init_state(video_path=video_dir)
    predictor.add_new_points(state, 0, 1, [[0.3, 0.45]], [1])
    before = {f: video[0].clone() for f, _, _, video, _ in predictor.propagate_in_video(state)}
    _, ids, _, video = predictor.add_new_points(state, 6, 2, [[0.8, 0.3]], [1])
    assert ids == [1, 2]
    torch.testing.assert_close(video[0], before[6])  # object 1's tracked mask is still shown
    after = {f: (ids, video) for f, ids, _, video, _ in predictor.propagate_in_video(state)}
    assert sorted(after) == list(range(10))
    for f, (ids, video) in after.items():
        assert ids == [1, 2]
        torch.testing.assert_close(video[0], before[f])


def test_remove_object_and_reset(predictor: SamPredictor, video_dir: Path) -> None:
    state = predictor.init_state(video_path=video_dir)
    predictor.add_new_points(state, 0, 1, [[0.3, 0.45]], [1])
    predictor.add_new_points(state, 2, 7, [[0.8, 0.3]], [1])
    list(predictor.propagate_in_video(state, 0, 3))
    remaining, updated = predictor.remove_object(state, 1)
    assert remaining == [7] and [f for f, _ in updated] == [0]
    assert updated[0][1].shape == (1, 1, HEIGHT, WIDTH)
    assert {tuple(ids) for _, ids, *_ in predictor.propagate_in_video(state, 0, 3)} == {(7,)}
    assert predictor.remove_object(state, 1) == ([7], [])  # lenient by default, as sam2
    with pytest.raises(ObjectIdError, match="no such object"):
        predictor.remove_object(state, 1, strict=True)
    predictor.reset_state(state)
    assert state.obj_ids == []
    with pytest.raises(PromptError, match="nothing to propagate"):
        next(predictor.propagate_in_video(state))


def test_bad_inputs_are_clear_errors(predictor: SamPredictor, video_dir: Path) -> None:
    state = predictor.init_state(video_path=video_dir)
    with pytest.raises(ValueError, match="outside 0..9"):
        predictor.add_new_points(state, 10, 1, [[0.5, 0.5]], [1])
    with pytest.raises(ValueError, match="outside"):
        predictor.add_new_points(state, -1, 1, [[0.5, 0.5]], [1])
    with pytest.raises(ValueError, match="labels"):
        predictor.add_new_points(state, 0, 1, [[0.5, 0.5], [0.2, 0.2]], [1])
    with pytest.raises(ValueError, match="together"):
        predictor.add_new_points_or_box(state, 0, 1, points=[[0.5, 0.5]])
    with pytest.raises(ValueError, match="shape"):
        predictor.add_new_points(state, 0, 1, [0.5, 0.5, 0.1], [1])
    with pytest.raises(ValueError, match="4 numbers"):
        predictor.add_new_points_or_box(state, 0, 1, box=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="clear_old_points"):
        predictor.add_new_points_or_box(state, 0, 1, box=[0.1, 0.2, 0.3, 0.4], clear_old_points=False)
    with pytest.raises(ValueError, match="labels are 1 .on the object. or 0"):
        predictor.add_new_points(state, 0, 1, [[0.5, 0.5]], [5])
    # The library refuses what `masklet track` refuses (issue 13): off-frame, negative, NaN, empty.
    with pytest.raises(PromptError, match="outside the frame"):
        predictor.add_new_points(state, 0, 1, [[1.5, 0.5]], [1])
    with pytest.raises(PromptError, match="outside the 96x72 image"):
        predictor.add_new_points(state, 0, 1, [[-3, 4]], [1], rel_coordinates=False)
    with pytest.raises(PromptError, match="not finite"):
        predictor.add_new_points_or_box(state, 0, 1, box=[0.1, float("nan"), 0.3, 0.4])
    with pytest.raises(PromptError, match="inverted"):
        predictor.add_new_points_or_box(state, 0, 1, box=[0.3, 0.2, 0.1, 0.4])
    with pytest.raises(PromptError, match="empty"):
        predictor.add_new_points(state, 0, 1, [], [])
    with pytest.raises(ValueError, match="does not match"):
        predictor.add_new_mask(state, 0, 1, np.ones((10, 10), bool))
    with pytest.raises(ValueError, match="exactly one"):
        predictor.init_state()
    assert state.obj_ids == []  # nothing half-added by the failed calls
    predictor.add_new_points(state, 0, 1, [[0.5, 0.5]], [1])
    with pytest.raises(ValueError, match="max_frame_num_to_track"):
        next(predictor.propagate_in_video(state, 0, -1))


def test_mask_prompt_and_shared_video_source(predictor: SamPredictor, video_dir: Path) -> None:
    with VideoSource(video_dir) as source:
        state = predictor.init_state(video=source)
        mask = np.zeros((HEIGHT, WIDTH), bool)
        mask[20:50, 5:30] = True
        _, ids, _, video = predictor.add_new_mask(state, 1, 3, mask)
        assert ids == [3]
        iou = ((video[0, 0] > 0).numpy() & mask).sum() / ((video[0, 0] > 0).numpy() | mask).sum()
        assert iou > 0.9  # a mask prompt is taken as the result
        frames = [f for f, *_ in predictor.propagate_in_video(state, 1, 3)]
        assert frames == [1, 2, 3, 4]
        state.close()
        assert source.frame(0).shape == (HEIGHT, WIDTH, 3)  # the caller's source stays open


def test_cancel_between_frames_keeps_yielded_results(predictor: SamPredictor, video_dir: Path) -> None:
    state = predictor.init_state(video_path=video_dir)
    predictor.add_new_points(state, 0, 1, [[0.3, 0.45]], [1])
    gen = predictor.propagate_in_video(state)
    seen = [next(gen)[0] for _ in range(4)]
    gen.close()
    assert seen == [0, 1, 2, 3]
    assert sorted(state.objects[1].tracked) == [0, 1, 2, 3]
    assert [f for f, *_ in predictor.propagate_in_video(state, 3)] == list(range(3, 10))


def test_state_stays_bounded_and_evicted_memories_are_recomputed_exactly(tmp_path: Path) -> None:
    video = write_video(tmp_path / "long", clip_frames(40))
    small = make_predictor(memory_cache_size=14, feature_cache_size=2)
    large = make_predictor(memory_cache_size=1000)
    results = []
    for pred in (small, large):
        state = pred.init_state(video_path=video)
        pred.add_new_points(state, 0, 1, [[0.3, 0.45]], [1])
        list(pred.propagate_in_video(state))
        obj = state.objects[1]
        held = sum(entry.has_memory for entry in obj.non_cond.values())
        in_memory = sum(isinstance(entry.logits, torch.Tensor) for entry in obj.non_cond.values())
        # results whose memory was evicted keep their logits in the spill file, not in RAM
        assert in_memory == held
        assert state.spill.nbytes == (len(obj.non_cond) - held) * obj.cond[0].pred_masks.numel() * 4
        assert all(entry.pred_masks.device.type == "cpu" for entry in obj.non_cond.values())
        assert len(state.feature_cache) <= pred.feature_cache_size
        # the refining click reads frame 20's earlier logits: back from the spill file when small
        pred.add_new_points(state, 20, 1, [[0.6, 0.4]], [0], clear_old_points=False)
        results.append([video for _, _, _, video, _ in pred.propagate_in_video(state, 20, 10)])
        results[-1].append((held, state.stats.memory_recomputes))
    (held_small, recomputed), (held_large, _) = results[0][-1], results[1][-1]
    assert held_small <= 14 < held_large
    assert recomputed > 0
    spilled_size = state.spill.nbytes
    list(large.propagate_in_video(state, 0, 39))  # re-tracking reuses the frames' slots
    assert state.spill.nbytes == spilled_size
    for a, b in zip(results[0][:-1], results[1][:-1]):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_object_prompted_mid_video_tracks_backwards_without_pointers(predictor: SamPredictor,
                                                                     video_dir: Path) -> None:
    # Frames after the only prompted frame have no past object pointer in reverse tracking; the memory
    # must still be float32 (the reference fails on CPU here, it keeps only bfloat16 memories).
    state = predictor.init_state(video_path=video_dir)
    predictor.add_new_points(state, 3, 5, [[0.3, 0.45]], [1])
    frames = [f for f, *_ in predictor.propagate_in_video(state, start_frame_idx=8, reverse=True)]
    assert frames == [8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert sorted(state.objects[5].tracked) == list(range(9))


def test_sam21_merges_each_object_alone(predictor: SamPredictor, video_dir: Path) -> None:
    """SAM 2.1 (sam2 1.1.0) tracks objects independently; SAM 3's batch merging stays off here."""
    state = predictor.init_state(video_path=str(video_dir))
    predictor.add_new_points_or_box(state, 0, 1, points=rel([[30, 35]]), labels=[1])
    list(predictor.propagate_in_video(state, start_frame_idx=0))
    predictor.add_new_points_or_box(state, 4, 2, points=rel([[60, 35]]), labels=[1])
    predictor.add_new_points_or_box(state, 0, 2, points=rel([[30, 35]]), labels=[1])  # same click
    predictor.propagate_in_video_preflight(state)
    one, two = state.objects[1], state.objects[2]
    assert sorted(one.cond) == [0] and 4 in one.non_cond  # another object's prompt changes nothing
    assert sorted(two.cond) == [0, 4]
    # identical clicks: both memories made alone, not after a non-overlap constraint between them
    assert one.cond[0].maskmem_features is not None and two.cond[0].maskmem_features is not None
    assert torch.equal(one.cond[0].maskmem_features, two.cond[0].maskmem_features)


def test_hole_filling_keeps_memories_exact_when_they_are_recomputed(tmp_path: Path) -> None:
    # Filled logits are what is returned and stored (as the reference does); tracked frames' memories
    # were encoded from the unfilled mask, so an evicted memory is recomputed from that one.
    from sam3core.sam.postprocess import fill_small_holes

    video = write_video(tmp_path / "holes", clip_frames(30))
    area = 300  # of the tiny config's 32 x 32 low-res masks: random weights leave regions this small
    outputs = []
    for cache in (8, 1000):
        pred = make_predictor(memory_cache_size=cache, tracker_overrides={"fill_hole_area": area})
        state = pred.init_state(video_path=video)
        pred.add_new_points(state, 0, 1, [[0.3, 0.45]], [1])
        low_res = [low.clone() for _, _, low, _, _ in pred.propagate_in_video(state)]
        for low in low_res:
            assert torch.equal(fill_small_holes(low, area), low)  # nothing small left to fill
        obj = state.objects[1]
        assert any(entry.memory_logits is not None for entry in obj.non_cond.values())
        pred.add_new_points(state, 20, 1, [[0.6, 0.4]], [0], clear_old_points=False)
        outputs.append(low_res + [low for _, _, low, _, _ in pred.propagate_in_video(state, 20, 8)])
        if cache == 8:
            assert state.stats.memory_recomputes > 0
    for a, b in zip(*outputs, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
