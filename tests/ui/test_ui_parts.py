"""Unit tests of the GUI's building blocks: composition, propagation planning, the worker's engine sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.domain.model import Prompt
from app.domain.tracking import Direction, PropagationRequest, plan_propagation
from app.ui.compose import Layer, compose, compose_naive, paint_stroke
from app.ui.testing import SlowFakeEngine
from app.ui.tracking import PREFETCH_DELAY_MS, TrackingController
from app.ui.worker import EngineSpec, TrackingWorker, describe_error
from sam3core.video import VideoSource, write_video


def test_compose_tints_only_mask_pixels_and_matches_the_naive_blend() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    mask = np.zeros((60, 80), bool)
    mask[10:30, 20:50] = True
    other = np.zeros((60, 80), bool)
    other[25:40, 40:70] = True
    layers = [Layer(mask, (255, 0, 0)), Layer(other, (0, 0, 255))]
    out = compose(frame, layers, opacity=0.6)
    untouched = ~(mask | other)
    assert np.array_equal(out[untouched], frame[untouched])
    expected = np.round(frame[15, 25] * 0.4 + np.array([255, 0, 0]) * 0.6)
    assert np.abs(out[15, 25].astype(int) - expected).max() <= 1
    assert np.abs(out.astype(int) - compose_naive(frame, layers, opacity=0.6).astype(int)).max() <= 2
    assert np.array_equal(compose(frame, layers, opacity=0.0), frame)
    assert not np.shares_memory(out, frame)


def test_outline_draws_the_boundary_not_the_inside() -> None:
    frame = np.zeros((60, 80, 3), np.uint8)
    mask = np.zeros((60, 80), bool)
    mask[10:50, 10:70] = True
    out = compose(frame, [Layer(mask, (0, 255, 0))], outline=True, outline_width=1)
    assert out[30, 40].tolist() == [0, 0, 0]          # inside stays as it was
    assert out[10, 40, 1] > 100 and out[30, 10, 1] > 100  # the edges are drawn
    with pytest.raises(ValueError, match="does not match"):
        compose(frame, [Layer(np.zeros((10, 10), bool), (1, 2, 3))])


def test_paint_stroke_adds_and_erases_a_thick_line() -> None:
    mask = np.zeros((50, 100), bool)
    painted = paint_stroke(mask, [(10, 25), (90, 25)], radius=4, erase=False)
    assert painted[25, 10:91].all() and painted[22, 50] and not painted[35, 50]
    assert not mask.any()  # the input is not modified
    erased = paint_stroke(painted, [(50, 25)], radius=6, erase=True)
    assert not erased[25, 46:55].any() and erased[25, 20]


def test_plan_propagation_covers_every_command() -> None:
    assert plan_propagation(10, 100, Direction.FORWARD) == [PropagationRequest(10, False, None)]
    assert plan_propagation(10, 100, Direction.BOTH) == [PropagationRequest(10, False, None),
                                                         PropagationRequest(10, True, None)]
    assert plan_propagation(10, 100, Direction.FORWARD, target=40) == [PropagationRequest(10, False, 30)]
    assert plan_propagation(10, 100, Direction.FORWARD, target=4) == [PropagationRequest(10, True, 6)]
    assert plan_propagation(10, 100, Direction.FORWARD, target=10) == []
    both = plan_propagation(10, 100, Direction.BOTH, prompted=[3, 10, 25, 60], until_prompt=True)
    assert both == [PropagationRequest(10, False, 15), PropagationRequest(10, True, 7)]
    # No prompted frame ahead: to the end.
    assert plan_propagation(70, 100, Direction.FORWARD, prompted=[3, 60], until_prompt=True) == \
        [PropagationRequest(70, False, None)]
    with pytest.raises(ValueError):
        plan_propagation(100, 100, Direction.FORWARD)


def test_describe_error_gives_out_of_memory_advice() -> None:
    text = describe_error(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"), "cuda")
    assert "ran out of memory on cuda" in text and "smaller model" in text
    assert describe_error(ValueError("bad"), "cpu") == "ValueError: bad"


class RecordingEngine(SlowFakeEngine):
    """Logs every call the worker makes, to check how the session is derived from the prompts."""

    def __init__(self) -> None:
        super().__init__(delay_s=0.0)
        self.calls: list[tuple[Any, ...]] = []

    def add_new_points_or_box(self, state, frame_idx, obj_id, points=None, labels=None,  # noqa: ANN001
                              clear_old_points=True, rel_coordinates=True, box=None):  # noqa: ANN001, ANN201
        self.calls.append(("prompt", frame_idx, obj_id, rel_coordinates))
        return super().add_new_points_or_box(state, frame_idx, obj_id, points, labels, clear_old_points,
                                             rel_coordinates, box)

    def add_new_mask(self, state, frame_idx, obj_id, mask):  # noqa: ANN001, ANN201
        self.calls.append(("mask", frame_idx, obj_id))
        return super().add_new_mask(state, frame_idx, obj_id, mask)

    def reset_state(self, state) -> None:  # noqa: ANN001
        self.calls.append(("reset",))
        super().reset_state(state)


@pytest.fixture
def small_video(tmp_path: Path) -> VideoSource:
    frames = [np.full((40, 60, 3), 30 + 5 * t, np.uint8) for t in range(8)]
    return VideoSource(write_video(tmp_path / "v.mp4", frames))


def test_worker_feeds_changes_incrementally_and_refeeds_after_a_removal(qtbot, small_video) -> None:  # noqa: ANN001
    engine = RecordingEngine()
    worker = TrackingWorker(lambda spec: engine)
    worker.set_engine(EngineSpec())
    worker.set_video(small_video)
    a = Prompt(0, 1, points=((10.0, 10.0),), labels=(1,))
    b = Prompt(3, 2, box=(5.0, 5.0, 30.0, 20.0))
    with qtbot.waitSignal(worker.prompt_result) as got:
        worker.segment({(0, 1): a}, (0, 1), 7)
    frame, obj_id, mask, token = got.args
    assert (frame, obj_id, token) == (0, 1, 7) and mask[10, 10] and not mask[39, 59]
    assert engine.calls == [("prompt", 0, 1, False)]  # pixel coordinates, never relative
    engine.calls.clear()
    worker.segment({(0, 1): a, (3, 2): b}, (3, 2), 8)
    assert engine.calls == [("prompt", 3, 2, False)]  # only the new prompt is fed
    engine.calls.clear()
    mask_prompt = Prompt(3, 2, mask=np.ones((40, 60), bool))
    worker.segment({(3, 2): mask_prompt}, (3, 2), 9)  # (0, 1) was removed: reset, then everything again
    assert engine.calls == [("reset",), ("mask", 3, 2)]
    # Propagation stores each frame through the callback before announcing it.
    stored: list[int] = []
    worker.store = lambda f, masks, *_: stored.append(f)
    with qtbot.waitSignal(worker.finished) as done:
        worker.propagate({(3, 2): mask_prompt}, [PropagationRequest(3, False, None)])
    assert done.args == [5, False] and stored == [3, 4, 5, 6, 7]


class PrefetchingEngine(SlowFakeEngine):
    """Records the frames encoded ahead of a click (as SamPredictor.prefetch_features is called)."""

    def __init__(self) -> None:
        super().__init__(delay_s=0.0)
        self.prefetched: list[int] = []

    def prefetch_features(self, state, frame_idx, should_stop=None) -> bool:  # noqa: ANN001
        assert should_stop is not None and not should_stop()
        self.prefetched.append(frame_idx)
        return True


def test_frame_the_user_rests_on_is_encoded_ahead_of_a_click(qtbot, small_video) -> None:  # noqa: ANN001
    engine = PrefetchingEngine()
    tracking = TrackingController(lambda spec: engine)
    try:
        tracking.load_engine(EngineSpec())
        qtbot.waitUntil(lambda: not tracking.engine_loading, timeout=5000)
        tracking.set_video(small_video)
        for frame in (1, 2, 5):  # scrubbing: only the frame the user stops on is encoded
            tracking.prefetch_later(frame)
        qtbot.wait(PREFETCH_DELAY_MS // 4)
        assert engine.prefetched == []  # not while the user may still be scrubbing
        qtbot.waitUntil(lambda: engine.prefetched == [5], timeout=5000)
        qtbot.wait(2 * PREFETCH_DELAY_MS)
        assert engine.prefetched == [5]
        # a stale request (the user moved on before the worker got to it) is skipped in the worker
        tracking.worker.wanted_frame = 6
        tracking.worker.prefetch(4)
        assert engine.prefetched == [5]
    finally:
        tracking.shutdown()


def test_worker_reports_engine_crashes_and_recovers(qtbot, small_video) -> None:  # noqa: ANN001
    class Crashing(SlowFakeEngine):
        def propagate_in_video(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
            for i, item in enumerate(super().propagate_in_video(*args, **kwargs)):
                if i == 2:
                    raise RuntimeError("engine exploded")
                yield item

    worker = TrackingWorker(lambda spec: Crashing(delay_s=0.0))
    worker.set_engine(EngineSpec())
    worker.set_video(small_video)
    prompt = Prompt(0, 1, points=((10.0, 10.0),), labels=(1,))
    stored: list[int] = []
    worker.store = lambda f, masks, *_: stored.append(f)
    with qtbot.waitSignal(worker.failed) as failed, qtbot.waitSignal(worker.finished) as finished:
        worker.propagate({(0, 1): prompt}, [PropagationRequest(0, False, None)])
    assert "engine exploded" in failed.args[0]
    assert finished.args == [2, True] and stored == [0, 1]  # computed frames were stored
    with qtbot.waitSignal(worker.prompt_result):  # a fresh session is built from the prompts
        worker.segment({(0, 1): prompt}, (0, 1), 1)


def test_engine_dialog_detects_bad_checkpoints_and_reports_offline_downloads(qtbot, tmp_path: Path,  # noqa: ANN001
                                                                             monkeypatch) -> None:  # noqa: ANN001
    import app.models_catalog as catalog
    from app.ui.dialogs import EngineDialog

    dialog = EngineDialog(EngineSpec(None, None, "cpu"))
    qtbot.addWidget(dialog)
    assert dialog.classical.isChecked() and dialog.spec() == EngineSpec(None, None, "cpu")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    dialog.path_edit.setText(str(junk))
    dialog.sam.setChecked(True)
    dialog._detect()
    assert dialog.detected_label.text().startswith("Not usable")
    assert dialog.spec().checkpoint == str(junk) and dialog.spec().name is None

    def offline(name, progress=None):  # noqa: ANN001, ANN202
        raise catalog.ModelDownloadError(f"cannot download {name}: no network")

    monkeypatch.setattr(catalog, "download_model", offline)
    dialog.download_button.click()
    qtbot.waitUntil(lambda: dialog.task is not None and dialog.task.finished, timeout=10_000)
    assert "no network" in dialog.download_label.text() and dialog.download_button.isEnabled()


def test_renderer_cache_is_bounded_in_bytes() -> None:
    from app.ui.render import FrameRenderer

    renderer = FrameRenderer(cache_bytes=3 * 100 * 100)
    for frame in range(10):
        renderer.put(frame, {1: np.zeros((100, 100), bool)})
    assert list(renderer._cache) == [7, 8, 9]
    renderer.invalidate(8)
    assert list(renderer._cache) == [7, 9]


def test_renderer_cache_stays_bounded_over_a_long_propagation() -> None:
    """A 200-frame run of two 960x540 objects seeds 200 entries: the cache keeps a bounded number of
    bytes (the default once held ~100 MB here), and its running total matches what it holds."""
    from app.ui.render import FrameRenderer

    renderer = FrameRenderer()
    for frame in range(200):
        renderer.put(frame, {1: np.ones((540, 960), bool), 2: np.zeros((540, 960), bool)})
        if frame % 7 == 0:
            renderer.put(frame, {1: np.ones((540, 960), bool)})  # replaced by a corrected frame
        if frame % 11 == 0:
            renderer.invalidate(frame - 1)
    held = sum(m.nbytes for masks in renderer._cache.values() for m in masks.values())
    assert renderer.cached_bytes == held
    assert held <= 32 * 2**20
    assert 199 in renderer._cache  # the newest frames are the ones kept


def test_about_names_the_log_file_and_models_folder() -> None:
    from app.logs import log_file_path
    from app.paths import models_dir
    from app.ui import dialogs

    text = dialogs.about_text()
    assert str(log_file_path()) in text and str(models_dir()) in text


def test_last_checkpoint_is_remembered_per_model(tmp_path, qtbot) -> None:
    from app.ui import dialogs
    from app.ui.worker import EngineSpec

    tiny = tmp_path / "my-sam2-tiny.pt"
    large = tmp_path / "my-sam2-large.pt"
    for path in (tiny, large):
        path.write_bytes(b"placeholder")  # listed by path only; detection happens when chosen
    dialogs.remember_checkpoint("sam2.1_hiera_tiny", str(tiny))
    dialogs.remember_checkpoint("sam2.1_hiera_large", str(large))
    dialogs.remember_checkpoint("sam2.1_hiera_tiny", str(tiny))  # same model again: still one entry
    assert dialogs.remembered_checkpoints() == {"sam2.1_hiera_tiny": str(tiny),
                                                "sam2.1_hiera_large": str(large)}
    dialog = dialogs.EngineDialog(EngineSpec(None, None, "cpu"))
    qtbot.addWidget(dialog)
    listed = [dialog.found.item(i).toolTip() for i in range(dialog.found.count())]
    assert str(tiny) in listed and str(large) in listed
    large.unlink()  # a checkpoint that was moved away is not offered
    dialog._scan()
    listed = [dialog.found.item(i).toolTip() for i in range(dialog.found.count())]
    assert str(large) not in listed
