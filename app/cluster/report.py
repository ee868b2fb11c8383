"""What ``masklet batch`` shows: progress per item and in total with an ETA, then a summary table."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import TextIO

from app.cluster.manifest import BatchItem


@dataclass
class ItemResult:
    item: BatchItem
    status: str = "pending"   # done, skipped, failed, stopped
    frames: int = 0           # frame results stored by this run (all attempts)
    objects: int = 0
    seconds: float = 0.0
    attempts: int = 0
    error: str = ""
    worker: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("done", "skipped")


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class BatchProgress:
    """Thread-safe progress display: a live line on a terminal, a line every ``interval_s`` otherwise."""

    def __init__(self, items: list[BatchItem], *, stream: TextIO | None = None,
                 interval_s: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval_s = interval_s
        self.planned = {item.line: item.planned_frames for item in items}
        self.total = sum(self.planned.values())
        self.done: dict[int, int] = {}
        self.active: dict[int, tuple[str, str, int, int]] = {}  # line -> (label, phase, done, total)
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._first: float | None = None  # the first frame's time: the rate leaves start-up out
        self._last_print = 0.0
        self._counted = 0  # frames counted since the first one (for the rate)

    def _status(self) -> str:
        done = sum(min(v, self.planned.get(k, v)) for k, v in self.done.items())
        elapsed = time.monotonic() - self._first if self._first is not None else 0.0
        rate = (self._counted - 1) / elapsed if elapsed > 0 and self._counted > 1 else 0.0
        eta = f", ETA {_clock((self.total - done) / rate)}" if rate > 0 and done < self.total else ""
        percent = 100.0 * done / self.total if self.total else 100.0
        items = " | ".join(f"{label} {phase} {d}/{t}" for label, phase, d, t in self.active.values())
        return (f"total {done}/{self.total} frames ({percent:.0f}%), {rate:.1f} frames/s{eta}"
                + (f" | {items}" if items else ""))

    def _emit(self, text: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r\033[K" + text[:200])
        elif force or now - self._last_print >= self.interval_s:
            self.stream.write(text + "\n")
        else:
            return
        self._last_print = now
        self.stream.flush()

    def note(self, text: str) -> None:
        with self._lock:
            self.stream.write(("\r\033[K" if self.tty else "") + text + "\n")
            self.stream.flush()

    def started(self, item: BatchItem, worker: str, attempt: int) -> None:
        with self._lock:
            self.active[item.line] = (item.label, "prompts", 0, self.planned[item.line])
        again = f" (attempt {attempt})" if attempt > 1 else ""
        self.note(f"{item.label}: started on {worker}{again}")

    def frame(self, item: BatchItem, phase: str, frame: int, done: int, total: int) -> None:
        del frame
        with self._lock:
            self.done[item.line] = self.done.get(item.line, 0) + 1
            self._counted += 1
            if self._first is None:
                self._first = time.monotonic()
            self.active[item.line] = (item.label, phase, done, total)
            self._emit(self._status(), force=done == total)

    def finished(self, result: ItemResult) -> None:
        with self._lock:
            self.active.pop(result.item.line, None)
            if result.status == "skipped":
                self.total -= self.planned.pop(result.item.line, 0)
        detail = f": {result.error}" if result.error else ""
        if result.status != "skipped":
            self.note(f"{result.item.label}: {result.status}{detail} ({result.frames} frames, "
                      f"{result.seconds:.1f} s)")

    def close(self) -> None:
        with self._lock:
            if self.tty:
                self.stream.write("\r\033[K")
            self.stream.write(self._status() + f", {_clock(time.monotonic() - self._start)} elapsed\n")
            self.stream.flush()


def summary_table(results: list[ItemResult]) -> str:
    width = max([len("item"), *(len(r.item.label) for r in results)])
    lines = [f"{'item':<{width}}  {'frames':>7}  {'objects':>7}  {'seconds':>8}  status"]
    for r in results:
        status = r.status + (f" after {r.attempts} attempts" if r.attempts > 1 and r.ok else "")
        if r.status == "skipped":
            status = "skipped (finished earlier)"
        if r.error:
            status += f": {r.error}"
        lines.append(f"{r.item.label:<{width}}  {r.frames:>7}  {r.objects:>7}  {r.seconds:>8.1f}  {status}")
    done = sum(r.status == "done" for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    stopped = sum(r.status == "stopped" for r in results)
    failed = sum(not r.ok for r in results) - stopped
    lines.append(f"{done} done, {skipped} skipped, {failed} failed, "
                 + (f"{stopped} stopped (run again to continue), " if stopped else "")
                 + f"{sum(r.frames for r in results)} frames stored")
    return "\n".join(lines)
