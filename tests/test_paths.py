"""User folders come from platformdirs (XDG on Linux); MASKLET_HOME / MASKLET_MODELS_DIR move them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app import paths


@pytest.fixture
def xdg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if sys.platform != "linux":
        pytest.skip("XDG variables only steer platformdirs on Linux")
    monkeypatch.delenv(paths.HOME_ENV, raising=False)
    monkeypatch.delenv(paths.MODELS_ENV, raising=False)
    for var, sub in (("XDG_CONFIG_HOME", "cfg"), ("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache"),
                     ("XDG_STATE_HOME", "state")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    return tmp_path


def test_linux_folders_follow_the_xdg_base_directories(xdg_home: Path) -> None:
    assert paths.config_dir() == xdg_home / "cfg" / "masklet"
    assert paths.data_dir() == xdg_home / "data" / "masklet"
    assert paths.cache_dir() == xdg_home / "cache" / "masklet"
    assert paths.log_dir() == xdg_home / "state" / "masklet" / "log"
    assert paths.models_dir() == xdg_home / "data" / "masklet" / "models"
    for folder in (paths.config_dir(), paths.cache_dir(), paths.log_dir(), paths.models_dir()):
        assert folder.is_dir(), folder


def test_masklet_home_moves_everything_under_one_folder(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "portable"))
    monkeypatch.delenv(paths.MODELS_ENV, raising=False)
    got = {f.__name__: f() for f in (paths.config_dir, paths.data_dir, paths.cache_dir, paths.log_dir,
                                     paths.models_dir)}
    for name, folder in got.items():
        assert folder.is_relative_to(tmp_path / "portable"), (name, folder)
        assert folder.is_dir()
    assert len(set(got.values())) == len(got), "each kind of data gets its own folder"


def test_models_dir_override_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv(paths.MODELS_ENV, str(tmp_path / "shared-disk" / "ckpts"))
    assert paths.models_dir() == tmp_path / "shared-disk" / "ckpts"
    assert paths.models_dir().is_dir()


def test_logging_goes_to_a_rotating_file_in_the_log_dir(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import logging
    import logging.handlers
    import threading

    from app import logs

    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    root = logging.getLogger()
    before = list(root.handlers)
    old_level = root.level
    try:
        path = logs.setup_logging()
        assert logs.setup_logging() == path, "a second call must not add a second handler"
        ours = [h for h in root.handlers if h not in before]
        assert len(ours) == 1 and isinstance(ours[0], logging.handlers.RotatingFileHandler)
        assert ours[0].maxBytes > 0 and ours[0].backupCount > 0
        assert path == tmp_path / "log" / "masklet.log"
        logging.getLogger("masklet.test").warning("marker-7c1e")
        ours[0].flush()
        text = path.read_text(encoding="utf-8")
        assert "marker-7c1e" in text and "Python" in text
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(old_level)
        sys.excepthook = sys.__excepthook__
        threading.excepthook = threading.__excepthook__
