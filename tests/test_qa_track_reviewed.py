"""``masklet track`` continuing a project must not silently replace masks a person reviewed.

Found by QA: a second ``masklet track`` into a project (a new click on frame 0) replaced three "fixed"
masks with the tracker's, without a word; ``masklet status`` then showed them "changed since their
review". The window asks (keep / replace); headless the default is to keep them and say so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hostile import make_video, one_object_prompts, write_json

from app.cli import main
from app.domain import review
from app.domain.project import Project


def _fixed_mask() -> np.ndarray:
    mask = np.zeros((48, 64), bool)
    mask[5:15, 40:60] = True  # far from where the tracker puts the object
    return mask


def _project_with_a_fixed_frame(tmp_path: Path) -> tuple[Path, Path]:
    video = make_video(tmp_path / "clip.avi", frames=10)
    project = tmp_path / "p.masklet"
    first = write_json(tmp_path / "first.json", one_object_prompts(x=20, y=20))
    assert main(["track", str(video), "--prompts", str(first), "--project", str(project)]) == 0
    with Project.open(project) as p:
        p.set_mask(6, 1, _fixed_mask())
        review.review(p, 6, [1], "fixed")
    return video, project


def _again(tmp_path: Path, video: Path, project: Path, *extra: str) -> int:
    more = write_json(tmp_path / "more.json", one_object_prompts(x=24, y=22))
    return main(["track", str(video), "--prompts", str(more), "--project", str(project), *extra])


def test_track_keeps_reviewed_masks_and_says_so(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    video, project = _project_with_a_fixed_frame(tmp_path)
    capsys.readouterr()
    assert _again(tmp_path, video, project) == 0
    err = capsys.readouterr().err
    assert "reviewed" in err and "6" in err, err
    with Project.open(project, read_only=True) as p:
        assert np.array_equal(p.mask(6, 1), _fixed_mask())
        assert (6, 1) in review.current_reviews(p)
        assert review.stale_reviews(p) == {}


def test_track_replaces_reviewed_masks_only_when_asked(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    video, project = _project_with_a_fixed_frame(tmp_path)
    assert _again(tmp_path, video, project, "--reviewed", "replace") == 0
    assert "replaced" in capsys.readouterr().err
    with Project.open(project, read_only=True) as p:
        assert not np.array_equal(p.mask(6, 1), _fixed_mask())
        assert (6, 1) in review.stale_reviews(p)
