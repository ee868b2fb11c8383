"""Logging to a rotating file in the user's log folder (shown in Help ▸ About) and, optionally, stderr."""

from __future__ import annotations

import logging
import logging.handlers
import platform
import sys
import threading
import types
from pathlib import Path

from app.paths import log_dir

LOG_FILE_NAME = "masklet.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUP_COUNT = 5
FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"

_HANDLER_FLAG = "_masklet_handler"


def app_version() -> str:
    import app

    version = getattr(app, "__version__", None)
    if version:
        return str(version)
    try:
        from importlib.metadata import version as dist_version

        return dist_version("masklet")
    except Exception:  # noqa: BLE001 - not installed (frozen build without metadata): say so
        return "unknown"


def log_file_path() -> Path:
    return log_dir() / LOG_FILE_NAME


def _log_uncaught(exc_type: type[BaseException], exc: BaseException,
                  tb: types.TracebackType | None) -> None:
    if not issubclass(exc_type, KeyboardInterrupt):
        logging.getLogger("masklet").critical("uncaught exception", exc_info=(exc_type, exc, tb))
    sys.__excepthook__(exc_type, exc, tb)


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is not SystemExit and args.exc_value is not None:
        logging.getLogger("masklet").critical(
            "uncaught exception in thread %s", getattr(args.thread, "name", "?"),
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


def setup_logging(level: int = logging.INFO, *, console: bool = False) -> Path:
    """Send the root logger to ``<log_dir>/masklet.log`` (2 MB x 5 files); returns the file's path.

    Calling it again only sets the level (and follows a moved log folder), so the CLI and the GUI may
    both call it.
    Uncaught exceptions, also in threads, are written to the file before the usual handling.
    """
    path = log_file_path()
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        # The log folder can move within one process (MASKLET_HOME changed): follow it.
        moved = getattr(handler, "baseFilename", str(path)) != str(path)
        if getattr(handler, _HANDLER_FLAG, False) and moved:
            root.removeHandler(handler)
            handler.close()
    ours = [h for h in root.handlers if getattr(h, _HANDLER_FLAG, False)]
    if not any(isinstance(h, logging.FileHandler) for h in ours):
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=False)
        handler.setFormatter(logging.Formatter(FORMAT))
        setattr(handler, _HANDLER_FLAG, True)
        root.addHandler(handler)
        if console:
            stream = logging.StreamHandler()
            stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            stream.setLevel(logging.WARNING)
            setattr(stream, _HANDLER_FLAG, True)
            root.addHandler(stream)
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_in_thread
        logging.getLogger("masklet").info(
            "Masklet %s, Python %s on %s%s", app_version(), platform.python_version(), platform.platform(),
            " (frozen build)" if getattr(sys, "frozen", False) else "")
    return path
