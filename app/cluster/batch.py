"""``masklet batch``: many videos tracked on a Ray cluster (or a local Ray instance), one engine per slot.

The driver (this process) owns every project: one thread per worker actor takes the next item, feeds
its prompts to the worker's engine through a :class:`RemoteEngine` and commits each frame to the
item's project as it arrives (the same per-frame commit as ``masklet track``; a frame reported done is
stored). A worker's model is loaded once and kept for every item it runs (items are ordered by model).
A worker that dies costs its item one attempt: the item goes back to the front of the queue, the next
free worker (a new actor wherever the cluster has room) resumes it after its last stored frame
(:mod:`app.cluster.resume`). Items already finished (same prompts, engine and every frame stored) are
skipped, so rerunning a manifest continues where the last run stopped.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.cluster import files, runtime
from app.cluster.manifest import BatchItem
from app.cluster.recipe import EngineFactory, EngineRecipe
from app.cluster.remote_engine import ConnectionLostError, RemoteEngine, make_actor
from app.cluster.report import BatchProgress, ItemResult
from app.cluster.resume import ItemProgress, is_finished, prompts_match, run_item, stored_progress
from app.cluster.runtime import ClusterConnectionError, RemoteTarget
from app.domain.project import Project
from app.domain.provenance import model_label
from app.domain.tracking import apply_specs

log = logging.getLogger(__name__)
# on_frame(item, phase, frame, engine) after each commit: tests use it to kill a worker mid-item.
FrameHook = Callable[[BatchItem, str, int, RemoteEngine], None]


@dataclass(frozen=True)
class BatchOptions:
    address: str | None = None          # None: a local Ray instance on this machine's cores and GPUs
    workers: int | None = None          # at most this many engine actors (default: one per slot)
    cpus_per_worker: float = 1.0
    gpus_per_worker: float | None = None  # None: 1 when the cluster has GPUs, else 0
    retries: int = 2                    # extra attempts for an item whose worker died
    factory: EngineFactory | None = None  # None: the engine registry (what ``masklet track`` builds)
    step_frames: int = 8                # frames per call from a worker, at most ...
    step_budget_s: float = 0.25         # ... or this long, whichever comes first


@dataclass
class _Task:
    item: BatchItem
    result: ItemResult
    progress: ItemProgress = field(default_factory=ItemProgress)


class _Queue:
    """Tasks for the worker threads; a task put back goes first. Empty when every task has ended."""

    def __init__(self, tasks: list[_Task]) -> None:
        self._tasks = collections.deque(tasks)
        self._open = len(tasks)
        self._cv = threading.Condition()

    def take(self, stop: threading.Event) -> _Task | None:
        with self._cv:
            while not self._tasks and self._open > 0 and not stop.is_set():
                self._cv.wait(0.2)
            return self._tasks.popleft() if self._tasks and not stop.is_set() else None

    def put_back(self, task: _Task) -> None:
        with self._cv:
            self._tasks.appendleft(task)
            self._cv.notify_all()

    def close_one(self) -> None:
        with self._cv:
            self._open -= 1
            self._cv.notify_all()

    def leftovers(self) -> list[_Task]:
        with self._cv:
            tasks, self._tasks = list(self._tasks), collections.deque()
            return tasks


def _open_project(item: BatchItem) -> Project:
    if item.project.exists():
        return Project.open(item.project, video_path=item.video)
    return Project.create(item.project, item.video, engine=item.engine_name)


def skip_finished(items: list[BatchItem]) -> tuple[list[ItemResult], list[BatchItem]]:
    """(results of items finished earlier, items still to run)."""
    done, todo = [], []
    for item in items:
        finished = False
        if item.project.exists():
            try:
                with Project.open(item.project, video_path=item.video) as project:
                    finished = is_finished(project, item.specs, item.direction, item.engine_name)
                    objects = len(project.objects())
            except Exception:  # unreadable now: the run reports it properly
                finished = False
        if finished:
            done.append(ItemResult(item, "skipped", objects=objects))
        else:
            todo.append(item)
    return done, todo


class _Worker(threading.Thread):
    def __init__(self, index: int, queue: _Queue, run: _BatchRun) -> None:
        super().__init__(name=f"masklet-batch-{index}", daemon=True)
        self.index, self.queue, self.run_ = index, queue, run
        self.engine: RemoteEngine | None = None

    @property
    def label(self) -> str:
        host = self.engine.worker.get("host", "?") if self.engine else "?"
        pid = self.engine.worker.get("pid", "?") if self.engine else "?"
        return f"worker {self.index} ({host} pid {pid})"

    def run(self) -> None:
        run = self.run_
        failures_to_start = 0
        try:
            while failures_to_start < 2:
                task = self.queue.take(run.stop)
                if task is None:
                    return
                recipe = run.recipe(task.item)
                try:
                    if self.engine is None:
                        self.engine = run.new_engine(recipe)
                    else:
                        self.engine.use_recipe(recipe)
                    failures_to_start = 0
                except (ConnectionLostError, ClusterConnectionError) as exc:
                    failures_to_start += 1
                    self.engine = None
                    if run.stop.is_set():
                        self._stopped(task)
                        return
                    self._lost(task, exc)
                    continue
                except Exception as exc:  # the model cannot be built: this item fails, others go on
                    self._fail(task, str(exc) or type(exc).__name__)
                    continue
                if not self._attempt(task):
                    return
        finally:
            if self.engine is not None:
                self.engine.shutdown()

    def _fail(self, task: _Task, reason: str) -> None:
        task.result.status, task.result.error = "failed", reason
        self.run_.progress.finished(task.result)
        self.queue.close_one()

    def _stopped(self, task: _Task) -> None:
        task.result.status = "stopped"
        self.run_.progress.finished(task.result)
        self.queue.close_one()

    def _lost(self, task: _Task, exc: BaseException) -> None:
        retries = self.run_.options.retries
        task.progress.attempts += 1
        task.result.attempts = task.progress.attempts
        if task.progress.attempts > retries:
            self._fail(task, f"its worker was lost {task.progress.attempts} times; last: {exc}")
            return
        self.run_.progress.note(f"{task.item.label}: {exc} - resuming on the next free worker")
        self.queue.put_back(task)

    def _attempt(self, task: _Task) -> bool:
        """Run one attempt at ``task``; False when this worker is gone for good."""
        run, item, result = self.run_, task.item, task.result
        assert self.engine is not None
        engine = self.engine
        run.progress.started(item, self.label, task.progress.attempts + 1)
        result.worker = self.label
        started = time.monotonic()

        def on_frame(phase: str, frame: int, done: int, total: int) -> None:
            result.frames += 1
            run.progress.frame(item, phase, frame, done, total)
            if run.on_frame is not None:
                run.on_frame(item, phase, frame, engine)

        try:
            with _open_project(item) as project:
                if not task.progress.started and task.progress.attempts == 0 \
                        and project.engine == item.engine_name and prompts_match(project, item.specs):
                    task.progress = stored_progress(project, item.direction)  # a rerun: continue it
                apply_specs(project, list(item.specs))
                project.engine = item.engine_name
                run_item(project, engine, item.direction, task.progress, on_frame=on_frame,
                         should_stop=run.stop.is_set, model=model_label(item.checkpoint))
                result.objects = len(project.objects())
        except ConnectionLostError as exc:
            result.seconds += time.monotonic() - started
            if run.stop.is_set():  # interrupted: the worker went down with the batch
                self._stopped(task)
                return False
            self._lost(task, exc)
            try:
                engine.reconnect()
            except Exception:  # no new worker now: this thread stops, the others carry on
                log.warning("worker %d could not be replaced", self.index, exc_info=True)
                self.engine = None
                return False
            return True
        except Exception as exc:
            result.seconds += time.monotonic() - started
            log.debug("item %s failed", item.label, exc_info=True)
            self._fail(task, str(exc) or type(exc).__name__)
            return True
        result.seconds += time.monotonic() - started
        task.progress.attempts += 1
        result.attempts = task.progress.attempts
        result.status = "stopped" if run.stop.is_set() else "done"
        run.progress.finished(result)
        self.queue.close_one()
        return True


class _BatchRun:
    def __init__(self, options: BatchOptions, target: RemoteTarget, progress: BatchProgress,
                 on_frame: FrameHook | None, stop: threading.Event) -> None:
        self.options, self.target, self.progress, self.on_frame, self.stop = \
            options, target, progress, on_frame, stop
        self.put_cache: dict[str, Any] = {}
        self._refs: dict[str, files.FileRef] = {}
        self._lock = threading.Lock()

    def _ref(self, path: Any) -> files.FileRef:
        with self._lock:
            key = str(path)
            if key not in self._refs:
                self._refs[key] = files.describe(path)
            return self._refs[key]

    def recipe(self, item: BatchItem) -> EngineRecipe:
        device = item.device
        if device == "auto":
            device = "cuda" if self.target.num_gpus else "cpu"
        checkpoint = self._ref(item.checkpoint) if item.checkpoint else None
        return EngineRecipe(item.model, checkpoint, device, self.options.factory)

    def new_engine(self, recipe: EngineRecipe) -> RemoteEngine:
        return RemoteEngine(self.target, recipe, put_cache=self.put_cache,
                            step_frames=self.options.step_frames, step_budget_s=self.options.step_budget_s,
                            readahead=True, actor_factory=lambda: make_actor(self.target), may_connect=False)


def _worker_count(options: BatchOptions, todo: int) -> tuple[int, RemoteTarget]:
    resources = runtime.cluster_resources()
    gpus, cpus = float(resources.get("GPU", 0.0)), float(resources.get("CPU", 1.0))
    per_gpu = options.gpus_per_worker if options.gpus_per_worker is not None else (1.0 if gpus >= 1 else 0.0)
    slots = math.floor(gpus / per_gpu) if per_gpu else math.floor(cpus / max(options.cpus_per_worker, 1e-3))
    count = max(1, min(slots or 1, options.workers or slots or 1, todo))
    return count, RemoteTarget(options.address, num_gpus=per_gpu, num_cpus=options.cpus_per_worker)


def run_batch(items: list[BatchItem], options: BatchOptions | None = None, *,
              progress: BatchProgress | None = None, on_frame: FrameHook | None = None,
              stop: threading.Event | None = None) -> list[ItemResult]:
    """Run every unfinished item; results in manifest order. Ctrl+C (or ``stop``) stops between frames:
    the items cut short are "stopped", and a rerun continues them."""
    options = options or BatchOptions()
    stop = stop or threading.Event()
    skipped, todo = skip_finished(items)
    results = {r.item.line: r for r in skipped}
    progress = progress or BatchProgress(items)
    for result in skipped:
        progress.finished(result)
    if todo:
        with runtime.session(options.address, num_cpus=None if options.address else os.cpu_count()):
            count, target = _worker_count(options, len(todo))
            connection = runtime.connect(options.address)
            where = ("a local Ray instance on 127.0.0.1 (token authentication)" if connection.started_here
                     else f"Ray at {options.address}" if options.address else "this process's Ray instance")
            progress.note(f"{len(todo)} item(s) to run ({len(skipped)} finished earlier) with {count} "
                          f"worker(s) of {target.num_cpus:g} CPU / {target.num_gpus:g} GPU on {where}")
            run = _BatchRun(options, target, progress, on_frame, stop)
            # Items that share a model run one after another on a worker, which keeps it loaded.
            ordered = sorted(todo, key=lambda it: (str(it.model), str(it.checkpoint), it.line))
            tasks = [_Task(item, ItemResult(item)) for item in ordered]
            results.update({t.item.line: t.result for t in tasks})
            queue = _Queue(tasks)
            workers = [_Worker(k + 1, queue, run) for k in range(count)]
            for worker in workers:
                worker.start()
            try:
                for worker in workers:
                    while worker.is_alive():
                        worker.join(0.2)
            except KeyboardInterrupt:  # stop between frames; the summary says what was stored
                stop.set()
                progress.note("interrupted: stopping after the frames in flight (run again to continue)")
                for worker in workers:
                    worker.join()
            finally:
                for task in queue.leftovers():
                    if task.result.status == "pending":
                        task.result.status = "stopped" if stop.is_set() else "failed"
                        task.result.error = task.result.error or (
                            "" if stop.is_set() else "no worker could run it (see the messages above)")
                run.put_cache.clear()
                progress.close()
    return [results[item.line] for item in items]
