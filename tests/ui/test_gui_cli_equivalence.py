"""The window and ``masklet track`` track the same way: one scripted session through both, identical projects.

The GUI path is the real window (SessionController, undo commands, the worker thread, the propagation
store). The CLI path is what ``masklet track`` runs, without Qt: the domain's TrackingSession with
``store_prompt_results`` / ``run_propagation``, prompts built by ``app.domain.prompt_edits``. The script:
two clicks on one object, a box for a second, propagation forward, a negative correction click on a
propagated frame (so the shown mask becomes the click's context), propagation both ways from there.
Every stored mask and prompt must be identical, bit for bit, for the classical engine and a tiny SAM 2.1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from pytestqt.qtbot import QtBot

from app.domain.project import Project
from app.domain.prompt_edits import box_prompt, click_prompt
from app.domain.tracking import (
    Direction,
    PromptSet,
    TrackingSession,
    plan_propagation,
    run_propagation,
    same_prompt,
    store_prompt_results,
)
from sam3core.classical import ClassicalEngine
from sam3core.engine import Engine
from tests.tiny_engines import tiny_sam
from tests.ui.conftest import N, box_rect, close_window, disc_center, make_window

FIRST, CORRECTED = 4, 11


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: more threads only spin against each other on a busy machine
    yield
    torch.set_num_threads(previous)


ENGINES: dict[str, Callable[[], Engine]] = {"classical": ClassicalEngine, "sam2.1_tiny": tiny_sam}


def _script() -> list[tuple]:
    cx, cy = disc_center(FIRST)
    x, y = disc_center(CORRECTED)
    return [
        ("click", FIRST, 1, cx, cy, True),
        ("click", FIRST, 1, cx - 10, cy + 8, True),
        ("box", FIRST, 2, box_rect(FIRST)),
        ("propagate", FIRST, Direction.FORWARD),
        ("click", CORRECTED, 1, x + 20, y, False),  # on a propagated frame: its mask is the context
        ("propagate", CORRECTED, Direction.BOTH),
    ]


def _run_gui(qtbot: QtBot, engine: Engine, clip: Path) -> Path:
    window = make_window(qtbot, lambda spec: engine)
    try:
        assert window.open_path(clip)
        session = window.session
        for step in _script():
            kind, frame = step[0], step[1]
            window.viewer.show_frame(frame)
            assert session.current_frame == frame
            if kind == "propagate":
                assert session.propagate(step[2])
                qtbot.waitUntil(lambda: not window.tracking.running, timeout=60_000)
                continue
            obj = step[2]
            if session.object_info(obj) is None:
                assert session.add_object() == obj
            session.select_object(obj)
            if kind == "click":
                session.add_point(frame, step[3], step[4], step[5])
            else:
                session.set_box(frame, step[3])
            qtbot.waitUntil(lambda: not session.waiting_for_engine, timeout=60_000)
        project_path = session.project.path
    finally:
        close_window(qtbot, window)
    return Path(project_path)


def _run_cli(engine: Engine, clip: Path, path: Path) -> Path:
    with Project.create(path, clip) as project:
        tracking = TrackingSession(engine, project.video)
        try:
            for step in _script():
                kind, frame = step[0], step[1]
                if kind == "propagate":
                    prompts: PromptSet = {(p.frame, p.obj_id): p for p in project.prompts()}
                    requests = plan_propagation(frame, project.num_frames, step[2],
                                                prompted=sorted({f for f, _ in prompts}))
                    run_propagation(project, tracking, prompts, requests)
                    continue
                obj = step[2]
                if not project.has_object(obj):
                    project.add_object(obj_id=obj)
                base = project.prompt(frame, obj)
                if kind == "click":
                    shown = project.mask(frame, obj) if base is None else None
                    prompt = click_prompt(base, frame, obj, step[3], step[4], step[5], shown)
                else:
                    prompt = box_prompt(base, frame, obj, step[3])
                project.set_prompt(prompt)
                prompts = {(p.frame, p.obj_id): p for p in project.prompts()}
                assert store_prompt_results(project, tracking, prompts, key=(frame, obj)) == 1
        finally:
            tracking.close()
    return path


@pytest.mark.parametrize("engine_name", sorted(ENGINES))
def test_gui_and_cli_make_identical_projects(qtbot: QtBot, clip: Path, tmp_path: Path,
                                             engine_name: str) -> None:
    gui_path = _run_gui(qtbot, ENGINES[engine_name](), clip)
    cli_path = _run_cli(ENGINES[engine_name](), clip, tmp_path / "cli.masklet")
    with Project.open(gui_path) as gui, Project.open(cli_path) as cli:
        assert [o.id for o in gui.objects()] == [o.id for o in cli.objects()] == [1, 2]
        gui_prompts, cli_prompts = gui.prompts(), cli.prompts()
        assert len(gui_prompts) == len(cli_prompts) == 3
        assert all(same_prompt(a, b) for a, b in zip(gui_prompts, cli_prompts, strict=True))
        assert cli.prompt(CORRECTED, 1).mask is not None  # the correction kept the shown mask as context
        compared = 0
        for frame in range(N):
            for obj in (1, 2):
                a, b = gui.mask(frame, obj), cli.mask(frame, obj)
                assert (a is None) == (b is None), (frame, obj)
                if a is not None:
                    assert np.array_equal(a, b), (frame, obj)
                    compared += 1
        assert compared == 2 * N  # both runs together covered every frame for both objects
        assert any(gui.mask(f, 1).any() for f in range(N)) and any(gui.mask(f, 2).any() for f in range(N))
