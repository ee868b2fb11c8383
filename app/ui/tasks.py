"""Run one long function (export, import, model download) in a thread, with progress and a dialog.

The function receives a ``progress(done, total)`` callback; it may be called from the task's thread,
the signals cross to the UI thread queued. Cancelling the dialog sets ``cancelled`` and the next
progress call raises :class:`TaskCancelledError`, so exporters stop between frames.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]


class TaskCancelledError(Exception):
    pass


class _Runner(QObject):
    progress = Signal(int, int)
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[ProgressFn], Any], cancel: threading.Event) -> None:
        super().__init__()
        self._fn = fn
        self._cancel = cancel

    def _report(self, done: int, total: int) -> None:
        if self._cancel.is_set():
            raise TaskCancelledError()
        self.progress.emit(int(done), int(total))

    @Slot()
    def run(self) -> None:
        try:
            result = self._fn(self._report)
        except TaskCancelledError:
            self.failed.emit("cancelled")
            return
        except Exception as exc:  # reported in a dialog; the app stays usable
            log.exception("background task failed")
            self.failed.emit(f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))
            return
        self.done.emit(result)


class BackgroundTask(QObject):
    """Start with :meth:`start`; ``done(result)`` or ``failed(message)`` fires exactly once."""

    progress = Signal(int, int)
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, title: str, fn: Callable[[ProgressFn], Any], parent: QWidget | None = None, *,
                 dialog: bool = True) -> None:
        super().__init__(parent)
        self.title = title
        self.cancel_event = threading.Event()
        self._thread = QThread()
        self._runner = _Runner(fn, self.cancel_event)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._runner.progress.connect(self._on_progress)
        self._runner.done.connect(self._on_done)
        self._runner.failed.connect(self._on_failed)
        self.finished = False
        self.dialog: QProgressDialog | None = None
        if dialog:
            self.dialog = QProgressDialog(title, "Cancel", 0, 0, parent)
            self.dialog.setWindowTitle(title)
            self.dialog.setMinimumDuration(300)
            self.dialog.setAutoClose(False)
            self.dialog.setAutoReset(False)
            self.dialog.canceled.connect(self.cancel_event.set)

    def start(self) -> None:
        self._thread.start()
        if self.dialog is not None:
            self.dialog.open()

    def wait(self, timeout_ms: int = 60_000) -> bool:
        """For tests and shutdown only: block until the thread ends."""
        return self._thread.wait(timeout_ms)

    def abandon(self, timeout_ms: int = 10_000) -> bool:
        """Cancel and wait for the thread to end, without waiting for ``done``/``failed`` (window closing:
        they may still arrive). Whether the thread ended in time."""
        self.cancel_event.set()
        self._thread.quit()  # the thread's event loop ends once the function has returned
        ended = self._thread.wait(timeout_ms)
        if self.dialog is not None:
            self.dialog.close()
        return ended

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if self.dialog is not None:
            self.dialog.setMaximum(max(total, 0))
            self.dialog.setValue(min(done, total) if total > 0 else 0)
        self.progress.emit(done, total)

    def _finish(self) -> None:
        self.finished = True
        self._thread.quit()
        self._thread.wait(2000)
        if self.dialog is not None:
            self.dialog.close()

    @Slot(object)
    def _on_done(self, result: object) -> None:
        self._finish()
        self.done.emit(result)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._finish()
        self.failed.emit(message)
