""""Keep reviewed" must mean the tracker follows the reviewed mask, not only that the mask stays stored.

Found by QA (i18's report left it open): under "keep", the engine's memory carried its own answer past a
reviewed frame, so the frame after an accepted one could jump back to the tracker's drift — the
annotator sees a good frame k and a bad k+1 that the review should have prevented. Now, where the
engine's answer departs from a reviewed mask, the reviewed mask is given to the engine as a mask prompt
there and the run continues from that frame (what a person fixing the frame would do), so later frames
follow it. Only frames where the engine departed become conditioning frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from hostile import make_video, one_object_prompts, write_json

from app.domain import review
from app.domain.model import Prompt
from app.domain.project import Project
from app.domain.tracking import track

H, W, N = 48, 64, 10


def _square(x: int, y: int = 10, size: int = 8) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y:y + size, x:x + size] = True
    return mask


class ShiftEngine:
    """A memory tracker in miniature: each frame is the previous frame's mask moved 1 px right; a
    prompted frame answers its prompt's mask. A point prompt makes an 8 px square at the point."""

    name = "shift-test"
    device = torch.device("cpu")

    def __init__(self) -> None:
        self.starts: list[int] = []  # where each propagate_in_video call began

    def init_state(self, video_path=None, *, video=None, **kwargs):  # noqa: ANN001, ANN201
        return {"cond": {}}

    def prefetch_features(self, state, frame_idx, should_stop=None):  # noqa: ANN001, ANN201
        return False

    def frame_scores(self, state, frame_idx):  # noqa: ANN001, ANN201
        return {}

    def reset_state(self, state):  # noqa: ANN001, ANN201
        state["cond"].clear()

    def close(self, state):  # noqa: ANN001, ANN201
        pass

    def _answer(self, frame: int, masks: dict) -> tuple:
        ids = sorted(masks)
        logits = torch.from_numpy(np.stack([masks[o] for o in ids])[:, None].astype(np.float32) * 2 - 1)
        return frame, ids, logits, logits

    def add_new_mask(self, state, frame_idx, obj_id, mask):  # noqa: ANN001, ANN201
        state["cond"].setdefault(frame_idx, {})[obj_id] = np.asarray(mask, bool)
        return self._answer(frame_idx, state["cond"][frame_idx])

    def add_new_points_or_box(self, state, frame_idx, obj_id, points=None, labels=None, box=None,  # noqa: ANN001, ANN201
                              clear_old_points=True, rel_coordinates=True):
        x, y = (int(points[0][0]), int(points[0][1])) if points is not None else (int(box[0]), int(box[1]))
        return self.add_new_mask(state, frame_idx, obj_id, _square(x, y))

    def propagate_in_video(self, state, start_frame_idx=None, max_frame_num_to_track=None,  # noqa: ANN001, ANN201
                           reverse=False, propagate_preflight=False):
        from sam3core.engine import frame_order

        self.starts.append(start_frame_idx)
        current: dict = {}
        for frame in frame_order(N, start_frame_idx, max_frame_num_to_track, reverse):
            cond = state["cond"].get(frame, {})
            current = {o: cond.get(o, np.roll(current.get(o, np.zeros((H, W), bool)), -1 if reverse else 1,
                                                    axis=1)) for o in {*current, *cond}}
            yield (*self._answer(frame, current), torch.ones(len(current)))


def _reviewed_project(tmp_path: Path) -> Project:
    video = make_video(tmp_path / "clip.avi", frames=N)
    project = Project.create(tmp_path / "p.masklet", video, engine="shift-test")
    project.add_object("thing")
    project.set_prompt(Prompt(0, 1, ((10.0, 10.0),), (1,)))
    track(project, ShiftEngine())
    # the person moved the mask on frame 4 down to where the object really is, and accepted it
    project.set_mask(4, 1, _square(14, y=30))
    review.review(project, 4, [1], "fixed")
    return project


def test_keep_makes_the_frames_after_a_reviewed_one_follow_it(tmp_path: Path) -> None:
    project = _reviewed_project(tmp_path)
    engine = ShiftEngine()
    with project:
        track(project, engine, reviewed="keep")
        assert engine.starts == [0, 4]  # restarted once, from the reviewed frame
        assert np.array_equal(project.mask(4, 1), _square(14, y=30))  # kept, review holds
        assert (4, 1) in review.current_reviews(project)
        for t in range(5, N):  # the tracker went on from the reviewed mask
            assert np.array_equal(project.mask(t, 1), _square(14 + t - 4, y=30)), t
        for t in range(0, 4):  # before it, unchanged: the engine's own answer
            assert np.array_equal(project.mask(t, 1), _square(10 + t)), t


def test_replace_and_agreeing_frames_change_nothing_in_the_run(tmp_path: Path) -> None:
    project = _reviewed_project(tmp_path)
    with project:
        engine = ShiftEngine()
        track(project, engine, reviewed="replace")
        assert engine.starts == [0]  # one run, no restart
        assert np.array_equal(project.mask(6, 1), _square(16))
        review.review(project, 6, [1])  # the engine's own answer, accepted
        again = ShiftEngine()
        track(project, again, reviewed="keep")
        assert again.starts == [0]  # the engine agreed with every reviewed mask: nothing to feed


def test_masklet_track_follows_reviewed_masks_with_a_real_engine(tmp_path: Path) -> None:
    from app.cli import main

    video = make_video(tmp_path / "clip.avi", frames=N)
    project = tmp_path / "p.masklet"
    prompts = write_json(tmp_path / "p.json", one_object_prompts(x=20, y=20))
    assert main(["track", str(video), "--prompts", str(prompts), "--project", str(project)]) == 0
    with Project.open(project) as p:
        p.set_mask(5, 1, _square(40, y=30))
        review.review(p, 5, [1], "fixed")
    assert main(["track", str(video), "--prompts", str(prompts), "--project", str(project)]) == 0
    with Project.open(project, read_only=True) as p:
        assert np.array_equal(p.mask(5, 1), _square(40, y=30))
        later = p.mask(6, 1)
        assert later is not None and np.count_nonzero(later & _square(36, y=26, size=16)) > 0


def test_a_sam_predictor_takes_the_reviewed_mask_mid_run(tmp_path: Path) -> None:
    """The restart (mask prompt on a frame already tracked, then propagate on from it) on the real SAM
    2.1 predictor: the reviewed frame becomes a conditioning frame and the run completes."""
    from tiny_engines import tiny_sam

    video = make_video(tmp_path / "clip.avi", frames=6)
    engine = tiny_sam()
    with Project.create(tmp_path / "p.masklet", video, engine=engine.name) as project:
        project.add_object("thing")
        project.set_prompt(Prompt(0, 1, ((20.0, 20.0),), (1,)))
        track(project, engine)
        project.set_mask(3, 1, _square(30, y=20))
        review.review(project, 3, [1], "fixed")
        starts: list[int] = []
        run = engine.propagate_in_video

        def counted(state, start_frame_idx=None, **kwargs):  # noqa: ANN001, ANN202
            starts.append(start_frame_idx)
            return run(state, start_frame_idx=start_frame_idx, **kwargs)

        engine.propagate_in_video = counted
        stored = track(project, engine, reviewed="keep")
        assert starts == [0, 3]  # its own answer on frame 3 differed: restarted from the reviewed mask
        assert stored == 1 + 6  # the prompt's mask and each frame once
        assert np.array_equal(project.mask(3, 1), _square(30, y=20))
        assert (3, 1) in review.current_reviews(project)
