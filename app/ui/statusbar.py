"""Status bar content: engine, device, memory use, and the propagation progress with fps / ETA."""

from __future__ import annotations

import os

import psutil
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton, QWidget

from app.ui.tracking import Progress


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


class StatusPanel:
    """Adds its widgets to a QStatusBar; the window feeds it engine and progress updates."""

    def __init__(self, bar: QStatusBar, cancel: QAction, parent: QWidget) -> None:
        self.bar = bar
        # What the app is busy with right now ("computing the mask…"); stays until cleared, unlike
        # the bar's temporary messages, which the cursor's position replaces as the mouse moves.
        self.note = QLabel("", parent)
        self.note.hide()
        bar.addPermanentWidget(self.note)
        self._cancelling = False
        self._cursor_xy: tuple[float, float] | None = None  # where the pointer last was on the frame
        self.engine = QLabel("Engine: loading…", parent)
        self.device = QLabel("", parent)
        self.memory = QLabel("", parent)
        self.memory.setToolTip("Memory used by Masklet (resident set)")
        self.progress = QProgressBar(parent)
        self.progress.setMaximumWidth(220)
        self.progress.setFormat("%v / %m frames")
        self.rate = QLabel("", parent)
        self.cancel = QToolButton(parent)
        self.cancel.setDefaultAction(cancel)
        for widget in (self.progress, self.rate, self.cancel):
            widget.hide()
        for widget in (self.progress, self.rate, self.cancel):
            bar.addPermanentWidget(widget)
        # The pixel under the cursor has its own label: in the message slot it would replace every note
        # (an empty box, a refused prompt) the moment the mouse moved.
        self.cursor = QLabel("", parent)
        bar.addPermanentWidget(self.cursor)
        for widget in (self.engine, self.device, self.memory):
            bar.addPermanentWidget(widget)
        self._process = psutil.Process(os.getpid())
        self._timer = QTimer(parent)
        self._timer.timeout.connect(self.update_memory)
        self._timer.start(2000)
        self.update_memory()

    def update_memory(self) -> None:
        try:
            rss = self._process.memory_info().rss
        except psutil.Error:
            return
        self.memory.setText(f"RAM {rss / 2**20:,.0f} MB")

    def set_cursor(self, x: float, y: float, frame: int) -> None:
        self._cursor_xy = (x, y)
        self.cursor.setText(f"x {x:.0f}  y {y:.0f}  frame {frame}")

    def set_cursor_frame(self, frame: int) -> None:
        """The frame shown changed under a resting pointer (playing, keys, the spin box): follow it."""
        if self._cursor_xy is not None:
            self.set_cursor(*self._cursor_xy, frame)

    def set_engine(self, name: str, device: str, *, note: str = "") -> None:
        if name == "classical":
            self.engine.setText("Engine: classical (no model weights)")
            self.engine.setToolTip("No checkpoint loaded: Tracking ▸ Engine and model… to choose one")
        else:
            self.engine.setText(f"Engine: {name}")
            self.engine.setToolTip(note)
        self.device.setText(f"Device: {device}")

    def set_engine_problem(self, text: str) -> None:
        self.engine.setText(f"Engine: {text}")

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def set_running(self, running: bool) -> None:
        for widget in (self.progress, self.rate, self.cancel):
            widget.setVisible(running)
        self._cancelling = False
        if running:
            self.progress.setRange(0, 0)
            self.rate.setText("starting…")

    def set_cancelling(self) -> None:
        """Said at once on Esc; the run ends within a network block (a few tenths of a second)."""
        self._cancelling = True
        self.rate.setText("cancelling…")

    def set_progress(self, progress: Progress) -> None:
        if progress.total > 0:
            self.progress.setRange(0, progress.total)
            self.progress.setValue(progress.done)
        if self._cancelling:
            return  # a frame finished while cancelling: the label keeps saying what happens
        if progress.fps <= 0:  # the first frames are not timed (app/ui/eta.py)
            self.rate.setText("estimating time left…")
        else:
            self.rate.setText(f"{progress.fps:.1f} frames/s · ETA {format_eta(progress.eta_s)}")
