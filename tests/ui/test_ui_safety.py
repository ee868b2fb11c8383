"""The window's side of issue 13: a project written elsewhere opens read-only on request, read-only mode
refuses edits with its reason, File ▸ Save a copy…, prompts checked before they are stored."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from app.domain.lock import lock_path
from app.domain.project import Project
from app.ui.main_window import MainWindow
from app.ui.testing import SlowFakeEngine
from tests.hostile import ROOT, cli_env
from tests.ui.conftest import H, W, close_window, disc_center, make_window

HOLDER = """
import sys, time
sys.path.insert(0, sys.argv[2])
from app.domain.lock import set_program_name
from app.domain.project import Project
set_program_name("masklet track")
project = Project.open(sys.argv[1])
print("holding", flush=True)
time.sleep(120)
"""


def _project_of(clip: Path) -> Path:
    path = clip.with_suffix(".masklet")
    with Project.create(path, clip) as project:
        project.add_object("kept")
        mask = np.zeros((H, W), bool)
        mask[10:40, 10:40] = True
        project.set_mask(2, 1, mask)
    return path


def test_a_project_another_program_writes_opens_read_only_on_request(
        qtbot: QtBot, slow_window: MainWindow, clip: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    path = _project_of(clip)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(ROOT)], env=cli_env(),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        asked: list[str] = []

        def answer(parent, title, text, *args):  # noqa: ANN001, ANN002, ANN202
            asked.append(text)
            return QMessageBox.StandardButton.Open

        monkeypatch.setattr(QMessageBox, "question", answer)
        window = slow_window
        assert window.open_path(clip) is False  # the video's project is busy: no second project beside it
        assert len(asked) == 1 and f"masklet track (pid {holder.pid}" in asked[0]
        session = window.session
        assert session.project is not None and session.project.read_only
        assert "[read-only]" in window.windowTitle()
        assert f"being written by masklet track (pid {holder.pid}" in session.autosave_note
        assert [p.name for p in clip.parent.glob("*.masklet")] == ["shapes.masklet"]
        session.add_point(0, *disc_center(0), True)
        assert session.project.prompts() == [] and session.objects[0].name == "kept"
        out = tmp_path / "exported.json"
        task = window.files.export("coco", out)
        qtbot.waitUntil(lambda: task.finished, timeout=30_000)
        assert out.exists()
        window.session.close_project()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    # Its lock left behind by the killed holder is recovered on the next open, for writing.
    assert lock_path(path).exists()
    assert window.open_path(path) and not window.session.project.read_only


def test_two_windows_of_one_process_never_write_one_project(qtbot: QtBot, slow_window: MainWindow, clip: Path,
                                                            monkeypatch) -> None:  # noqa: ANN001
    assert slow_window.open_path(clip)
    path = slow_window.session.project.path
    assert slow_window.open_path(path)  # the window's own project: simply kept
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Cancel)
    second = make_window(qtbot, lambda spec: SlowFakeEngine(delay_s=0.0))
    try:
        assert not second.open_path(path)  # refused (the user declined read-only): nothing opened
        assert second.session.project is None
    finally:
        close_window(qtbot, second)


def test_save_a_copy_while_working(qtbot: QtBot, slow_window: MainWindow, clip: Path, tmp_path: Path,
                                   monkeypatch) -> None:  # noqa: ANN001
    window = slow_window
    assert window.open_path(clip)
    session = window.session
    session.add_point(0, *disc_center(0), True)
    qtbot.waitUntil(lambda: session.project.mask(0, 1) is not None, timeout=20_000)
    copy = tmp_path / "backup.masklet"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(copy), ""))
    window.actions["save_copy"].trigger()
    assert copy.exists() and not Path(f"{copy}-wal").exists()
    with Project.open(copy) as snapshot:
        assert snapshot.mask(0, 1) is not None and snapshot.prompts()
    assert session.project.path == clip.with_suffix(".masklet").resolve()  # still working in the original


def test_clicks_off_the_frame_are_refused_and_boxes_clipped(qtbot: QtBot, slow_window: MainWindow,
                                                            clip: Path) -> None:
    window = slow_window
    assert window.open_path(clip)
    session = window.session
    session.add_point(0, W + 5, 10, True)
    session.add_point(0, float("nan"), 10, True)
    assert session.project.prompts() == []
    session.set_box(0, (-30.0, -10.0, 60.0, 50.0))
    deadline = time.monotonic() + 20
    while not session.project.prompts() and time.monotonic() < deadline:
        qtbot.wait(20)
    assert session.project.prompts()[0].box == (0.0, 0.0, 60.0, 50.0)


def test_a_sam_model_without_its_checkpoint_is_refused_with_where_to_get_one(qtbot: QtBot) -> None:
    from app.ui.worker import EngineSpec

    window = MainWindow(engine=EngineSpec("sam2.1_hiera_tiny", None, "cpu"))
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: bool(window.errors), timeout=30_000)
        title, text = window.errors[0]
        assert title == "Cannot load the engine" and "needs its checkpoint file" in text
        assert "Engine and model… ▸ Download" in text and window.tracking.engine_name != "sam2.1_hiera_tiny"
    finally:
        close_window(qtbot, window)
