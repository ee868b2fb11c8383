"""QUndoCommand around the domain's Qt-free commands (app/domain/commands.py).

The domain command is run *before* it is pushed, so a failing edit (full disk, deleted object) is
reported and never lands on the stack; QUndoStack's automatic first redo is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtGui import QUndoCommand

from app.domain.commands import Command
from app.domain.project import Project

log = logging.getLogger(__name__)

ErrorSink = Callable[[str, str], None]


class DomainCommand(QUndoCommand):
    """``active`` is True while the edit is applied (after do/redo, until undo)."""

    def __init__(self, project: Project, command: Command, on_error: ErrorSink) -> None:
        super().__init__(command.text)
        self.project = project
        self.command = command
        self.active = False
        self._on_error = on_error
        self._skip_first_redo = True

    def apply_first(self) -> bool:
        """Run the edit once; False (and nothing pushed) when it fails."""
        try:
            self.command.do(self.project)
        except Exception as exc:
            log.exception("edit failed: %s", self.command.text)
            self._on_error(f"Could not {self.command.text.lower()}", str(exc))
            return False
        self.active = True
        return True

    def redo(self) -> None:
        if self._skip_first_redo:
            self._skip_first_redo = False
            return
        # Exceptions must not escape into Qt (they would be printed and the stack left inconsistent).
        try:
            self.command.do(self.project)
            self.active = True
        except Exception as exc:
            log.exception("redo failed: %s", self.command.text)
            self._on_error(f"Could not redo {self.command.text.lower()}", str(exc))

    def undo(self) -> None:
        try:
            self.command.undo(self.project)
            self.active = False
        except Exception as exc:
            log.exception("undo failed: %s", self.command.text)
            self._on_error(f"Could not undo {self.command.text.lower()}", str(exc))
