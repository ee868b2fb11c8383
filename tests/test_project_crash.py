"""kill -9 in the middle of a propagation loses no frame that was reported stored."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from app.domain.project import Project
from sam3core.video import write_video

ROOT = Path(__file__).resolve().parents[1]

# A deterministic engine that yields one slow frame at a time: a disk that moves right by 1 px/frame.
SLOW_ENGINE = """
import time
import numpy as np
import torch

class SlowEngine:
    name = "slow-test"
    device = torch.device("cpu")

    def init_state(self, video_path=None, *, video=None, **kwargs):
        return {"video": video, "objs": {}}

    # the rest of the engine contract (sam3core/engine.py): nothing to encode, no extra confidence
    def prefetch_features(self, state, frame_idx, should_stop=None):
        return False

    def frame_scores(self, state, frame_idx):
        return {}

    def close(self, state):
        pass

    def _masks(self, state, frame):
        video = state["video"]
        yy, xx = np.mgrid[:video.height, :video.width]
        rows = []
        for obj_id, (x, y) in state["objs"].items():
            rows.append(((xx - x - frame) ** 2 + (yy - y) ** 2 < 36) * 20.0 - 10.0)
        return list(state["objs"]), torch.from_numpy(np.stack(rows)[:, None].astype(np.float32))

    def add_new_points_or_box(self, state, frame_idx, obj_id, points=None, labels=None, box=None,
                              clear_old_points=True, rel_coordinates=True):
        state["objs"][obj_id] = tuple(points[0])
        ids, masks = self._masks(state, frame_idx)
        return frame_idx, ids, masks, masks

    def propagate_in_video(self, state, start_frame_idx=None, max_frame_num_to_track=None, reverse=False,
                           propagate_preflight=False):
        n = state["video"].num_frames
        frames = range(start_frame_idx, -1, -1) if reverse else range(start_frame_idx, n)
        for frame in frames:
            time.sleep(DELAY)
            ids, masks = self._masks(state, frame)
            yield frame, ids, masks, masks, torch.ones(len(ids))
"""

CHILD = """
import sys
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
    print(phase, frame, flush=True)

track(project, make_engine(), direction="forward", on_frame=report)
print("finished", flush=True)
"""


def run_and_kill(tmp_path: Path, engine_code: str, frames: int, kill_after: int) -> tuple[Path, list[int]]:
    video = write_video(tmp_path / "v.mp4",
                        [np.full((48, 64, 3), (3 * i) % 256, np.uint8) for i in range(frames)])
    project_path = tmp_path / "crash.masklet"
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(engine_code=textwrap.dedent(engine_code)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, str(script), str(project_path), str(video)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reported: list[int] = []
    deadline = time.monotonic() + 120
    try:
        assert child.stdout is not None
        while len(reported) < kill_after and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            phase, _, frame = line.partition(" ")
            if phase == "forward":
                reported.append(int(frame))
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        stderr = child.stderr.read() if child.stderr else ""
        child.stdout.close() if child.stdout else None
        child.stderr.close() if child.stderr else None
    assert child.returncode == -signal.SIGKILL, f"child ended ({child.returncode}): {stderr[-2000:]}"
    assert len(reported) >= kill_after, f"child reported only {reported}: {stderr[-2000:]}"
    return project_path, reported


def check_survivors(project_path: Path, reported: list[int]) -> None:
    conn = sqlite3.connect(project_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with Project.open(project_path) as project:
        for frame in reported:
            masks = project.masks_on_frame(frame)
            assert set(masks) == {1, 2}, f"frame {frame} was reported stored but is missing"
        assert project.prompts() and len(project.objects()) == 2
        # The file still takes writes after the crash.
        project.set_mask(0, 1, None)


def test_kill_minus_nine_mid_propagation_keeps_every_reported_frame(tmp_path: Path) -> None:
    engine = SLOW_ENGINE.replace("DELAY", "0.03") + "\ndef make_engine():\n    return SlowEngine()\n"
    project_path, reported = run_and_kill(tmp_path, engine, frames=400, kill_after=25)
    check_survivors(project_path, reported)
    with Project.open(project_path) as project:
        # The stored masks are the engine's: the disk of object 1 centred at x = 10 + frame.
        frame = reported[-1]
        ys, xs = np.nonzero(project.mask(frame, 1))
        assert abs(xs.mean() - (10 + frame)) < 1 and abs(ys.mean() - 12) < 1
        assert project.frames_stored()[-1] < 399  # it really was killed mid-way


def test_kill_minus_nine_with_the_classical_engine(tmp_path: Path) -> None:
    pytest.importorskip("sam3core.classical")
    try:
        from sam3core.classical import ClassicalEngine  # noqa: F401
    except ImportError:
        pytest.skip("the classical engine is not available")
    engine = ("from sam3core.classical import ClassicalEngine\n"
              "def make_engine():\n    return ClassicalEngine()\n")
    project_path, reported = run_and_kill(tmp_path, engine, frames=150, kill_after=8)
    check_survivors(project_path, reported)
