"""The Review dock: "N of M frames reviewed" per object and for the project, the review-mode controls,
the doubt threshold, and the sortable list of doubtful frames. It only shows data and emits requests."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.model import ObjectInfo
from app.ui.quality_model import Doubt, ReviewCount

# The list shows the least confident frames first; past this many rows it says how many more there are.
MAX_DOUBT_ROWS = 2000


def _item(value: object) -> QTableWidgetItem:
    """A read-only cell; numbers sort numerically."""
    item = QTableWidgetItem()
    item.setData(Qt.ItemDataRole.DisplayRole, value)
    item.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
    return item


class _SortItem(QTableWidgetItem):
    """Sorts by the UserRole value when the shown text is not the value (e.g. "0.42 (doubtful)")."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine, theirs = self.data(Qt.ItemDataRole.UserRole), other.data(Qt.ItemDataRole.UserRole)
        if mine is not None and theirs is not None:
            return mine < theirs
        return super().__lt__(other)


def _table(headers: list[str], parent: QWidget) -> QTableWidget:
    table = QTableWidget(0, len(headers), parent)
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(20)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


class ReviewPanel(QWidget):
    frame_requested = Signal(int)
    object_requested = Signal(int)
    threshold_changed = Signal(float)
    doubtful_only_changed = Signal(bool)

    def __init__(self, actions: dict[str, QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("No project", self)
        self.summary.setWordWrap(True)
        self.mode_label = QLabel("", self)
        self.mode_label.setWordWrap(True)
        self.mode_label.setStyleSheet("color: #2ecc40; font-weight: bold")
        buttons = QHBoxLayout()
        for name in ("review_mode", "review_accept", "review_accept_object", "review_clear"):
            button = QToolButton(self)
            button.setDefaultAction(actions[name])
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.doubtful_only = QCheckBox("Review only doubtful frames", self)
        self.doubtful_only.setToolTip("Accepting moves on to the next unreviewed frame; with this, to the "
                                      "next unreviewed doubtful one")
        self.doubtful_only.toggled.connect(self.doubtful_only_changed)
        self.threshold = QDoubleSpinBox(self)
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setToolTip("Frames whose engine confidence is below this are doubtful")
        self.threshold.valueChanged.connect(self.threshold_changed)
        row = QHBoxLayout()
        row.addWidget(QLabel("Doubtful below", self))
        row.addWidget(self.threshold)
        row.addStretch(1)
        self.objects_table = _table(["Object", "Reviewed", "Doubtful", "Changed"], self)
        self.objects_table.setToolTip("Changed: reviewed masks that changed since their review")
        self.objects_table.cellClicked.connect(self._object_clicked)
        self.doubts_table = _table(["Frame", "Object", "Confidence", "Source", "Reviewed"], self)
        # least confident first until the user clicks another column's header
        self.doubts_table.horizontalHeader().setSortIndicator(2, Qt.SortOrder.AscendingOrder)
        self.doubts_table.setSortingEnabled(True)
        self.doubts_table.cellClicked.connect(self._doubt_clicked)
        self.doubts_table.cellActivated.connect(self._doubt_clicked)
        self.doubts_note = QLabel("", self)
        self.doubts_note.setStyleSheet("color: gray")
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.objects_table)
        lower = QWidget(split)
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(QLabel("Doubtful frames (click to go there)", lower))
        lower_layout.addWidget(self.doubts_table, 1)
        lower_layout.addWidget(self.doubts_note)
        split.addWidget(lower)
        split.setSizes([120, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addLayout(buttons)
        layout.addWidget(self.mode_label)
        layout.addWidget(self.doubtful_only)
        layout.addLayout(row)
        layout.addWidget(split, 1)
        self._object_ids: list[int] = []

    # -- input --------------------------------------------------------------------------------
    def set_threshold(self, value: float) -> None:
        with QSignalBlocker(self.threshold):
            self.threshold.setValue(value)

    def set_mode_text(self, text: str) -> None:
        self.mode_label.setText(text)
        self.mode_label.setVisible(bool(text))

    def set_counts(self, objects: list[ObjectInfo], counts: dict[int, ReviewCount],
                   frames: tuple[int, int]) -> None:
        """Per object, and ``frames`` = (fully reviewed frames, frames with masks) for the project."""
        reviewed, masked = frames
        doubtful = sum(c.doubtful for c in counts.values())
        stale = sum(c.stale for c in counts.values())
        pct = f" ({100.0 * reviewed / masked:.0f} %)" if masked else ""
        self.summary.setText(f"<b>Project: {reviewed} of {masked} frames reviewed</b>{pct}"
                             f" · {doubtful} doubtful"
                             + (f" · {stale} changed since review" if stale else ""))
        self.objects_table.setRowCount(len(objects))
        self._object_ids = [o.id for o in objects]
        for r, obj in enumerate(objects):
            c = counts.get(obj.id, ReviewCount(obj.id, 0, 0, 0, 0))
            self.objects_table.setItem(r, 0, _item(f"{obj.id}  {obj.name}"))
            self.objects_table.setItem(r, 1, _item(f"{c.reviewed} of {c.masked}"))
            self.objects_table.setItem(r, 2, _item(c.doubtful))
            self.objects_table.setItem(r, 3, _item(c.stale))

    def set_doubts(self, doubts: list[Doubt], total: int, names: dict[int, str]) -> None:
        """``doubts``: the least confident (at most MAX_DOUBT_ROWS) of ``total`` doubtful masks."""
        table = self.doubts_table
        table.setSortingEnabled(False)
        shown = doubts[:MAX_DOUBT_ROWS]
        table.setRowCount(len(shown))
        for r, d in enumerate(shown):
            conf = _SortItem()
            conf.setData(Qt.ItemDataRole.DisplayRole, f"{d.confidence:.3f}")
            conf.setData(Qt.ItemDataRole.UserRole, d.confidence)
            conf.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
            frame = _item(d.frame)
            frame.setData(Qt.ItemDataRole.UserRole + 1, d.obj_id)
            table.setItem(r, 0, frame)
            table.setItem(r, 1, _item(f"{d.obj_id}  {names.get(d.obj_id, '')}"))
            table.setItem(r, 2, conf)
            table.setItem(r, 3, _item(d.kind))
            table.setItem(r, 4, _item("yes" if d.reviewed else ""))
        table.setSortingEnabled(True)
        more = total - len(shown)
        self.doubts_note.setText(f"{more} more not listed (least confident first)" if more > 0 else
                                 ("" if doubts else "No doubtful frames at this threshold"))

    # -- output -------------------------------------------------------------------------------
    def _doubt_clicked(self, row: int, _column: int) -> None:
        item = self.doubts_table.item(row, 0)
        if item is None:
            return
        self.object_requested.emit(int(item.data(Qt.ItemDataRole.UserRole + 1)))
        self.frame_requested.emit(int(item.data(Qt.ItemDataRole.DisplayRole)))

    def _object_clicked(self, row: int, _column: int) -> None:
        if 0 <= row < len(self._object_ids):
            self.object_requested.emit(self._object_ids[row])
