""":class:`RemoteEngine`: the engine contract (sam3core/engine.py) served by an engine on a Ray cluster.

The GUI worker, ``masklet track`` and the batch drive it exactly like a local engine. Differences a
caller can see, all deliberate:

- Masks come back as binary masks (+1 / -1 logits, see :mod:`app.cluster.wire`); ``low_res_masks``
  are sent only when ``want_low_res`` is set (no caller in Masklet uses them), else they are empty
  (N, 1, 0, 0) tensors.
- The video (and a checkpoint the worker cannot read) travels to the worker node once, then stays in
  that node's cache; later sessions, resets and reconnections reuse it.
- A lost worker or connection raises :class:`ConnectionLostError` (an ``EngineError``) with a message a
  user can act on; frames already yielded are the caller's to keep (the GUI worker and ``track`` store
  each before reporting it). The next :meth:`RemoteEngine.init_state` reconnects (a new actor, wherever
  the cluster has room); the caller re-feeds its prompts, since a session is derived state.
- Errors the engine raises (``PromptError``, ``FrameIndexError`` ...) are raised here with their own
  type and message.
- ``prefetch_features`` cannot stop the remote encoder half-way; it stops *waiting* when ``should_stop``
  says so, and the next call queues behind the encoding.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app import __version__
from app.cluster import files, runtime, wire
from app.cluster.files import FileRef
from app.cluster.host import PROTOCOL, EngineHost
from app.cluster.recipe import EngineRecipe
from app.cluster.runtime import ClusterConnectionError, RemoteTarget
from sam3core.errors import MaskError
from sam3core.validate import check_mask

FIRST_CONTACT_S = 180.0  # a fresh worker imports torch and may wait for a free GPU


class ConnectionLostError(ClusterConnectionError, ConnectionError):
    """The worker holding the engine died or the cluster connection dropped."""


@dataclass
class RemoteSession:
    """A session on the remote engine (what ``init_state`` returns)."""

    sid: int
    generation: int
    num_frames: int
    height: int
    width: int
    video: FileRef


@dataclass
class RemoteStats:
    """Counters for benchmarks and the status line."""

    calls: int = 0
    frames: int = 0
    mask_bytes: int = 0
    call_seconds: list[float] = field(default_factory=list)
    compute_seconds: float = 0.0  # the worker's own time computing the frames received


def _plain(value: Any) -> Any:
    """Arrays and tensors as numpy (what the host's engine accepts), None kept."""
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def make_actor(target: RemoteTarget, *, threads: int | None = None) -> Any:
    """A new :class:`EngineHost` actor with the target's resources."""
    ray = runtime.import_ray()
    if target.num_gpus:
        have = float(ray.cluster_resources().get("GPU", 0.0))
        if have < target.num_gpus:
            raise ClusterConnectionError(
                f"{target.describe()} was asked for, but the cluster has {have:g} GPU(s); start the head "
                "node on the GPU machine (see the README) or choose the CPU")
    cpus = max(target.num_cpus, 0.0)
    options: dict[str, Any] = {"num_cpus": cpus, "num_gpus": target.num_gpus, "max_restarts": 0}
    return ray.remote(EngineHost).options(**options).remote(threads=threads or max(1, int(cpus)))


class RemoteEngine:
    """Engine contract over an :class:`EngineHost` actor (see the module docstring)."""

    def __init__(self, target: RemoteTarget, recipe: EngineRecipe, *, actor: Any = None,
                 want_low_res: bool = False, step_frames: int = 1, step_budget_s: float = 0.0,
                 readahead: bool = False, put_cache: dict[str, Any] | None = None,
                 actor_factory: Callable[[], Any] | None = None, may_connect: bool = True) -> None:
        self.target = target
        self.recipe = recipe
        self.want_low_res = want_low_res
        self.step_frames, self.step_budget_s, self.readahead = max(1, step_frames), step_budget_s, readahead
        self.stats = RemoteStats()
        self.generation = 0
        self._actor_factory = actor_factory or (lambda: make_actor(target))
        # False (the batch): never start or join Ray here; the caller's connection must still be up.
        self._may_connect = may_connect
        self._actor = actor
        self._placed: set[str] = set()
        # Object-store copies of files already sent; shared by a batch's workers so each file is put once.
        self._put_cache = put_cache
        self._lost: str | None = None
        # frame_scores of the results just received, {(sid, frame): {obj_id: {...}}}: answered locally
        self._scores: dict[tuple[int, int], dict[int, dict[str, float | None]]] = {}
        self.name = recipe.describe()
        self._device = torch.device("cpu")
        self.location = "Ray"  # "cuda on gpu-host (Ray)": what the status bar shows
        self.worker: dict[str, Any] = {}
        self._start()

    # -- connection ---------------------------------------------------------------------------
    @property
    def actor(self) -> Any:
        return self._actor

    def _start(self) -> None:
        if self._may_connect:
            runtime.connect(None if self.target.is_local else self.target.address)
        elif not runtime.is_connected():
            raise ConnectionLostError(f"the connection to {self.target.describe()} is gone")
        if self._actor is None:
            self._actor = self._actor_factory()
        self.generation += 1
        self._placed.clear()
        hello = self._call("hello", timeout=FIRST_CONTACT_S)
        if hello.get("protocol") != PROTOCOL or hello.get("masklet") != __version__:
            raise ClusterConnectionError(
                f"the cluster runs Masklet {hello.get('masklet')} (protocol {hello.get('protocol')}), "
                f"this is {__version__} (protocol {PROTOCOL}); install the same version on the cluster nodes")
        self.worker = hello
        if self.recipe.checkpoint is not None:
            self._ensure_file(self.recipe.checkpoint)
        self._loaded(self._call("load", self.recipe, timeout=None))
        self._lost = None

    def use_recipe(self, recipe: EngineRecipe) -> None:
        """Have the worker build another model (it keeps one loaded: the old one is freed first)."""
        if recipe.key() == self.recipe.key():
            return
        self.recipe = recipe
        if recipe.checkpoint is not None:
            self._ensure_file(recipe.checkpoint)
        self._loaded(self._call("load", recipe, timeout=None))

    def _loaded(self, loaded: dict[str, str]) -> None:
        self.name = loaded["name"]
        self._device = torch.device(loaded["device"])
        self.location = f"{loaded['device']} on {self.worker.get('host', '?')} (Ray)"

    @property
    def device(self) -> torch.device:
        """The device the engine computes on, on its worker node (see ``location`` for which node)."""
        return self._device

    def reconnect(self) -> None:
        """A new worker actor (the old one is gone); sessions of the old one are over."""
        ray = runtime.import_ray()
        old, self._actor = self._actor, None
        if old is not None:
            with contextlib.suppress(Exception):  # already dead: nothing to stop
                ray.kill(old, no_restart=True)
        self._start()

    def _lose(self, exc: BaseException) -> ConnectionLostError:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        self._lost = reason
        return ConnectionLostError(
            f"Lost the remote engine on {self.target.describe()}: {reason[:300]}. Every frame received so "
            "far is kept; the next action reconnects and feeds the prompts again.")

    def _call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        ray = runtime.import_ray()
        exceptions = ray.exceptions
        started = time.perf_counter()
        try:
            ref = getattr(self._actor, method).remote(*args)
            return ray.get(ref, timeout=timeout)
        except exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, Exception):
                raise cause from None  # the engine's own exception, type and message intact
            raise
        except exceptions.GetTimeoutError as exc:
            raise self._lose(TimeoutError(
                f"no answer within {timeout:.0f} s (no free worker with {self.target.num_gpus:g} GPU / "
                f"{self.target.num_cpus:g} CPU?)")) from exc
        except (exceptions.RayError, ConnectionError) as exc:
            raise self._lose(exc) from exc
        finally:
            self.stats.calls += 1
            self.stats.call_seconds.append(time.perf_counter() - started)

    def _check(self, state: RemoteSession) -> int:
        if not isinstance(state, RemoteSession):
            raise TypeError(f"not a RemoteSession of this engine: {type(state).__name__}")
        if state.generation != self.generation or self._lost is not None:
            raise ConnectionLostError(
                f"this session ended with the lost connection to {self.target.describe()}; start a new one")
        return state.sid

    def _ensure_file(self, ref: FileRef) -> None:
        if ref.digest in self._placed:
            return
        if self._call("locate", ref) is None:
            ray = runtime.import_ray()
            cache = self._put_cache if self._put_cache is not None else {}
            obj = cache.get(ref.digest)
            if obj is None:
                obj = ray.put(files.pack(ref))
                cache[ref.digest] = obj
            self._call("receive", ref, obj, timeout=None)
        self._placed.add(ref.digest)

    # -- the engine contract ------------------------------------------------------------------
    def init_state(self, video_path: str | Path | None = None, *, video: Any = None,
                   **options: Any) -> RemoteSession:
        if (video_path is None) == (video is None):
            raise ValueError("give exactly one of video_path or video")
        if self._lost is not None:
            self.reconnect()
        path = Path(video.path if video is not None else video_path)
        ref = files.describe(path)
        self._ensure_file(ref)
        info = self._call("open_session", self.recipe, ref, self.want_low_res, options or None)
        return RemoteSession(info["sid"], self.generation, info["num_frames"], info["height"],
                             info["width"], ref)

    def _remember_scores(self, sid: int, payloads: list[wire.FramePayload]) -> None:
        self._scores = {(sid, p.frame): p.extra for p in payloads if p.extra is not None}

    def _mask_result(self, sid: int, reply: tuple) -> tuple[int, list[int], torch.Tensor, torch.Tensor]:
        frame, obj_ids, payload = reply
        self._remember_scores(sid, [payload])
        self.stats.mask_bytes += payload.nbytes
        return frame, list(obj_ids), wire.low_res_tensor(payload), wire.to_logits(payload)

    def add_new_points_or_box(self, inference_state: RemoteSession, frame_idx: int, obj_id: int,
                              points: Any = None, labels: Any = None, box: Any = None,
                              clear_old_points: bool = True, rel_coordinates: bool = True) -> tuple:
        sid = self._check(inference_state)
        return self._mask_result(sid, self._call("add_points_or_box", sid, frame_idx, obj_id, _plain(points),
                                                 _plain(labels), _plain(box), clear_old_points,
                                                 rel_coordinates))

    def add_new_points(self, inference_state: RemoteSession, frame_idx: int, obj_id: int, points: Any,
                       labels: Any, clear_old_points: bool = True, rel_coordinates: bool = True) -> tuple:
        return self.add_new_points_or_box(inference_state, frame_idx, obj_id, points=points, labels=labels,
                                          clear_old_points=clear_old_points, rel_coordinates=rel_coordinates)

    def add_new_mask(self, inference_state: RemoteSession, frame_idx: int, obj_id: int, mask: Any) -> tuple:
        sid = self._check(inference_state)
        try:
            binary = check_mask(mask, height=inference_state.height, width=inference_state.width)
        except MaskError:
            # Not a mask of this video: the engine itself says what is wrong (its own exception and
            # message), so the array goes as it is; it is refused there.
            return self._mask_result(sid, self._call("add_mask_array", sid, frame_idx, obj_id, _plain(mask)))
        counts, height, width = wire.encode_mask(binary)
        return self._mask_result(sid, self._call("add_mask", sid, frame_idx, obj_id, counts, height, width))

    def propagate_in_video(self, inference_state: RemoteSession, start_frame_idx: int | None = None,
                           max_frame_num_to_track: int | None = None, reverse: bool = False,
                           propagate_preflight: bool = False, *,
                           should_stop: Callable[[], bool] | None = None) -> Iterator[tuple]:
        """Frames as the worker computes them; closing the generator ends the remote run there.
        ``should_stop`` is asked before each frame is handed on (the remote step itself cannot be
        interrupted; the run ends there)."""
        del propagate_preflight  # the engines merge prompts first anyway
        sid = self._check(inference_state)
        rid = self._call("start_run", sid, start_frame_idx, max_frame_num_to_track, reverse)
        return self._frames(sid, rid, should_stop)

    def _frames(self, sid: int, rid: int, should_stop: Callable[[], bool] | None = None) -> Iterator[tuple]:
        finished = False
        pending = None
        try:
            while not finished:
                if pending is not None:
                    payloads, finished = self._resolve(pending)
                    pending = None
                else:
                    payloads, finished = self._call("step", rid, self.step_frames, self.step_budget_s)
                if self.readahead and not finished:  # the worker computes on while these are stored
                    pending = self._actor.step.remote(rid, self.step_frames, self.step_budget_s)
                self._remember_scores(sid, [payload for payload, _ in payloads])
                for payload, seconds in payloads:
                    if should_stop is not None and should_stop():
                        return
                    self.stats.frames += 1
                    self.stats.compute_seconds += seconds
                    self.stats.mask_bytes += payload.nbytes
                    yield (payload.frame, list(payload.obj_ids), wire.low_res_tensor(payload),
                           wire.to_logits(payload), wire.scores_tensor(payload))
        finally:
            if not finished and self._lost is None:
                # Queued behind any step in flight; nothing waits for it. A dead worker took the run along.
                with contextlib.suppress(Exception):
                    self._actor.end_run.remote(rid)

    def _resolve(self, ref: Any) -> Any:
        ray = runtime.import_ray()
        started = time.perf_counter()
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, Exception):
                raise cause from None
            raise
        except (ray.exceptions.RayError, ConnectionError) as exc:
            raise self._lose(exc) from exc
        finally:
            self.stats.calls += 1
            self.stats.call_seconds.append(time.perf_counter() - started)

    def clear_all_points_in_video(self, inference_state: RemoteSession) -> None:
        self._scores = {}
        self._call("clear_all", self._check(inference_state))

    def reset_state(self, inference_state: RemoteSession) -> None:
        self._scores = {}
        self._call("reset", self._check(inference_state))

    def remove_object(self, inference_state: RemoteSession, obj_id: int, strict: bool = False,
                      need_output: bool = True) -> tuple[list[int], list[tuple[int, torch.Tensor]]]:
        self._scores = {}
        obj_ids, frames = self._call("remove_object", self._check(inference_state), obj_id, strict)
        if not need_output:
            return obj_ids, []
        return obj_ids, [(frame, wire.to_logits(payload)) for frame, payload in frames]

    def frame_scores(self, inference_state: RemoteSession,
                     frame_idx: int) -> dict[int, dict[str, float | None]]:
        """The engine's optional per-object confidence on a frame (empty if the remote engine has none);
        for a result just received it came along with the masks."""
        sid = self._check(inference_state)
        cached = self._scores.get((sid, int(frame_idx)))
        if cached is not None:
            return cached
        return self._call("frame_scores", sid, int(frame_idx))

    def prefetch_features(self, inference_state: RemoteSession, frame_idx: int,
                          should_stop: Callable[[], bool] | None = None) -> bool:
        sid = self._check(inference_state)
        ray = runtime.import_ray()
        try:
            ref = self._actor.prefetch.remote(sid, frame_idx)
            while True:
                ready, _ = ray.wait([ref], timeout=0.05)
                if ready:
                    return bool(self._resolve(ref))
                if should_stop is not None and should_stop():
                    return False
        except (ray.exceptions.RayError, ConnectionError) as exc:
            raise self._lose(exc) from exc

    def close(self, inference_state: RemoteSession) -> None:
        if isinstance(inference_state, RemoteSession) and inference_state.generation == self.generation \
                and self._lost is None:
            self._call("close_session", inference_state.sid)

    def shutdown(self) -> None:
        """Stop the worker actor (its model and sessions go with it)."""
        if self._actor is None:
            return
        ray = runtime.import_ray()
        with contextlib.suppress(Exception):  # already gone
            ray.kill(self._actor, no_restart=True)
        self._actor = None
        self._lost = "shut down"


def connect_remote_engine(target: RemoteTarget, *, model: str | None = None, checkpoint: str | None = None,
                          device: str = "cpu", **options: Any) -> RemoteEngine:
    """Join (or start) the cluster of ``target`` and put an engine there: what ``masklet track --ray``
    and the GUI's "remote (Ray)" engine use."""
    ref = files.describe(checkpoint) if checkpoint else None
    return RemoteEngine(target, EngineRecipe(model, ref, device), **options)
