"""Background upkeep of one open, writable project file: WAL checkpoints and the writer lock's heartbeat.

New transactions land in ``P.masklet-wal`` first; people copy ``P.masklet`` alone to back up or share a
project, so recent work must reach the main file soon, not only at the next automatic checkpoint
(1000 pages). The keeper folds the WAL into the main file within :data:`CHECKPOINT_EVERY_S` of the
last change, whenever the project is between transactions, and refreshes the lock file every
:data:`~app.domain.lock.HEARTBEAT_S` seconds; if another program replaced the lock (this one was
frozen so long that it looked dead), the project is told to stop writing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from app.domain import lock as lock_module
from app.domain.lock import WriterLock

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_S = 1.0


class Keeper:
    """Runs ``checkpoint_if_dirty()`` about every second and the lock's heartbeat, in a daemon thread."""

    def __init__(self, name: str, checkpoint_if_dirty: Callable[[], None], lock: WriterLock | None,
                 on_lock_lost: Callable[[str], None], on_exit: Callable[[], None] | None = None) -> None:
        self._checkpoint = checkpoint_if_dirty
        self._lock = lock
        self._on_lost = on_lock_lost
        self._on_exit = on_exit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"keeper {name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self._on_exit is not None:
                self._on_exit()

    def _loop(self) -> None:
        last_beat = time.monotonic()
        while not self._stop.wait(min(CHECKPOINT_EVERY_S, lock_module.HEARTBEAT_S)):
            try:
                self._checkpoint()
            except Exception:  # a failed checkpoint only delays it: the WAL stays valid
                log.warning("WAL checkpoint failed", exc_info=True)
            if self._lock is not None and time.monotonic() - last_beat >= lock_module.HEARTBEAT_S:
                last_beat = time.monotonic()
                if not self._lock.heartbeat():
                    self._on_lost(f"its lock file {self._lock.path.name} was taken over by another program")
                    return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
