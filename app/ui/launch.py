"""Start the desktop app: ``masklet [VIDEO_OR_PROJECT]`` and ``python main.py`` end up here."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from app.display_check import display_problem
from app.ui.worker import EngineSpec

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

ORGANIZATION = "Masklet"
APPLICATION = "Masklet"

log = logging.getLogger(__name__)


def configure_settings() -> None:
    """QSettings() everywhere in the app then means one INI file in Masklet's config folder."""
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    try:
        from app.paths import config_dir

        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(config_dir()))
    except Exception:  # the platform default location is a fine fallback
        log.warning("using the default settings location", exc_info=True)


def _app_icon() -> QIcon | None:
    try:
        from app.resources import app_icon_path

        path = app_icon_path()
        return QIcon(str(path)) if Path(path).is_file() else None
    except Exception:  # a missing icon is cosmetic
        return None


def run_gui(path: str | None, *, checkpoint: str | None = None, device: str | None = None,
            model: str | None = None, random_weights: bool = False) -> int:
    """Open the main window (optionally on a video, image folder or project) and run the event loop."""
    try:
        from app.logs import setup_logging

        setup_logging()
    except Exception:  # logging to a file is best-effort (read-only home, ...)
        logging.basicConfig(level=logging.INFO)
    app = QApplication.instance()
    if app is None:
        # Qt would end the process with the same "xcb" words for no display and for missing
        # libraries: say which it is, and exit normally.
        problem = display_problem(os.environ)
        if problem is not None:
            print(problem, file=sys.stderr)
            return 2  # a user-facing problem, not an internal error: exit 2 as the CLI does
        app = QApplication(sys.argv[:1])
    configure_settings()
    icon = _app_icon()
    if icon is not None:
        app.setWindowIcon(icon)
    from app.domain.lock import set_program_name

    set_program_name("the Masklet window")  # what a second writer is told holds the project

    engine = EngineSpec(model, checkpoint, device or "cpu", random_weights) \
        if (checkpoint or model or device) else None
    start_window(path, engine)
    return int(app.exec())


def start_window(path: str | None, engine: EngineSpec | None, **window_options: object) -> MainWindow:
    """Show the main window and queue what follows a launch (the path or the sample, the model offer)."""
    from app.ui.main_window import MainWindow

    window = MainWindow(engine=engine, **window_options)  # type: ignore[arg-type]
    window.show()
    # Opened before the event loop starts, so its first paint shows the first frame: opening reads one
    # frame (the frame index is built in a thread) and the engine loads only once the loop runs.
    if not path and not window.files.recent_files():
        # First launch: show the bundled sample rather than an empty window, so the first click works.
        window.open_sample()
    elif path:
        window.open_path(path)
    if engine is None:  # an engine named on the command line is a choice already made
        QTimer.singleShot(0, lambda: window.offer_model(first_run=True))
    return window
