"""MOTS, YOLO and SA-V exports; every format decoded back to the project's masks (the round trip).

Decoding goes through the format's own rules: pycocotools for RLE and polygons, PIL for PNGs, and
Masklet's importers (which use pycocotools too) for MOTS and YOLO. Formats that keep one object per
pixel (DAVIS, MOTS) decode to the label map of their overlap rule, which is what is checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from test_export import H, N, W, build_project

from app.domain.export import export_project, import_annotations
from app.domain.importers import ImportFormatError
from app.domain.project import Project


@pytest.fixture
def project(tmp_path: Path):
    with build_project(tmp_path) as project:
        yield project


def stored(project: Project) -> dict[tuple[int, int], np.ndarray]:
    """(frame, obj_id) -> mask for every non-empty stored mask."""
    return {(f, o): m for f in range(N) for o, m in project.masks_on_frame(f).items() if m.any()}


def one_per_pixel(project: Project, rule: str = "higher-id") -> dict[tuple[int, int], np.ndarray]:
    """What a label-map format keeps of ``stored``: overlaps resolved by ``rule``."""
    result = {}
    for frame in range(N):
        masks = project.masks_on_frame(frame)
        labels = np.zeros((H, W), np.int64)
        for obj_id in sorted(masks, reverse=rule == "lower-id"):
            labels[masks[obj_id]] = obj_id
        result.update({(frame, o): labels == o for o in masks if (labels == o).any()})
    return result


def imported(project: Project, tmp_path: Path, fmt: str, path: Path) -> dict[tuple[int, int], np.ndarray]:
    with Project.create(tmp_path / f"back-{fmt}.masklet", project.video_path) as target:
        import_annotations(target, fmt, path)
        return stored(target)


def decode_export(project: Project, fmt: str, tmp_path: Path) -> dict[tuple[int, int], np.ndarray]:
    name = "walk"
    if fmt in ("coco", "coco-polygons"):
        coco = COCO(str(export_project(project, "coco", tmp_path / "c.json", polygons=fmt != "coco")))
        return {(a["frame_id"], a["track_id"]): coco.annToMask(a).astype(bool) for a in coco.anns.values()}
    if fmt in ("ytvis", "ytvis-polygons"):
        data = json.loads(export_project(project, "ytvis", tmp_path / "y.json",
                                         polygons=fmt != "ytvis").read_text())
        out = {}
        for ann in data["annotations"]:
            for frame, seg in enumerate(ann["segmentations"]):
                if seg is not None:
                    rle = mask_utils.merge(mask_utils.frPyObjects(seg, H, W)) if isinstance(seg, list) \
                        else seg
                    out[(frame, ann["track_id"])] = mask_utils.decode(rle).astype(bool)
        return out
    if fmt == "davis":
        root = export_project(project, "davis", tmp_path / "d")
        id_map = json.loads((root / "masklet_ids" / "walk.json").read_text())["values"]
        out = {}
        for frame in range(N):
            labels = np.asarray(Image.open(root / "Annotations" / "480p" / name / f"{frame:05d}.png"))
            for value in np.unique(labels[labels > 0]).tolist():
                out[(frame, id_map[str(value)]["object_id"])] = labels == value
        return out
    if fmt == "sav":
        out = export_project(project, "sav", tmp_path / "s")
        data = json.loads((out / f"{name}_manual.json").read_text())
        return {(frame, data["masklet_id"][k]): mask_utils.decode(rle).astype(bool)
                for frame, row in enumerate(data["masklet"]) for k, rle in enumerate(row)
                if rle is not None and mask_utils.area(rle) > 0}
    if fmt in ("mots", "yolo"):
        return imported(project, tmp_path, fmt, export_project(project, fmt, tmp_path / fmt))
    if fmt == "mots-png":
        root = export_project(project, "mots", tmp_path / "mp")
        (root / "instances_txt").rename(tmp_path / "txt-elsewhere")  # only the PNGs remain to be read
        return imported(project, tmp_path, "mots", root / "instances" / name)
    raise AssertionError(fmt)


EXACT = ["coco", "coco-polygons", "ytvis", "ytvis-polygons", "sav", "yolo"]
ONE_PER_PIXEL = ["davis", "mots", "mots-png"]


@pytest.mark.parametrize("fmt", EXACT + ONE_PER_PIXEL)
def test_every_format_decodes_to_the_projects_masks(project: Project, tmp_path: Path, fmt: str) -> None:
    expected = one_per_pixel(project) if fmt in ONE_PER_PIXEL else stored(project)
    decoded = decode_export(project, fmt, tmp_path)
    assert set(decoded) == set(expected)
    for key, mask in expected.items():
        # Polygons too: traced on the pixel edges, pycocotools fills them back to the very mask.
        assert np.array_equal(decoded[key], mask), (fmt, key)


def test_mots_files_follow_the_benchmark(project: Project, tmp_path: Path) -> None:
    project.update_object(1, category="pedestrian")
    project.update_object(5, category="car")
    project.update_object(2, category="bag")
    notes: list[str] = []
    out = export_project(project, "mots", tmp_path / "m", notes=notes)
    lines = (out / "instances_txt" / "walk.txt").read_text().splitlines()
    fields = [line.split() for line in lines]
    assert all(len(f) == 6 and f[3:5] == [str(H), str(W)] for f in fields)
    ids = {int(f[1]) for f in fields}
    assert ids == {2001, 3002, 1005}  # pedestrian 2, car 1, and "bag" gets its own class 3
    assert all(int(f[1]) // 1000 == int(f[2]) for f in fields)
    assert [int(f[0]) for f in fields] == sorted(int(f[0]) for f in fields)
    with Image.open(out / "instances" / "walk" / "000000.png") as png:
        values = np.asarray(png)
    assert values.dtype == np.uint16 and set(np.unique(values).tolist()) == {0, 1005, 2001, 3002}
    assert any("only classes 1 (car), 2 (pedestrian)" in n for n in notes)
    assert any("covered by more than one object" in n for n in notes)
    sidecar = json.loads((out / "masklet_mots" / "walk.json").read_text())
    assert sidecar["ids"]["3002"]["object_id"] == 2 and sidecar["classes"]["3"] == "bag"


def test_yolo_layout_and_identities_without_the_sidecar(project: Project, tmp_path: Path) -> None:
    out = export_project(project, "yolo", tmp_path / "y")
    images = sorted(p.name for p in (out / "images" / "train").iterdir())
    assert images == [f"walk_{i:05d}.jpg" for i in range(N)]
    assert (out / "labels" / "train" / "walk_00005.txt").read_text() == ""  # a background frame
    data = (out / "data.yaml").read_text()
    assert "train: images/train" in data and '0: "person"' in data and '1: "dog"' in data
    for line in (out / "labels" / "train" / "walk_00000.txt").read_text().splitlines():
        values = [float(v) for v in line.split()[1:]]
        assert line.split()[0] in ("0", "1") and len(values) % 2 == 0 and len(values) >= 6
        assert all(0 <= v <= 1 for v in values)
    (out / "masklet_tracks" / "walk.json").unlink()  # as from another tool: identities by category order
    with Project.create(tmp_path / "t.masklet", project.video_path) as target:
        import_annotations(target, "yolo", out)
        # The dog's two parts are two lines, hence two dogs: YOLO itself cannot say they are one.
        assert [(o.id, o.category) for o in target.objects()] == [(1, "person"), (2, "person"), (3, "dog"),
                                                                   (4, "dog")]
        assert np.array_equal(target.mask(0, 3) | target.mask(0, 4), project.mask(0, 5))
        assert np.array_equal(target.mask(2, 1), project.mask(2, 1))  # object 2 absent: 1 stays 1


def test_sav_fields_and_nulls(project: Project, tmp_path: Path) -> None:
    project.add_object("never tracked", obj_id=7)
    data = json.loads((export_project(project, "sav", tmp_path / "s") / "walk_manual.json").read_text())
    assert data["video_id"] == "walk" and data["video_frame_count"] == N
    assert (data["video_height"], data["video_width"], data["video_resolution"]) == (H, W, H * W)
    assert data["masklet_id"] == [1, 2, 5, 7] and data["masklet_num"] == 4
    assert len(data["masklet"]) == N and all(len(row) == 4 for row in data["masklet"])
    assert all(row[3] is None for row in data["masklet"])        # no stored mask: not annotated
    assert data["masklet"][2][1]["counts"] and mask_utils.area(data["masklet"][2][1]) == 0  # tracked, absent
    assert all(v is None for v in data["masklet"][N - 1])        # the last frame was never tracked
    assert data["masklet_visibility_changes"][:3] == [0, 2, 0]
    assert data["masklet_frame_count"][:3] == [N - 1] * 3 and data["masklet_first_appeared_frame"][3] == -1
    mean_area = np.mean([project.mask(f, 1).sum() for f in range(N - 1)])
    assert data["masklet_size_abs"][0] == pytest.approx(mean_area)
    assert data["masklet_size_bucket"][0] == "small" and data["masklet_type"] == ["manual"] * 4


def test_bad_mots_and_yolo_imports_change_nothing(project: Project, tmp_path: Path) -> None:
    good = "0 2001 2 {h} {w} {rle}\n".format(h=H, w=W, rle=mask_utils.encode(
        np.asfortranarray(np.ones((H, W), np.uint8)))["counts"].decode())
    cases = {
        f"mask is {W}x{H + 1}": good.replace(f" {H} {W} ", f" {H + 1} {W} "),
        "outside the video": good.replace("0 2001", f"{N} 2001", 1),
        "RLE runs cover": f"0 2001 2 {H} {W} {good.split()[-1]}1\n",  # one run too many
        "not COCO compressed RLE": f"0 2001 2 {H} {W} {good.split()[-1]}~\n",
        "end in the middle of a run": f"0 2001 2 {H} {W} {good.split()[-1]}P\n",
        "appears twice": good + good,
        "expected 'frame id": "0 2001 2\n",
        "does not carry class": good.replace(" 2001 2 ", " 2001 1 "),
    }
    mots = tmp_path / "walk.txt"
    with Project.create(tmp_path / "t.masklet", project.video_path) as target:
        for message, text in cases.items():
            mots.write_text(text)
            with pytest.raises(ImportFormatError, match=message):
                import_annotations(target, "mots", mots)
        labels = tmp_path / "labels"
        labels.mkdir()
        for message, text in {"normalised to 0..1": "0 0.1 0.1 1.5 0.1 0.5 0.5\n",
                              "NaN": "0 0.1 0.1 nan 0.1 0.5 0.5\n",
                              "3\\+ points": "0 0.1 0.1 0.2 0.2 0.3\n",
                              "non-negative integer": "x 0.1 0.1 0.2 0.2 0.3 0.1\n"}.items():
            (labels / "walk_00001.txt").write_text(text)
            with pytest.raises(ImportFormatError, match=message):
                import_annotations(target, "yolo", labels)
        assert target.objects() == [] and target.mask_count() == 0
        (labels / "walk_00001.txt").write_text("0 0.5 0.5 0.5 0.5\n")  # a box: a filled rectangle
        import_annotations(target, "yolo", labels)
        mask = target.mask(1, 1)
        assert mask[H // 4 + 1:3 * H // 4 - 1, W // 4 + 1:3 * W // 4 - 1].all()
        assert not mask[:H // 4 - 1].any()


def test_cli_new_formats_notes_and_refusals(project: Project, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    from app.cli import main

    path = str(project.path)
    for fmt in ("mots", "yolo", "sav"):
        assert main(["export", path, "--format", fmt, "--out", str(tmp_path / fmt)]) == 0
    assert "covered by more than one object" in capsys.readouterr().err  # the MOTS overlap note
    refused = ["export", path, "--format", "davis", "--overlap", "error", "--out", str(tmp_path / "d")]
    assert main(refused) == 2
    assert "frame 0: objects [1, 2" in capsys.readouterr().err
    assert main(["export", path, "--format", "davis", "--davis-layout", "flat", "--davis-ids", "raw",
                 "--out", str(tmp_path / "flat")]) == 0
    assert (tmp_path / "flat" / "Annotations" / "walk" / "00000.png").is_file()
    for fmt in ("mots", "yolo"):
        fresh = tmp_path / f"fresh-{fmt}.masklet"
        Project.create(fresh, project.video_path).close()
        assert main(["import", str(fresh), "--format", fmt, "--path", str(tmp_path / fmt)]) == 0
        assert "created [1, 2, 5]" in capsys.readouterr().out
    assert main(["import", str(fresh), "--format", "mots", "--path", str(tmp_path / "nowhere")]) == 2


def test_several_videos_share_one_davis_root_and_one_yolo_dataset(project: Project, tmp_path: Path) -> None:
    from sam3core.video import write_video

    frames = [np.full((H, W, 3), 40 * k, np.uint8) for k in range(3)]
    with Project.create(tmp_path / "second.masklet", write_video(tmp_path / "run.mp4", frames)) as second:
        second.add_object("ball", "ball", obj_id=9)
        second.set_frame_masks(1, {9: np.eye(H, W, dtype=bool)})
        for fmt in ("davis", "yolo"):
            export_project(project, fmt, tmp_path / fmt)
            export_project(second, fmt, tmp_path / fmt)  # merged into the same root
    davis = tmp_path / "davis"
    assert (davis / "ImageSets" / "2017" / "val.txt").read_text().split() == ["walk", "run"]
    assert sorted(p.name for p in (davis / "masklet_ids").iterdir()) == ["run.json", "walk.json"]
    with Project.create(tmp_path / "back.masklet", project.video_path) as back:
        import_annotations(back, "davis", davis)  # finds its own sequence and its own id map
        assert sorted(o.id for o in back.objects()) == [1, 2, 5]
    data = (tmp_path / "yolo" / "data.yaml").read_text()
    assert '0: "person"' in data and '1: "dog"' in data and '2: "ball"' in data  # indices kept
    assert (tmp_path / "yolo" / "labels" / "train" / "run_00001.txt").read_text().startswith("2 ")
    assert (tmp_path / "yolo" / "labels" / "train" / "walk_00000.txt").read_text().startswith("0 ")
