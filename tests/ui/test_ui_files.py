"""Files, launching, navigation and engine switching, driven through the real window."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.domain.tracking import Direction
from app.ui.main_window import MainWindow
from app.ui.testing import SlowFakeEngine
from app.ui.worker import EngineSpec
from tests.ui.conftest import N, box_rect, disc_center


def _annotate(qtbot: QtBot, window: MainWindow) -> None:
    session = window.session
    session.add_point(0, *disc_center(0), True)
    session.add_object()
    session.set_box(0, tuple(float(v) for v in box_rect(0)))
    qtbot.waitUntil(lambda: not session.waiting_for_engine and session.project.mask(0, 2) is not None,
                    timeout=20_000)
    assert session.propagate(Direction.FORWARD, target=5)
    qtbot.waitUntil(lambda: not window.tracking.running, timeout=60_000)


def test_drop_a_video_and_recent_files_menu(qtbot: QtBot, slow_window: MainWindow, clip: Path) -> None:
    window = slow_window
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(clip))])
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    window.dropEvent(drop)
    assert window.session.project is not None and "shapes.mp4" in window.windowTitle()
    window.files.fill_recent_menu(window.recent_menu)
    entries = [a.toolTip() for a in window.recent_menu.actions() if a.toolTip()]
    assert entries[0] == str(clip.resolve())
    window.session.close_project()
    window.recent_menu.actions()[0].trigger()  # reopen from the menu
    assert window.session.project is not None


def test_a_foreign_file_with_the_project_name_is_never_overwritten(slow_window: MainWindow,
                                                                   clip: Path) -> None:
    foreign = clip.parent / "shapes.masklet"
    foreign.write_text("my notes, not a project")
    assert slow_window.open_path(clip)
    assert foreign.read_text() == "my notes, not a project"
    assert slow_window.session.project.path.name == "shapes-2.masklet"


def test_every_export_format_and_davis_import_round_trip(qtbot: QtBot, slow_window: MainWindow, clip: Path,
                                                        tmp_path: Path) -> None:
    window = slow_window
    assert window.open_path(clip)
    _annotate(qtbot, window)
    session = window.session
    expected = {f: session.project.masks_on_frame(f) for f in range(6)}
    outputs = {"coco": tmp_path / "a.json", "ytvis": tmp_path / "b.json", "davis": tmp_path / "davis",
               "video": tmp_path / "overlay.mp4", "mots": tmp_path / "mots", "yolo": tmp_path / "yolo",
               "sav": tmp_path / "sav"}
    for fmt, out in outputs.items():
        task = window.files.export(fmt, out)
        qtbot.waitUntil(lambda task=task: task.finished, timeout=60_000)
        assert out.exists(), fmt
    ytvis = json.loads(outputs["ytvis"].read_text())
    assert len(ytvis["annotations"]) == 2
    # Wipe the masks of frames 0..5 (delete + undo-less re-add), then import the DAVIS export back.
    for frame in range(6):
        session.project.set_frame_masks(frame, {1: None, 2: None})
    assert session.mask_frames[1] == set()
    task = window.files.import_("davis", outputs["davis"])
    qtbot.waitUntil(lambda: task.finished, timeout=60_000)
    assert not window.errors, window.errors
    for frame, masks in expected.items():
        for obj_id, mask in masks.items():
            assert np.array_equal(session.project.mask(frame, obj_id), mask)
    qtbot.waitUntil(lambda: session.mask_frames[1] == set(range(6)), timeout=5_000)


def test_switching_the_engine_refeeds_it_from_the_project(qtbot: QtBot, slow_window: MainWindow,
                                                          clip: Path) -> None:
    window = slow_window
    assert window.open_path(clip)
    session = window.session
    session.add_point(0, *disc_center(0), True)
    qtbot.waitUntil(lambda: session.project.mask(0, 1) is not None, timeout=20_000)
    second = SlowFakeEngine(delay_s=0.0, radius=5)
    window.tracking.worker._factory = lambda spec: second
    with qtbot.waitSignal(window.tracking.engine_ready, timeout=20_000):
        window.load_engine(EngineSpec(None, None, "cpu"))
    assert session.propagate(Direction.FORWARD, target=3)
    qtbot.waitUntil(lambda: not window.tracking.running, timeout=20_000)
    # The new engine never saw a click: it got the prompt from the Project (its 5 px disc).
    assert second.frames_computed == 4
    area = int(session.project.mask(3, 1).sum())
    assert 0 < area < 150


def test_navigation_keys_playback_and_zoom(qtbot: QtBot, slow_window: MainWindow, clip: Path) -> None:
    window = slow_window
    assert window.open_path(clip)
    viewer = window.viewer
    QTest.keyClick(window, Qt.Key.Key_Right)
    assert viewer.frame == 1
    QTest.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert viewer.frame == 11
    QTest.keyClick(window, Qt.Key.Key_End)
    assert viewer.frame == N - 1 and window.timeline.spin.value() == N - 1
    QTest.keyClick(window, Qt.Key.Key_Home)
    assert viewer.frame == 0
    window.timeline.slider.setValue(7)
    assert viewer.frame == 7
    window.actions["play"].trigger()
    qtbot.waitUntil(lambda: viewer.frame >= 10, timeout=5_000)
    window.actions["play"].trigger()
    stopped = viewer.frame
    qtbot.wait(200)
    assert viewer.frame == stopped
    # Tap Space on the canvas: play; again: pause.
    window.canvas.setFocus()
    QTest.keyClick(window.canvas, Qt.Key.Key_Space)
    assert window.timeline.playing
    QTest.keyClick(window.canvas, Qt.Key.Key_Space)
    assert not window.timeline.playing
    canvas = window.canvas
    window.actions["zoom_100"].trigger()
    assert canvas.zoom() == 1.0
    center = QPointF(canvas.viewport().width() / 2, canvas.viewport().height() / 2)
    wheel = QWheelEvent(center, canvas.mapToGlobal(center.toPoint()).toPointF(), QPoint(), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)
    canvas.wheelEvent(wheel)
    assert abs(canvas.zoom() - 1.44) < 1e-6
    window.actions["zoom_fit"].trigger()
    rect = canvas.mapFromScene(canvas.sceneRect()).boundingRect()
    assert rect.width() <= canvas.viewport().width() + 2 and rect.height() <= canvas.viewport().height() + 2


def _close_when_a_project_is_open(read: Callable[[MainWindow], str]) -> dict[str, str]:
    """Once run_gui's window has a project open, store read(window) under "value" and close it."""
    seen: dict[str, str] = {}

    def inspect_and_close() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not windows or windows[0].session.project is None:
            QTimer.singleShot(50, inspect_and_close)
            return
        seen["value"] = read(windows[0])
        windows[0].close()

    QTimer.singleShot(50, inspect_and_close)
    return seen


