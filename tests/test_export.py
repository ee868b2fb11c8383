"""Every export format read back with the consumer's own tools (pycocotools, PIL, OpenCV)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from app.domain.export import export_project
from app.domain.export_common import DAVIS_PALETTE, hex_to_rgb
from app.domain.project import Project
from sam3core.video import VideoSource, write_video

H, W, N = 48, 64, 6


def ring(cy: int, cx: int, outer: int, inner: int) -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    d2 = (yy - cy) ** 2 + (xx - cx) ** 2
    return (d2 <= outer ** 2) & (d2 > inner ** 2)


def build_project(tmp_path: Path) -> Project:
    """Objects 1 and 2 (person) and 5 (dog); a hole, an overlap, an absent frame, an empty frame."""
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(N)]
    video = write_video(tmp_path / "walk.mp4", frames)
    project = Project.create(tmp_path / "p.masklet", video)
    project.add_object("left", "person")
    project.add_object("right", "person")
    project.add_object("dog", "dog", obj_id=5)
    for f in range(N - 1):  # the last frame has no masks at all
        masks = {1: ring(20, 15 + f, 12, 5), 5: ring(30, 40, 8, 0)}
        masks[5][0:3, 0:3] = True  # a second part
        if f != 2:  # object 2 absent on frame 2 (stored empty)
            masks[2] = ring(22, 28, 9, 0)  # overlaps object 1
        else:
            masks[2] = np.zeros((H, W), bool)
        project.set_frame_masks(f, masks)
    return project


@pytest.fixture
def project(tmp_path: Path):
    with build_project(tmp_path) as project:
        yield project


def non_empty(project: Project) -> dict[tuple[int, int], np.ndarray]:
    return {(f, o): m for f in range(N) for o, m in project.masks_on_frame(f).items() if m.any()}


def test_coco_rle_loads_in_pycocotools_and_decodes_to_same_masks(project: Project, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    out = export_project(project, "coco", tmp_path / "out" / "coco.json",
                         progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (N, N)
    coco = COCO(str(out))
    assert len(coco.imgs) == N
    image = coco.imgs[1]
    assert (image["width"], image["height"], image["video_id"], image["frame_id"]) == (W, H, 1, 0)
    assert image["file_name"] == "walk/00000.jpg"
    assert {c["name"]: c["id"] for c in coco.loadCats(coco.getCatIds())} == {"person": 1, "dog": 2}
    expected = non_empty(project)
    assert len(coco.anns) == len(expected)
    for ann in coco.anns.values():
        assert "instance_id" not in ann  # reserved by FiftyOne's Detection
        key = (ann["frame_id"], ann["track_id"])
        assert ann["image_id"] == key[0] + 1 and ann["iscrowd"] == 0
        assert ann["category_id"] == (2 if key[1] == 5 else 1)
        decoded = coco.annToMask(ann).astype(bool)
        assert np.array_equal(decoded, expected[key])
        assert ann["area"] == expected[key].sum()
        ys, xs = np.nonzero(expected[key])
        assert ann["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]


def test_coco_polygons_keep_holes_and_match_approximately(project: Project, tmp_path: Path) -> None:
    coco = COCO(str(export_project(project, "coco", tmp_path / "poly.json", polygons=True)))
    expected = non_empty(project)
    assert len(coco.anns) == len(expected)
    for ann in coco.anns.values():
        assert isinstance(ann["segmentation"], list) and all(len(p) >= 6 for p in ann["segmentation"])
        decoded = coco.annToMask(ann).astype(bool)
        truth = expected[(ann["frame_id"], ann["track_id"])]
        assert (decoded & truth).sum() / (decoded | truth).sum() > 0.9
    ann = next(a for a in coco.anns.values() if a["track_id"] == 1 and a["frame_id"] == 0)
    assert not coco.annToMask(ann)[20, 15]  # the hole stays open
    dog = next(a for a in coco.anns.values() if a["track_id"] == 5 and a["frame_id"] == 0)
    assert coco.annToMask(dog)[1, 1]  # the second, separate part is there


def davis_expected(project: Project, frame: int, values: dict[int, int],
                   rule: str = "higher-id") -> np.ndarray:
    masks = project.masks_on_frame(frame)
    order = sorted(masks) if rule == "higher-id" else sorted(masks, reverse=True)
    expected = np.zeros((H, W), np.uint8)
    for obj_id in order:
        expected[masks[obj_id]] = values[obj_id]
    return expected


def test_davis_writes_the_2017_layout_renumbered_with_an_id_map(project: Project, tmp_path: Path) -> None:
    notes: list[str] = []
    out = export_project(project, "davis", tmp_path / "davis", with_images=True, notes=notes)
    files = sorted((out / "Annotations" / "480p" / "walk").glob("*.png"))
    assert [f.name for f in files] == [f"{i:05d}.png" for i in range(N)]
    assert len(list((out / "JPEGImages" / "480p" / "walk").glob("*.jpg"))) == N
    assert (out / "ImageSets" / "2017" / "val.txt").read_text().split() == ["walk"]
    id_map = json.loads((out / "masklet_ids" / "walk.json").read_text())
    assert {v: e["object_id"] for v, e in id_map["values"].items()} == {"1": 1, "2": 2, "3": 5}
    values = {1: 1, 2: 2, 5: 3}  # ids 1, 2, 5 -> contiguous 1..3 (the toolkit scores 1..max)
    for frame, file in enumerate(files):
        with Image.open(file) as png:
            assert png.mode == "P"
            assert png.getpalette()[:3 * 6] == DAVIS_PALETTE[:3 * 6]
            assert np.array_equal(np.asarray(png), davis_expected(project, frame, values))
    overlap = project.mask(0, 1) & project.mask(0, 2)
    assert overlap.any()
    with Image.open(files[0]) as png:
        assert (np.asarray(png)[overlap] == 2).all()
    with Image.open(files[-1]) as png:
        assert not np.asarray(png).any()
    # The overlap is counted and reported, not silently resolved.
    shared, lost, frames = 0, {1: 0, 2: 0}, 0
    for f in range(N):
        masks = project.masks_on_frame(f)
        covered = sum(m.astype(int) for m in masks.values()) if masks else np.zeros((H, W), int)
        shared += int(np.count_nonzero(covered > 1))
        frames += bool((covered > 1).any())
        painted = davis_expected(project, f, values)
        for obj_id in lost if masks else ():  # higher id wins: 1 loses to 2 and 5, 2 to 5
            lost[obj_id] += int(np.count_nonzero(masks[obj_id] & (painted != values[obj_id])))
    assert shared and id_map["overlap"]["pixels"] == shared and id_map["overlap"]["frames"] == frames
    assert id_map["overlap"]["pixels_lost_per_object"] == {str(k): v for k, v in lost.items() if v}
    assert len(notes) == 1 and f"{shared} pixel(s) on {frames} frame(s)" in notes[0]
    assert "object 1 lost" in notes[0]


def test_davis_overlap_rules_raw_ids_and_flat_layout(project: Project, tmp_path: Path) -> None:
    out = export_project(project, "davis", tmp_path / "d", davis_layout="flat", davis_ids="raw",
                         overlap="lower-id")
    assert not (out / "ImageSets").exists()
    with Image.open(out / "Annotations" / "walk" / "00001.png") as png:
        assert np.array_equal(np.asarray(png), davis_expected(project, 1, {1: 1, 2: 2, 5: 5}, "lower-id"))
    from app.domain.export_labels import OverlapError

    with pytest.raises(OverlapError, match="frame 0: objects \\[1, 2"):
        export_project(project, "davis", tmp_path / "e", overlap="error")
    out = export_project(project, "davis", tmp_path / "s", overlap="smaller-on-top")
    with Image.open(out / "Annotations" / "480p" / "walk" / "00000.png") as png:
        labels = np.asarray(png)
    small_first = project.mask(0, 2).sum() < project.mask(0, 1).sum()
    overlap = project.mask(0, 1) & project.mask(0, 2)
    assert (labels[overlap] == (2 if small_first else 1)).all()


def test_ytvis_has_per_frame_lists_with_nulls(project: Project, tmp_path: Path) -> None:
    out = export_project(project, "ytvis", tmp_path / "ytvis.json")
    data = json.loads(out.read_text())
    (video,) = data["videos"]
    assert (video["width"], video["height"], video["length"]) == (W, H, N)
    assert video["file_names"][3] == "walk/00003.jpg"
    assert [c["name"] for c in data["categories"]] == ["person", "dog"]
    anns = {a["track_id"]: a for a in data["annotations"]}
    assert set(anns) == {1, 2, 5}
    for obj_id, ann in anns.items():
        assert len(ann["segmentations"]) == len(ann["bboxes"]) == len(ann["areas"]) == N
        for frame in range(N):
            mask = project.mask(frame, obj_id)
            segmentation = ann["segmentations"][frame]
            if mask is None or not mask.any():
                assert segmentation is None and ann["bboxes"][frame] is None and ann["areas"][frame] is None
            else:
                assert np.array_equal(mask_utils.decode(segmentation).astype(bool), mask)
                assert ann["areas"][frame] == mask.sum()
    assert anns[2]["segmentations"][2] is None and anns[2]["segmentations"][1] is not None


def test_overlay_video_tints_masks(project: Project, tmp_path: Path) -> None:
    out = export_project(project, "video", tmp_path / "overlay.mp4")
    with VideoSource(out) as video:
        assert (video.num_frames, video.height, video.width) == (N, H, W)
        tinted = video.frame(0).astype(int)
    original = np.asarray(project.video.frame(0), int)
    colour = np.array(hex_to_rgb(project.object(5).color))  # object 5 (dog): its default colour
    inside = ring(30, 40, 5, 0)
    # Blending moves the pixels towards the object's colour (mp4 compression blurs, so compare means).
    assert np.abs(tinted[inside] - colour).mean() < np.abs(original[inside] - colour).mean() - 20
    with pytest.raises(ValueError, match="mp4"):
        export_project(project, "video", tmp_path / "overlay.gif")


def test_davis_raw_ids_refuse_ids_beyond_one_byte(project: Project, tmp_path: Path) -> None:
    project.add_object(obj_id=300)
    project.set_frame_masks(0, {300: ring(5, 5, 3, 0)})
    with pytest.raises(ValueError, match="300"):
        export_project(project, "davis", tmp_path / "d", davis_ids="raw")
    out = export_project(project, "davis", tmp_path / "c")  # contiguous numbering: 300 becomes 4
    with Image.open(out / "Annotations" / "480p" / "walk" / "00000.png") as png:
        assert 4 in np.asarray(png)


def test_unknown_format(project: Project, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        export_project(project, "pascal", tmp_path / "x")


def test_coco_file_names_of_a_frame_folder_are_its_real_files(tmp_path: Path) -> None:
    """A project on an image-frame folder: each COCO image (and YouTube-VIS file_names entry) names the
    frame's own file under the folder, not the ``<video>/00000.jpg`` names given to a video's frames."""
    from app.domain.export_common import frame_file_name

    folder = tmp_path / "images" / "shots"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    # Natural order (shot-2 before shot-10), mixed suffixes, and a file that is not a frame.
    names = [f"shot-{k}.png" for k in (1, 2, 3, 9)] + ["shot-10.jpeg", "shot-11.png"]
    for name in names:
        pixels = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / name, quality=95)
    (folder / "notes.txt").write_text("not a frame")
    with Project.create(tmp_path / "shots.masklet", folder) as project:
        assert project.num_frames == len(names)
        project.add_object("thing")
        for frame in range(len(names)):
            project.set_frame_masks(frame, {1: ring(20, 20 + frame, 9, 0)})
        coco = COCO(str(export_project(project, "coco", tmp_path / "coco.json")))
        ytvis = json.loads(export_project(project, "ytvis", tmp_path / "ytvis.json").read_text())
        for frame, name in enumerate(names):
            image = coco.imgs[frame + 1]
            assert image["frame_id"] == frame
            assert image["file_name"] == f"shots/{name}"
            assert image["file_name"] != frame_file_name("shots", frame)  # the video-file naming
            file = folder.parent / image["file_name"]  # the folder's parent is the image root
            assert file.is_file()
            if file.suffix == ".png":  # lossless: the named file holds the very frame annotated
                assert np.array_equal(np.asarray(Image.open(file).convert("RGB")), project.video.frame(frame))
            (ann,) = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
            assert np.array_equal(coco.annToMask(ann).astype(bool), project.mask(frame, 1))
        assert ytvis["videos"][0]["file_names"] == [f"shots/{name}" for name in names]
