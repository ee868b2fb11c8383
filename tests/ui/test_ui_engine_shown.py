"""The engine dialog and the status bar show the engine actually in use (issue 17, item 7).

Before: with a SAM model chosen on the command line (``masklet --model NAME --random-weights``) the
dialog opened on "Classical", so OK without a change swapped the model out; a model that failed to load
left the status bar at "none" with no engine at all; a failed switch left the dialog on the failed file.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox
from pytestqt.qtbot import QtBot

from app.ui import dialogs
from app.ui.main_window import MainWindow
from app.ui.worker import EngineSpec
from sam3core.classical import ClassicalEngine
from sam3core.engine import Engine
from tests.tiny_engines import tiny_sam
from tests.ui.conftest import close_window

TINY = "sam2.1_hiera_tiny"


def _window(qtbot: QtBot, spec: EngineSpec, factory: Callable[[EngineSpec], Engine]) -> MainWindow:
    window = MainWindow(engine=spec, engine_factory=factory)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(window.tracking.engine_name) and not window.tracking.engine_loading,
                    timeout=60_000)
    return window


def _open_engine_dialog(qtbot: QtBot, window: MainWindow, inspect: Callable[[dialogs.EngineDialog], None],
                        button: QDialogButtonBox.StandardButton) -> None:
    """Ctrl+M opens the (modal) dialog; ``inspect`` sees it, then a real click on ``button`` closes it."""
    seen: list[bool] = []

    def act() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, dialogs.EngineDialog):
            QTimer.singleShot(50, act)
            return
        try:
            inspect(dialog)
        finally:
            seen.append(True)
            box = dialog.findChild(QDialogButtonBox)
            QTest.mouseClick(box.button(button), Qt.MouseButton.LeftButton)

    for box in window.findChildren(QMessageBox):  # an error shown earlier is window-modal: read it, close it
        if box.isVisible():
            QTest.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: QApplication.activeModalWidget() is None, timeout=5000)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    QTimer.singleShot(50, act)
    QTest.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)


def test_a_sam_model_from_the_command_line_is_what_the_dialog_and_status_bar_show(qtbot: QtBot) -> None:
    built: list[EngineSpec] = []

    def factory(spec: EngineSpec) -> Engine:
        built.append(spec)
        return tiny_sam() if spec.name == TINY else ClassicalEngine()

    # What `masklet --model sam2.1_hiera_tiny --random-weights` hands the window (app/ui/launch.py).
    window = _window(qtbot, EngineSpec(TINY, None, "cpu", True), factory)
    try:
        assert TINY in window.status.engine.text() and "classical" not in window.status.engine.text()
        assert window.status.device.text() == "Device: cpu"
        shown: dict[str, object] = {}

        def inspect(dialog: dialogs.EngineDialog) -> None:
            shown.update(sam=dialog.sam.isChecked(), classical=dialog.classical.isChecked(),
                         detected=dialog.detected_label.text())
            shown.update(in_use=dialog.in_use_label.text())

        _open_engine_dialog(qtbot, window, inspect, QDialogButtonBox.StandardButton.Ok)
        assert shown["sam"] and not shown["classical"], shown
        assert TINY in str(shown["in_use"]) and "cpu" in str(shown["in_use"])
        assert "random weights" in str(shown["detected"])
        # OK without a change keeps the model in use (before: it loaded the classical engine).
        qtbot.waitUntil(lambda: len(built) == 2 and not window.tracking.engine_loading, timeout=60_000)
        assert built[-1].name == TINY and built[-1].random_weights
        assert TINY in window.status.engine.text()
    finally:
        close_window(qtbot, window)


def test_a_model_that_fails_to_load_falls_back_to_classical_and_says_so(qtbot: QtBot) -> None:
    def factory(spec: EngineSpec) -> Engine:
        if spec.name or spec.checkpoint:
            raise RuntimeError("no weights here")
        return ClassicalEngine()

    window = _window(qtbot, EngineSpec(TINY, None, "cpu"), factory)
    try:
        assert window.tracking.engine_name == "classical"
        assert window.status.engine.text() == "Engine: classical (no model weights)"
        assert window.errors and window.errors[0][0] == "Cannot load the engine"
        shown: dict[str, bool] = {}
        _open_engine_dialog(qtbot, window, lambda d: shown.update(classical=d.classical.isChecked()),
                            QDialogButtonBox.StandardButton.Cancel)
        assert shown == {"classical": True}
    finally:
        close_window(qtbot, window)


def test_a_failed_switch_leaves_the_dialog_on_the_engine_still_in_use(qtbot: QtBot, tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")

    def factory(spec: EngineSpec) -> Engine:
        if spec.checkpoint:
            raise RuntimeError("cannot read it")
        return ClassicalEngine()

    window = _window(qtbot, EngineSpec(None, None, "cpu"), factory)
    try:
        window.load_engine(EngineSpec(None, str(bad), "cpu"))
        qtbot.waitUntil(lambda: bool(window.errors) and not window.tracking.engine_loading, timeout=20_000)
        assert window.status.engine.text() == "Engine: classical (no model weights)"
        shown: dict[str, object] = {}
        _open_engine_dialog(qtbot, window, lambda d: shown.update(classical=d.classical.isChecked(),
                                                                  path=d.path_edit.text()),
                            QDialogButtonBox.StandardButton.Cancel)
        assert shown == {"classical": True, "path": ""}
    finally:
        close_window(qtbot, window)


@pytest.fixture(autouse=True)
def _no_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dialog lists the models folder; the isolated home has none (nothing to load from disk)."""
    monkeypatch.setattr(dialogs, "remembered_checkpoints", lambda: {})
