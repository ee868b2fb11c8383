"""The objects panel: list of objects (colour, name, category, visibility) and an editor for the active one.

It only emits requests; the session controller performs them (undoably) and calls :meth:`set_objects`.
"""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.model import ObjectInfo

DEFAULT_CATEGORIES = ("object", "person", "animal", "vehicle", "background")
# The panel's width does not follow its texts (long names, the hint below the list): a dock that
# widens when an object is added would shrink and re-fit the canvas between two clicks.
PANEL_WIDTH = 270
PANEL_MIN_WIDTH = 200


def swatch(color: str, size: int = 14) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(color))
    painter.setPen(QColor("#202020"))
    painter.drawRoundedRect(1, 1, size - 2, size - 2, 3, 3)
    painter.end()
    return QIcon(pixmap)


class ObjectsPanel(QWidget):
    add_requested = Signal()
    delete_requested = Signal(int)
    selected = Signal(int)
    rename_requested = Signal(int, str)
    category_requested = Signal(int, str)
    color_requested = Signal(int, str)
    hidden_requested = Signal(int, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._objects: list[ObjectInfo] = []
        self._active = 0
        self._editing = 0
        self.list = QListWidget(self)
        self.list.setIconSize(self.list.iconSize().expandedTo(self.list.iconSize()))
        self.list.currentItemChanged.connect(self._on_current)
        self.list.itemChanged.connect(self._on_item_changed)
        self.list.setToolTip("Keys 1–9 select an object; the checkbox shows or hides its masks")

        self.add_button = QPushButton(qta.icon("mdi6.plus-box"), "New object", self)
        self.add_button.setToolTip("Add an object (N); it receives the next clicks")
        self.add_button.clicked.connect(self.add_requested)
        self.delete_button = QToolButton(self)
        self.delete_button.setIcon(qta.icon("mdi6.delete"))
        self.delete_button.setToolTip("Delete the active object and all its masks")
        self.delete_button.clicked.connect(lambda: self._active and self.delete_requested.emit(self._active))
        self.color_button = QToolButton(self)
        self.color_button.setToolTip("Change the colour")
        self.color_button.clicked.connect(self._pick_color)

        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText("name")
        self.name_edit.editingFinished.connect(self._commit_name)
        self.category_box = QComboBox(self)
        self.category_box.setEditable(True)
        self.category_box.addItems(DEFAULT_CATEGORIES)
        self.category_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.category_box.setMinimumContentsLength(8)
        self.category_box.lineEdit().editingFinished.connect(self._commit_category)
        self.category_box.activated.connect(lambda _: self._commit_category())
        self.info_label = QLabel(self)
        self.info_label.setStyleSheet("color: gray")
        self.info_label.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setMinimumWidth(PANEL_MIN_WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button, 1)
        buttons.addWidget(self.color_button)
        buttons.addWidget(self.delete_button)
        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Category", self.category_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.list, 1)
        layout.addLayout(form)
        layout.addWidget(self.info_label)
        self._update_editor()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override): the same whatever the texts say
        return QSize(PANEL_WIDTH, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(PANEL_MIN_WIDTH, super().minimumSizeHint().height())

    # -- input from the controller ------------------------------------------------------------
    def set_objects(self, objects: list[ObjectInfo], active: int, frame_counts: dict[int, int]) -> None:
        self._objects = list(objects)
        self._active = active
        blocker = QSignalBlocker(self.list)
        self.list.clear()
        for index, info in enumerate(objects):
            key = f"{index + 1}  " if index < 9 else "   "
            count = frame_counts.get(info.id, 0)
            item = QListWidgetItem(swatch(info.color), f"{key}{info.name}  ·  {info.category}  ·  {count} fr")
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if info.hidden else Qt.CheckState.Checked)
            item.setToolTip(f"id {info.id}" + (" (hidden)" if info.hidden else ""))
            if info.hidden:
                item.setForeground(QColor("gray"))
            self.list.addItem(item)
            if info.id == active:
                self.list.setCurrentItem(item)
        del blocker
        for info in objects:
            if self.category_box.findText(info.category) < 0:
                self.category_box.addItem(info.category)
        self._update_editor()

    def set_active(self, obj_id: int) -> None:
        self._active = obj_id
        blocker = QSignalBlocker(self.list)
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == obj_id:
                self.list.setCurrentItem(item)
        del blocker
        self._update_editor()

    def object_at(self, index: int) -> int:
        """Id of the ``index``-th listed object (0-based) or 0."""
        return self._objects[index].id if 0 <= index < len(self._objects) else 0

    # -- editor -------------------------------------------------------------------------------
    def _active_info(self) -> ObjectInfo | None:
        return next((o for o in self._objects if o.id == self._active), None)

    def _update_editor(self) -> None:
        info = self._active_info()
        enabled = info is not None
        for widget in (self.name_edit, self.category_box, self.color_button, self.delete_button):
            widget.setEnabled(enabled)
        with QSignalBlocker(self.name_edit), QSignalBlocker(self.category_box):
            # Never overwrite what the user is typing (the list refreshes while a propagation runs).
            if not self.name_edit.hasFocus() or info is None or self._editing != info.id:
                self.name_edit.setText(info.name if info else "")
            if not self.category_box.hasFocus() or info is None or self._editing != info.id:
                self.category_box.setEditText(info.category if info else "")
        self._editing = info.id if info else 0
        self.color_button.setIcon(swatch(info.color) if info else qta.icon("mdi6.palette"))
        if info is None:
            self.info_label.setText("No object yet: click on the frame to start one")
        else:
            self.info_label.setText(f"Active: id {info.id} — clicks and brush go to this object")

    def _on_current(self, current: QListWidgetItem | None, _previous: object = None) -> None:
        if current is not None:
            obj_id = int(current.data(Qt.ItemDataRole.UserRole))
            self._active = obj_id
            self._update_editor()
            self.selected.emit(obj_id)

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        obj_id = int(item.data(Qt.ItemDataRole.UserRole))
        hidden = item.checkState() != Qt.CheckState.Checked
        info = next((o for o in self._objects if o.id == obj_id), None)
        if info is not None and info.hidden != hidden:
            self.hidden_requested.emit(obj_id, hidden)

    def _commit_name(self) -> None:
        info = self._active_info()
        name = self.name_edit.text().strip()
        if info is not None and name and name != info.name:
            self.rename_requested.emit(info.id, name)

    def _commit_category(self) -> None:
        info = self._active_info()
        category = self.category_box.currentText().strip()
        if info is not None and category and category != info.category:
            self.category_requested.emit(info.id, category)

    def _pick_color(self) -> None:
        info = self._active_info()
        if info is None:
            return
        color = QColorDialog.getColor(QColor(info.color), self, f"Colour of {info.name}")
        if color.isValid():
            self.color_requested.emit(info.id, color.name())
