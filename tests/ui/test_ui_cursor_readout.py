"""The status bar's pointer read-out names the frame on screen, also after a seek under a resting pointer."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow


def test_the_pointer_read_out_follows_the_frame_shown(qtbot: QtBot, window: MainWindow, clip: Path) -> None:
    assert window.open_path(clip)
    window.show()
    qtbot.waitExposed(window)
    viewport = window.canvas.viewport()
    QTest.mouseMove(viewport, QPoint(viewport.width() // 2, viewport.height() // 2))
    qtbot.waitUntil(lambda: "frame 0" in window.status.cursor.text(), timeout=2000)
    window.viewer.user_seek(5)  # keys, playing or the spin box: the pointer does not move
    qtbot.waitUntil(lambda: window.status.cursor.text().endswith("frame 5"), timeout=2000)
