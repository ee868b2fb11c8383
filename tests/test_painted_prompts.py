"""A mask painted after a frame's clicks reaches the engine as it is, in ``masklet track`` as in the
window; the clicks stay stored. A click's own mask context still goes with its clicks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.domain.model import Prompt
from app.domain.project import Project
from app.domain.prompt_edits import engine_prompt, painted_last
from app.domain.tracking import track, valid_prompts
from app.ui.testing import SlowFakeEngine
from sam3core.video import write_video

H, W = 48, 64


def square(y0: int, x0: int, size: int = 20) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y0:y0 + size, x0:x0 + size] = True
    return mask


@pytest.fixture
def project(tmp_path: Path):
    video = write_video(tmp_path / "v.mp4", [np.full((H, W, 3), 30 + 20 * i, np.uint8) for i in range(4)])
    with Project.create(tmp_path / "p.masklet", video) as project:
        project.add_object("a")
        yield project


def test_the_rule() -> None:
    painted = square(10, 10)
    clicks = Prompt(0, 1, ((15.0, 15.0),), (0,), mask=painted)
    assert painted_last(clicks, painted.copy())
    assert engine_prompt(clicks, painted.copy()) == Prompt(0, 1)
    assert np.array_equal(engine_prompt(clicks, painted.copy()).mask, painted)
    answered = square(10, 10) & ~square(12, 12, 6)  # the click's answer: the mask was its context
    assert engine_prompt(clicks, answered) is clicks
    assert engine_prompt(Prompt(0, 1, mask=painted), painted) == Prompt(0, 1)  # mask only: as it is
    assert not painted_last(Prompt(0, 1, ((1.0, 1.0),), (1,)), painted)  # no mask
    assert not painted_last(clicks, None)


def test_track_keeps_a_mask_painted_after_clicks_and_the_clicks_stay(project: Project) -> None:
    painted = square(10, 10)
    # A negative click inside the painted square, then the square painted over it: the stored mask.
    project.set_prompt(Prompt(0, 1, ((20.0, 20.0),), (0,), mask=painted))
    project.set_mask(0, 1, painted)
    (fed,) = valid_prompts(project, lambda _m: None)
    assert fed.points == () and np.array_equal(fed.mask, painted)
    track(project, SlowFakeEngine(delay_s=0.0, radius=5))
    # Fed the clicks again, the fake engine would cut a disc out of the square at (20, 20).
    assert np.array_equal(project.mask(0, 1), painted) and np.array_equal(project.mask(2, 1), painted)
    assert project.prompt(0, 1).points == ((20.0, 20.0),)


def test_track_refines_a_mask_context_by_its_clicks(project: Project) -> None:
    context = square(10, 10)
    project.set_prompt(Prompt(0, 1, ((20.0, 20.0),), (0,), mask=context))
    project.set_mask(0, 1, context & ~square(16, 16, 8))  # the click's answer, not the context
    track(project, SlowFakeEngine(delay_s=0.0, radius=5))
    assert not project.mask(0, 1)[20, 20] and project.mask(0, 1)[11, 11]
