"""Continuing a project with ``masklet track --prompts`` adds the file's clicks; it must not throw away
a mask prompt stored on the same frame (a DAVIS first-frame mask from ``--masks``, a brush edit).

Found by QA: ``masklet track SEQ --masks GT`` then ``masklet track SEQ --prompts click.json`` (one
refinement click on frame 0) replaced the ground-truth mask prompt by the lone click: on DAVIS
dog-agility the object then went missing on 17 of 25 frames. The window keeps the mask as the click's
context (app/domain/prompt_edits.click_prompt); the CLI now does the same. A box or a mask in the file
still replaces the stored mask, as in the window.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hostile import make_video, write_json
from PIL import Image

from app.cli import main
from app.domain.project import Project


def _mask() -> np.ndarray:
    mask = np.zeros((48, 64), bool)
    mask[10:30, 12:36] = True
    return mask


def _tracked_from_a_mask(tmp_path: Path) -> tuple[Path, Path]:
    video = make_video(tmp_path / "clip.avi", frames=6)
    Image.fromarray(_mask().astype(np.uint8) * 255).save(tmp_path / "m.png")
    spec = {"objects": [{"id": 1, "prompts": [{"frame": 0, "mask": "m.png"}]}]}
    first = write_json(tmp_path / "mask.json", spec)
    project = tmp_path / "p.masklet"
    assert main(["track", str(video), "--prompts", str(first), "--project", str(project)]) == 0
    return video, project


def _continue(tmp_path: Path, video: Path, project: Path, prompt: dict) -> None:
    more = write_json(tmp_path / "more.json", {"objects": [{"id": 1, "prompts": [{"frame": 0, **prompt}]}]})
    assert main(["track", str(video), "--prompts", str(more), "--project", str(project)]) == 0


def test_a_click_added_to_a_mask_prompt_keeps_the_mask(tmp_path: Path) -> None:
    video, project = _tracked_from_a_mask(tmp_path)
    _continue(tmp_path, video, project, {"points": [[20, 20]], "labels": [1]})
    with Project.open(project, read_only=True) as p:
        prompt = p.prompt(0, 1)
        assert prompt is not None and prompt.points == ((20.0, 20.0),)
        assert prompt.mask is not None and np.array_equal(prompt.mask, _mask())


def test_a_box_in_the_file_replaces_the_mask_as_in_the_window(tmp_path: Path) -> None:
    video, project = _tracked_from_a_mask(tmp_path)
    _continue(tmp_path, video, project, {"box": [5, 5, 40, 40]})
    with Project.open(project, read_only=True) as p:
        prompt = p.prompt(0, 1)
        assert prompt is not None and prompt.box == (5.0, 5.0, 40.0, 40.0) and prompt.mask is None
