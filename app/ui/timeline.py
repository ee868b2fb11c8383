"""The timeline: transport buttons, a scrubber with the frame number, playback, and a lane per object
showing which frames hold a mask (object colour), where prompts were placed (ticks), who made each
frame, which frames a person reviewed, and the engine's confidence (or J against ground truth).

The lanes are rendered into one cached image whenever their data, the threshold or the width changes
(app/ui/strip_render.py); moving the playhead only repaints two thin columns, so scrubbing a
10,000-frame video with 20 objects costs the same as a short one (bench/bench_timeline.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QRect, QSignalBlocker, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QHelpEvent, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from app.ui.strip_render import KIND_CODES, ROW_HEIGHT, RowLayers, render_lane, to_qimage

ROW_GAP = 3
# The strips area keeps this height whatever the number of objects (more rows scroll), so adding an
# object never resizes the canvas above it and a fitted view never moves under the user's next click.
VISIBLE_ROWS = 4
KIND_NAMES = {code: name for name, code in KIND_CODES.items()}


@dataclass(frozen=True)
class StripRow:
    color: str
    mask_frames: frozenset[int]
    prompt_frames: tuple[int, ...]
    hidden: bool = False
    active: bool = False
    obj_id: int = 0


class Strips(QWidget):
    frame_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[StripRow] = []
        self._layers: dict[int, RowLayers] = {}
        self._num_frames = 1
        self._frame = 0
        self._threshold = 0.6
        self._show_scores = False
        self._cache: QImage | None = None
        self.render_count = 0  # lane renderings (not paints): what the benchmark and tests watch
        self.setMinimumHeight(ROW_HEIGHT + 2 * ROW_GAP)
        # Fills the scroll area's height; grows past it (and scrolls) when the rows need more.
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.MinimumExpanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    # -- data -----------------------------------------------------------------------------------
    def set_rows(self, rows: list[StripRow], num_frames: int) -> None:
        self._rows = list(rows)
        self._num_frames = max(1, num_frames)
        self.setMinimumHeight(max(1, len(rows)) * (ROW_HEIGHT + ROW_GAP) + ROW_GAP)
        self.invalidate()

    def set_layers(self, layers: dict[int, RowLayers]) -> None:
        """Confidence, provenance and review arrays per object id (missing objects: none)."""
        self._layers = dict(layers)
        self.invalidate()

    def set_threshold(self, threshold: float) -> None:
        if threshold != self._threshold:
            self._threshold = threshold
            self.invalidate()

    def set_show_scores(self, show: bool) -> None:
        """Heat band: the evaluation's J (True) or the engine's confidence (False)."""
        if show != self._show_scores:
            self._show_scores = show
            self.invalidate()

    @property
    def show_scores(self) -> bool:
        return self._show_scores

    def invalidate(self) -> None:
        self._cache = None
        self.update()

    def set_frame(self, frame: int) -> None:
        if frame == self._frame:
            return
        old, self._frame = self._frame, frame
        for f in (old, frame):  # only the two playhead columns change
            x = self._x(f + 0.5)
            self.update(QRect(x - 2, 0, 5, self.height()))

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(400, self.minimumHeight())

    def _x(self, frame: float) -> int:
        return int(frame * self.width() / self._num_frames)

    def row_top(self, index: int) -> int:
        return ROW_GAP + index * (ROW_HEIGHT + ROW_GAP)

    # -- painting -------------------------------------------------------------------------------
    def _render(self) -> QImage:
        width, height = max(1, self.width()), max(1, self.height())
        pixels = np.zeros((height, width, 4), np.uint8)
        pixels[..., :3] = (30, 30, 30)
        pixels[..., 3] = 255
        for index, row in enumerate(self._rows):
            top = self.row_top(index)
            if top + ROW_HEIGHT > height:
                break
            color = QColor(row.color)
            frames = np.fromiter(row.mask_frames, dtype=np.int64, count=len(row.mask_frames))
            render_lane(pixels, top, width=width, num_frames=self._num_frames,
                        color=(color.red(), color.green(), color.blue()), alpha=90 if row.hidden else 255,
                        mask_frames=frames, layers=self._layers.get(row.obj_id), threshold=self._threshold,
                        show_scores=self._show_scores)
        image = to_qimage(pixels)
        painter = QPainter(image)
        for index, row in enumerate(self._rows):
            top = self.row_top(index)
            painter.setPen(QPen(QColor("#ffffff" if row.active else "#111111"), 2))
            for frame in row.prompt_frames:
                x = self._x(frame + 0.5)
                painter.drawLine(x, top, x, top + ROW_HEIGHT)
            if row.active:
                painter.setPen(QPen(QColor("#dddddd"), 1))
                painter.drawRect(QRect(0, top, width - 1, ROW_HEIGHT - 1))
        painter.end()
        self.render_count += 1
        return image

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        if self._cache is None or self._cache.size() != self.size():
            self._cache = self._render()
        painter = QPainter(self)
        rect = event.rect()
        painter.drawImage(rect, self._cache, rect)
        if self._rows:
            painter.setPen(QPen(QColor("#ff4136"), 2))
            x = self._x(self._frame + 0.5)
            painter.drawLine(x, 0, x, self.height())
        painter.end()

    # -- mouse ----------------------------------------------------------------------------------
    def _frame_at(self, x: float) -> int:
        return int(min(self._num_frames - 1, max(0, x * self._num_frames / max(1, self.width()))))

    def row_at(self, y: float) -> int:
        index = int((y - ROW_GAP) // (ROW_HEIGHT + ROW_GAP))
        return index if 0 <= index < len(self._rows) else -1

    def describe(self, frame: int, index: int) -> str:
        """What the lane shows at ``frame`` (the hover tip)."""
        if index < 0:
            return "Coloured: frames with a mask · ticks: prompted frames · click to jump"
        row = self._rows[index]
        parts = [f"frame {frame}", "mask" if frame in row.mask_frames else "no mask"]
        layers = self._layers.get(row.obj_id)
        if layers is not None and 0 <= frame < len(layers.kinds):
            kind = KIND_NAMES.get(int(layers.kinds[frame]))
            if kind:
                parts.append(kind)
            conf = float(layers.confidence[frame])
            if not np.isnan(conf):
                parts.append(f"confidence {conf:.2f}" + (" (doubtful)" if conf < self._threshold else ""))
            review = int(layers.reviewed[frame])
            if review:
                parts.append("reviewed" if review == 1 else "changed since review")
            if layers.scores is not None and not np.isnan(layers.scores[frame]):
                parts.append(f"J {float(layers.scores[frame]):.3f}")
        return " · ".join(parts)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            assert isinstance(event, QHelpEvent)
            QToolTip.showText(event.globalPos(), self.describe(self._frame_at(event.pos().x()),
                                                               self.row_at(event.pos().y())), self)
            return True
        return super().event(event)

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
        self.heat_label = QLabel("", self)
        self.heat_label.setStyleSheet("color: gray")
        self.heat_label.setToolTip("Lanes, top to bottom: who made the frame (grey prompted, pink painted, "
                                   "violet imported) · mask · reviewed (white; orange: changed since) · "
                                   "confidence or J (red below the threshold)")
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
        top.addWidget(self.heat_label)
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

    def set_layers(self, layers: dict[int, RowLayers]) -> None:
        self.strips.set_layers(layers)

    def set_heat(self, *, threshold: float | None = None, show_scores: bool | None = None,
                 caption: str | None = None) -> None:
        """What the lanes' bottom band shows: confidence (with the doubt threshold) or evaluation J."""
        if threshold is not None:
            self.strips.set_threshold(threshold)
        if show_scores is not None:
            self.strips.set_show_scores(show_scores)
        if caption is not None:
            self.heat_label.setText(caption)

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
