"""The domain's tracking session (app/domain/tracking.py) that the GUI worker and ``masklet track`` drive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.domain.model import Prompt
from app.domain.project import Project
from app.domain.tracking import (
    Direction,
    PropagationRequest,
    TrackingSession,
    feed_prompt,
    plan_track,
    same_prompt,
    track,
)
from app.ui.testing import SlowFakeEngine
from sam3core.errors import FrameIndexError
from sam3core.video import VideoSource, write_video

H, W, FRAMES = 40, 60, 8


class Recording(SlowFakeEngine):
    def __init__(self) -> None:
        super().__init__(delay_s=0.0, radius=6)
        self.calls: list[tuple[Any, ...]] = []

    def add_new_points_or_box(self, state: Any, frame_idx: int, obj_id: int, *args: Any,
                              **kwargs: Any) -> Any:
        self.calls.append(("clicks", frame_idx, obj_id))
        return super().add_new_points_or_box(state, frame_idx, obj_id, *args, **kwargs)

    def add_new_mask(self, state: Any, frame_idx: int, obj_id: int, mask: Any) -> Any:
        self.calls.append(("mask", frame_idx, obj_id))
        return super().add_new_mask(state, frame_idx, obj_id, mask)

    def reset_state(self, state: Any) -> None:
        self.calls.append(("reset",))
        super().reset_state(state)


@pytest.fixture
def video_path(tmp_path: Path) -> Path:
    frames = [np.full((H, W, 3), 40 + 10 * t, np.uint8) for t in range(FRAMES)]
    return write_video(tmp_path / "frames", frames)


def test_a_prompt_with_a_mask_and_clicks_feeds_the_mask_then_the_clicks(video_path: Path) -> None:
    engine = Recording()
    mask = np.zeros((H, W), bool)
    mask[5:30, 5:30] = True
    with VideoSource(video_path) as video:
        state = engine.init_state(video=video)
        masks = feed_prompt(engine, state, Prompt(2, 1, points=((50.0, 35.0),), labels=(0,), mask=mask))
    assert engine.calls == [("mask", 2, 1), ("clicks", 2, 1)]
    # the clicks refined the mask (a negative click far from it leaves the mask as it was)
    assert np.array_equal(masks[1], mask)


def test_prompts_read_back_from_the_store_are_not_fed_again(video_path: Path, tmp_path: Path) -> None:
    engine = Recording()
    with Project.create(tmp_path / "p.masklet", video_path) as project:
        project.add_object(obj_id=1)
        project.add_object(obj_id=2)
        project.set_prompt(Prompt(1, 1, points=((10.0, 10.0),), labels=(1,)))
        project.set_prompt(Prompt(3, 2, mask=np.ones((H, W), bool)))
        session = TrackingSession(engine, project.video)
        first = session.sync({(p.frame, p.obj_id): p for p in project.prompts()})
        assert sorted(first) == [(1, 1), (3, 2)]
        engine.calls.clear()
        assert session.sync({(p.frame, p.obj_id): p for p in project.prompts()}) == {}
        assert engine.calls == []  # equal prompts (masks compared too) are the engine's already
        project.set_prompt(Prompt(3, 2, mask=np.zeros((H, W), bool)))  # same fields, another mask
        session.sync({(p.frame, p.obj_id): p for p in project.prompts()})
        assert engine.calls == [("mask", 3, 2)]
        engine.calls.clear()
        project.clear_prompt(1, 1)  # a removal: reset, everything again
        session.sync({(p.frame, p.obj_id): p for p in project.prompts()})
        assert engine.calls == [("reset",), ("mask", 3, 2)]
        session.close()


def test_same_prompt() -> None:
    a = Prompt(0, 1, points=((1.0, 2.0),), labels=(1,), mask=np.ones((2, 2), bool))
    assert same_prompt(a, Prompt(0, 1, points=((1.0, 2.0),), labels=(1,), mask=np.ones((2, 2), bool)))
    assert not same_prompt(a, Prompt(0, 1, points=((1.0, 2.0),), labels=(1,), mask=np.zeros((2, 2), bool)))
    assert not same_prompt(a, Prompt(0, 1, points=((1.0, 2.0),), labels=(1,)))
    assert not same_prompt(a, None) and same_prompt(None, None)


def test_an_engine_error_drops_the_session_so_the_next_call_starts_afresh(video_path: Path) -> None:
    engine = Recording()
    with VideoSource(video_path) as video:
        session = TrackingSession(engine, video)
        good = Prompt(1, 1, points=((10.0, 10.0),), labels=(1,))
        session.sync({(1, 1): good})
        with pytest.raises(FrameIndexError):
            session.sync({(1, 1): good, (FRAMES, 2): Prompt(FRAMES, 2, points=((1.0, 1.0),), labels=(1,))})
        engine.calls.clear()
        assert sorted(session.sync({(1, 1): good})) == [(1, 1)]  # re-fed into a new engine session
        assert engine.calls == [("clicks", 1, 1)]
        session.close()


def test_plans_and_request_frames() -> None:
    assert plan_track([5, 2, 9], 12, Direction.BOTH) == [PropagationRequest(2, False, None),
                                                          PropagationRequest(9, True, None)]
    assert plan_track([0], 12, Direction.BACKWARD)[0].frames(12) == range(0)  # nothing before frame 0
    assert list(PropagationRequest(3, True, 2).frames(12)) == [3, 2, 1]
    with pytest.raises(ValueError, match="no prompts"):
        plan_track([], 12, Direction.FORWARD)


def test_track_stores_each_prompt_for_its_object_then_every_frame(video_path: Path, tmp_path: Path) -> None:
    with Project.create(tmp_path / "t.masklet", video_path) as project:
        project.add_object(obj_id=1)
        project.add_object(obj_id=2)
        project.set_prompt(Prompt(2, 1, points=((10.0, 10.0),), labels=(1,)))
        project.set_prompt(Prompt(5, 2, box=(30.0, 5.0, 50.0, 30.0)))
        phases: list[tuple[str, int]] = []
        stored = track(project, SlowFakeEngine(delay_s=0.0, radius=6), direction="both",
                       on_frame=lambda phase, frame, done, total: phases.append((phase, frame)))
        # 2 prompt results, forward 2..7 (6 frames), backward 5..0 (6 frames)
        assert stored == 2 + 6 + 6
        assert phases[:2] == [("prompt", 2), ("prompt", 5)]
        assert [f for p, f in phases if p == "forward"] == [2, 3, 4, 5, 6, 7]
        assert [f for p, f in phases if p == "backward"] == [5, 4, 3, 2, 1, 0]
        for frame in range(FRAMES):
            assert project.mask(frame, 1) is not None and project.mask(frame, 2) is not None
        assert project.mask(5, 2)[10, 40] and not project.mask(5, 2)[35, 5]
