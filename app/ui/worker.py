"""The tracking worker: lives in its own QThread and owns the engine and its tracking session.

Every request carries the Project's current prompts (a snapshot built on the UI thread); the domain's
:class:`~app.domain.tracking.TrackingSession` (the same one ``masklet track`` drives) brings the engine
in line with them and runs propagations. The UI thread never calls the engine and never waits on it;
results come back as queued signals.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from app.cluster.runtime import ClusterConnectionError, ClusterUnavailableError, RemoteTarget
from app.domain.tracking import PromptKey, PromptSet, PropagationRequest, TrackingSession
from app.ui.eta import RateEstimator
from sam3core.engine import Engine
from sam3core.video import VideoSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineSpec:
    """What to build: a registry name (None = detect from the checkpoint / classical), file, device,
    and where: this process, or (``remote``) an actor on a Ray cluster."""

    name: str | None = None
    checkpoint: str | None = None
    device: str | None = "cpu"
    random_weights: bool = False  # tests and benchmarks only (masklet --random-weights)
    remote: RemoteTarget | None = None  # run it in an actor on a Ray cluster (app/cluster)


EngineFactory = Callable[[EngineSpec], Engine]


def default_engine_factory(spec: EngineSpec) -> Engine:
    if spec.remote is not None:
        from app.cluster.remote_engine import connect_remote_engine

        device = spec.device or ("cuda" if spec.remote.num_gpus else "cpu")
        return connect_remote_engine(spec.remote, model=spec.name, checkpoint=spec.checkpoint, device=device)
    # Imported here, in the worker thread: torch and the models load behind the first frame on screen.
    from sam3core.factory import build_engine

    return build_engine(spec.name, checkpoint=spec.checkpoint, device=spec.device,
                        random_weights=spec.random_weights)


def describe_error(exc: BaseException, device: str) -> str:
    """A message a user can act on; out-of-memory gets its own advice."""
    text = str(exc) or type(exc).__name__
    oom = isinstance(exc, MemoryError) or "out of memory" in text.lower()
    torch = sys.modules.get("torch")  # an engine error from torch means torch is loaded
    if isinstance(exc, getattr(torch, "OutOfMemoryError", ())) or oom:
        return (f"The engine ran out of memory on {device}. Frames computed so far are kept.\n"
                "Try a smaller model, the CPU device, or closing other programs.\n\nDetails: " + text)
    return f"{type(exc).__name__}: {text}"


def lower_current_thread_priority(niceness: int = 5) -> None:
    """Linux applies nice values per thread; elsewhere this is a no-op (Qt's own priorities apply)."""
    if sys.platform.startswith("linux"):
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + niceness))
        except (OSError, AttributeError):
            log.debug("could not lower the worker's priority", exc_info=True)


