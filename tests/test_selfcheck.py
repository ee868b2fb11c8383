"""``masklet --self-check`` passes on a working install and fails loudly when any step is wrong."""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import selfcheck

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASKLET_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")


def _run(**kwargs: object) -> tuple[int, str]:
    out = io.StringIO()
    code = selfcheck.run_self_check(out=out, log_file=False, **kwargs)  # type: ignore[arg-type]
    return code, out.getvalue()


def test_self_check_passes_and_reports_every_step() -> None:
    code, text = _run(gui=False)
    assert code == 0, text
    lines = [line for line in text.splitlines() if line.startswith(("ok ", "FAIL"))]
    assert len(lines) == len(selfcheck.STEPS) and all(line.startswith("ok ") for line in lines), text
    assert "mean J=" in text and "masks decode exactly" in text
    assert text.rstrip().endswith("self-check passed")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    sys.excepthook = sys.__excepthook__
    threading.excepthook = threading.__excepthook__


def test_cli_self_check_runs_every_step_including_the_window(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, restore_logging: None) -> None:
    from app.cli import main

    assert main(["--self-check"]) == 0
    text = capsys.readouterr().out
    assert "open the project in the main window (offscreen)" in text and "propagated" in text
    assert sum(line.startswith("ok ") for line in text.splitlines()) == len(selfcheck.STEPS) + 1
    assert "FAIL" not in text and text.rstrip().endswith("self-check passed")
    # The same lines went to the rotating log file in the user's (here: the test's) log folder.
    log_file = tmp_path / "home" / "log" / "masklet.log"
    assert f"log: {log_file}" in text
    logged = log_file.read_text(encoding="utf-8")
    assert "self-check: ok   [9/9]" in logged and "self-check: self-check passed" in logged


def test_a_wrong_result_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    # No engine reaches J > 1: the segmentation step must report it and stop with exit code 1.
    monkeypatch.setattr(selfcheck, "MIN_PROMPT_J", 1.01)
    code, text = _run(gui=False)
    assert code == 1
    assert "FAIL [5/" in text and "against the ground truth" in text
    assert "export COCO" not in text, "steps after a failure do not run"
    assert text.rstrip().endswith("self-check FAILED")


def test_a_broken_install_fails_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app import resources

    bad = tmp_path / "sample.mp4"
    bad.write_bytes(b"not a video")
    monkeypatch.setattr(resources, "sample_video_path", lambda: bad)
    code, text = _run(gui=False)
    assert code == 1 and "FAIL [2/" in text and "VideoError" in text
    assert "files kept in" in text


def test_required_gui_step_fails_when_the_window_cannot_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selfcheck, "_gui_available", lambda: "GUI not importable (simulated)")
    code, text = _run(gui=True)
    assert code == 1 and "GUI not importable (simulated)" in text
