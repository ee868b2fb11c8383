"""The UI-thread side of tracking: owns the worker thread and turns requests into queued calls.

It never blocks: requests are queued signals into the worker's thread, cancellation is a flag the
engine asks within and between frames, and results come back as signals. Propagated frames are stored into
the Project from the worker thread (the store is thread-safe and commits each frame), so a crash or a
cancel never loses a frame that was computed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from app.domain.provenance import model_label
from app.domain.tracking import PromptKey, PromptSet, PropagationRequest
from app.ui.worker import EngineFactory, EngineSpec, TrackingWorker, default_engine_factory
from sam3core.video import VideoSource

# How long the user rests on a frame before the worker encodes it ahead of a click: long enough that
# scrubbing starts no encodings, short next to the time a user takes to aim a click.
PREFETCH_DELAY_MS = 400


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    fps: float

    @property
    def eta_s(self) -> float | None:
        if self.fps <= 0 or self.total <= self.done:
            return None
        return (self.total - self.done) / self.fps


class _Bridge(QObject):
    """Queued calls into the worker's thread (emitting a signal is how work crosses threads)."""

    set_engine = Signal(object)
    set_video = Signal(object)
    segment = Signal(object, object, int)
    propagate = Signal(object, object)
    prefetch = Signal(int)


# store(frame, masks, scores {obj_id: FrameScore}, the request the frame belongs to), in the worker thread
MaskStore = Callable[[int, dict[int, np.ndarray], dict, PropagationRequest], None]


