"""Import DAVIS folders and COCO files: exports of one project import back to the same masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_export import H, N, W, build_project

from app.domain.export import export_project, import_annotations
from app.domain.importers import ImportFormatError
from app.domain.project import Project


@pytest.fixture
def source(tmp_path: Path):
    with build_project(tmp_path) as project:
        yield project


def fresh(source: Project, tmp_path: Path, name: str = "fresh.masklet") -> Project:
    return Project.create(tmp_path / name, source.video_path)


def all_masks(project: Project) -> dict[tuple[int, int], bytes]:
    return {(f, o): m.tobytes() for f in range(N) for o, m in project.masks_on_frame(f).items() if m.any()}


def test_coco_round_trip_restores_objects_and_masks(source: Project, tmp_path: Path) -> None:
    out = export_project(source, "coco", tmp_path / "c.json")
    with fresh(source, tmp_path) as target:
        summary = import_annotations(target, "coco", out)
        assert sorted(summary.created) == [1, 2, 5] and summary.frames == N
        assert [(o.id, o.category) for o in target.objects()] == [(1, "person"), (2, "person"), (5, "dog")]
        assert all_masks(target) == all_masks(source)
        # Absent on an imported frame -> an empty stored mask; first mask -> mask prompt.
        assert target.mask(2, 2) is not None and not target.mask(2, 2).any()
        prompts = target.prompts(obj_id=2)
        assert [p.frame for p in prompts] == [0] and np.array_equal(prompts[0].mask, source.mask(0, 2))


def test_coco_polygons_import_approximately(source: Project, tmp_path: Path) -> None:
    out = export_project(source, "coco", tmp_path / "p.json", polygons=True)
    with fresh(source, tmp_path) as target:
        import_annotations(target, "coco", out)
        for (frame, obj_id), _ in all_masks(source).items():
            a, b = source.mask(frame, obj_id), target.mask(frame, obj_id)
            assert (a & b).sum() / (a | b).sum() > 0.9


def test_davis_round_trip_matches_existing_objects(source: Project, tmp_path: Path) -> None:
    out = export_project(source, "davis", tmp_path / "davis")
    with fresh(source, tmp_path) as target:
        target.add_object("already here", "cat", obj_id=5)
        summary = import_annotations(target, "davis", out)  # the dataset root: one sequence inside
        assert summary.matched == [5] and sorted(summary.created) == [1, 2]
        assert target.object(5).name == "already here"
        for frame in range(N):
            # DAVIS keeps one id per pixel: the export's overlap rule (higher id wins) is what comes back.
            labels = np.zeros((H, W), np.uint8)
            for obj_id, mask in sorted(source.masks_on_frame(frame).items()):
                labels[mask] = obj_id
            got = target.masks_on_frame(frame)
            for obj_id in (1, 2, 5):
                if (labels == obj_id).any():
                    assert np.array_equal(got[obj_id], labels == obj_id)
                else:
                    assert not got[obj_id].any()


def test_coco_without_track_ids_matches_by_category(source: Project, tmp_path: Path) -> None:
    data = json.loads(export_project(source, "coco", tmp_path / "c.json").read_text())
    for ann in data["annotations"]:
        del ann["track_id"]
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(data))
    with fresh(source, tmp_path) as target:
        target.add_object("the dog", "dog", obj_id=9)
        import_annotations(target, "coco", plain)
        assert [(o.id, o.category) for o in target.objects()] == [(9, "dog"), (10, "person"), (11, "person")]
        assert np.array_equal(target.mask(0, 9), source.mask(0, 5))


def test_bad_imports_change_nothing(source: Project, tmp_path: Path) -> None:
    folder = tmp_path / "bad" / "walk"
    folder.mkdir(parents=True)
    good = np.zeros((H, W), np.uint8)
    good[5:10, 5:10] = 3
    Image.fromarray(good, mode="P").save(folder / "00000.png")
    Image.fromarray(np.zeros((H + 1, W), np.uint8), mode="P").save(folder / "00001.png")
    with fresh(source, tmp_path) as target:
        with pytest.raises(ImportFormatError, match="differs from the video"):
            import_annotations(target, "davis", folder)
        assert target.objects() == [] and target.mask_count() == 0  # rolled back
        (folder / "00001.png").unlink()
        Image.fromarray(good, mode="P").save(folder / "00099.png")
        with pytest.raises(ImportFormatError, match="outside the video"):
            import_annotations(target, "davis", folder)
        broken = tmp_path / "broken.json"
        broken.write_text("{not json")
        with pytest.raises(ImportFormatError, match="JSON"):
            import_annotations(target, "coco", broken)
        broken.write_text(json.dumps({"images": [{"id": 1, "file_name": "x/00000.jpg", "width": 3,
                                                  "height": 3}], "annotations": []}))
        with pytest.raises(ImportFormatError, match="3x3"):
            import_annotations(target, "coco", broken)
        assert target.objects() == [] and target.mask_count() == 0


def test_davis_greyscale_and_colour_pngs(source: Project, tmp_path: Path) -> None:
    mask = np.zeros((H, W), np.uint8)
    mask[4:20, 6:30] = 255
    grey = tmp_path / "grey"
    grey.mkdir()
    Image.fromarray(mask, mode="L").save(grey / "00001.png")  # DAVIS 2016 style: 0/255 = object 1
    colour = tmp_path / "colour"
    colour.mkdir()
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[mask > 0] = (0, 128, 0)  # palette index 2
    Image.fromarray(rgb, mode="RGB").save(colour / "00003.png")
    with fresh(source, tmp_path) as target:
        import_annotations(target, "davis", grey)
        import_annotations(target, "davis", colour)
        assert [o.id for o in target.objects()] == [1, 2]
        assert np.array_equal(target.mask(1, 1), mask > 0) and np.array_equal(target.mask(3, 2), mask > 0)
        rgb[0, 0] = (1, 2, 3)
        Image.fromarray(rgb, mode="RGB").save(colour / "00003.png")
        with pytest.raises(ImportFormatError, match="not a DAVIS palette colour"):
            import_annotations(target, "davis", colour)
