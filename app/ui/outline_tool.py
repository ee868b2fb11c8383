"""The outline tool: the active object's mask on the current frame as polygons whose vertices the user edits.

As in CVAT or X-AnyLabeling: drag a vertex; press on an edge to add a vertex there (and drag it on);
right-click a vertex, or select it and press Delete, to remove it. On release the edit is written into
the mask (app.domain.outline.apply_edit) as one undoable :class:`~app.domain.commands.SetMask`, the
command a brush stroke pushes, so the edited mask becomes the frame's mask prompt exactly as a painted
one does. The geometry lives in app/domain/outline.py; this module only draws and maps events.

The canvas hands its mouse and keys to this object while its tool is ``Tool.OUTLINE``
(:class:`~app.ui.canvas.ToolDelegate`).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Slot
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QMouseEvent, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from app.domain.commands import SetMask
from app.domain.outline import Outline, VertexRef, apply_edit, trace
from app.ui.canvas import Canvas
from app.ui.project_session import ProjectSession

HANDLE_PX = 7.0   # side of a vertex's square on screen
PICK_PX = 8.0     # how near (screen pixels) a press must come to a vertex or an edge to take it
HINT = "Outline: drag a vertex · press on an edge to add one · right-click or Delete removes one"


def _pen(color: str, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(QColor(color), width, style)
    pen.setCosmetic(True)  # the same width on screen at every zoom; whole pixels (the view draws
    # without antialiasing: a 1.5 px line alternates 1 and 2 px and looks dashed)
    return pen


class OutlineEditor(QObject):
    def __init__(self, session: ProjectSession, canvas: Canvas, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.canvas = canvas
        self.active = False
        self.outline = Outline(())
        self.selected: VertexRef | None = None
        self._key: tuple[int, int] | None = None  # (frame, object) the outline belongs to
        self._stored: np.ndarray | None = None     # the stored mask the outline stands for
        self._drag_base: Outline | None = None     # the outline when the drag began (with a vertex it added)
        self._drag: VertexRef | None = None
        self._adding = False                       # the drag began by inserting its vertex
        self._grab = (0.0, 0.0)                    # press position minus the vertex's position
        self._items: list[QGraphicsPathItem] = []
        for z, pen in ((12.0, _pen("#000000", 3.0)), (12.5, _pen("#ffffff", 1.0)),
                       (12.5, _pen("#ffffff", 1.0, Qt.PenStyle.DashLine)), (13.0, _pen("#000000", 1.0)),
                       (14.0, _pen("#000000", 1.5))):
            item = QGraphicsPathItem()
            item.setPen(pen)
            item.setZValue(z)
            canvas.scene().addItem(item)
            self._items.append(item)
        self._shadow, self._outer, self._holes, self._handles, self._selection = self._items
        self._handles.setBrush(QBrush(QColor("#ffffff")))
        self._selection.setBrush(QBrush(QColor("#ffdc00")))
        canvas.tool_delegate = self
        canvas.zoom_changed.connect(lambda _zoom: self._draw())
        session.active_object_changed.connect(lambda _obj: self.refresh())
        session.tracking.running_changed.connect(lambda _running: self.refresh())
        session.project_changed.connect(self.refresh)

    # -- what is shown ------------------------------------------------------------------------
    def set_active(self, active: bool) -> None:
        if active == self.active:
            return
        self.active = active
        self.refresh()
        if active and self.session.project is not None:
            self.session.status.emit(HINT if self.outline.rings else
                                     "Outline: the active object has no mask on this frame — click or "
                                     "paint it first")

    @Slot()
    def refresh(self) -> None:
        """Follow the stored mask of the active object on the current frame (after seeks, edits, undo).

        While the stored mask is the one this outline stands for, the outline (the user's vertices) stays;
        any other mask (an undo, another frame) is traced afresh.
        """
        s = self.session
        info = s.object_info(s.active_id) if s.project is not None else None
        if not self.active or s.project is None or info is None or info.hidden or s.tracking.running:
            # Nothing is read while a propagation writes the store from the worker thread.
            self._key, self._stored, self._drag = None, None, None
            self.outline, self.selected = Outline(()), None
            self._draw()
            return
        key = (s.current_frame, s.active_id)
        mask = s.project.mask(*key)
        if key == self._key and self._stored is not None and mask is not None and \
                np.array_equal(mask, self._stored):
            self._draw()
            return
        self._key, self._stored, self._drag = key, mask, None
        self.outline = trace(mask) if mask is not None else Outline(())
        self.selected = None
        self._draw()

    def _draw(self) -> None:
        lines = QPainterPath(), QPainterPath()
        for ring in self.outline.rings:
            path = lines[ring.is_hole]
            path.moveTo(*ring.points[0])
            for x, y in ring.points[1:]:
                path.lineTo(x, y)
            path.closeSubpath()
        shadow = QPainterPath(lines[0])
        shadow.addPath(lines[1])
        self._shadow.setPath(shadow)
        self._outer.setPath(lines[0])
        self._holes.setPath(lines[1])
        side = HANDLE_PX / max(self.canvas.zoom(), 1e-6)
        handles = QPainterPath()
        for ring in self.outline.rings:
            for x, y in ring.points:
                handles.addRect(QRectF(x - side / 2, y - side / 2, side, side))
        self._handles.setPath(handles)
        selection = QPainterPath()
        if self.selected is not None:
            x, y = self.outline.vertex(self.selected)
            selection.addRect(QRectF(x - side, y - side, 2 * side, 2 * side))
        self._selection.setPath(selection)

    # -- events (from the canvas) -------------------------------------------------------------
    def _radius(self) -> float:
        return PICK_PX / max(self.canvas.zoom(), 1e-6)

    def _clamped(self, pos: QPointF) -> tuple[float, float]:
        width, height = self.canvas.image_size()
        return min(max(pos.x(), 0.0), float(width)), min(max(pos.y(), 0.0), float(height))

    def press(self, pos: QPointF, event: QMouseEvent) -> None:
        if not self.outline.rings:
            self.session.status.emit("Outline: the active object has no mask on this frame — click or paint "
                                     "it first")
            return
        x, y = pos.x(), pos.y()
        vertex = self.outline.nearest_vertex(x, y, self._radius())
        if event.button() == Qt.MouseButton.RightButton:
            if vertex is not None:
                self._delete(vertex)
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        adding = False
        if vertex is None:
            edge = self.outline.nearest_edge(x, y, self._radius())
            if edge is None:
                self.selected = None
                self._draw()
                return
            vertex, (ex, ey) = edge
            # The drag starts from the outline with the new vertex: it stands for the same mask, so an
            # edit that only adds a vertex changes no pixel (apply_edit works on the edges that changed).
            self.outline, adding = self.outline.inserted(vertex, ex, ey), True
        self._adding = adding
        vx, vy = self.outline.vertex(vertex)
        self._grab = (x - vx, y - vy)
        self._drag_base, self._drag, self.selected = self.outline, vertex, vertex
        self._draw()

    def _dragged_to(self, pos: QPointF) -> Outline:
        """The drag's outline with its vertex where the pointer took it: moved by the pointer's travel, so
        a click that only selects a vertex (a few pixels off it) leaves it in place."""
        assert self._drag is not None and self._drag_base is not None
        return self._drag_base.moved(self._drag, *self._clamped(QPointF(pos.x() - self._grab[0],
                                                                        pos.y() - self._grab[1])))

    def move(self, pos: QPointF, event: QMouseEvent) -> None:
        if self._drag is not None and self._drag_base is not None:
            self.outline = self._dragged_to(pos)
            self._draw()
            return
        radius = self._radius()
        if self.outline.nearest_vertex(pos.x(), pos.y(), radius) is not None:
            shape = Qt.CursorShape.SizeAllCursor
        elif self.outline.nearest_edge(pos.x(), pos.y(), radius) is not None:
            shape = Qt.CursorShape.PointingHandCursor  # a press here adds a vertex
        else:
            shape = Qt.CursorShape.CrossCursor
        self.canvas.viewport().setCursor(shape)

    def release(self, pos: QPointF, event: QMouseEvent) -> None:
        if self._drag is None or self._drag_base is None:
            return
        self.outline = self._dragged_to(pos)
        before, self._drag_base, self._drag = self._drag_base, None, None
        self._commit(before, "Add outline vertex" if self._adding else "Move outline vertex")

    def key_press(self, event: QKeyEvent) -> bool:
        if event.key() == Qt.Key.Key_Delete and self.selected is not None and self._drag is None:
            self._delete(self.selected)
            return True
        return False

    # -- edits --------------------------------------------------------------------------------
    def _delete(self, vertex: VertexRef) -> None:
        before = self.outline
        self.outline, self.selected = before.deleted(vertex), None
        self._commit(before, "Delete outline vertex")

    def _commit(self, before: Outline, text: str) -> None:
        """Write the edit from ``before`` to the outline shown into the stored mask, as one undo step."""
        s = self.session
        project = s.project
        stale = self._key != (s.current_frame, s.active_id)
        mask = None if project is None or stale else project.mask(*self._key)
        if project is None or mask is None or self._key is None or not s.editable():
            self.outline = before  # refused (read-only, a propagation running): show what is stored
            self._draw()
            return
        frame, obj = self._key
        edited = apply_edit(mask, before, self.outline)
        self._draw()
        if np.array_equal(edited, mask):
            self._stored = mask  # e.g. a vertex added on an edge and left there: nothing to store
            return
        self._stored = edited
        if s.push(SetMask(frame, obj, edited, text=text)) is None:
            self._stored = None  # not stored: show the stored mask's outline again
            self.refresh()
