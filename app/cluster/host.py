"""The Ray actor that holds a real engine on a worker node and serves the engine contract to a client.

One host per GPU or CPU slot; its engine is built once per recipe and kept across sessions and videos
(the model loads once). Sessions are numbered; masks leave as run-length codes (:mod:`app.cluster.wire`).

Propagation is pulled, not pushed: the client starts a run and asks for the next frames with
:meth:`EngineHost.step`, which advances the engine's generator until ``max_frames`` frames or
``budget_s`` seconds. Nothing is computed ahead of the client's request, so a cancel (the client
stops asking and ends the run) leaves the session exactly where the client's last frame left it — as
with a local engine — and it works the same over a direct cluster address and over Ray Client, which
has no streaming calls. Exceptions raised by the engine reach the client with their type.

This module never imports Ray: the client wraps :class:`EngineHost` with ``ray.remote``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from app import __version__
from app.cluster import files, wire
from app.cluster.files import FileRef
from app.cluster.recipe import EngineRecipe, build_registry_engine
from sam3core.errors import EngineError, ObjectIdError

PROTOCOL = 1
log = logging.getLogger(__name__)


@dataclass
class _Session:
    state: Any
    video: Any  # the VideoSource the host opened
    engine_key: tuple
    want_low_res: bool


@dataclass
class _Run:
    sid: int
    frames: Iterator[Any]
    done: int = 0
    finished: bool = False


class EngineHost:
    """Plain class; ``ray.remote(EngineHost)`` makes it an actor (see :mod:`app.cluster.remote_engine`)."""

    def __init__(self, *, threads: int | None = None, max_engines: int = 1) -> None:
        if threads:
            import torch

            torch.set_num_threads(max(1, int(threads)))
        self._engines: dict[tuple, Any] = {}
        self._max_engines = max(1, max_engines)
        self._sessions: dict[int, _Session] = {}
        self._runs: dict[int, _Run] = {}
        self._ids = itertools.count(1)

    # -- identity and files -------------------------------------------------------------------
    def hello(self) -> dict[str, Any]:
        import torch

        return {"masklet": __version__, "protocol": PROTOCOL, "pid": os.getpid(),
                "host": socket.gethostname(), "threads": torch.get_num_threads(),
                "cuda": torch.cuda.is_available(), "engines": [k[0] for k in self._engines]}

    def locate(self, ref: FileRef) -> str | None:
        path = files.local_copy(ref)
        return None if path is None else str(path)

    def receive(self, ref: FileRef, data: bytes | dict[str, bytes]) -> str:
        return str(files.store(ref, data))

    # -- engines ------------------------------------------------------------------------------
    def load(self, recipe: EngineRecipe) -> dict[str, str]:
        """Build (or reuse) the recipe's engine; returns its name and device."""
        engine = self._engine(recipe)
        return {"name": str(getattr(engine, "name", recipe.describe())),
                "device": str(getattr(engine, "device", recipe.device))}

    def _engine(self, recipe: EngineRecipe) -> Any:
        key = recipe.key()
        engine = self._engines.get(key)
        if engine is not None:
            return engine
        checkpoint = None
        if recipe.checkpoint is not None:
            found = files.local_copy(recipe.checkpoint)
            if found is None:
                raise EngineError(f"checkpoint {recipe.checkpoint.describe()} is not on worker "
                                  f"{socket.gethostname()}; the client sends it first")
            checkpoint = str(found)
        while len(self._engines) >= self._max_engines:  # free the model before loading another
            stale = next(iter(self._engines))
            for sid in [s for s, sess in self._sessions.items() if sess.engine_key == stale]:
                self.close_session(sid)
            del self._engines[stale]
        factory = recipe.factory or build_registry_engine
        engine = factory(recipe.model, checkpoint, recipe.device)
        self._engines[key] = engine
        return engine

    # -- sessions -----------------------------------------------------------------------------
    def open_session(self, recipe: EngineRecipe, video: FileRef, want_low_res: bool = False,
                     options: dict[str, Any] | None = None) -> dict[str, Any]:
        from sam3core.video import VideoSource

        engine = self._engine(recipe)
        path = files.local_copy(video)
        if path is None:
            raise EngineError(f"video {video.describe()} is not on worker {socket.gethostname()}")
        source = VideoSource(path)
        try:
            # As the domain's TrackingSession does: a damaged frame shows the engine a decodable
            # neighbour (the client never stores a result for it).
            state = engine.init_state(video=source.holding_damaged(), **(options or {}))
        except BaseException:
            source.close()
            raise
        sid = next(self._ids)
        self._sessions[sid] = _Session(state, source, recipe.key(), want_low_res)
        return {"sid": sid, "num_frames": source.num_frames, "height": source.height,
                "width": source.width, "name": str(getattr(engine, "name", recipe.describe()))}

    def _session(self, sid: int) -> tuple[Any, _Session]:
        session = self._sessions.get(sid)
        if session is None:
            raise EngineError(f"remote session {sid} does not exist on this worker (it was closed or the "
                              "worker restarted); start a new one")
        return self._engines[session.engine_key], session

    def _end_runs_of(self, sid: int) -> None:
        for rid in [r for r, run in self._runs.items() if run.sid == sid]:
            self.end_run(rid)

    @staticmethod
    def _extra(engine: Any, session: _Session, frame: int) -> dict[int, dict[str, float | None]] | None:
        """The engine's optional ``frame_scores`` for a frame just computed (sent with its masks, so the
        client answers ``frame_scores`` without another round trip)."""
        frame_scores = getattr(engine, "frame_scores", None)
        return None if frame_scores is None else frame_scores(session.state, int(frame))

    def _mask_result(self, engine: Any, session: _Session, result: Any) -> tuple:
        frame, obj_ids, low_res, video_res = result[:4]
        payload = wire.encode_result(frame, obj_ids, video_res, low_res_masks=low_res,
                                     want_low_res=session.want_low_res,
                                     extra=self._extra(engine, session, frame))
        return int(frame), payload.obj_ids, payload

    def frame_scores(self, sid: int, frame: int) -> dict[int, dict[str, float | None]]:
        engine, session = self._session(sid)
        return self._extra(engine, session, frame) or {}

    def add_points_or_box(self, sid: int, frame: int, obj_id: int, points: Any, labels: Any, box: Any,
                          clear_old_points: bool = True, rel_coordinates: bool = True) -> tuple:
        engine, session = self._session(sid)
        self._end_runs_of(sid)
        result = engine.add_new_points_or_box(
            session.state, frame, obj_id, points=None if points is None else np.asarray(points, np.float32),
            labels=None if labels is None else np.asarray(labels, np.int32),
            box=None if box is None else np.asarray(box, np.float32), clear_old_points=clear_old_points,
            rel_coordinates=rel_coordinates)
        return self._mask_result(engine, session, result)

    def add_mask(self, sid: int, frame: int, obj_id: int, counts: bytes, height: int, width: int) -> tuple:
        engine, session = self._session(sid)
        self._end_runs_of(sid)
        result = engine.add_new_mask(session.state, frame, obj_id, wire.decode_mask(counts, height, width))
        return self._mask_result(engine, session, result)

    def add_mask_array(self, sid: int, frame: int, obj_id: int, mask: Any) -> tuple:
        """A mask prompt that failed the client's check, given to the engine as it is (it refuses it
        with its own error)."""
        engine, session = self._session(sid)
        self._end_runs_of(sid)
        return self._mask_result(engine, session, engine.add_new_mask(session.state, frame, obj_id, mask))

    def clear_all(self, sid: int) -> None:
        engine, session = self._session(sid)
        self._end_runs_of(sid)
        engine.clear_all_points_in_video(session.state)

    def reset(self, sid: int) -> None:
        engine, session = self._session(sid)
        self._end_runs_of(sid)
        engine.reset_state(session.state)

    def remove_object(self, sid: int, obj_id: int, strict: bool = False) -> tuple:
        engine, session = self._session(sid)
        self._end_runs_of(sid)
        try:
            obj_ids, updated = engine.remove_object(session.state, obj_id, strict=strict)
        except KeyError as exc:  # the classical engine's strict miss: the contract's exception type
            raise ObjectIdError(str(exc.args[0]) if exc.args else str(exc)) from exc
        frames = [(int(f), wire.encode_result(f, obj_ids, masks)) for f, masks in updated]
        return [int(i) for i in obj_ids], frames

    def prefetch(self, sid: int, frame: int) -> bool:
        engine, session = self._session(sid)
        prefetch = getattr(engine, "prefetch_features", None)
        return bool(prefetch(session.state, frame)) if prefetch is not None else False

    def close_session(self, sid: int) -> None:
        session = self._sessions.get(sid)
        if session is None:
            return
        self._end_runs_of(sid)
        engine = self._engines.get(session.engine_key)
        closer = getattr(engine, "close", None) or getattr(engine, "reset_state", None)
        with contextlib.suppress(Exception):  # the session is discarded either way
            if closer is not None:
                closer(session.state)
        session.video.close()
        del self._sessions[sid]

    # -- propagation --------------------------------------------------------------------------
    def start_run(self, sid: int, start: int | None, max_frames: int | None, reverse: bool) -> int:
        engine, session = self._session(sid)
        self._end_runs_of(sid)
        frames = engine.propagate_in_video(session.state, start_frame_idx=start,
                                           max_frame_num_to_track=max_frames, reverse=reverse)
        rid = next(self._ids)
        self._runs[rid] = _Run(sid, iter(frames))
        return rid

    def step(self, rid: int, max_frames: int = 1, budget_s: float = 0.0) -> tuple[list, bool]:
        """The next frames of run ``rid``: at least one (unless it is over), at most ``max_frames``,
        stopping early once ``budget_s`` seconds have passed. Returns (payloads, finished)."""
        run = self._runs.get(rid)
        if run is None:
            raise EngineError(f"propagation run {rid} is not active on this worker")
        engine, session = self._session(run.sid)
        out: list[tuple[wire.FramePayload, float]] = []
        started = time.perf_counter()
        while len(out) < max(1, max_frames):
            t0 = time.perf_counter()
            try:
                frame, obj_ids, low_res, video_res, scores = next(run.frames)
            except StopIteration:
                run.finished = True
                break
            out.append((wire.encode_result(frame, obj_ids, video_res, obj_scores=scores,
                                           low_res_masks=low_res, want_low_res=session.want_low_res,
                                           extra=self._extra(engine, session, frame)),
                        time.perf_counter() - t0))
            run.done += 1
            if time.perf_counter() - started >= budget_s:
                break
        if run.finished:
            self.end_run(rid)
        return out, run.finished

    def end_run(self, rid: int) -> None:
        run = self._runs.pop(rid, None)
        if run is not None:
            close = getattr(run.frames, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()

    # -- housekeeping -------------------------------------------------------------------------
    def sessions(self) -> list[int]:
        return sorted(self._sessions)

    def shutdown(self) -> None:
        for sid in list(self._sessions):
            self.close_session(sid)
        self._engines.clear()
