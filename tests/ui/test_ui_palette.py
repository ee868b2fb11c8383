"""Objects made in the window with the N key get colours that stay apart on screen (issue 17, item 10)."""

from __future__ import annotations

import itertools
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow
from tests.colour_metrics import difference
from tests.test_palette import MIN_FIRST_CVD, MIN_FIRST_SHOWN, shown, worst_cvd


def test_four_new_objects_are_told_apart_on_screen(qtbot: QtBot, window: MainWindow, clip: Path) -> None:
    assert window.open_path(clip)
    for _ in range(4):
        QTest.keyClick(window, Qt.Key.Key_N)
    objects = window.session.objects
    assert [o.id for o in objects] == [1, 2, 3, 4]
    colours = {o.id: shown(o.color) for o in objects}
    for a, b in itertools.combinations(colours, 2):
        assert difference(colours[a], colours[b]) >= MIN_FIRST_SHOWN, (a, b)
        assert worst_cvd(colours[a], colours[b]) >= MIN_FIRST_CVD, (a, b)
