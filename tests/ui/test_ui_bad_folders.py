"""A frame folder the reader refuses: a dialog naming the file, never a traceback (issue 13: 10)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow
from sam3core.video import write_video
from tests.hostile import digest


def _frame(i: int, height: int = 96, width: int = 128) -> np.ndarray:
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:, : 8 * (i + 1)] = (200, 80, 40)
    return frame


def test_a_mixed_size_frame_folder_is_refused_with_the_file_named(qtbot: QtBot, window: MainWindow,
                                                                   clip: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    write_video(folder, [_frame(i) for i in range(3)])
    Image.fromarray(_frame(3, 80, 100)).save(folder / "00003.jpg")
    before = digest(folder)
    projects_before = sorted(tmp_path.rglob("*.masklet*"))
    assert not window.open_path(folder)
    title, text = window.errors[-1]
    assert "00003.jpg" in text and "differ in size" in text and "Traceback" not in text
    assert window.session.project is None
    assert digest(folder) == before
    assert sorted(tmp_path.rglob("*.masklet*")) == projects_before  # no project beside the folder or in it
    assert window.open_path(clip)  # the app stays usable
