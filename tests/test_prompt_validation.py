"""One prompt check (sam3core.validate) for the CLI, the project store and the engines (issue 13: 5, 11)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hostile import H, W, digest, make_video, write_json

from app.cli import main
from app.domain.model import Prompt
from app.domain.project import Project
from sam3core.errors import EngineInputError, MaskError, PromptError
from sam3core.validate import check_mask, check_prompt

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(("points", "labels", "box", "message"), [
    ([[NAN, 3]], [1], None, "not finite"),
    ([[3, INF]], [1], None, "not finite"),
    ([[3, 3]], [5], None, "labels are 1"),
    ([[3, 3]], [-1], None, "labels are 1"),
    ([[W, 3]], [1], None, "outside the 64x48 image"),
    ([[-0.5, 3]], [1], None, "outside"),
    ([[3, H + 7]], [1], None, "outside"),
    ([], [], None, "empty"),
    (None, None, None, "empty"),
    ([[3, 3]], None, None, "together"),
    ([[3, 3], [4, 4]], [1], None, "2 point"),
    ([[3, 3, 3]], [1], None, "shape"),
    ([["a", "b"]], [1], None, "numbers"),
    ([[True, False]], [1], None, "booleans"),
    (None, None, [1, 2, NAN, 4], "not finite"),
    (None, None, [10, 2, 5, 4], "inverted or empty"),
    (None, None, [1, 2, 1, 4], "inverted or empty"),
    (None, None, [1, 2, 3], "4 numbers"),
    (None, None, [-1, 2, 5, 9], "outside"),
    (None, None, [1, 2, W + 1, 9], "outside"),
])
def test_the_shared_check_refuses_bad_prompts(points, labels, box, message) -> None:  # noqa: ANN001
    with pytest.raises(PromptError, match=message) as info:
        check_prompt(points, labels, box, width=W, height=H)
    assert isinstance(info.value, EngineInputError) and isinstance(info.value, ValueError)


def test_the_shared_check_accepts_good_prompts_in_any_container() -> None:
    checked = check_prompt(np.array([[1.5, 2.0]]), torch.tensor([1]), (0, 0, W, H), width=W, height=H)
    assert checked.points.tolist() == [[1.5, 2.0]] and checked.labels.tolist() == [1]
    assert checked.box.tolist() == [0, 0, W, H]
    rel = check_prompt([[[1.0, 0.0]]], [[0]], None, width=W, height=H, rel_coordinates=True)
    assert rel.points.shape == (1, 2)
    with pytest.raises(PromptError, match=r"\[0, 1\]"):
        check_prompt([[1.2, 0.5]], [1], None, width=W, height=H, rel_coordinates=True)
    assert check_mask(np.ones((1, H, W), np.uint8), height=H, width=W).dtype == bool
    with pytest.raises(MaskError, match="differs"):
        check_mask(np.ones((H, W + 1)), height=H, width=W)
    with pytest.raises(MaskError, match="NaN"):
        check_mask(np.full((H, W), NAN), height=H, width=W)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project.create(tmp_path / "p.masklet", make_video(tmp_path / "clip.mp4"))
    project.add_object("a")
    yield project
    project.close()


@pytest.mark.parametrize(("prompt", "message"), [
    (Prompt(0, 1, ((NAN, 3.0),), (1,)), "not finite"),
    (Prompt(0, 1, ((3.0, 3.0),), (5,)), "labels are 1"),
    (Prompt(0, 1, ((500.0, 3.0),), (1,)), "outside"),
    (Prompt(0, 1, ((-4.0, 3.0),), (1,)), "outside"),
    (Prompt(0, 1, box=(1.0, 2.0, NAN, 4.0)), "not finite"),
    (Prompt(0, 1, box=(9.0, 2.0, 3.0, 4.0)), "inverted"),
    (Prompt(0, 1, box=(1.0, 2.0, 3.0)), "4 numbers"),  # type: ignore[arg-type]
    (Prompt(0, 1, mask=np.ones((H, W + 2), bool)), "differs"),
    (Prompt(99, 1, ((3.0, 3.0),), (1,)), "outside 0..9"),
    (Prompt("0", 1, ((3.0, 3.0),), (1,)), "integer"),  # type: ignore[arg-type]
])
def test_project_set_prompt_refuses_what_the_cli_refuses(project: Project, prompt: Prompt,
                                                         message: str) -> None:
    with pytest.raises(ValueError, match=message):
        project.set_prompt(prompt)
    assert project.prompts() == []


def test_project_refuses_object_ids_beyond_32_bits(project: Project) -> None:
    for bad in (2**63, 2**31, -3, 0, True):
        with pytest.raises(ValueError, match="positive integer"):
            project.add_object("x", obj_id=bad)
    assert [o.id for o in project.objects()] == [1]


def _track(video: Path, prompts: Path, out: Path) -> int:
    return main(["track", str(video), "--prompts", str(prompts), "--project", str(out)])


@pytest.mark.parametrize(("prompt", "message"), [
    ({"frame": 0, "box": [1, 2, "NaN", 9]}, None),
    ({"frame": 0, "box": [1, 2, 10, 9], "points": [], "labels": []}, None),  # a box alone is fine
    ({"frame": 0, "points": [], "labels": []}, "empty"),
    ({"frame": 0, "points": [[3, 3]], "labels": [1], "box": [1, 2, 1e400, 9]}, "not finite"),
    ({"frame": 0, "points": [[-1e-9, 3]], "labels": [1]}, "outside"),
    ({"frame": 0, "points": [[1e400, 3]], "labels": [1]}, "not finite"),
    ({"frame": 0, "points": [[10**400, 3]], "labels": [1]}, "numbers"),
])
def test_prompts_file_nan_and_empty_are_refused_and_nothing_is_written(
        prompt: dict, message: str | None, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    video = make_video(tmp_path / "clip.mp4")
    prompts = tmp_path / "prompts.json"
    text = json.dumps({"objects": [{"id": 1, "prompts": [prompt]}]})
    prompts.write_text(text.replace('"NaN"', "NaN"))
    out = tmp_path / "new.masklet"
    before = digest(video), digest(prompts)
    code = _track(video, prompts, out)
    err = capsys.readouterr().err
    if message is None and "NaN" not in text:
        assert code == 0, err
        return
    assert code == 2, err
    assert "not finite" in err if message is None else message in err
    assert err.startswith("masklet: error: ") and str(prompts) in err
    assert not out.exists() and (digest(video), digest(prompts)) == before


def test_a_poisoned_prompt_never_reaches_an_existing_project(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    video = make_video(tmp_path / "clip.mp4")
    out = tmp_path / "p.masklet"
    good = write_json(tmp_path / "good.json", {"objects": [{"id": 1, "prompts": [
        {"frame": 0, "box": [10, 10, 40, 30]}]}]})
    assert _track(video, good, out) == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"objects": [{"id": 2, "prompts": [{"frame": 0, "box": [1, 2, NaN, 9]}]}]}')
    before = digest(out)
    assert _track(video, bad, out) == 2
    assert "not finite" in capsys.readouterr().err
    assert digest(out) == before
    # And the project goes on working with valid prompts for another object.
    other = write_json(tmp_path / "other.json", {"objects": [{"id": 2, "prompts": [
        {"frame": 0, "points": [[50, 20]], "labels": [1]}]}]})
    assert _track(video, other, out) == 0
    with Project.open(out) as project:
        assert [o.id for o in project.objects()] == [1, 2]
        assert all(math.isfinite(v) for p in project.prompts() for v in (p.box or ()))
