"""Where Masklet keeps its settings, logs, caches and downloaded models: the platform's standard places.

Linux follows the XDG base directories (``~/.config/masklet``, ``~/.local/share/masklet``,
``~/.cache/masklet``, ``~/.local/state/masklet/log``), macOS ``~/Library/...``, Windows ``%LOCALAPPDATA%``.
``MASKLET_HOME`` moves all of them under one folder (portable installs, tests); ``MASKLET_MODELS_DIR``
moves only the models folder (checkpoints are large and often live on a shared disk).
Every function creates its folder on first use and returns an absolute path.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "masklet"
HOME_ENV = "MASKLET_HOME"
MODELS_ENV = "MASKLET_MODELS_DIR"


def _dirs() -> platformdirs.PlatformDirs:
    # appauthor=False: no "Masklet/Masklet" doubling on Windows.
    return platformdirs.PlatformDirs(APP_NAME, appauthor=False)


def _ensure(path: Path) -> Path:
    path = path.expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value) if value else None


def config_dir() -> Path:
    """Settings: the GUI keeps its QSettings INI file under here (app/ui/launch.py)."""
    home = _home()
    return _ensure(home / "config" if home else Path(_dirs().user_config_dir))


def data_dir() -> Path:
    """Long-lived user data that is not a setting (the models folder by default)."""
    home = _home()
    return _ensure(home / "data" if home else Path(_dirs().user_data_dir))


def cache_dir() -> Path:
    """Disposable data: anything here may be deleted while the app is closed."""
    home = _home()
    return _ensure(home / "cache" if home else Path(_dirs().user_cache_dir))


def log_dir() -> Path:
    home = _home()
    return _ensure(home / "log" if home else Path(_dirs().user_log_dir))


def models_dir() -> Path:
    """The folder the model download fills and the checkpoint picker scans."""
    override = os.environ.get(MODELS_ENV, "").strip()
    if override:
        return _ensure(Path(override))
    return _ensure(data_dir() / "models")
