"""A SAM 3 session through the seed notebook's predictor API, on the tiny config with random weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sam3core.eval.synthetic import generate_clip
from sam3core.sam.predictor import SamPredictor
from sam3core.sam.registry import build_tracker
from sam3core.sam.sam3 import Sam3TrackerModel, sam3_tiny_test_config
from sam3core.video import write_video

FRAMES, HEIGHT, WIDTH = 8, 72, 128


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> object:
    # These tensors are tiny: on a shared 2-core machine, intra-op threads only spin against each other
    # (measured 20x slower with 2 threads under load).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clip = generate_clip(5, num_frames=FRAMES, height=HEIGHT, width=WIDTH, num_objects=2)
    return write_video(tmp_path_factory.mktemp("sam3video") / "frames", clip.frames)


@pytest.fixture(scope="module")
def predictor() -> SamPredictor:
    torch.manual_seed(0)
    pred = build_tracker("sam3", config=sam3_tiny_test_config())
    with torch.no_grad():
        # random weights call every object absent; force "present" so masks carry real logits
        pred.model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(8.0)
    return pred


def _mask_checks(masks: torch.Tensor, count: int) -> None:
    assert masks.shape == (count, 1, HEIGHT, WIDTH)
    for row in masks:
        fg = (row > 0).float().mean().item()
        assert 0.0 < fg < 1.0  # neither the no-object constant nor everything


def test_notebook_session(predictor: SamPredictor, video: Path) -> None:
    assert isinstance(predictor.model, Sam3TrackerModel)
    state = predictor.init_state(video_path=str(video))
    predictor.clear_all_points_in_video(state)
    _, ids, low_res, masks = predictor.add_new_points(
        inference_state=state, frame_idx=0, obj_id=1, points=torch.tensor([[0.3, 0.6]]),
        labels=torch.tensor([1], dtype=torch.int32), clear_old_points=False)
    assert ids == [1] and low_res.shape == (1, 1, 64, 64)  # 4 x the 16 x 16 feature map
    _mask_checks(masks, 1)
    seen = []
    for frame_idx, ids, _, masks, scores in predictor.propagate_in_video(
            state, start_frame_idx=0, max_frame_num_to_track=240, reverse=False, propagate_preflight=True):
        seen.append(frame_idx)
        assert ids == [1]
        _mask_checks(masks, 1)
        assert scores.shape == (1, 1)
    assert seen == list(range(FRAMES))

    # refinement on a later frame: it becomes a conditioning frame of the object
    _, ids, _, refined = predictor.add_new_points(
        inference_state=state, frame_idx=6, obj_id=1, points=torch.tensor([[0.1, 0.75]]),
        labels=torch.tensor([0], dtype=torch.int32), clear_old_points=False)
    _mask_checks(refined, 1)
    frames = [f for f, *_ in predictor.propagate_in_video(
        state, start_frame_idx=0, max_frame_num_to_track=300, reverse=False, propagate_preflight=True)]
    assert frames == list(range(FRAMES))
    assert sorted(state.objects[1].cond) == [0, 6]

    # box + click on a new object after a reset, then two more objects
    predictor.clear_all_points_in_video(state)
    box = np.array([[0.3, 0.0, 0.5, 0.75]], dtype=np.float32)
    predictor.add_new_points_or_box(inference_state=state, frame_idx=0, obj_id=4, box=box)
    _, ids, _, masks = predictor.add_new_points_or_box(
        inference_state=state, frame_idx=0, obj_id=4, points=torch.tensor([[0.45, 0.1]]),
        labels=torch.tensor([1], dtype=torch.int32), box=box)
    assert ids == [4]
    _mask_checks(masks, 1)
    predictor.add_new_points_or_box(inference_state=state, frame_idx=0, obj_id=2, points=[[0.2, 0.5]],
                                    labels=torch.tensor([1], dtype=torch.int32))
    _, ids, _, masks = predictor.add_new_points_or_box(
        inference_state=state, frame_idx=0, obj_id=3, points=torch.tensor([[0.8, 0.3]]),
        labels=torch.tensor([1], dtype=torch.int32))
    assert ids == [4, 2, 3]
    _mask_checks(masks, 3)
    out = list(predictor.propagate_in_video(
        state, start_frame_idx=0, max_frame_num_to_track=300, reverse=False, propagate_preflight=True))
    assert [f for f, *_ in out] == list(range(FRAMES))
    for _, ids, _, masks, _ in out:
        assert ids == [4, 2, 3]
        _mask_checks(masks, 3)


def test_clicks_never_read_the_memory_bank(predictor: SamPredictor) -> None:
    """SAM 3 decodes a click (also a correction on a tracked frame) without memory attention."""
    model = predictor.model
    config = sam3_tiny_test_config()
    with torch.inference_mode():
        feats = model.forward_image(torch.randn(1, 3, config.image_size, config.image_size))

    class NoBank:
        cond: dict = {}
        non_cond: dict = {}

        def memory_of(self, *_: object) -> None:
            raise AssertionError("a click must not read memories")

    from sam3core.sam.inference_state import PointPrompt

    points = PointPrompt(torch.tensor([[[50.0, 60.0]]]), torch.tensor([[1]], dtype=torch.int32))
    with torch.inference_mode():
        tracked = model.track_step(frame_idx=5, is_init_cond_frame=False, feats=feats, bank=NoBank(),
                                   num_frames=8, points=points, run_mem_encoder=False)
        fresh = model.track_step(frame_idx=5, is_init_cond_frame=True, feats=feats, bank=NoBank(),
                                 num_frames=8, points=points, run_mem_encoder=False)
    assert torch.equal(tracked.pred_masks, fresh.pred_masks)
    with pytest.raises(RuntimeError), torch.inference_mode():  # propagation (no click) does use memory
        model.track_step(frame_idx=5, is_init_cond_frame=False, feats=feats, bank=NoBank(), num_frames=8)


def test_at_most_sixteen_clicks_reach_the_prompt_encoder(predictor: SamPredictor, video: Path) -> None:
    state = predictor.init_state(video_path=str(video))
    rng = np.random.default_rng(0)
    points = rng.uniform(0.1, 0.9, size=(20, 2)).astype(np.float32)
    labels = (rng.uniform(size=20) > 0.3).astype(np.int32)
    _, _, _, all_twenty = predictor.add_new_points_or_box(state, 0, 1, points=points, labels=labels)
    kept = np.concatenate([points[:8], points[-8:]])
    kept_labels = np.concatenate([labels[:8], labels[-8:]])
    other = predictor.init_state(video_path=str(video))
    _, _, _, sixteen = predictor.add_new_points_or_box(other, 0, 1, points=kept, labels=kept_labels)
    assert torch.equal(all_twenty, sixteen)


def test_sam3_tracker_settings() -> None:
    cfg = sam3_tiny_test_config().tracker
    assert cfg.max_cond_frames_in_attn == 4 and cfg.use_memory_selection and cfg.mf_threshold == 0.01
    assert cfg.multimask_output_for_tracking and cfg.add_all_frames_to_correct_as_cond
    assert cfg.max_point_num_in_prompt_enc == 16 and cfg.backbone_stride == 14
    assert cfg.clear_non_cond_mem_around_input and cfg.clear_hides_from_lookups_only
    assert cfg.consolidate_prompted_frames and cfg.shared_memory_selection


def _click(predictor: SamPredictor, state: object, frame: int, obj: int, x: float, y: float,
           label: int = 1, clear: bool = True) -> torch.Tensor:
    return predictor.add_new_points_or_box(state, frame, obj, points=[[x, y]], labels=[label],
                                           clear_old_points=clear)[3]


def _run(predictor: SamPredictor, state: object) -> list[tuple]:
    return list(predictor.propagate_in_video(state, start_frame_idx=0, max_frame_num_to_track=300))


def test_clearing_hides_frames_from_look_ups_but_keeps_their_memory(
        predictor: SamPredictor, video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sam3core.sam import memory as memory_module

    state = predictor.init_state(video_path=str(video))
    _click(predictor, state, 0, 1, 0.3, 0.6)
    _run(predictor, state)
    _click(predictor, state, 6, 1, 0.1, 0.75, label=0, clear=False)
    read: dict[int, list[int]] = {}
    original = memory_module.ObjectBank.memory_of
    current = {"frame": -1}

    def spy(self: object, frame_idx: int, entry: object) -> object:
        read.setdefault(current["frame"], []).append(frame_idx)
        return original(self, frame_idx, entry)

    monkeypatch.setattr(memory_module.ObjectBank, "memory_of", spy)
    for frame_idx, *_ in predictor.propagate_in_video(state, start_frame_idx=0, max_frame_num_to_track=300):
        current["frame"] = frame_idx + 1  # reads made while stepping the next frame
    obj = state.objects[1]
    # frame 6's clearing (span 7) hid the re-tracked frames 1..5 from look-ups of previous results ...
    assert obj.hidden == {1, 2, 3, 4, 5} and sorted(obj.cond) == [0, 6]
    assert obj.visible_non_cond(3) is None and obj.visible_non_cond(7) is not None
    assert obj.non_cond[3].has_memory  # hidden, not dropped
    # a click there is decoded like the reference's: no previous mask logits to refine
    assert predictor._lookup(obj, 3, is_cond=True) is None
    # ... while frame 7 still attended to them as memories
    assert {1, 2, 3, 4, 5} <= set(read[7])


def test_prompted_frames_merge_all_objects_without_overlap(predictor: SamPredictor, video: Path) -> None:
    together = predictor.init_state(video_path=str(video))
    _click(predictor, together, 0, 1, 0.3, 0.6)
    _click(predictor, together, 0, 2, 0.3, 0.6)  # same click: identical masks, object 1 keeps the pixels
    _click(predictor, together, 3, 5, 0.7, 0.3)  # a third object prompted on another frame only
    predictor.propagate_in_video_preflight(together)
    alone = predictor.init_state(video_path=str(video))
    _click(predictor, alone, 0, 2, 0.3, 0.6)
    predictor.propagate_in_video_preflight(alone)
    first = together.objects[1].cond[0].maskmem_features
    second = together.objects[2].cond[0].maskmem_features
    single = alone.objects[2].cond[0].maskmem_features
    assert first is not None and second is not None and single is not None
    assert not torch.equal(second, single)  # object 2 lost the shared pixels before its memory was made
    # frames prompted for any object become prompted frames of every object (empty mask where none)
    for obj_id in (1, 2, 5):
        assert sorted(together.objects[obj_id].cond) == [0, 3]
    assert (together.objects[1].cond[3].pred_masks < -100).all()


def test_correcting_one_object_conditions_every_object(predictor: SamPredictor, video: Path) -> None:
    state = predictor.init_state(video_path=str(video))
    _click(predictor, state, 0, 1, 0.3, 0.6)
    _click(predictor, state, 0, 2, 0.7, 0.3)
    first = _run(predictor, state)
    one, two = state.objects[1], state.objects[2]
    for t in range(1, FRAMES):  # memory selection scores each frame once for both objects
        assert one.non_cond[t].eff_iou_score == two.non_cond[t].eff_iou_score
    _click(predictor, state, 4, 2, 0.75, 0.35, clear=False)
    second = _run(predictor, state)
    assert sorted(one.cond) == [0, 4] and 4 not in one.non_cond
    # object 1 keeps its tracked result on the corrected frame: it is not tracked there again
    assert torch.equal(second[4][2][0], first[4][2][0])
