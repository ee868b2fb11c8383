"""First run without a model (issue 17, item 6): a one-time offer to download SAM 2.1-tiny or go on
with the classical engine, Tracking ▸ Get a model… to come back to it, and download messages that
name menus which exist. The network boundary (``first_run.download``) is replaced where a test needs
a download to progress, fail or succeed; the offline test runs the real download code."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMenu, QWidget
from pytestqt.qtbot import QtBot

from app.models_catalog import ENGINE_MENU_PATH
from app.paths import models_dir
from app.ui import first_run, launch
from app.ui.main_window import MainWindow
from app.ui.worker import EngineSpec
from sam3core.classical import ClassicalEngine
from sam3core.engine import Engine
from tests.tiny_engines import tiny_sam
from tests.ui.conftest import close_window


def _factory(spec: EngineSpec) -> Engine:
    return tiny_sam() if spec.checkpoint else ClassicalEngine()


def _launch(qtbot: QtBot, clip: Path, engine: EngineSpec | None = None) -> MainWindow:
    """What `masklet VIDEO` does (app/ui/launch.py), without the event loop."""
    window = launch.start_window(str(clip), engine, engine_factory=_factory)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.session.project is not None and bool(window.tracking.engine_name),
                    timeout=20_000)
    QTest.qWait(100)  # the queued launch steps (the offer among them) have run
    return window


def _menu_paths(window: MainWindow) -> set[str]:
    """Every "Menu ▸ Item" (and deeper) of the menu bar, as a user reads it."""
    paths: set[str] = set()

    def walk(menu: QMenu, prefix: str) -> None:
        for action in menu.actions():
            text = action.text().replace("&", "").split("\t")[0]
            if action.menu() is not None:
                walk(action.menu(), f"{prefix} ▸ {text}")
            elif text:
                paths.add(f"{prefix} ▸ {text}")

    for action in window.menuBar().actions():
        walk(action.menu(), action.text().replace("&", ""))
    return paths


def _click(widget: QWidget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def _trigger_from_menu(window: MainWindow, path: str) -> None:
    title, item = path.split(" ▸ ")
    menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == title)
    action = next(a for a in menu.actions() if a.text().replace("&", "") == item)
    assert action.isEnabled() and action.isVisible()
    action.trigger()


def test_first_launch_offers_a_model_once_and_the_menu_brings_it_back(qtbot: QtBot, clip: Path) -> None:
    window = _launch(qtbot, clip)
    offer = window.model_offer
    assert offer is not None and offer.isVisible(), "a first run without a model offers one"
    assert "156 MB" in offer.download_button.text() and "classical" in offer.classical_button.text()
    _click(offer.classical_button)
    qtbot.waitUntil(lambda: not offer.isVisible(), timeout=5000)
    assert QSettings().value(first_run.CHOICE_KEY) == "classical"
    assert window.tracking.engine_name == "classical"
    close_window(qtbot, window)

    again = _launch(qtbot, clip)
    assert again.model_offer is None, "choosing no-weights is remembered: no offer on the next launch"
    assert first_run.GET_MODEL_MENU_PATH in _menu_paths(again)
    _trigger_from_menu(again, first_run.GET_MODEL_MENU_PATH)
    assert again.model_offer is not None and again.model_offer.isVisible()
    close_window(qtbot, again)


def test_closing_the_offer_also_counts_and_a_given_engine_or_model_file_skips_it(qtbot: QtBot,
                                                                                 clip: Path) -> None:
    window = _launch(qtbot, clip, EngineSpec(None, None, "cpu"))
    assert window.model_offer is None, "an engine named on the command line is a choice already"
    close_window(qtbot, window)
    window = _launch(qtbot, clip)
    QTest.keyClick(window.model_offer, Qt.Key.Key_Escape)
    assert not window.model_offer.isVisible()
    close_window(qtbot, window)
    window = _launch(qtbot, clip)
    assert window.model_offer is None, "the offer is made once"
    close_window(qtbot, window)
    QSettings().clear()
    models_dir().mkdir(parents=True, exist_ok=True)
    (models_dir() / "mine.pt").write_bytes(b"weights put there by hand")
    window = _launch(qtbot, clip)
    assert window.model_offer is None, "a checkpoint in the models folder is a model already"
    close_window(qtbot, window)


def test_offline_the_error_names_a_menu_path_that_exists(qtbot: QtBot, clip: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the real download code, which fails at once offline
    window = _launch(qtbot, clip)
    offer = window.model_offer
    _click(offer.download_button)
    qtbot.waitUntil(lambda: "HF_HUB_OFFLINE" in offer.status.text(), timeout=10_000)
    message = offer.status.text()
    assert "Engine ▸ Load checkpoint" not in message
    # "Menu ▸ Item": a capitalised menu title, then the item up to " (", "." or the end.
    named = [f"{menu} ▸ {item}" for menu, item in
             re.findall(r"\b([A-Z][a-z]+) ▸ ([^.(▸]+?)(?= \(|\.(?:\s|$)|$)", message)]
    assert ENGINE_MENU_PATH in named, message
    existing = _menu_paths(window)
    assert all(path in existing for path in named), (named, sorted(existing))
    assert offer.download_button.isVisible() and offer.classical_button.isEnabled(), "a way on"
    assert window.tracking.engine_name == "classical"
    close_window(qtbot, window)


def test_download_shows_progress_can_be_cancelled_and_then_loads_the_model(
        qtbot: QtBot, clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    total = 156 * 1024
    cancelled = threading.Event()
    calls: list[str] = []

    def slow(name: str, progress) -> Path:  # noqa: ANN001 - a download that goes on until cancelled
        calls.append(name)
        try:
            for done in range(0, total, 2048):
                progress(done, total)
                time.sleep(0.01)
        except Exception:
            cancelled.set()
            raise
        raise AssertionError("the cancel never reached the download")

    monkeypatch.setattr(first_run, "download", slow)
    window = _launch(qtbot, clip)
    offer = window.model_offer
    _click(offer.download_button)
    qtbot.waitUntil(lambda: offer.progress.maximum() == total and offer.progress.value() > 4096,
                    timeout=10_000)
    assert offer.progress.isVisible() and "MB of 156 MB" in offer.status.text()
    assert offer.cancel_button.isVisible() and not offer.classical_button.isEnabled()
    _click(offer.cancel_button)
    qtbot.waitUntil(lambda: "cancelled" in offer.status.text(), timeout=10_000)
    assert cancelled.is_set() and calls == ["sam2.1_hiera_tiny"]
    assert offer.isVisible() and offer.download_button.isVisible(), "the user can resume or go on"
    assert window.tracking.engine_name == "classical"

    def done(name: str, progress) -> Path:  # noqa: ANN001
        progress(total, total)
        path = models_dir() / "sam2.1_hiera_tiny.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"tiny")
        return path

    monkeypatch.setattr(first_run, "download", done)
    _click(offer.download_button)
    qtbot.waitUntil(lambda: not offer.isVisible(), timeout=10_000)
    qtbot.waitUntil(lambda: window.tracking.engine_name.startswith("sam2.1"), timeout=60_000)
    assert window.engine_in_use.checkpoint == str(models_dir() / "sam2.1_hiera_tiny.pt")
    assert "sam2.1" in window.status.engine.text()
    assert QSettings().value(first_run.CHOICE_KEY) == "download"
    close_window(qtbot, window)


def test_the_real_download_cancelled_in_the_dialog_resumes_from_the_kept_bytes(
        qtbot: QtBot, clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No replaced boundary: the dialog drives app.models_catalog.download_model against a local Hub
    stand-in (tests/hub_server.py) on a slow line, is cancelled half-way, and resumes."""
    import os

    import huggingface_hub.constants

    from app import models_catalog
    from tests.hub_server import fake_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    key = "facebook/sam2.1-hiera-tiny/sam2.1_hiera_tiny.pt"
    with fake_hub({key: os.urandom(40 * 2**20)}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        hub.seconds_per_mb = 0.05  # 2 s for the file; the client reports every 10 MB
        window = _launch(qtbot, clip)
        offer = window.model_offer
        _click(offer.download_button)
        qtbot.waitUntil(lambda: offer.progress.value() >= 10 * 1024, timeout=20_000)
        _click(offer.cancel_button)
        qtbot.waitUntil(lambda: "cancelled" in offer.status.text(), timeout=20_000)
        kept = models_catalog.partial_download_bytes("sam2.1_hiera_tiny")
        assert 0 < kept < 40 * 2**20
        assert f"{kept / 2**20:.0f} MB of 156 MB are kept" in offer.status.text()
        assert offer.download_button.text().startswith("Resume download")
        assert not (models_dir() / "sam2.1_hiera_tiny.pt").exists()
        hub.seconds_per_mb = 0.0
        _click(offer.download_button)
        qtbot.waitUntil(lambda: not offer.isVisible(), timeout=20_000)
        assert hub.ranges[-1] == f"bytes={kept}-", "only the missing bytes were asked for"
        assert (models_dir() / "sam2.1_hiera_tiny.pt").read_bytes() == hub.files[key]
        qtbot.waitUntil(lambda: window.tracking.engine_name.startswith("sam2.1"), timeout=60_000)
        close_window(qtbot, window)
