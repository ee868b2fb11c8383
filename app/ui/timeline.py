"""The timeline: transport buttons, a scrubber with the frame number, playback, and a strip per object
showing which frames hold a mask (object colour) and where prompts were placed (ticks)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QRect, QSignalBlocker, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

ROW_HEIGHT = 12
ROW_GAP = 3
# The strips area keeps this height whatever the number of objects (more rows scroll), so adding an
# object never resizes the canvas above it and a fitted view never moves under the user's next click.
VISIBLE_ROWS = 4


@dataclass(frozen=True)
class StripRow:
    color: str
    mask_frames: frozenset[int]
    prompt_frames: tuple[int, ...]
    hidden: bool = False
    active: bool = False


def _runs(columns: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) runs of True in a 1-D bool array."""
    if not columns.any():
        return []
    padded = np.concatenate([[False], columns, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


class Strips(QWidget):
    frame_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[StripRow] = []
        self._num_frames = 1
        self._frame = 0
        self.setMinimumHeight(ROW_HEIGHT + 2 * ROW_GAP)
        # Fills the scroll area's height; grows past it (and scrolls) when the rows need more.
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.MinimumExpanding)
        self.setToolTip("Coloured: frames with a mask · dark ticks: prompted frames · click to jump")

    def set_rows(self, rows: list[StripRow], num_frames: int) -> None:
        self._rows = list(rows)
        self._num_frames = max(1, num_frames)
        self.setMinimumHeight(max(1, len(rows)) * (ROW_HEIGHT + ROW_GAP) + ROW_GAP)
        self.update()

    def set_frame(self, frame: int) -> None:
        self._frame = frame
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(400, self.minimumHeight())

    def _x(self, frame: float) -> int:
        return int(frame * self.width() / self._num_frames)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#1e1e1e"))
        if not self._rows:
            painter.end()
            return
        width = max(1, self.width())
        for index, row in enumerate(self._rows):
            top = ROW_GAP + index * (ROW_HEIGHT + ROW_GAP)
            painter.fillRect(QRect(0, top, width, ROW_HEIGHT), QColor("#333333"))
            color = QColor(row.color)
            if row.hidden:
                color.setAlpha(90)
            if row.mask_frames:
                has = np.zeros(self._num_frames, bool)
                frames = np.fromiter(row.mask_frames, dtype=np.int64, count=len(row.mask_frames))
                has[frames[(frames >= 0) & (frames < self._num_frames)]] = True
                columns = has[np.arange(width) * self._num_frames // width]  # frame under each column
                for start, end in _runs(columns):
                    painter.fillRect(QRect(start, top, max(1, end - start), ROW_HEIGHT), color)
            painter.setPen(QPen(QColor("#ffffff" if row.active else "#111111"), 2))
            for frame in row.prompt_frames:
                x = self._x(frame + 0.5)
                painter.drawLine(x, top, x, top + ROW_HEIGHT)
            if row.active:
                painter.setPen(QPen(QColor("#dddddd"), 1))
                painter.drawRect(QRect(0, top, width - 1, ROW_HEIGHT - 1))
        painter.setPen(QPen(QColor("#ff4136"), 2))
        x = self._x(self._frame + 0.5)
        painter.drawLine(x, 0, x, self.height())
        painter.end()

    def _frame_at(self, x: float) -> int:
        return int(min(self._num_frames - 1, max(0, x * self._num_frames / max(1, self.width()))))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self.frame_requested.emit(self._frame_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.frame_requested.emit(self._frame_at(event.position().x()))


class Timeline(QWidget):
    """Emits ``frame_requested`` for every way of moving in time; the window decides what to show."""

    frame_requested = Signal(int)
    playing_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._num_frames = 1
        self._fps = 30.0
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self.frame_requested)
        self.spin = QSpinBox(self)
        self.spin.setRange(0, 0)
        self.spin.setKeyboardTracking(False)
        self.spin.setToolTip("Current frame (0-based)")
        self.spin.valueChanged.connect(self.frame_requested)
        self.total_label = QLabel("/ 0", self)
        self.strips = Strips(self)
        self.strips.frame_requested.connect(self.frame_requested)
        self.strips_area = QScrollArea(self)
        self.strips_area.setWidget(self.strips)
        self.strips_area.setWidgetResizable(True)
        self.strips_area.setFrameShape(QFrame.Shape.NoFrame)
        self.strips_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.strips_area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.strips_area.setFixedHeight(VISIBLE_ROWS * (ROW_HEIGHT + ROW_GAP) + ROW_GAP)
        self.strips_area.setStyleSheet("QScrollArea { background: #1e1e1e; }")
        self._buttons = QHBoxLayout()
        self._buttons.setSpacing(1)
        top = QHBoxLayout()
        top.addLayout(self._buttons)
        top.addWidget(self.slider, 1)
        top.addWidget(self.spin)
        top.addWidget(self.total_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.strips_area)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)

    def add_buttons(self, actions: Iterable[QAction]) -> None:
        for action in actions:
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setAutoRaise(True)
            self._buttons.addWidget(button)

    def set_video(self, num_frames: int, fps: float) -> None:
        self._num_frames = max(1, num_frames)
        self._fps = fps if fps > 0 else 30.0
        with QSignalBlocker(self.slider), QSignalBlocker(self.spin):
            self.slider.setRange(0, self._num_frames - 1)
            self.spin.setRange(0, self._num_frames - 1)
        self.total_label.setText(f"/ {self._num_frames - 1}")
        self.set_playing(False)

    def set_frame(self, frame: int) -> None:
        with QSignalBlocker(self.slider), QSignalBlocker(self.spin):
            self.slider.setValue(frame)
            self.spin.setValue(frame)
        self.strips.set_frame(frame)

    def set_rows(self, rows: list[StripRow]) -> None:
        self.strips.set_rows(rows, self._num_frames)
        active = next((i for i, row in enumerate(rows) if row.active), None)
        if active is not None:  # keep the active object's strip in sight when the rows scroll
            top = ROW_GAP + active * (ROW_HEIGHT + ROW_GAP)
            self.strips_area.ensureVisible(0, top + ROW_HEIGHT // 2, 0, ROW_HEIGHT)

    # -- playback -----------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def set_playing(self, playing: bool) -> None:
        if playing == self.playing:
            return
        if playing:
            if self.slider.value() >= self._num_frames - 1:
                self.frame_requested.emit(0)
            self._timer.start(max(1, int(1000 / self._fps)))
        else:
            self._timer.stop()
        self.playing_changed.emit(playing)

    def _tick(self) -> None:
        frame = self.slider.value() + 1
        if frame >= self._num_frames:
            self.set_playing(False)
            return
        self.frame_requested.emit(frame)
