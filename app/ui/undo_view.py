"""Undo and redo that show what they change: the frame is brought on screen and the change flashes.

An edit made on another frame (or a propagation over many) would otherwise be undone out of sight.
:class:`UndoNavigator` looks up the frame the command changes before running it (the domain command's
``where``), moves there, outlines the pixels that changed for ~1 s and says "Undid: … on frame N".
:class:`UndoKeys` lets Ctrl+Z / Ctrl+Shift+Z reach the window's actions while a spin box has focus:
its line edit would otherwise take the keys for undoing its own digits. Text fields that name things
(the objects panel's editors) keep their own undo: the filter is installed on spin boxes only.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QKeyEvent, QKeySequence, QPainterPath, QPen, QUndoCommand
from PySide6.QtWidgets import QAbstractSpinBox, QGraphicsPathItem

from app.ui.session import SessionController
from app.ui.undo import DomainCommand
from app.ui.viewer import FrameViewController

FLASH_MS = 1200


def command_where(command: QUndoCommand | None) -> tuple[int, int | None] | None:
    """The (frame, object) a stack entry changes; a macro ("New object: add point") answers for its
    first child that names a frame."""
    if command is None:
        return None
    if isinstance(command, DomainCommand):
        return command.command.where()
    for k in range(command.childCount()):
        found = command_where(command.child(k))
        if found is not None:
            return found
    return None


def command_frames(command: QUndoCommand | None) -> list[int]:
    """Every frame a stack entry changes, where the command lists them (a propagation)."""
    if isinstance(command, DomainCommand):
        return list(getattr(command.command, "frames", ()))
    return []


def outline_path(mask: np.ndarray) -> QPainterPath:
    """The contours (holes too) of a (H, W) bool mask as a path in video pixels (= scene coordinates)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    path = QPainterPath()
    for contour in contours:
        points = contour.reshape(-1, 2)
        path.moveTo(QPointF(points[0][0] + 0.5, points[0][1] + 0.5))
        for x, y in points[1:]:
            path.lineTo(QPointF(x + 0.5, y + 0.5))
        path.closeSubpath()
    return path


def changed_pixels(before: dict[int, np.ndarray], after: dict[int, np.ndarray],
                   size: tuple[int, int]) -> np.ndarray:
    """Pixels whose mask differs between two states of a frame, over all objects."""
    out = np.zeros(size, bool)
    empty = np.zeros(size, bool)
    for obj_id in set(before) | set(after):
        out |= before.get(obj_id, empty) != after.get(obj_id, empty)
    return out


class UndoNavigator(QObject):
    """Edit ▸ Undo / Redo of the window (see the module docstring)."""

    flashed = Signal(int, object)  # frame, the (H, W) bool pixels outlined

    def __init__(self, session: SessionController, viewer: FrameViewController,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.viewer = viewer
        self.flash_item: QGraphicsPathItem | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FLASH_MS)
        self._timer.timeout.connect(self.clear_flash)

    def undo(self) -> None:
        stack = self.session.undo_stack
        if stack.canUndo() and self.session.idle("undo"):
            self._run(stack.command(stack.index() - 1), stack.undo, "Undid")

    def redo(self) -> None:
        stack = self.session.undo_stack
        if stack.canRedo() and self.session.idle("redo"):
            self._run(stack.command(stack.index()), stack.redo, "Redid")

    def _run(self, command: QUndoCommand | None, act: object, verb: str) -> None:
        project = self.session.project
        where = command_where(command)
        text = command.text() if command is not None else ""
        if project is None or where is None:
            act()  # type: ignore[operator]
            self.session.status.emit(f"{verb}: {text}")
            return
        frames = command_frames(command)
        frame = self.viewer.frame if self.viewer.frame in frames else where[0]
        before = project.masks_on_frame(frame)
        act()  # type: ignore[operator]
        after = project.masks_on_frame(frame)
        if frame != self.viewer.frame:
            self.viewer.user_seek(frame)
        note = f" ({len(frames)} frames, {frames[0]}–{frames[-1]})" if frames else ""
        self.session.status.emit(f"{verb}: {text} on frame {frame}{note}")
        self.flash(frame, changed_pixels(before, after, project.size))

    def flash(self, frame: int, pixels: np.ndarray) -> None:
        """Outline ``pixels`` on the canvas for :data:`FLASH_MS` (nothing when no pixel changed)."""
        self.clear_flash()
        if not pixels.any():
            return
        item = QGraphicsPathItem(outline_path(pixels))
        pen = QPen(QColor("#ffffff"), 3)
        pen.setCosmetic(True)  # the same width at every zoom
        item.setPen(pen)
        item.setZValue(1000)
        self.viewer.canvas.scene().addItem(item)
        self.flash_item = item
        self._timer.start()
        self.flashed.emit(frame, pixels)

    def clear_flash(self) -> None:
        if self.flash_item is not None:
            scene = self.flash_item.scene()
            if scene is not None:
                scene.removeItem(self.flash_item)
            self.flash_item = None


class UndoKeys(QObject):
    """Event filter: the undo/redo keys of ``actions`` are not taken by a spin box's own line edit."""

    def __init__(self, actions: Iterable[QAction], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._actions = list(actions)

    def watch(self, widgets: Iterable[QObject]) -> None:
        for widget in widgets:
            if isinstance(widget, QAbstractSpinBox):
                widget.installEventFilter(self)
                widget.lineEdit().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            pressed = QKeySequence(event.keyCombination())
            exact = QKeySequence.SequenceMatch.ExactMatch
            for action in self._actions:
                if any(pressed.matches(s) == exact for s in action.shortcuts()):
                    event.ignore()  # not the line edit's: the window's shortcut runs
                    return True
        return super().eventFilter(watched, event)