class TrackingController(QObject):
    engine_ready = Signal(str, str)
    engine_failed = Signal(str)
    prompt_result = Signal(int, int, object, int)  # frame, obj_id, mask, token
    prompt_done = Signal(int)                      # token: answered (after its result, or it failed)
    mask_ready = Signal(int, object)
    progress = Signal(object)                      # Progress
    running_changed = Signal(bool)
    cancelling = Signal()                          # a cancel was asked; ``finished`` follows
    finished = Signal(int, bool)                   # frames done, cancelled
    failed = Signal(str)

    def __init__(self, factory: EngineFactory = default_engine_factory,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("masklet-tracking")
        self._worker = TrackingWorker(factory)
        self._worker.moveToThread(self._thread)
        self._bridge = _Bridge()
        self._bridge.set_engine.connect(self._worker.set_engine)
        self._bridge.set_video.connect(self._worker.set_video)
        self._bridge.segment.connect(self._worker.segment)
        self._bridge.propagate.connect(self._worker.propagate)
        self._bridge.prefetch.connect(self._worker.prefetch)
        # A frame is encoded ahead of a click once the user has rested on it this long.
        self._prefetch_timer = QTimer(self)
        self._prefetch_timer.setSingleShot(True)
        self._prefetch_timer.setInterval(PREFETCH_DELAY_MS)
        self._prefetch_timer.timeout.connect(self._prefetch_now)
        self._worker.engine_ready.connect(self._on_engine_ready)
        self._worker.engine_failed.connect(self._on_engine_failed)
        self._worker.prompt_result.connect(self.prompt_result)
        self._worker.prompt_done.connect(self.prompt_done)
        self._worker.mask_ready.connect(self.mask_ready)
        self._worker.progress.connect(self._on_progress)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self.failed)
        self._thread.started.connect(self._worker.lower_priority)
        self._thread.start()
        self._thread.setPriority(QThread.Priority.LowPriority)
        self._running = False
        self._pending_engine = 0
        self.engine_name = ""
        self.device = ""
        self.model = ""  # the loaded checkpoint's file name (provenance); "" for the weight-free engine
        self._loading: list[EngineSpec] = []
        self.last_progress = Progress(0, 0, 0.0)
        self.started_at = 0.0
        # Set by the window (review mode, app/ui/review.py): asked before a run (False cancels it), and
        # given each propagated frame's masks in the worker thread; it returns the masks to store.
        self.before_run: Callable[[list[PropagationRequest]], bool] | None = None
        self.store_filter: Callable[[int, dict[int, np.ndarray]], dict[int, np.ndarray]] | None = None
        # Also in the worker thread: masks the engine must continue from (TrackingSession.propagate).
        self.follow_filter: Callable[[int, dict[int, np.ndarray]], dict[int, np.ndarray]] | None = None

    # -- state --------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    @property
    def engine_loading(self) -> bool:
        return self._pending_engine > 0

    @property
    def worker(self) -> TrackingWorker:
        return self._worker

    # -- requests -----------------------------------------------------------------------------
    def load_engine(self, spec: EngineSpec) -> None:
        self._pending_engine += 1
        self._loading.append(spec)
        self._worker.wanted_frame = -1  # a prefetch under way is for the old engine: stop it
        self._bridge.set_engine.emit(spec)

    def set_video(self, video: VideoSource | None) -> None:
        self._worker.wanted_frame = -1
        self._bridge.set_video.emit(video)

    def prefetch_later(self, frame: int) -> None:
        """The user shows ``frame``: once they rest on it for PREFETCH_DELAY_MS (and nothing runs), the
        worker encodes it ahead of a click. A later call supersedes this one, and stops a stale encoding."""
        self._worker.wanted_frame = frame
        self._prefetch_timer.start()

    @Slot()
    def _prefetch_now(self) -> None:
        if not self._running and self._worker.wanted_frame >= 0:
            self._bridge.prefetch.emit(self._worker.wanted_frame)

    def segment(self, prompts: PromptSet, key: PromptKey, token: int) -> None:
        self._bridge.segment.emit(dict(prompts), key, token)

    def propagate(self, prompts: PromptSet, requests: list[PropagationRequest], store: MaskStore) -> bool:
        if self._running or not requests:
            return False
        if self.before_run is not None and not self.before_run(list(requests)):
            return False
        if self.store_filter is not None:
            keep = self.store_filter

            def filtered(frame: int, masks: dict[int, np.ndarray], scores: dict, request: PropagationRequest,
                         _store: MaskStore = store) -> None:
                _store(frame, keep(frame, masks), scores, request)

            store = filtered
        self._worker.cancel_event.clear()
        self._worker.store = store
        self._worker.follow = self.follow_filter
        self._running = True
        self.started_at = time.perf_counter()
        self.last_progress = Progress(0, 0, 0.0)
        self.running_changed.emit(True)
        self._bridge.propagate.emit(dict(prompts), list(requests))
        return True

    def cancel(self) -> None:
        """Ask the worker to stop; returns at once. The engine asks the flag between the blocks of a
        frame's work (sam3core/engine.py), so the run ends within a block, not a whole frame."""
        if self._running and not self._worker.cancel_event.is_set():
            self._worker.cancel_event.set()
            self.cancelling.emit()

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Stop the thread (cancelling any propagation); used when the window closes."""
        self._worker.cancel_event.set()
        self._thread.quit()
        self._thread.wait(timeout_ms)

    # -- worker signals -----------------------------------------------------------------------
    @Slot(str, str)
    def _on_engine_ready(self, name: str, device: str) -> None:
        self._pending_engine = max(0, self._pending_engine - 1)
        self.engine_name, self.device = name, device
        spec = self._loading.pop(0) if self._loading else None
        self.model = model_label(spec.checkpoint) if spec is not None else ""
        self.engine_ready.emit(name, device)

    @Slot(str)
    def _on_engine_failed(self, message: str) -> None:
        self._pending_engine = max(0, self._pending_engine - 1)
        if self._loading:
            self._loading.pop(0)
        self.engine_failed.emit(message)

    @Slot(int, int, float)
    def _on_progress(self, done: int, total: int, fps: float) -> None:
        self.last_progress = Progress(done, total, fps)
        self.progress.emit(self.last_progress)

    @Slot(int, bool)
    def _on_finished(self, done: int, cancelled: bool) -> None:
        self._running = False
        self._worker.store = None
        self.running_changed.emit(False)
        self.finished.emit(done, cancelled)
