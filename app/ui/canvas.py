"""The frame view: shows the composed frame, draws prompt markers, turns mouse input into prompts.

Scene coordinates are original video pixels, so every emitted coordinate is in video pixels whatever
the zoom. The canvas knows nothing about projects or objects: it gets an image and markers, and
emits signals.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import cv2
import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

DRAG_THRESHOLD_PX = 5
PLACEHOLDER = ("Open a video, a folder of frames or a project\n(File ▸ Open, Ctrl+O) — or drop it here.\n\n"
               "Then click on an object: left = include, right = exclude, drag = box.")
MIN_ZOOM, MAX_ZOOM = 0.02, 40.0


class Tool(Enum):
    PROMPT = "prompt"
    BRUSH = "brush"
    ERASER = "eraser"
    OUTLINE = "outline"


class ToolDelegate(Protocol):
    """A tool that takes the frame's mouse and keys while it is the canvas's tool (app/ui/outline_tool.py).

    Positions are scene coordinates (video pixels); ``key_press`` returns whether it used the key.
    """

    def set_active(self, active: bool) -> None: ...
    def press(self, pos: QPointF, event: QMouseEvent) -> None: ...
    def move(self, pos: QPointF, event: QMouseEvent) -> None: ...
    def release(self, pos: QPointF, event: QMouseEvent) -> None: ...
    def key_press(self, event: QKeyEvent) -> bool: ...


@dataclass(frozen=True)
class Marker:
    """A prompt to draw: points (x, y, positive) and an optional box, in video pixels."""

    points: tuple[tuple[float, float, bool], ...]
    box: tuple[float, float, float, float] | None
    color: str
    active: bool


class _FrameItem(QGraphicsItem):
    """Paints one RGB frame over the video's full pixel rectangle.

    The array may be smaller than the video (the renderer composes at display resolution when
    zoomed out); scene coordinates stay video pixels either way. The QImage wraps the array (no copy).
    """

    def __init__(self) -> None:
        super().__init__()
        self._image = QImage()
        self._array: np.ndarray | None = None
        self._size = (0, 0)  # video (width, height)
        self._small: tuple[tuple[int, int], np.ndarray, QImage] | None = None  # downscaled copy for display

    def set_array(self, rgb: np.ndarray, size: tuple[int, int] | None = None) -> None:
        rgb = np.ascontiguousarray(rgb)
        size = size or (rgb.shape[1], rgb.shape[0])
        if size != self._size:
            self.prepareGeometryChange()
            self._size = size
        self._array = rgb
        self._small = None
        self._image = QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.strides[0],
                             QImage.Format.Format_RGB888)
        self.update()

    def clear(self) -> None:
        self.prepareGeometryChange()
        self._image, self._array, self._small, self._size = QImage(), None, None, (0, 0)
        self.update()

    def _downscaled(self, width: int, height: int) -> QImage:
        """The image resized to what the screen shows, so that painting it is ~1:1.

        Letting QPainter smooth-scale a full-HD image on every repaint costs tens of ms on the UI
        thread; OpenCV resizes in a few ms, once per image and zoom level.
        """
        assert self._array is not None
        if self._small is None or self._small[0] != (width, height):
            small = np.ascontiguousarray(cv2.resize(self._array, (width, height),
                                                    interpolation=cv2.INTER_LINEAR))
            image = QImage(small.data, width, height, small.strides[0], QImage.Format.Format_RGB888)
            self._small = ((width, height), small, image)
        return self._small[2]

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return QRectF(0, 0, self._size[0], self._size[1])

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        if self._image.isNull():
            return
        scale = painter.worldTransform().m11()
        on_screen = (max(1, int(np.ceil(self._size[0] * scale))), max(1, int(np.ceil(self._size[1] * scale))))
        ratio = self._image.width() / on_screen[0]  # > 1: the image has more pixels than shown
        if ratio > 1.05:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawImage(self.boundingRect(), self._downscaled(*on_screen))
            return
        # Nearest-neighbour when zoomed in, so single pixels stay visible for precise clicks.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 1.5)
        painter.drawImage(self.boundingRect(), self._image)


class Canvas(QGraphicsView):
    point_clicked = Signal(float, float, bool)            # x, y, positive
    box_drawn = Signal(float, float, float, float)        # x0, y0, x1, y1
    stroke_finished = Signal(object, float, bool)         # [(x, y), ...], radius, erase
    play_toggle_requested = Signal()
    cursor_moved = Signal(float, float)                   # video pixel under the cursor
    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QColor("#2b2b2b"))
        # Zoom anchors itself (zoom_by): Qt's AnchorUnderMouse uses the last mouse position the base
        # class saw and QCursor::pos(), neither of which is reliable here, and keys zoom about the centre.
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # the main window takes dropped files
        self._frame = _FrameItem()
        self.scene().addItem(self._frame)
        self._markers: list[QGraphicsItem] = []
        self._band = QGraphicsRectItem()
        self._band.setPen(self._cosmetic_pen("#ffffff", 1.5, Qt.PenStyle.DashLine))
        self._band.setZValue(10)
        self._band.hide()
        self.scene().addItem(self._band)
        self._stroke = QGraphicsPathItem()
        self._stroke.setZValue(9)
        self.scene().addItem(self._stroke)
        self._cursor_ring = QGraphicsEllipseItem()
        self._cursor_ring.setPen(self._cosmetic_pen("#ffffff", 1.0))
        self._cursor_ring.setZValue(11)
        self._cursor_ring.hide()
        self.scene().addItem(self._cursor_ring)
        self.tool = Tool.PROMPT
        self.tool_delegate: ToolDelegate | None = None  # gets the events while tool is Tool.OUTLINE
        self.brush_radius = 12.0
        self.brush_color = "#ffffff"  # the viewer sets the active object's colour
        self.interactive = True
        self._press: QPointF | None = None       # scene position of a left/right press
        self._press_view = None
        self._press_button = Qt.MouseButton.NoButton
        self._press_shift = False
        self._dragging_box = False
        self._stroke_points: list[tuple[float, float]] = []
        self._pan_from = None
        self._space_down = False
        self._space_used = False
        self._fitted = True

    # -- content ------------------------------------------------------------------------------
    @staticmethod
    def _cosmetic_pen(color: str, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
        pen = QPen(QColor(color), width, style)
        pen.setCosmetic(True)
        return pen

    def set_image(self, rgb: np.ndarray, size: tuple[int, int] | None = None) -> None:
        """Show ``rgb``; ``size`` = (width, height) of the video when ``rgb`` is a reduced copy."""
        size = size or (rgb.shape[1], rgb.shape[0])
        size_changed = self.image_size() != size
        self._frame.set_array(rgb, size)
        if size_changed:
            self.scene().setSceneRect(self._frame.boundingRect())
            if self._fitted:
                self.fit()

    def clear(self) -> None:
        """Show nothing but the hint to open a video (no project open)."""
        self._frame.clear()
        self.set_markers([])
        self.scene().setSceneRect(QRectF(0, 0, 1, 1))
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        super().paintEvent(event)
        if self.image_size() == (0, 0):
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#bbbbbb"))
            font = painter.font()
            font.setPointSizeF(font.pointSizeF() * 1.4)
            painter.setFont(font)
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, PLACEHOLDER)
            painter.end()

    def image_size(self) -> tuple[int, int]:
        rect = self._frame.boundingRect()
        return int(rect.width()), int(rect.height())

    def set_markers(self, markers: list[Marker]) -> None:
        for item in self._markers:
            self.scene().removeItem(item)
        self._markers = []
        for marker in markers:
            color = QColor(marker.color)
            if marker.box is not None:
                x0, y0, x1, y1 = marker.box
                # A dark under-stroke keeps the box visible on top of a mask of the same colour.
                for pen_color, width, style in (
                        ("#000000", 3.5 if marker.active else 2.5, Qt.PenStyle.SolidLine),
                        (color.name(), 2.0 if marker.active else 1.0,
                         Qt.PenStyle.DashLine if marker.active else Qt.PenStyle.DotLine)):
                    rect = QGraphicsRectItem(QRectF(x0, y0, x1 - x0, y1 - y0))
                    rect.setPen(self._cosmetic_pen(pen_color, width, style))
                    rect.setZValue(5)
                    self._add_marker(rect)
            size = 11.0 if marker.active else 7.0
            for x, y, positive in marker.points:
                dot = QGraphicsEllipseItem(-size / 2, -size / 2, size, size)
                dot.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
                dot.setPos(x, y)
                dot.setBrush(QBrush(QColor("#2ecc40" if positive else "#ff4136")))
                dot.setPen(QPen(color if marker.active else QColor("#ffffff"), 2.0))
                dot.setZValue(6)
                self._add_marker(dot)

    def _add_marker(self, item: QGraphicsItem) -> None:
        self.scene().addItem(item)
        self._markers.append(item)

    def marker_count(self) -> int:
        return len(self._markers)

    # -- zoom ---------------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def display_scale(self) -> float:
        """Screen pixels per video pixel, capped at 1: the resolution worth composing at."""
        return min(1.0, self.zoom())

    def fit(self) -> None:
        self._fitted = True
        rect = self._frame.boundingRect()
        if not rect.isEmpty():
            self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_changed.emit(self.zoom())

    def zoom_100(self) -> None:
        self.zoom_by(1.0 / self.zoom())

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Scale by ``factor`` keeping the scene point under ``anchor`` (viewport pixels) where it is.

        ``anchor`` defaults to the view's centre (keyboard zoom); the wheel passes the cursor. Where the
        frame is smaller than the view Qt centres it, so the point can only stay put along the axes
        where the frame overflows.
        """
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom() * factor))
        self._fitted = False
        if anchor is None:
            rect = self.viewport().rect()
            anchor = QPointF(rect.width() / 2.0, rect.height() / 2.0)
        inverse, _ok = self.viewportTransform().inverted()
        fixed = inverse.map(anchor)
        self.setTransform(QTransform.fromScale(target, target))  # exact: 100 % is 1.0, not 0.9999
        # Scroll bars that the zoom makes appear (or go) are shown through a queued call; lay them out
        # now, or the viewport shrinks after the correction below and the point drifts by their width.
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
        # Scroll so that ``fixed`` is back under the anchor (the scroll bars clamp at the edges).
        drift = self.viewportTransform().map(fixed) - anchor
        for bar, delta in ((self.horizontalScrollBar(), drift.x()), (self.verticalScrollBar(), drift.y())):
            bar.setValue(bar.value() + round(delta))
        self.zoom_changed.emit(self.zoom())

    def resizeEvent(self, event: object) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if self._fitted:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.2 ** steps, event.position())
        event.accept()

    # -- tools --------------------------------------------------------------------------------
    def set_tool(self, tool: Tool) -> None:
        self.tool = tool
        painting = tool in (Tool.BRUSH, Tool.ERASER)
        self._cursor_ring.setVisible(painting and self.underMouse())
        self.viewport().setCursor(Qt.CursorShape.BlankCursor if painting else Qt.CursorShape.CrossCursor)
        if self.tool_delegate is not None:
            self.tool_delegate.set_active(tool is Tool.OUTLINE)

    def _delegated(self) -> ToolDelegate | None:
        """The tool that takes the events now, if the current tool is a delegated one."""
        return self.tool_delegate if self.tool is Tool.OUTLINE else None

    def set_brush_radius(self, radius: float) -> None:
        self.brush_radius = max(1.0, float(radius))
        self._update_ring(self._cursor_ring.pos())

    def _update_ring(self, pos: QPointF) -> None:
        r = self.brush_radius
        self._cursor_ring.setRect(-r, -r, 2 * r, 2 * r)
        self._cursor_ring.setPos(pos)

    def _inside(self, pos: QPointF) -> bool:
        return self._frame.boundingRect().contains(pos)

    def _clamp(self, pos: QPointF) -> QPointF:
        w, h = self.image_size()
        return QPointF(min(max(pos.x(), 0.0), float(w)), min(max(pos.y(), 0.0), float(h)))

    # -- mouse --------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        button = event.button()
        space_drag = button == Qt.MouseButton.LeftButton and self._space_down
        if button == Qt.MouseButton.MiddleButton or space_drag:
            self._pan_from = event.position()
            self._space_used = True
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        pos = self.mapToScene(event.position().toPoint())
        if self.interactive and (delegate := self._delegated()) is not None:
            delegate.press(pos, event)  # a vertex may lie on the frame's edge: no inside test
            return
        if not self.interactive or not self._inside(pos):
            return
        if self.tool is Tool.PROMPT and button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self._press, self._press_view = pos, event.position()
            self._press_button = button
            self._press_shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self._dragging_box = False
        elif self.tool is not Tool.PROMPT and button == Qt.MouseButton.LeftButton:
            self._stroke_points = [(pos.x(), pos.y())]
            self._update_stroke_preview()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            return
        pos = self.mapToScene(event.position().toPoint())
        if self._inside(pos):
            self.cursor_moved.emit(pos.x(), pos.y())
        if (delegate := self._delegated()) is not None:
            delegate.move(pos, event)
            return
        if self.tool is not Tool.PROMPT:
            self._update_ring(pos)
            self._cursor_ring.show()
            if self._stroke_points:
                self._stroke_points.append((pos.x(), pos.y()))
                self._update_stroke_preview()
            return
        if self._press is not None and self._press_button == Qt.MouseButton.LeftButton:
            moved = (event.position() - self._press_view).manhattanLength()
            if self._dragging_box or moved >= DRAG_THRESHOLD_PX:
                self._dragging_box = True
                end = self._clamp(pos)
                self._band.setRect(QRectF(self._press, end).normalized())
                self._band.show()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None:
            self._pan_from = None
            self.set_tool(self.tool)
            return
        pos = self.mapToScene(event.position().toPoint())
        if (delegate := self._delegated()) is not None:
            delegate.release(pos, event)
            return
        if self._stroke_points:
            points, self._stroke_points = self._stroke_points, []
            self._stroke.setPath(QPainterPath())
            self.stroke_finished.emit(points, self.brush_radius, self.tool is Tool.ERASER)
            return
        if self._press is None:
            return
        start, self._press = self._press, None
        if self._dragging_box:
            self._dragging_box = False
            self._band.hide()
            rect = QRectF(start, self._clamp(pos)).normalized()
            if rect.width() >= 2 and rect.height() >= 2:
                self.box_drawn.emit(rect.left(), rect.top(), rect.right(), rect.bottom())
            return
        positive = self._press_button == Qt.MouseButton.LeftButton and not self._press_shift
        self.point_clicked.emit(start.x(), start.y(), positive)

    def leaveEvent(self, event: object) -> None:  # noqa: N802
        self._cursor_ring.hide()
        super().leaveEvent(event)

    def _update_stroke_preview(self) -> None:
        path = QPainterPath()
        x0, y0 = self._stroke_points[0]
        path.moveTo(x0, y0)
        for x, y in self._stroke_points[1:]:
            path.lineTo(x, y)
        if len(self._stroke_points) == 1:
            path.lineTo(x0 + 0.01, y0)
        color = QColor("#000000" if self.tool is Tool.ERASER else self.brush_color)
        color.setAlpha(140)
        pen = QPen(color, 2 * self.brush_radius, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                   Qt.PenJoinStyle.RoundJoin)
        self._stroke.setPen(pen)
        self._stroke.setPath(path)

    # -- keys ---------------------------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down, self._space_used = True, False
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if (delegate := self._delegated()) is not None and delegate.key_press(event):
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.set_tool(self.tool)
            if not self._space_used:
                self.play_toggle_requested.emit()
            return
        super().keyReleaseEvent(event)
