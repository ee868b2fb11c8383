"""Showing that the app is busy for the user: a busy cursor on the canvas and a note in the status bar
while a click or box waits for its mask (the first prompt on a frame runs the image encoder: seconds on
a CPU), both cleared when the answer, or an error, comes."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QAbstractScrollArea

from app.ui.statusbar import StatusPanel

WAITING_NOTE = "Computing the mask… (the first prompt on a frame encodes it first)"


class BusyIndicator(QObject):
    """Drive it with :meth:`set_waiting` (the prompt editor's ``waiting_changed``)."""

    def __init__(self, view: QAbstractScrollArea, status: StatusPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.status = status
        self._before: Qt.CursorShape | None = None  # the view's cursor while it shows the busy one

    @property
    def busy(self) -> bool:
        return self._before is not None

    @Slot(bool)
    def set_waiting(self, waiting: bool) -> None:
        viewport = self.view.viewport()
        if waiting and self._before is None:
            self._before = viewport.cursor().shape()
            # BusyCursor (arrow and hourglass), not WaitCursor: the window stays usable meanwhile.
            viewport.setCursor(Qt.CursorShape.BusyCursor)
            self.status.set_note(WAITING_NOTE)
        elif not waiting and self._before is not None:
            # The canvas may have set its own cursor meanwhile (another tool): that one stays.
            if viewport.cursor().shape() == Qt.CursorShape.BusyCursor:
                viewport.setCursor(self._before)
            self._before = None
            self.status.set_note("")
