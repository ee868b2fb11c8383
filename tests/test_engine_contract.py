"""The engine contract (sam3core/engine.py), the same cases against every engine.

Engines: the classical one, tiny random-weight SAM 2.1 and SAM 3 trackers (as the other tests build
them), and the GUI tests' geometry fake. Each case expects the same kind of outcome from all of them:
the same exception type for the same bad input (and nothing changed by it), the same frames visited by
a propagation, the same result shapes, and the declared capabilities (device, prefetch_features, close).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from app.ui.testing import SlowFakeEngine
from sam3core.classical import ClassicalEngine
from sam3core.engine import Engine, frame_order
from sam3core.errors import EngineInputError, FrameIndexError, MaskError, ObjectIdError, PromptError
from sam3core.video import VideoSource, write_video
from tests.tiny_engines import tiny_sam

FRAMES, HEIGHT, WIDTH = 7, 64, 80
ENGINES = ("classical", "sam2.1_tiny", "sam3_tiny", "fake")


def _frames() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    background = rng.integers(30, 100, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    frames = []
    for i in range(FRAMES):
        frame = background.copy()
        frame[16:44, 10 + 3 * i:36 + 3 * i] = (220, 40, 30)
        frames.append(frame)
    return frames


BUILDERS: dict[str, Callable[[], Engine]] = {
    "classical": ClassicalEngine,
    "sam2.1_tiny": lambda: tiny_sam("sam2.1_hiera_tiny", present_bias=6.0),
    "sam3_tiny": lambda: tiny_sam("sam3", present_bias=6.0),
    "fake": lambda: SlowFakeEngine(delay_s=0.0),
}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: more threads only spin against each other here
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def video_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("contract") / "frames", _frames())


@pytest.fixture(scope="module")
def engines() -> dict[str, Engine]:
    return {}


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, engines: dict[str, Engine]) -> Engine:
    name = request.param
    if name not in engines:
        engines[name] = BUILDERS[name]()
    return engines[name]


@pytest.fixture
def state(engine: Engine, video_path: Path) -> Iterator[Any]:
    with VideoSource(video_path) as video:
        session = engine.init_state(video=video)
        yield session
        engine.close(session)


CLICK = np.array([[23.0, 30.0]], np.float32)  # on the red square of frame 0, video pixels
POSITIVE = np.array([1], np.int32)


def click(engine: Engine, state: Any, frame: int = 0, obj_id: int = 1, **kwargs: Any) -> Any:
    kwargs.setdefault("points", CLICK + np.array([3.0 * frame, 0.0], np.float32))
    kwargs.setdefault("labels", POSITIVE)
    return engine.add_new_points_or_box(state, frame, obj_id, rel_coordinates=False, **kwargs)


def square_mask(frame: int = 0) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), bool)
    mask[16:44, 10 + 3 * frame:36 + 3 * frame] = True
    return mask


def visited(engine: Engine, state: Any, **kwargs: Any) -> list[int]:
    return [int(out[0]) for out in engine.propagate_in_video(state, **kwargs)]


# -- capabilities -------------------------------------------------------------------------------
def test_declared_capabilities(engine: Engine, state: Any) -> None:
    assert isinstance(engine.name, str) and engine.name
    assert isinstance(engine.device, torch.device)
    assert isinstance(engine.prefetch_features(state, 2), bool)
    with pytest.raises(FrameIndexError):
        engine.prefetch_features(state, FRAMES)
    click(engine, state, frame=2)
    scores = engine.frame_scores(state, 2)
    assert isinstance(scores, dict) and set(scores) <= {1}
    for values in scores.values():
        assert set(values) <= {"iou", "memory_score", "engine_confidence"}
        assert all(v is None or isinstance(v, float) for v in values.values())
    with pytest.raises(FrameIndexError):
        engine.frame_scores(state, FRAMES)


def test_result_shapes(engine: Engine, state: Any) -> None:
    frame, ids, low, video = click(engine, state, frame=1)
    assert frame == 1 and list(ids) == [1]
    assert video.shape == (1, 1, HEIGHT, WIDTH) and video.dtype == torch.float32
    assert low.ndim == 4 or low.numel() == 0
    assert (video > 0).any()
    frame, ids, _, video = engine.add_new_mask(state, 1, 2, square_mask(1))
    assert list(ids) == [1, 2] and video.shape == (2, 1, HEIGHT, WIDTH)
    for _frame, obj_ids, _, video_res, scores in engine.propagate_in_video(state, start_frame_idx=1,
                                                                          max_frame_num_to_track=1):
        assert list(obj_ids) == [1, 2]
        assert video_res.shape == (2, 1, HEIGHT, WIDTH)
        assert tuple(scores.shape) == (2, 1)


# -- bad input: same type from every engine, and nothing changed ----------------------------------
@pytest.mark.parametrize("frame", [-1, FRAMES, 1.5, True, "0", None])
def test_bad_frame_index(engine: Engine, state: Any, frame: Any) -> None:
    with pytest.raises(FrameIndexError):
        engine.add_new_points_or_box(state, frame, 1, points=CLICK, labels=POSITIVE, rel_coordinates=False)
    with pytest.raises(FrameIndexError):
        engine.add_new_mask(state, frame, 1, square_mask())
    # nothing was added: the session still has no object
    with pytest.raises(PromptError):
        next(iter(engine.propagate_in_video(state)))


def test_frame_index_error_is_also_index_and_value_error() -> None:
    assert issubclass(FrameIndexError, IndexError) and issubclass(FrameIndexError, ValueError)
    assert all(issubclass(e, EngineInputError) for e in (FrameIndexError, ObjectIdError, PromptError,
                                                         MaskError))


@pytest.mark.parametrize("obj_id", [-1, "1", 1.0, True, None])
def test_bad_object_id(engine: Engine, state: Any, obj_id: Any) -> None:
    with pytest.raises(ObjectIdError):
        click(engine, state, obj_id=obj_id)
    with pytest.raises(ObjectIdError):
        engine.add_new_mask(state, 0, obj_id, square_mask())
    with pytest.raises(ObjectIdError):
        engine.remove_object(state, obj_id)
    _, ids, _, _ = click(engine, state, obj_id=np.int64(4))  # numpy integers are integers
    assert list(ids) == [4]


@pytest.mark.parametrize("prompt", [
    {"points": CLICK, "labels": None},                          # points without labels
    {"points": [[np.nan, 3.0]], "labels": [1]},                 # not finite
    {"points": CLICK, "labels": [2]},                           # a label that is no click label
    {"points": [[1.0, 2.0], [3.0, 4.0]], "labels": [1]},        # one label for two points
    {"points": None, "labels": None},                           # nothing at all
])
def test_bad_prompt(engine: Engine, state: Any, prompt: dict[str, Any]) -> None:
    click(engine, state, frame=2)
    before = engine.add_new_mask(state, 3, 5, square_mask(3))[1]
    with pytest.raises(PromptError):
        click(engine, state, frame=2, **prompt)
    # the refused prompt changed nothing: same objects, object 1's mask on frame 2 unchanged
    again = click(engine, state, frame=2)
    assert list(again[1]) == list(before)


def test_box_after_clicks_needs_clear_old_points(engine: Engine, state: Any) -> None:
    click(engine, state)
    with pytest.raises(PromptError):
        click(engine, state, points=None, labels=None, box=[5, 5, 40, 40], clear_old_points=False)


@pytest.mark.parametrize("mask", [
    np.ones((HEIGHT // 2, WIDTH // 2), bool),       # another size: never resized
    np.ones((WIDTH, HEIGHT), bool),                 # transposed
    np.ones((2, HEIGHT, WIDTH), bool),              # a stack of masks
    np.full((HEIGHT, WIDTH), np.nan, np.float32),   # not finite
])
def test_bad_mask(engine: Engine, state: Any, mask: np.ndarray) -> None:
    with pytest.raises(MaskError):
        engine.add_new_mask(state, 0, 1, mask)
    with pytest.raises(PromptError):  # nothing was stored
        next(iter(engine.propagate_in_video(state)))


def test_mask_forms_accepted(engine: Engine, state: Any) -> None:
    mask = square_mask()
    for form in (mask, mask[None], torch.from_numpy(mask), mask.astype(np.float32) * 2 - 1):
        _, _, _, video = engine.add_new_mask(state, 0, 1, form)
        inside = (video[0, 0] > 0).numpy()
        assert inside[mask].mean() > 0.5 and not inside[~mask].mean() > 0.5


def test_propagating_without_prompts(engine: Engine, state: Any) -> None:
    with pytest.raises(PromptError):
        next(iter(engine.propagate_in_video(state)))
    with pytest.raises(PromptError):
        next(iter(engine.propagate_in_video(state, start_frame_idx=0, reverse=True)))


def test_bad_propagation_arguments(engine: Engine, state: Any) -> None:
    click(engine, state)
    with pytest.raises(FrameIndexError):
        next(iter(engine.propagate_in_video(state, start_frame_idx=FRAMES)))
    with pytest.raises(EngineInputError):
        next(iter(engine.propagate_in_video(state, start_frame_idx=0, max_frame_num_to_track=-1)))


def test_remove_object_is_lenient_by_default(engine: Engine, state: Any) -> None:
    click(engine, state, obj_id=1)
    click(engine, state, frame=2, obj_id=2)
    ids, updated = engine.remove_object(state, 9)
    assert list(ids) == [1, 2] and list(updated) == []
    with pytest.raises(ObjectIdError):
        engine.remove_object(state, 9, strict=True)
    ids, updated = engine.remove_object(state, 2)
    assert list(ids) == [1]
    for frame, masks in updated:
        assert isinstance(frame, int) and masks.shape == (1, 1, HEIGHT, WIDTH)


# -- propagation order ------------------------------------------------------------------------------
def test_default_start_is_the_earliest_prompted_frame_both_ways(engine: Engine, state: Any) -> None:
    click(engine, state, frame=3)
    click(engine, state, frame=5)
    assert visited(engine, state) == [3, 4, 5, 6]
    assert visited(engine, state, reverse=True) == [3, 2, 1, 0]


def test_frames_visited(engine: Engine, state: Any) -> None:
    click(engine, state, frame=3)
    assert visited(engine, state, start_frame_idx=3, max_frame_num_to_track=2) == [3, 4, 5]
    assert visited(engine, state, start_frame_idx=3, max_frame_num_to_track=2, reverse=True) == [3, 2, 1]
    assert visited(engine, state, start_frame_idx=0, reverse=True) == []
    assert visited(engine, state, start_frame_idx=FRAMES - 1) == [FRAMES - 1]
    assert visited(engine, state, start_frame_idx=3, max_frame_num_to_track=0) == [3]


def test_stopping_a_propagation_keeps_the_frames_done(engine: Engine, state: Any) -> None:
    click(engine, state)
    frames = engine.propagate_in_video(state, start_frame_idx=0)
    first = [int(next(frames)[0]) for _ in range(3)]
    frames.close()  # type: ignore[attr-defined]
    assert first == [0, 1, 2]
    # the session goes on: another object, then a full run
    _, ids, _, _ = engine.add_new_mask(state, 4, 2, square_mask(4))
    assert list(ids) == [1, 2]
    assert visited(engine, state, start_frame_idx=0) == list(range(FRAMES))


def test_should_stop_ends_a_propagation_and_drops_the_frame_under_way(engine: Engine, state: Any) -> None:
    click(engine, state)
    assert visited(engine, state, start_frame_idx=0, should_stop=lambda: True) == []
    got: list[int] = []

    def stop_after_two() -> bool:  # asked inside frame 2 (or before it): frames 0 and 1 are kept
        return len(got) >= 2

    for out in engine.propagate_in_video(state, start_frame_idx=0, should_stop=stop_after_two):
        got.append(int(out[0]))
    assert got == [0, 1]
    assert visited(engine, state, start_frame_idx=0) == list(range(FRAMES))  # the session goes on


@pytest.mark.parametrize("engine_name", ["sam2.1_tiny", "sam3_tiny"])
def test_sam_stops_inside_a_frame_as_if_it_had_stopped_before_it(
        engine_name: str, engines: dict[str, Engine], video_path: Path) -> None:
    """Stopped inside frame 1 after object 1's step there, the session is as after a stop before frame
    1: a click on frame 1 gives the same mask (no unannounced result is taken as its previous one), and
    a later run the same frames as an uninterrupted one."""
    engine = engines.setdefault(engine_name, BUILDERS[engine_name]())
    second = {"frame": 0, "obj_id": 2, "points": np.array([[60.0, 50.0]], np.float32)}
    with VideoSource(video_path) as video:
        reference = engine.init_state(video=video)
        click(engine, reference)
        click(engine, reference, **second)
        frames = engine.propagate_in_video(reference, start_frame_idx=0)
        assert int(next(frames)[0]) == 0
        frames.close()  # type: ignore[attr-defined]
        expected_click = click(engine, reference, frame=1)[3]
        expected = {int(f): m for f, _, _, m, _ in engine.propagate_in_video(reference, start_frame_idx=0)}
        engine.close(reference)
        state = engine.init_state(video=video)
        click(engine, state)
        click(engine, state, **second)
        asked: list[int] = []
        got: list[int] = []

        def stop_inside_frame_1() -> bool:  # frame 0 is prompted (no network runs); frame 1's blocks ask
            if got:
                asked.append(len(asked))
            return len(asked) >= 45  # past object 1's step (and the encoder), inside object 2's
        for out in engine.propagate_in_video(state, start_frame_idx=0, should_stop=stop_inside_frame_1):
            got.append(int(out[0]))
        assert got == [0] and len(asked) == 45  # stopped between blocks, not at the end of the frame
        assert torch.equal(click(engine, state, frame=1)[3] > 0, expected_click > 0)
        rerun = {int(f): m for f, _, _, m, _ in engine.propagate_in_video(state, start_frame_idx=0)}
        engine.close(state)
    assert sorted(rerun) == sorted(expected)
    for frame, mask in expected.items():
        assert torch.equal(rerun[frame] > 0, mask > 0), frame


def test_frame_order_matches_the_reference_rule() -> None:
    assert list(frame_order(10, 3, None, True)) == [3, 2, 1, 0]
    assert list(frame_order(10, 0, None, True)) == []
    assert list(frame_order(10, 8, 5)) == [8, 9]
    assert list(frame_order(10, 9)) == [9]
    with pytest.raises(FrameIndexError):
        frame_order(10, 10)
    with pytest.raises(EngineInputError):
        frame_order(10, 2, -1)


@pytest.mark.parametrize("engine_name, module", [("classical", "sam3core.classical.engine"),
                                                 ("sam2.1_tiny", "sam3core.sam.predictor")])
def test_a_propagation_gives_the_freed_heap_back(engine_name: str, module: str, engines: dict[str, Engine],
                                                 video_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without trimming, RSS grew ~190 MB over a 200-frame run, mostly freed memory glibc kept: the
    engine hands it back when a run ends, also when it is stopped early."""
    engine = engines.setdefault(engine_name, BUILDERS[engine_name]())
    calls: list[int] = []
    monkeypatch.setattr(f"{module}.trim_heap", lambda: calls.append(1))
    with VideoSource(video_path) as video:
        state = engine.init_state(video=video)
        click(engine, state)
        frames = engine.propagate_in_video(state, start_frame_idx=0)
        next(frames)
        frames.close()  # type: ignore[attr-defined]
        assert calls  # stopped early: trimmed on the way out
        engine.close(state)


def test_init_state_needs_exactly_one_source(engine: Engine, video_path: Path) -> None:
    with pytest.raises(EngineInputError):
        engine.init_state()
    with VideoSource(video_path) as video, pytest.raises(EngineInputError):
        engine.init_state(video_path, video=video)


def test_reset_forgets_everything(engine: Engine, state: Any) -> None:
    click(engine, state, obj_id=1)
    engine.add_new_mask(state, 3, 2, square_mask(3))
    engine.reset_state(state)
    with pytest.raises(PromptError):
        next(iter(engine.propagate_in_video(state)))
    assert engine.remove_object(state, 1) == ([], [])
    _, ids, _, _ = click(engine, state, frame=1, obj_id=7)  # the session goes on
    assert list(ids) == [7]
    engine.clear_all_points_in_video(state)
    with pytest.raises(PromptError):
        next(iter(engine.propagate_in_video(state)))
