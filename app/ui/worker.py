"""The tracking worker: lives in its own QThread, owns the engine and its session state.

The engine session is derived state. Every request carries the Project's current prompts (a
snapshot built on the UI thread), and the worker first brings the engine in line with it: changed
or new prompts are added incrementally, anything removed forces a reset and a full re-feed. The UI
thread never calls the engine and never waits on it; results come back as queued signals.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal, Slot

from app.domain.model import Prompt
from app.domain.tracking import PropagationRequest
from sam3core.engine import Engine
from sam3core.factory import build_engine
from sam3core.runtime.heap import trim_heap
from sam3core.video import VideoSource

log = logging.getLogger(__name__)

PromptKey = tuple[int, int]  # (frame, obj_id)
PromptSet = dict[PromptKey, Prompt]


@dataclass(frozen=True)
class EngineSpec:
    """What to build: a registry name (None = detect from the checkpoint / classical), file, device."""

    name: str | None = None
    checkpoint: str | None = None
    device: str | None = "cpu"


EngineFactory = Callable[[EngineSpec], Engine]


def default_engine_factory(spec: EngineSpec) -> Engine:
    return build_engine(spec.name, checkpoint=spec.checkpoint, device=spec.device)


def describe_error(exc: BaseException, device: str) -> str:
    """A message a user can act on; out-of-memory gets its own advice."""
    text = str(exc) or type(exc).__name__
    oom = isinstance(exc, MemoryError) or "out of memory" in text.lower()
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


def release_free_heap() -> None:
    """Hand the C heap's free pages back to the OS (glibc only; elsewhere a no-op).

    A propagation allocates and frees a few MB per frame (decoded frames, masks, flow fields) below
    glibc's mmap threshold; the freed memory stays in the heap and the process' resident size only
    grows. Measured on a 200-frame 960x540 run with two objects (classical engine): RSS +133 to +190 MB
    without this, back below the starting RSS with it; the call takes a few milliseconds.
    """
    trim_heap()


def _rows_to_masks(obj_ids: list[int], video_res_masks: torch.Tensor) -> dict[int, np.ndarray]:
    """(N, 1, H, W) logits in the order of ``obj_ids`` -> {obj_id: (H, W) bool}."""
    binary = (video_res_masks[:, 0] > 0).cpu().numpy()
    return {int(obj): binary[row] for row, obj in enumerate(obj_ids)}


class TrackingWorker(QObject):
    """Move to a QThread and drive it only through queued signals (see SessionController)."""

    engine_ready = Signal(str, str)          # engine name, device
    engine_failed = Signal(str)              # message; the previous engine stays in use
    prompt_result = Signal(int, int, object, int)  # frame, obj_id, (H, W) bool mask, token
    mask_ready = Signal(int, object)         # frame, {obj_id: (H, W) bool}
    progress = Signal(int, int, float)       # frames done, frames total, frames/s
    finished = Signal(int, bool)             # frames done, cancelled
    failed = Signal(str)                     # engine error during a request; the app carries on

    def __init__(self, factory: EngineFactory = default_engine_factory) -> None:
        super().__init__()
        self._factory = factory
        self._engine: Engine | None = None
        self._device = "cpu"
        self._video: VideoSource | None = None
        self._state: Any = None
        self._fed: PromptSet = {}
        # Set from the UI thread; checked between frames (the worker's event loop is busy then).
        self.cancel_event = threading.Event()
        # Called in this thread with each propagated frame before it is announced; the owner sets it.
        self.store: Callable[[int, dict[int, np.ndarray]], None] | None = None
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
            if spec.checkpoint and str(spec.checkpoint) not in message:
                message = f"{spec.checkpoint} could not be loaded as a model checkpoint.\n\n{message}"
            self.engine_failed.emit(message)
            return
        self._engine = engine
        self._device = str(getattr(engine, "device", spec.device or "cpu"))
        self._drop_state()
        self.engine_ready.emit(str(getattr(engine, "name", spec.name or "engine")), self._device)

    @Slot(object)
    def set_video(self, video: VideoSource | None) -> None:
        self._video = video
        self._drop_state()

    def _drop_state(self) -> None:
        if self._state is not None and self._engine is not None:
            try:
                self._engine.reset_state(self._state)
            except Exception:  # the old session is discarded either way
                log.debug("reset_state failed while dropping the session", exc_info=True)
        self._state = None
        self._fed = {}

    # -- prompts ------------------------------------------------------------------------------
    def _add(self, prompt: Prompt) -> dict[int, np.ndarray]:
        assert self._engine is not None
        result = None
        if prompt.mask is not None:
            result = self._engine.add_new_mask(self._state, prompt.frame, prompt.obj_id,
                                               torch.from_numpy(np.asarray(prompt.mask, dtype=bool)))
        if prompt.points or prompt.box is not None:
            points = np.asarray(prompt.points, np.float32).reshape(-1, 2) if prompt.points else None
            labels = np.asarray(prompt.labels, np.int32) if prompt.points else None
            box = np.asarray(prompt.box, np.float32) if prompt.box is not None else None
            result = self._engine.add_new_points_or_box(
                self._state, prompt.frame, prompt.obj_id, points=points, labels=labels, box=box,
                clear_old_points=True, rel_coordinates=False)
        if result is None:
            return {}
        _, obj_ids, _, video_res = result
        return _rows_to_masks(list(obj_ids), video_res)

    def _ensure_state(self) -> None:
        """Start an engine session on the open video if there is none (nothing fed to it yet)."""
        if self._state is None:
            self._state = self._engine.init_state(video=self._video)
            self._fed = {}

    def _sync(self, prompts: PromptSet) -> dict[PromptKey, np.ndarray]:
        """Bring the engine session in line with ``prompts``; masks of the prompts (re)added."""
        if self._engine is None:
            raise RuntimeError("no engine is loaded")
        if self._video is None:
            raise RuntimeError("no video is open")
        self._ensure_state()
        removed = [k for k in self._fed if k not in prompts]
        if removed:
            self._engine.reset_state(self._state)
            self._fed = {}
        changed = sorted(k for k, p in prompts.items() if self._fed.get(k) is not p)
        out: dict[PromptKey, np.ndarray] = {}
        for key in changed:
            prompt = prompts[key]
            if prompt.is_empty:
                continue
            masks = self._add(prompt)
            self._fed[key] = prompt
            if prompt.obj_id in masks:
                out[key] = masks[prompt.obj_id]
        return out

    @Slot(object, object, int)
    def segment(self, prompts: PromptSet, key: PromptKey, token: int) -> None:
        """Compute the mask of one (frame, object) prompt at once (the click -> mask path)."""
        try:
            if key in prompts:
                self._fed.pop(key, None)  # re-add it even if unchanged: the caller wants its mask now
            masks = self._sync(prompts)
        except Exception as exc:
            log.exception("segment failed")
            self._state = None
            self.failed.emit(describe_error(exc, self._device))
            return
        if key in masks:
            self.prompt_result.emit(key[0], key[1], masks[key], token)

    @Slot(int)
    def prefetch(self, frame: int) -> None:
        """Idle time: encode the frame the user rests on, so a click there runs only the decoder."""
        engine = self._engine
        prefetch = getattr(engine, "prefetch_features", None)
        if prefetch is None or self._video is None or frame != self.wanted_frame:
            return
        try:
            self._ensure_state()
            if prefetch(self._state, frame, should_stop=lambda: self.wanted_frame != frame):
                release_free_heap()
        except Exception:  # only a head start: the click computes what it needs anyway
            log.warning("encoding frame %d ahead of a click failed", frame, exc_info=True)

    # -- propagation --------------------------------------------------------------------------
    @Slot(object, object)
    def propagate(self, prompts: PromptSet, requests: list[PropagationRequest]) -> None:
        done = 0
        cancelled = False
        try:
            self._sync(prompts)
            assert self._engine is not None and self._video is not None
            n = self._video.num_frames
            total = sum(self._span(r, n) for r in requests)
            started = time.perf_counter()
            self.progress.emit(0, total, 0.0)
            for request in requests:
                if self.cancel_event.is_set():
                    cancelled = True
                    break
                frames = self._engine.propagate_in_video(
                    self._state, start_frame_idx=request.start,
                    max_frame_num_to_track=request.max_frames if request.max_frames is not None else n,
                    reverse=request.reverse)
                try:
                    for frame_idx, obj_ids, _, video_res, _ in frames:
                        masks = _rows_to_masks(list(obj_ids), video_res)
                        if self.store is not None:
                            self.store(int(frame_idx), masks)
                        self.mask_ready.emit(int(frame_idx), masks)
                        done += 1
                        elapsed = max(time.perf_counter() - started, 1e-6)
                        self.progress.emit(done, total, done / elapsed)
                        if self.cancel_event.is_set():
                            cancelled = True
                            break
                finally:
                    # Closing the generator leaves the engine's inference_mode context cleanly.
                    getattr(frames, "close", lambda: None)()
                if cancelled:
                    break
        except Exception as exc:
            log.exception("propagation failed")
            self._state = None  # the session may be half-updated: rebuild it from the prompts next time
            self.failed.emit(describe_error(exc, self._device))
            release_free_heap()
            self.finished.emit(done, True)
            return
        release_free_heap()  # in this thread, before the UI hears of the end: it never waits on it
        self.finished.emit(done, cancelled)

    @staticmethod
    def _span(request: PropagationRequest, n: int) -> int:
        limit = n if request.max_frames is None else request.max_frames
        if request.reverse:
            return request.start - max(request.start - limit, 0) + 1
        return min(request.start + limit, n - 1) - request.start + 1
