"""One writer per project (issue 13, case 2): the lock file, stale locks, real concurrent processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile import ROOT, cli_env, digest, make_video, one_object_prompts, write_json

from app.domain import lock as lock_module
from app.domain.lock import LockOwner, ProjectLockedError, WriterLock, lock_path, read_owner
from app.domain.project import Project, ProjectError

SLOW_CLI = str(Path(__file__).with_name("slow_cli.py"))


def _write_lock(path: Path, **changes: object) -> Path:
    owner = {**LockOwner.me().__dict__, **changes}
    lock = lock_path(path)
    lock.write_text(json.dumps(owner))
    return lock


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def project_path(tmp_path: Path) -> Path:
    path = tmp_path / "p.masklet"
    Project.create(path, make_video(tmp_path / "clip.mp4")).close()
    assert not lock_path(path).exists()  # released on close
    return path


def test_a_second_writer_in_the_same_process_is_refused_with_the_holder_named(project_path: Path) -> None:
    lock_module.set_program_name("the test")
    try:
        with Project.open(project_path) as first:
            lock = lock_path(project_path)
            assert lock.exists() and read_owner(lock).pid == os.getpid()
            holder = rf"open for writing in the test \(pid {os.getpid()}"
            with pytest.raises(ProjectLockedError, match=holder):
                Project.open(project_path)
            with Project.open(project_path, read_only=True) as viewer:  # reading is always possible
                assert viewer.read_only and viewer.objects() == []
                with pytest.raises(ProjectError, match="read-only"):
                    viewer.add_object("x")
            first.add_object("kept")
        with Project.open(project_path) as again:
            assert [o.name for o in again.objects()] == ["kept"]
    finally:
        lock_module.set_program_name("")


@pytest.mark.parametrize("case", ["dead pid", "pid reused", "other host, silent", "garbage, old"])
def test_a_stale_lock_is_recovered(project_path: Path, case: str) -> None:
    if case == "dead pid":
        lock = _write_lock(project_path, pid=_dead_pid())
    elif case == "pid reused":
        lock = _write_lock(project_path, started=LockOwner.me().started - 3600)
    elif case == "other host, silent":
        lock = _write_lock(project_path, host="far-away-host")
        old = time.time() - lock_module.STALE_AFTER_S - 5
        os.utime(lock, (old, old))
    else:
        lock = lock_path(project_path)
        lock.write_bytes(b"\x00garbage")
        old = time.time() - 60
        os.utime(lock, (old, old))
    with Project.open(project_path) as project:
        assert read_owner(lock).pid == os.getpid()
        project.add_object("after the crash")
    assert not lock.exists()


def test_a_live_lock_of_another_host_is_respected(project_path: Path) -> None:
    lock = _write_lock(project_path, host="far-away-host", program="Masklet window", user="ana")
    before = digest(project_path), digest(lock)
    with pytest.raises(ProjectLockedError, match="Masklet window .* user ana on host far-away-host"):
        Project.open(project_path)
    assert (digest(project_path), digest(lock)) == before


def test_the_heartbeat_refreshes_the_lock_and_a_stolen_lock_stops_writing(
        project_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lock_module, "HEARTBEAT_S", 0.2)
    with Project.open(project_path) as project:
        lock = lock_path(project_path)
        old = time.time() - 100
        os.utime(lock, (old, old))
        deadline = time.monotonic() + 10
        while lock.stat().st_mtime < time.time() - 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock.stat().st_mtime > time.time() - 50, "no heartbeat"
        _write_lock(project_path, host="far-away-host")  # someone decided we were dead
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                project.add_object("x")
            except ProjectError as exc:
                assert "stopped writing" in str(exc) and "taken over" in str(exc)
                break
            time.sleep(0.05)
        else:
            pytest.fail("a project whose lock was taken over kept writing")
    assert read_owner(lock).host == "far-away-host"  # closing did not remove the other holder's lock


RACE = """
import sys, time
sys.path.insert(0, {root!r})
from app.domain.lock import WriterLock, ProjectLockedError
start = float(sys.argv[2])
while time.time() < start:
    pass
try:
    held = WriterLock.acquire(sys.argv[1])
except ProjectLockedError:
    print("refused", flush=True)
else:
    print("got", flush=True)
    time.sleep(2.0)
    held.release()
