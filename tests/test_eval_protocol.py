"""``masklet eval``: the official DAVIS 2017 semi-supervised protocol by default, departures on request.

Expected values are computed here from the same arrays with :mod:`sam3core.metrics` following the
protocol's rules step by step; tests/test_consumers.py checks the same against davis2017-evaluation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_export import H, N, W, build_project

from app.domain.evaluate import evaluate_project, looks_binary
from app.domain.export_common import DAVIS_PALETTE
from app.domain.importers import ImportFormatError
from app.domain.project import Project
from sam3core.eval.metrics import boundary_f_measure, region_similarity


@pytest.fixture
def project(tmp_path: Path):
    with build_project(tmp_path) as project:
        yield project


def ground_truth(project: Project) -> list[np.ndarray]:
    """Label maps near the project's masks: objects 1 and 2 shifted, object 5 absent on frame 0 (it
    appears later), a void (255) band across the middle, object 2 missing on frame 3."""
    maps = []
    for frame in range(N):
        labels = np.zeros((H, W), np.uint8)
        masks = project.masks_on_frame(frame)
        for obj_id in (1, 2, 5):
            if obj_id in masks and not (obj_id == 5 and frame == 0) and not (obj_id == 2 and frame == 3):
                labels[np.roll(masks[obj_id], 2 if obj_id == 1 else -1, axis=1)] = obj_id
        labels[20:24, :] = 255
        maps.append(labels)
    return maps


def write_official(maps: list[np.ndarray], root: Path, name: str = "walk") -> Path:
    folder = root / "Annotations" / "480p" / name
    folder.mkdir(parents=True)
    for frame, labels in enumerate(maps):
        png = Image.fromarray(labels, mode="P")
        png.putpalette(DAVIS_PALETTE)
        png.save(folder / f"{frame:05d}.png")
    return root


def expected(project: Project, maps: list[np.ndarray], frames: list[int], ids: list[int], *,
             void: str = "background", overlap: bool = True) -> dict[int, tuple[float, float]]:
    result = {}
    for obj_id in ids:
        js, fs = [], []
        for frame in frames:
            masks = project.masks_on_frame(frame)
            if overlap:  # the DAVIS export's label map: the higher id wins
                painted = np.zeros((H, W), np.int64)
                for k in sorted(masks):
                    painted[masks[k]] = k
                pred = painted == obj_id
            else:
                pred = masks.get(obj_id, np.zeros((H, W), bool))
            gt = maps[frame] == obj_id
            if void == "ignore":
                keep = maps[frame] != 255
                pred, gt = pred & keep, gt & keep
            js.append(region_similarity(pred, gt))
            fs.append(boundary_f_measure(pred, gt))
        result[obj_id] = (float(np.mean(js)), float(np.mean(fs)))
    return result


def scores_of(evaluation) -> dict[int, tuple[float, float]]:  # noqa: ANN001
    return {o.obj_id: (o.j_mean, o.f_mean) for o in evaluation.objects}


def approx_scores(scores: dict[int, tuple[float, float]]) -> dict[int, object]:
    # pytest.approx refuses nested mappings; approx each (J, F) pair so the keys still have to match exactly.
    return {obj_id: pytest.approx(pair) for obj_id, pair in scores.items()}


def test_default_is_the_official_protocol(project: Project, tmp_path: Path) -> None:
    maps = ground_truth(project)
    root = write_official(maps, tmp_path / "DAVIS")
    evaluation = evaluate_project(project, root)  # the dataset root, Annotations/480p/<seq> inside
    assert evaluation.frames == list(range(1, N - 1))  # first and last ground-truth frames not scored
    got = scores_of(evaluation)
    assert sorted(got) == [1, 2]  # the objects of frame 0: object 5 appears later, 255 is no object
    assert got == approx_scores(expected(project, maps, list(range(1, N - 1)), [1, 2]))
    assert any("[5] appear only after the first" in n for n in evaluation.notes)
    # The same through the folder of the sequence itself and through Annotations/480p.
    for path in (root / "Annotations" / "480p" / "walk", root / "Annotations" / "480p", root / "Annotations"):
        assert scores_of(evaluate_project(project, path)) == got


def test_departures_from_the_protocol(project: Project, tmp_path: Path) -> None:
    maps = ground_truth(project)
    root = write_official(maps, tmp_path / "DAVIS")
    every = list(range(N))
    assert scores_of(evaluate_project(project, root, keep_first_last=True)) == approx_scores(
        expected(project, maps, every, [1, 2]))
    assert scores_of(evaluate_project(project, root, objects="all-frames")) == approx_scores(
        expected(project, maps, list(range(1, N - 1)), [1, 2, 5]))
    assert scores_of(evaluate_project(project, root, void="ignore")) == approx_scores(
        expected(project, maps, list(range(1, N - 1)), [1, 2], void="ignore"))
    assert scores_of(evaluate_project(project, root, overlap=None)) == approx_scores(
        expected(project, maps, list(range(1, N - 1)), [1, 2], overlap=False))
    with_void = scores_of(evaluate_project(project, root, void="object"))
    assert sorted(with_void) == [1, 2, 255]
    ignored = scores_of(evaluate_project(project, root, void="ignore"))
    background = scores_of(evaluate_project(project, root))
    assert ignored[1] != background[1]  # the void band crosses object 1: the choice matters


def test_davis_2016_binary_masks_are_void_unless_asked(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "davis2016" / "walk"
    folder.mkdir(parents=True)
    for frame in range(N):
        mask = project.mask(frame, 1)
        mask = np.zeros((H, W), bool) if mask is None else mask
        Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(folder / f"{frame:05d}.png")
    with pytest.raises(ImportFormatError, match="DAVIS 2016 masks.*--binary-gt"):
        evaluate_project(project, folder)
    assert looks_binary(folder, project)  # what the window's dialog asks before scoring
    assert not looks_binary(write_official(ground_truth(project), tmp_path / "DAVIS"), project)
    assert not looks_binary(tmp_path / "nowhere", project)
    got = scores_of(evaluate_project(project, folder, binary_gt=True, overlap=None))
    assert got == {1: (1.0, 1.0)}


def test_renumbered_export_maps_back_and_bad_ground_truth(project: Project, tmp_path: Path) -> None:
    from app.domain.export import export_project

    out = export_project(project, "davis", tmp_path / "gt")  # ids 1, 2, 5 written as 1, 2, 3
    got = scores_of(evaluate_project(project, out))
    assert sorted(got) == [1, 2, 5] and all(v == (1.0, 1.0) for v in got.values())
    short = tmp_path / "short" / "walk"
    short.mkdir(parents=True)
    Image.fromarray(np.ones((H, W), np.uint8), mode="P").save(short / "00000.png")
    Image.fromarray(np.ones((H, W), np.uint8), mode="P").save(short / "00001.png")
    with pytest.raises(ImportFormatError, match="needs 3 or more"):
        evaluate_project(project, short)
    assert scores_of(evaluate_project(project, short, keep_first_last=True))[1][0] < 1
    Image.fromarray(np.ones((H + 2, W), np.uint8), mode="P").save(short / "00002.png")
    with pytest.raises(ImportFormatError, match="differs from the video"):
        evaluate_project(project, short)