class TrackingWorker(QObject):
    """Move to a QThread and drive it only through queued signals (see TrackingController).

    A thin thread shell around the domain's :class:`~app.domain.tracking.TrackingSession`: it builds the
    engine, turns results into signals, hands the cancel flag to the engine (asked within frames) and
    yields the CPU.
    """

    engine_ready = Signal(str, str)          # engine name, device
    engine_failed = Signal(str)              # message; the previous engine stays in use
    prompt_result = Signal(int, int, object, int)  # frame, obj_id, (H, W) bool mask, token
    prompt_done = Signal(int)                # token: that request is answered (after its result or failure)
    mask_ready = Signal(int, object)         # frame, {obj_id: (H, W) bool}
    progress = Signal(int, int, float)       # frames done, frames total, smoothed frames/s (0: not yet)
    finished = Signal(int, bool)             # frames done, cancelled
    failed = Signal(str)                     # engine error during a request; the app carries on

    def __init__(self, factory: EngineFactory = default_engine_factory) -> None:
        super().__init__()
        self._factory = factory
        self.session = TrackingSession()
        self._device = "cpu"
        # Set from the UI thread; asked by the engine within and between frames (the worker's event
        # loop is busy then).
        self.cancel_event = threading.Event()
        # Called in this thread with each propagated frame before it is announced; the owner sets it.
        # store(frame, masks, scores, request): scores {obj_id: FrameScore}, request the run it belongs to.
        self.store: Callable[[int, dict[int, np.ndarray], dict, PropagationRequest], None] | None = None
        # follow(frame, masks): masks the engine must go on from there (reviewed ones it departed from).
        self.follow: Callable[[int, dict[int, np.ndarray]], dict[int, np.ndarray]] | None = None
        # The frame the user is looking at, set from the UI thread (-1: none); a prefetch of any other
        # frame is stale and stops between two encoder blocks.
        self.wanted_frame = -1

    # -- setup --------------------------------------------------------------------------------
    @Slot()
    def lower_priority(self) -> None:
        """Run in the worker thread first: it (and threads it starts, e.g. torch's pool) yields the CPU
        to the UI thread, so a busy tracker never makes the window stutter."""
        lower_current_thread_priority()

    @Slot(object)
    def set_engine(self, spec: EngineSpec) -> None:
        try:
            engine = self._factory(spec)
        except Exception as exc:  # a bad checkpoint must never take the app down
            log.exception("engine build failed")
            message = describe_error(exc, str(spec.device))
            cluster = isinstance(exc, (ClusterConnectionError, ClusterUnavailableError))
            if spec.checkpoint and str(spec.checkpoint) not in message and not cluster:
                message = f"{spec.checkpoint} could not be loaded as a model checkpoint.\n\n{message}"
            self.engine_failed.emit(message)
            return
        previous = self.session.engine
        self.session.set_engine(engine)
        if previous is not None and previous is not engine:
            # A remote engine holds a worker on the cluster: hand it back.
            getattr(previous, "shutdown", lambda: None)()
        # A remote engine says where it runs ("cuda on gpu-host (Ray)"), not only its device.
        self._device = str(getattr(engine, "location", None) or engine.device)
        name = engine.name
        if spec.random_weights and not spec.checkpoint and name != "classical":
            name += " (random weights)"  # the project records that its masks came from no real model
        self.engine_ready.emit(name, self._device)

    @Slot(object)
    def set_video(self, video: VideoSource | None) -> None:
        self.session.set_video(video)

    # -- prompts ------------------------------------------------------------------------------
    @Slot(object, object, int)
    def segment(self, prompts: PromptSet, key: PromptKey, token: int) -> None:
        """Compute the mask of one (frame, object) prompt at once (the click -> mask path)."""
        try:
            mask = self.session.segment(prompts, key)
        except Exception as exc:
            log.exception("segment failed")
            self.failed.emit(describe_error(exc, self._device))
            mask = None
        if mask is not None:
            self.prompt_result.emit(key[0], key[1], mask, token)
        self.prompt_done.emit(token)  # the window stops showing that it waits, answer or not

    @Slot(int)
    def prefetch(self, frame: int) -> None:
        """Idle time: encode the frame the user rests on, so a click there runs only the decoder."""
        if self.session.engine is None or self.session.video is None or frame != self.wanted_frame:
            return
        try:
            self.session.prefetch(frame, should_stop=lambda: self.wanted_frame != frame)
        except Exception:  # only a head start: the click computes what it needs anyway
            log.warning("encoding frame %d ahead of a click failed", frame, exc_info=True)

    # -- propagation --------------------------------------------------------------------------
    @Slot(object, object)
    def propagate(self, prompts: PromptSet, requests: list[PropagationRequest]) -> None:
        done = 0
        cancelled = False
        rate = RateEstimator()  # smoothed: a plain average jumps (app/ui/eta.py)
        current: PropagationRequest | None = None
        try:
            total = self.session.total_frames(requests)
            rate.start(time.perf_counter())
            self.progress.emit(0, total, 0.0)
            frames = self.session.propagate(prompts, requests, should_stop=self.cancel_event.is_set,
                                            follow=self.follow)
            with contextlib.closing(frames):
                for request, frame_idx, masks, scores in frames:
                    if current is not None and request is not current:
                        rate.new_run()
                    current = request
                    rate.frame_done(time.perf_counter())
                    if self.store is not None:  # masks with the engine's confidence (app/domain/provenance)
                        self.store(frame_idx, masks, scores, request)
                    self.mask_ready.emit(frame_idx, masks)
                    done += 1
                    self.progress.emit(done, total, rate.fps)
                    if self.cancel_event.is_set():
                        break
            cancelled = self.cancel_event.is_set()
        except Exception as exc:
            log.exception("propagation failed")
            self.failed.emit(describe_error(exc, self._device))
            self.finished.emit(done, True)
            return
        self.finished.emit(done, cancelled)
