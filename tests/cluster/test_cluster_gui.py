"""The GUI worker driving a remote engine (an actor on a real local Ray instance) gets the masks the
local engine gives for a click, a box and a propagation, cancels between frames, survives a lost
worker (clear message, frames kept, next click reconnects), and the engine dialog's remote option."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from app.cluster.files import describe
from app.cluster.recipe import EngineRecipe
from app.cluster.remote_engine import RemoteEngine
from app.cluster.runtime import RemoteTarget
from app.cluster.testing import TINY_MODEL, tiny_factory, write_tiny_checkpoint
from app.domain.model import Prompt
from app.ui.worker import EngineSpec, PropagationRequest, TrackingWorker
from sam3core.video import VideoSource

pytestmark = pytest.mark.slow
CLICK = Prompt(0, 1, points=((70.0, 120.0),), labels=(1,))
BOX = Prompt(0, 2, box=(196.0, 36.0, 266.0, 98.0))
SPAN = 7  # frames after the prompted one


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a one-CPU worker: identical floating-point sums on both sides
    yield
    torch.set_num_threads(threads)


def drive(qtbot, worker: TrackingWorker, video: VideoSource) -> dict:  # noqa: ANN001
    """Click, box, propagate; then a second propagation cancelled after its first frame."""
    worker.set_video(video)
    out: dict = {}
    for key, prompts in (("click", {(0, 1): CLICK}), ("box", {(0, 1): CLICK, (0, 2): BOX})):
        target = (0, 1) if key == "click" else (0, 2)
        with qtbot.waitSignal(worker.prompt_result, timeout=60_000) as got:
            worker.segment(prompts, target, 1)
        out[key] = got.args[2]
    stored: dict[int, dict] = {}
    scores: dict[int, dict] = {}

    def store(frame: int, masks: dict, frame_scores: dict, request: PropagationRequest) -> None:
        stored[frame], scores[frame] = masks, frame_scores

    worker.store = store
    with qtbot.waitSignal(worker.finished, timeout=120_000) as done:
        worker.propagate({(0, 1): CLICK, (0, 2): BOX}, [PropagationRequest(0, False, SPAN)])
    assert done.args == [SPAN + 1, False]
    out["propagated"], out["scores"] = stored.copy(), scores.copy()
    shown: list[int] = []

    def cancel_after_first(frame: int, masks: dict) -> None:
        shown.append(frame)
        worker.cancel_event.set()

    stored.clear()
    worker.cancel_event.clear()
    worker.mask_ready.connect(cancel_after_first)
    with qtbot.waitSignal(worker.finished, timeout=60_000) as cancelled:
        worker.propagate({(0, 1): CLICK, (0, 2): BOX}, [PropagationRequest(3, False, None)])
    worker.mask_ready.disconnect(cancel_after_first)
    worker.cancel_event.clear()
    assert cancelled.args == [1, True] and shown == [3] and list(stored) == [3]  # stored before shown
    return out


def assert_same(local: dict, remote: dict) -> None:
    assert np.array_equal(local["click"], remote["click"]) and local["click"].any()
    assert np.array_equal(local["box"], remote["box"]) and local["box"].any()
    assert sorted(local["propagated"]) == sorted(remote["propagated"]) == list(range(SPAN + 1))
    for frame, masks in local["propagated"].items():
        assert masks.keys() == remote["propagated"][frame].keys() == {1, 2}
        for obj_id, mask in masks.items():
            assert np.array_equal(mask, remote["propagated"][frame][obj_id]), (frame, obj_id)
    assert local["scores"] == remote["scores"]  # object scores and any predicted IoU, as stored


def test_remote_classical_engine_matches_the_local_one(qtbot, ray_cluster, clip: Path) -> None:  # noqa: ANN001
    video = VideoSource(clip)
    local_worker, remote_worker = TrackingWorker(), TrackingWorker()
    local_worker.set_engine(EngineSpec(None, None, "cpu"))
    with qtbot.waitSignal(remote_worker.engine_ready, timeout=120_000) as ready:
        remote_worker.set_engine(EngineSpec(None, None, "cpu", remote=RemoteTarget(None)))
    assert ready.args[0] == "classical" and "(Ray)" in ready.args[1]
    try:
        assert_same(drive(qtbot, local_worker, video), drive(qtbot, remote_worker, video))
        # A lost worker mid-propagation: a clear message, every frame received stored, then the next
        # click reconnects (a new worker) and the prompts are fed again.
        engine = remote_worker.session.engine
        stored: list[int] = []

        def kill_after_two(frame: int, masks: dict) -> None:
            stored.append(frame)
            if len(stored) == 2:
                os.kill(engine.worker["pid"], signal.SIGKILL)

        remote_worker.store = lambda *args: None
        remote_worker.mask_ready.connect(kill_after_two)
        with qtbot.waitSignal(remote_worker.failed, timeout=60_000) as failed, \
                qtbot.waitSignal(remote_worker.finished, timeout=60_000) as finished:
            remote_worker.propagate({(0, 1): CLICK}, [PropagationRequest(0, False, None)])
        remote_worker.mask_ready.disconnect(kill_after_two)
        assert "Lost the remote engine" in failed.args[0] and "kept" in failed.args[0]
        assert finished.args == [len(stored), True] and len(stored) >= 2
        old_pid = engine.worker["pid"]
        with qtbot.waitSignal(remote_worker.prompt_result, timeout=120_000) as again:
            remote_worker.segment({(0, 1): CLICK, (0, 2): BOX}, (0, 2), 5)
        assert engine.worker["pid"] != old_pid
        assert np.array_equal(again.args[2], drive_box(qtbot, local_worker))
    finally:
        remote_worker.session.engine.shutdown()
        video.close()


def drive_box(qtbot, worker: TrackingWorker) -> np.ndarray:  # noqa: ANN001
    with qtbot.waitSignal(worker.prompt_result, timeout=60_000) as got:
        worker.segment({(0, 1): CLICK, (0, 2): BOX}, (0, 2), 5)
    return got.args[2]


def test_remote_sam_engine_matches_the_local_one(qtbot, ray_cluster, clip: Path, tmp_path: Path) -> None:  # noqa: ANN001
    checkpoint = write_tiny_checkpoint(tmp_path / "tiny.pt")
    recipe = EngineRecipe(TINY_MODEL, describe(checkpoint), "cpu", tiny_factory)
    video = VideoSource(clip)
    local_worker = TrackingWorker(lambda spec: tiny_factory(TINY_MODEL, str(checkpoint), "cpu"))
    remote_worker = TrackingWorker(lambda spec: RemoteEngine(RemoteTarget(None), recipe))
    local_worker.set_engine(EngineSpec())
    remote_worker.set_engine(EngineSpec())
    try:
        remote_worker.wanted_frame = 0
        remote_worker.set_video(video)
        remote_worker.prefetch(0)  # encoding ahead of a click works remotely too
        assert_same(drive(qtbot, local_worker, video), drive(qtbot, remote_worker, video))
    finally:
        remote_worker.session.engine.shutdown()
        video.close()


def test_engine_dialog_offers_a_remote_engine(qtbot, monkeypatch, isolated_settings) -> None:  # noqa: ANN001
    import app.ui.remote_box as remote_box
    from app.ui.dialogs import EngineDialog

    dialog = EngineDialog(EngineSpec(None, None, "cpu"))
    qtbot.addWidget(dialog)
    assert dialog.remote.isEnabled() and not dialog.remote.isChecked() and dialog.spec().remote is None
    dialog.remote.setChecked(True)
    dialog.remote.address.setText("ray://127.0.0.1:10001")
    assert dialog.spec() == EngineSpec(None, None, "cuda", remote=RemoteTarget("ray://127.0.0.1:10001", 1.0))
    dialog.remote.gpu.setChecked(False)
    assert dialog.spec().device == "cpu" and dialog.spec().remote.num_gpus == 0
    again = EngineDialog(dialog.spec())  # reopened: the remote choice is shown as it was
    qtbot.addWidget(again)
    assert again.remote.isChecked() and again.remote.address.text() == "ray://127.0.0.1:10001"
    monkeypatch.setattr(remote_box, "ray_available", lambda: False)
    frozen = EngineDialog(EngineSpec(None, None, "cpu"))
    qtbot.addWidget(frozen)
    assert not frozen.remote.isEnabled() and "Ray is missing" in frozen.remote.note.text()
    assert frozen.spec().remote is None
