"""A project file copied alone is complete; copies while working; read-only projects (issue 13: 8, 9)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hostile import ROOT, H, W, cli_command, cli_env, digest, make_video
from test_project_crash import SLOW_ENGINE

from app.domain.lock import lock_path
from app.domain.project import Project, ProjectError

CHILD = """
import sys, time
from app.domain.project import Project
from app.domain.model import Prompt
from app.domain.tracking import track
{engine_code}

project = Project.create(sys.argv[1], sys.argv[2])
project.add_object("a")
project.add_object("b")
project.set_prompt(Prompt(0, 1, ((10.0, 12.0),), (1,)))
project.set_prompt(Prompt(0, 2, ((30.0, 20.0),), (1,)))

def report(phase, frame, done, total):
    print(phase, frame, time.time(), flush=True)

track(project, make_engine(), direction="forward", on_frame=report)
"""


def test_kill_minus_nine_then_the_project_file_copied_alone_holds_the_stored_frames(tmp_path: Path) -> None:
    """Found: after kill -9 a copy of P.masklet alone (no -wal) held 0 of 80 stored frames."""
    video = make_video(tmp_path / "v.mp4", frames=400)
    project_path = tmp_path / "work" / "p.masklet"
    project_path.parent.mkdir()
    engine = SLOW_ENGINE.replace("DELAY", "0.03") + "\ndef make_engine():\n    return SlowEngine()\n"
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(engine_code=textwrap.dedent(engine)))
    child = subprocess.Popen([sys.executable, str(script), str(project_path), str(video)], cwd=ROOT,
                             env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reported: list[tuple[int, float]] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:
            phase, frame, when = line.split()
            if phase == "forward":
                reported.append((int(frame), float(when)))
            if len(reported) >= 80 and time.time() - reported[79][1] > 2.5:
                break  # 80 frames stored, and the keeper has had time to fold them into the file
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stdout.close()
        child.stderr.close()
    assert len(reported) >= 80
    assert Path(f"{project_path}-wal").exists()  # the crash left the WAL behind ...
    alone = tmp_path / "copy" / "p.masklet"
    alone.parent.mkdir()
    shutil.copyfile(project_path, alone)  # ... and the user copies the main file only
    with Project.open(alone) as copy:
        stored = set(copy.frames_stored())
        assert {frame for frame, _ in reported[:80]} <= stored
        assert set(copy.masks_on_frame(reported[79][0])) == {1, 2}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project.create(tmp_path / "p.masklet", make_video(tmp_path / "clip.mp4"))
    project.add_object("a")
    yield project
    project.close()


def _mask(x: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[5:20, x:x + 10] = True
    return mask


def test_save_a_copy_while_working_is_consistent_and_self_contained(project: Project, tmp_path: Path) -> None:
    for frame in range(6):
        project.set_mask(frame, 1, _mask(frame))
    elsewhere = tmp_path / "backup" / "copy.masklet"
    elsewhere.parent.mkdir()
    assert project.save_copy(elsewhere) == elsewhere
    project.set_mask(6, 1, _mask(6))  # goes on in the original only
    assert not Path(f"{elsewhere}-wal").exists() and not lock_path(elsewhere).exists()
    with Project.open(elsewhere) as copy:
        assert copy.frames_stored() == list(range(6)) and copy.path == elsewhere.resolve()
        assert np.array_equal(copy.mask(5, 1), _mask(5))
    assert project.frames_stored() == list(range(7)) and project.path == (tmp_path / "p.masklet").resolve()
    with pytest.raises(ProjectError, match="already exists"):
        project.save_copy(elsewhere)
    project.save_copy(elsewhere, overwrite=True)
    for bad, message in ((project.path, "own file"), (Path(f"{project.path}-wal"), "own file"),
                         (project.video_path, "video"), (tmp_path, "is a folder")):
        before = digest(bad)
        with pytest.raises(ProjectError, match=message):
            project.save_copy(bad, overwrite=True)
        assert digest(bad) == before


def test_a_copy_over_a_project_someone_writes_is_refused(project: Project, tmp_path: Path) -> None:
    other = tmp_path / "other.masklet"
    with Project.create(other, project.video_path):
        before = digest(other)
        with pytest.raises(ProjectError, match="open for writing"):
            project.save_copy(other, overwrite=True)
        assert digest(other) == before


def test_closing_folds_the_wal_into_the_file(project: Project, tmp_path: Path) -> None:
    project.set_mask(1, 1, _mask(3))
    path = project.path
    project.close()
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    with Project.open(path) as again:
        assert again.frames_stored() == [1]


def test_the_keeper_checkpoints_while_idle(project: Project, tmp_path: Path) -> None:
    project.set_mask(2, 1, _mask(1))
    deadline = time.monotonic() + 10
    for attempt in range(1000):
        time.sleep(0.3)
        probe = tmp_path / f"probe{attempt}" / "probe.masklet"
        probe.parent.mkdir()
        shutil.copyfile(project.path, probe)
        with Project.open(probe, read_only=True) as copy_of_main_file:
            if copy_of_main_file.frames_stored() == [2]:
                break
        assert time.monotonic() < deadline, "the idle project never checkpointed its WAL"


READ_ONLY_CHECK = """
import json, sys
from app.domain.project import Project
from app.domain.export import export_project
project = Project.open(sys.argv[1])
report = {"read_only": project.read_only, "reason": project.read_only_reason,
          "objects": [o.name for o in project.objects()], "frames": project.frames_stored()}
