"""``masklet ... | head``: a reader that stops reading is not an error, and never stops the work.

Found by QA: ``masklet status P | head -1`` printed "masklet: error: [Errno 32] Broken pipe" and exited 2,
and ``masklet track ... 2>&1 | head -2`` stopped tracking after two frames (exit 1): the progress line
on a closed stderr raised inside the propagation.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from hostile import ROOT, cli_command, cli_env, digest, make_video, one_object_prompts, run_cli, write_json

from app.domain.project import Project

CLOSED_OUTPUT = 141  # 128 + SIGPIPE: what a shell reports for a program whose reader went away


def _run_into_closed_pipe(*args: str, stderr_too: bool = False) -> tuple[int, str]:
    """Run ``masklet ARGS`` with stdout (and with ``stderr_too`` stderr) a pipe nobody reads."""
    read, write = os.pipe()
    os.close(read)
    try:
        out = subprocess.run(cli_command(*args), cwd=ROOT, env=cli_env(), stdout=write,
                             stderr=write if stderr_too else subprocess.PIPE, timeout=180)
    finally:
        os.close(write)
    return out.returncode, (out.stderr or b"").decode()


def _tracked_project(tmp_path: Path) -> Path:
    video = make_video(tmp_path / "clip.avi")
    prompts = write_json(tmp_path / "prompts.json", one_object_prompts())
    project = tmp_path / "p.masklet"
    done = run_cli("track", str(video), "--prompts", str(prompts), "--project", str(project))
    assert done.returncode == 0, done.stderr
    return project


def test_read_only_commands_into_a_closed_pipe_exit_quietly(tmp_path: Path) -> None:
    project = _tracked_project(tmp_path)
    before = digest(project)
    for args in (("status", str(project)), ("status", str(project), "--json"), ("--help",),
                 ("export", "--help")):
        code, err = _run_into_closed_pipe(*args)
        assert err == "", (args, err)
        assert code in (0, CLOSED_OUTPUT), (args, code)
    assert digest(project) == before


def test_track_keeps_tracking_when_its_output_is_closed(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.avi", frames=12)
    prompts = write_json(tmp_path / "prompts.json", one_object_prompts())
    project = tmp_path / "p.masklet"
    code, _ = _run_into_closed_pipe("track", str(video), "--prompts", str(prompts), "--project", str(project),
                                    stderr_too=True)
    assert code == CLOSED_OUTPUT
    with Project.open(project, read_only=True) as p:
        assert p.frames_stored() == list(range(12))