"""


def test_processes_recovering_one_stale_lock_at_once_let_exactly_one_win(project_path: Path) -> None:
    _write_lock(project_path, pid=_dead_pid())
    start = time.time() + 2.0
    code = RACE.format(root=str(ROOT))
    children = [subprocess.Popen([sys.executable, "-c", code, str(project_path), str(start)],
                                 stdout=subprocess.PIPE, text=True, env=cli_env()) for _ in range(4)]
    answers = sorted(child.communicate(timeout=60)[0].strip() for child in children)
    assert answers == ["got", "refused", "refused", "refused"]


def _slow_track(video: Path, prompts: Path, project: Path, gate: Path) -> subprocess.Popen:
    """``masklet track`` that, after its first propagated frame, waits until ``gate`` exists."""
    return subprocess.Popen([sys.executable, SLOW_CLI, str(gate), "track", str(video), "--prompts",
                             str(prompts), "--project", str(project)], cwd=ROOT, env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_progress(child: subprocess.Popen) -> None:
    assert child.stderr is not None
    for line in child.stderr:
        if line.startswith("forward:"):
            return
    raise AssertionError(f"the first run ended early ({child.wait()})")


def test_two_track_runs_on_one_project_never_mix(tmp_path: Path) -> None:
    """Found: both exited 0 and object "boy" ended with the girl's masks on frames 67-199."""
    video = make_video(tmp_path / "clip.mp4", frames=30)
    project = tmp_path / "p.masklet"
    boy = write_json(tmp_path / "boy.json", one_object_prompts(15, 20, obj_id=1))
    girl = write_json(tmp_path / "girl.json", one_object_prompts(45, 30, obj_id=1))
    gate = tmp_path / "gate"
    first = _slow_track(video, boy, project, gate)
    try:
        _wait_for_progress(first)
        before = digest(girl)
        second = subprocess.run([sys.executable, "-m", "app.cli", "track", str(video), "--prompts", str(girl),
                                 "--project", str(project)], cwd=ROOT, env=cli_env(), capture_output=True,
                                text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        assert f"open for writing in masklet track (pid {first.pid}" in second.stderr
        assert second.stderr.count("\n") == 1 and digest(girl) == before
        gate.touch()
        assert first.wait(timeout=120) == 0
    finally:
        first.kill()
        first.wait()
    with Project.open(project) as result:
        prompts = result.prompts()
        assert [(p.obj_id, p.points) for p in prompts] == [(1, ((15.0, 20.0),))]
        assert result.frames_stored() == list(range(30))


def test_two_runs_creating_the_same_new_project(tmp_path: Path) -> None:
    """Found: the second died with "table schema_version already exists"."""
    video = make_video(tmp_path / "clip.mp4", frames=40)
    project = tmp_path / "new.masklet"
    a = write_json(tmp_path / "a.json", one_object_prompts(15, 20, obj_id=1))
    b = write_json(tmp_path / "b.json", one_object_prompts(45, 30, obj_id=2))
    gate = tmp_path / "gate"
    runs = [_slow_track(video, prompts, project, gate) for prompts in (a, b)]
    deadline = time.monotonic() + 120
    while all(run.poll() is None for run in runs) and time.monotonic() < deadline:
        time.sleep(0.05)  # the first to end is the one refused (the winner waits at the gate)
    gate.touch()
    results = [(run.wait(timeout=180), run.stderr.read()) for run in runs]
    for run in runs:
        run.stdout.close()
        run.stderr.close()
    assert sorted(code for code, _ in results) == [0, 2], results
    winner = next(k for k, (code, _) in enumerate(results) if code == 0)
    loser = results[1 - winner][1]
    assert "schema_version" not in loser and "open for writing in masklet track" in loser
    assert loser.count("\n") == 1
    with Project.open(project) as result:
        assert [o.id for o in result.objects()] == [winner + 1]  # only the winner's object, complete
        assert result.frames_stored() == list(range(40))


def test_a_killed_writer_leaves_a_lock_that_the_next_run_recovers(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4", frames=60)
    project = tmp_path / "p.masklet"
    prompts = write_json(tmp_path / "a.json", one_object_prompts(15, 20))
    first = _slow_track(video, prompts, project, tmp_path / "never")
    _wait_for_progress(first)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    first.stdout.close()
    first.stderr.close()
    assert read_owner(lock_path(project)).pid == first.pid  # left behind by kill -9
    again = subprocess.run([sys.executable, "-m", "app.cli", "track", str(video), "--prompts", str(prompts),
                            "--project", str(project)], cwd=ROOT, env=cli_env(), capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert not lock_path(project).exists()


def test_the_lock_holder_is_refused_a_second_lock_but_released_locks_can_be_taken(tmp_path: Path) -> None:
    path = tmp_path / "x.masklet"
    held = WriterLock.acquire(path)
    with pytest.raises(ProjectLockedError):
        WriterLock.acquire(path)
    held.release()
    WriterLock.acquire(path).release()
    assert not lock_path(path).exists()


def test_readers_never_block_a_writer_and_leave_no_side_files(project_path: Path, tmp_path: Path) -> None:
    from app.cli import main

    with Project.open(project_path) as writer:  # the window, say
        writer.add_object("being edited")
        assert main(["export", str(project_path), "--format", "coco", "--out", str(tmp_path / "a.json")]) == 0
        assert main(["copy", str(project_path), str(tmp_path / "snap.masklet")]) == 0
    with Project.open(project_path, read_only=True) as reader:  # a long export, say
        with Project.open(project_path) as writer:  # opening for writing meanwhile is fine
            writer.add_object("second")
        assert [o.name for o in reader.objects()] == ["being edited", "second"]
    with Project.open(tmp_path / "snap.masklet") as snapshot:
        assert [o.name for o in snapshot.objects()] == ["being edited"]
    assert sorted(p.name for p in project_path.parent.iterdir() if p.name.startswith("p.masklet")) == \
        ["p.masklet"]