try:
    project.add_object("nope")
except Exception as exc:
    report["refused"] = f"{type(exc).__name__}: {exc}"
report["export"] = str(export_project(project, "coco", sys.argv[2]))
project.close()
print(json.dumps(report))
"""


def _without_root_powers() -> list[str]:
    """As root, permissions bind only without CAP_DAC_OVERRIDE: run the child through setpriv."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a folder read-only for the test")
    caps = "-dac_override,-dac_read_search,-fowner"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


@pytest.mark.parametrize("what", ["folder", "file"])
def test_a_read_only_project_opens_read_only_with_the_reason(tmp_path: Path, what: str) -> None:
    """Found: a good project in a read-only folder was reported "not a Masklet project or damaged"."""
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "p.masklet"
    with Project.create(path, make_video(tmp_path / "clip.mp4")) as project:
        project.add_object("kept")
        project.set_mask(3, 1, _mask(4))
    script = tmp_path / "check.py"
    script.write_text(READ_ONLY_CHECK)
    out = tmp_path / "export.json"
    (path if what == "file" else folder).chmod(0o444 if what == "file" else 0o555)
    # A reader may leave SQLite's empty -shm/-wal beside a read-only file; the project's bytes never change.
    watched = folder if what == "folder" else path
    try:
        before = digest(watched)
        done = subprocess.run([*_without_root_powers(), sys.executable, str(script), str(path), str(out)],
                              cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["read_only"] and ("read-only" in report["reason"])
        assert (str(folder) if what == "folder" else "p.masklet") in report["reason"]
        assert report["objects"] == ["kept"] and report["frames"] == [3]
        assert report["refused"].startswith("ProjectReadOnlyError") and "read-only" in report["refused"]
        assert json.loads(out.read_text())["annotations"][0]["track_id"] == 1
        cli = subprocess.run([*_without_root_powers(), *cli_command("import", str(path), "--format", "coco",
                                                                    "--path", str(out))],
                             cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120)
        assert cli.returncode == 2 and "read-only" in cli.stderr and "damaged" not in cli.stderr, cli.stderr
        assert digest(watched) == before
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)


class _InertKeeper:
    """A keeper that never checkpoints: what the main file holds then comes from explicit checkpoints."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def stop(self) -> None:
        pass


def test_a_finished_propagation_is_in_the_project_file_copied_alone(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The end of every run folds the WAL into the main file, without waiting for the idle keeper."""
    from test_qa_review_feedback import ShiftEngine

    import app.domain.project_file as project_file
    from app.domain.model import Prompt
    from app.domain.tracking import track

    monkeypatch.setattr(project_file, "Keeper", _InertKeeper)
    video = make_video(tmp_path / "clip.avi", frames=12)
    project = Project.create(tmp_path / "p.masklet", video, engine="shift-test")
    try:
        project.add_object("thing")
        project.set_prompt(Prompt(0, 1, ((10.0, 10.0),), (1,)))
        project.checkpoint()  # the prompt in the main file; the run's frames only in the WAL so far
        assert track(project, ShiftEngine()) > 0
        copy = tmp_path / "copy" / "p.masklet"
        copy.parent.mkdir()
        shutil.copyfile(project.path, copy)  # the main file alone, while the project is still open
        stored = project.frames_stored()
        assert len(stored) >= 10
        with Project.open(copy, read_only=True) as alone:
            assert alone.frames_stored() == stored
    finally:
        project.close()