def test_run_gui_opens_the_path_given_on_the_command_line(qtbot: QtBot, clip: Path) -> None:
    from app.ui import launch

    seen = _close_when_a_project_is_open(lambda window: window.windowTitle())
    assert launch.run_gui(str(clip), device="cpu") == 0
    assert "shapes.mp4" in seen["value"]


def test_a_moved_video_is_asked_for_and_the_project_reopens(qtbot: QtBot, slow_window: MainWindow, clip: Path,
                                                            tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from app.ui import dialogs

    window = slow_window
    assert window.open_path(clip)
    window.session.add_point(0, *disc_center(0), True)
    qtbot.waitUntil(lambda: window.session.project.mask(0, 1) is not None, timeout=20_000)
    project_path = window.session.project.path
    window.session.close_project()
    moved = tmp_path / "elsewhere" / "renamed.mp4"
    moved.parent.mkdir()
    clip.rename(moved)
    asked: list[str] = []
    monkeypatch.setattr(dialogs, "locate_video",
                        lambda parent, p, expected: asked.append(expected) or str(moved))
    window.open_path(project_path)
    assert asked == [str(clip.resolve())]
    assert window.session.project is not None and window.session.project.video_path == moved.resolve()
    assert window.session.project.mask(0, 1) is not None


def test_without_a_writable_place_work_stays_in_memory_and_is_not_dropped_silently(
        qtbot: QtBot, slow_window: MainWindow, clip: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from app.ui import dialogs, project_files

    window = slow_window
    monkeypatch.setattr(project_files, "candidate_paths", lambda video: [])
    assert window.open_path(clip)
    session = window.session
    assert session.project.path is None and "not saved" in window.windowTitle()
    session.add_point(0, *disc_center(0), True)
    qtbot.waitUntil(lambda: session.project.mask(0, 1) is not None, timeout=20_000)
    monkeypatch.setattr(dialogs, "ask_unsaved", lambda parent: "cancel")
    window.close()
    assert window.isVisible() and session.project is not None  # closing was refused, nothing lost
    assert session.save_as(tmp_path / "kept.masklet")
    assert "kept.masklet" in window.windowTitle()
    window.close()
    assert not window.isVisible()


def test_closing_during_propagation_stops_it_and_keeps_the_frames(qtbot: QtBot, slow_window: MainWindow,
                                                                  clip: Path) -> None:
    from app.domain.project import Project

    window = slow_window
    assert window.open_path(clip)
    session = window.session
    path = session.project.path
    session.add_point(0, *disc_center(0), True)
    qtbot.waitUntil(lambda: session.project.mask(0, 1) is not None, timeout=20_000)
    assert session.propagate(Direction.FORWARD)
    qtbot.waitUntil(lambda: len(session.mask_frames[1]) >= 4, timeout=20_000)
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=20_000)
    with Project.open(path) as reopened:
        kept = reopened.frames_with_masks(1)
    assert 4 <= len(kept) < N


def test_first_launch_without_a_path_opens_the_bundled_sample(qtbot: QtBot, tmp_path: Path,
                                                               monkeypatch) -> None:  # noqa: ANN001
    import shutil

    import app.resources
    from app.ui import launch

    sample = tmp_path / "sample.mp4"  # a copy, so the project made beside it stays out of the checkout
    shutil.copy(app.resources.sample_video_path(), sample)
    monkeypatch.setattr(app.resources, "sample_video_path", lambda: sample)
    seen = _close_when_a_project_is_open(lambda window: str(window.session.project.video_path))
    assert launch.run_gui(None) == 0
    assert seen["value"] == str(sample)


def test_closing_during_an_export_stops_it_before_the_project_closes(qtbot: QtBot, slow_window: MainWindow,
                                                                    clip: Path, monkeypatch) -> None:
    """An export or import reads and writes the project from its own thread: the window closed the
    project's database under it (the task then failed on a closed database, an import half done)."""
    from app.ui import files
    from tests.ui.conftest import slow_project_task

    seen: list[str] = []

    monkeypatch.setattr(files, "export_with_report", slow_project_task(seen))
    window = slow_window
    assert window.open_path(clip)
    task = window.files.export("coco", clip.parent / "out.json")
    qtbot.wait(200)
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=20_000)
    assert task.wait(5_000)
    assert seen == ["cancelled"]
