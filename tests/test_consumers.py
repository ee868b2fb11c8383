"""Every export read by the field's own tools, unchanged, each in its own interpreter.

The consumers are test-time tools, never dependencies of Masklet: each test runs a script of
tests/consumers/ in the Python (or from the checkout) named by an environment variable, and skips
when it is not set. docs/formats.md lists the versions and commands these ran with:

- ``MASKLET_TEST_FIFTYONE_PYTHON``: a Python with fiftyone (COCO)
- ``MASKLET_TEST_DATUMARO_PYTHON``: a Python with datumaro (COCO, MOTS)
- ``MASKLET_TEST_ULTRALYTICS_PYTHON``: a Python with ultralytics (YOLO segmentation)
- ``MASKLET_TEST_DAVIS2017_DIR`` (+ ``MASKLET_TEST_DAVIS2017_PYTHON`` with its requirements): a
  checkout of davisvideochallenge/davis2017-evaluation (DAVIS, and ``masklet eval``)
- ``MASKLET_TEST_YTVIS_API_DIR`` (+ ``MASKLET_TEST_YTVIS_PYTHON``): youtubevos/cocoapi's PythonAPI,
  built in place (YouTube-VIS)
- ``MASKLET_TEST_MOTS_TOOLS_DIR``: a checkout of VisualComputingInstitute/mots_tools (MOTS)
- ``MASKLET_TEST_SAM2_DIR`` (+ ``MASKLET_TEST_SAM2_PYTHON`` with torch, pandas, matplotlib): a
  checkout of facebookresearch/sam2 (SA-V)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_eval_protocol import ground_truth, write_official
from test_export import N, build_project
from test_export_formats import one_per_pixel, stored

from app.domain.evaluate import evaluate_project
from app.domain.export import export_project
from app.domain.importers import ImportFormatError
from app.domain.project import Project

SCRIPTS = Path(__file__).parent / "consumers"


def consumer(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        pytest.skip(f"{variable} is not set (see tests/test_consumers.py)")
    return value


def run(python: str, script: str, *args: object, tmp_path: Path) -> dict:
    env = {**os.environ, "FIFTYONE_DATABASE_DIR": str(tmp_path / "fiftyone-db"),
           "FIFTYONE_DO_NOT_TRACK": "true", "YOLO_OFFLINE": "1", "YOLO_CONFIG_DIR": str(tmp_path / "yolo"),
           "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([python, str(SCRIPTS / script), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def keyed(npz: Path, prefix: str = "f") -> dict[tuple[int, int], np.ndarray]:
    """``f<frame>_<x><n>`` arrays -> {(frame, n): array}."""
    with np.load(npz) as data:
        out = {}
        for key in data.files:
            if key.startswith(prefix):
                frame, rest = key[len(prefix):].split("_", 1)
                out[(int(frame), int(rest[1:]))] = data[key]
        return out


@pytest.fixture
def project(tmp_path: Path):
    with build_project(tmp_path) as project:
        yield project


@pytest.fixture
def frames_dir(project: Project, tmp_path: Path) -> Path:
    """The frames as the DAVIS export writes them (``JPEGImages/480p/walk/00000.jpg``)."""
    return export_project(project, "davis", tmp_path / "frames", with_images=True) / "JPEGImages" / "480p"


def assert_same(decoded: dict, expected: dict) -> None:
    assert set(decoded) == set(expected)
    for key, mask in expected.items():
        assert np.array_equal(decoded[key], mask), key


@pytest.mark.parametrize("polygons", [False, True])
def test_fiftyone_loads_coco(project: Project, tmp_path: Path, frames_dir: Path, polygons: bool) -> None:
    python = consumer("MASKLET_TEST_FIFTYONE_PYTHON")
    labels = export_project(project, "coco", tmp_path / "coco.json", polygons=polygons)
    info = run(python, "read_fiftyone.py", labels, frames_dir, tmp_path / "fo.npz", tmp_path=tmp_path)
    assert info["samples"] == N and info["label_fields"] == ["segmentations"]
    assert info["filepaths"] == [str(frames_dir / "walk" / f"{i:05d}.jpg") for i in range(N)]
    assert_same(keyed(tmp_path / "fo.npz"), stored(project))


def test_datumaro_imports_coco_and_mots(project: Project, tmp_path: Path, frames_dir: Path) -> None:
    python = consumer("MASKLET_TEST_DATUMARO_PYTHON")
    root = tmp_path / "coco_dm"
    (root / "annotations").mkdir(parents=True)
    labels = export_project(project, "coco", root / "annotations" / "instances_default.json")
    shutil.copytree(frames_dir, root / "images" / "default")  # Datumaro's COCO layout
    info = run(python, "read_datumaro.py", "coco_instances", root, tmp_path / "c.npz", tmp_path=tmp_path)
    assert info["items"] == N and info["categories"] == ["person", "dog"]
    by_id = {a["id"]: (a["frame_id"], a["track_id"]) for a in json.loads(labels.read_text())["annotations"]}
    with np.load(tmp_path / "c.npz") as data:
        decoded = {by_id[int(k[1:])]: data[k] for k in data.files}
    assert_same(decoded, stored(project))
    project.update_object(1, category="pedestrian")
    project.update_object(5, category="car")
    mots = export_project(project, "mots", tmp_path / "mots")
    info = run(python, "read_datumaro.py", "mots", mots, tmp_path / "m.npz", tmp_path=tmp_path)
    assert info["items"] == N
    assert_same(keyed(tmp_path / "m.npz"), one_per_pixel(project))


def test_davis2017_toolkit_loads_the_export(project: Project, tmp_path: Path) -> None:
    toolkit = consumer("MASKLET_TEST_DAVIS2017_DIR")
    python = os.environ.get("MASKLET_TEST_DAVIS2017_PYTHON", sys.executable)
    out = export_project(project, "davis", tmp_path / "davis", with_images=True)
    info = run(python, "read_davis2017.py", toolkit, "load", out, tmp_path / "d.npz", tmp_path=tmp_path)
    assert info == {"consumer": "davis2017-evaluation", "sequence": "walk", "objects": 3, "frames": N,
                    "images": N}
    values = {1: 1, 2: 2, 5: 3}  # renumbered 1..N: no phantom objects for the missing ids 3 and 4
    with np.load(tmp_path / "d.npz") as data:
        for frame in range(N):
            expected = np.zeros_like(data[f"gt{frame}"])
            for (f, obj_id), mask in one_per_pixel(project).items():
                if f == frame:
                    expected[mask] = values[obj_id]
            assert np.array_equal(data[f"gt{frame}"], expected)
            assert np.array_equal(data[f"res{frame}"], expected)


def test_masklet_eval_equals_davis2017_evaluation(project: Project, tmp_path: Path) -> None:
    """The official toolkit scores a ground truth with void pixels, a missing object and an object
    appearing later, against the DAVIS export of the project; ``masklet eval``'s defaults agree to
    the last bit on every frame of every object."""
    toolkit = consumer("MASKLET_TEST_DAVIS2017_DIR")
    python = os.environ.get("MASKLET_TEST_DAVIS2017_PYTHON", sys.executable)
    maps = ground_truth(project)
    for labels in maps[1:]:
        labels[labels == 5] = 3  # the object appearing later is ground-truth object 3
    gt_root = write_official(maps, tmp_path / "gt")
    shutil.copytree(export_project(project, "davis", tmp_path / "img", with_images=True) / "JPEGImages",
                    gt_root / "JPEGImages")
    (gt_root / "ImageSets" / "2017").mkdir(parents=True)
    (gt_root / "ImageSets" / "2017" / "val.txt").write_text("walk\n")
    project.delete_object(5)  # results may not hold more objects than the ground truth's first frame
    prediction = export_project(project, "davis", tmp_path / "pred")
    run(python, "read_davis2017.py", toolkit, "eval", gt_root, prediction / "Annotations" / "480p",
        tmp_path / "scores.json", tmp_path=tmp_path)
    official = json.loads((tmp_path / "scores.json").read_text())
    ours = evaluate_project(project, gt_root)
    assert ours.frames == official["per_frame"]["walk"]["frames"] == list(range(1, N - 1))
    assert [o.obj_id for o in ours.objects] == [1, 2] and sorted(official["J"]) == ["walk_1", "walk_2"]
    for k, result in enumerate(ours.objects):
        assert result.j_per_frame == official["per_frame"]["walk"]["J"][k]
        assert result.f_per_frame == official["per_frame"]["walk"]["F"][k]
        assert result.j_mean == official["J"][f"walk_{result.obj_id}"]
        assert result.f_mean == official["F"][f"walk_{result.obj_id}"]


def test_davis2017_reads_davis2016_masks_as_void(project: Project, tmp_path: Path) -> None:
    """Why ``masklet eval`` refuses 0/255 masks by default: the 2017 toolkit finds no object in them."""
    toolkit = consumer("MASKLET_TEST_DAVIS2017_DIR")
    python = os.environ.get("MASKLET_TEST_DAVIS2017_PYTHON", sys.executable)
    root = tmp_path / "davis2016"
    shutil.copytree(export_project(project, "davis", tmp_path / "img", with_images=True) / "JPEGImages",
                    root / "JPEGImages")
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("walk\n")
    folder = root / "Annotations" / "480p" / "walk"
    folder.mkdir(parents=True)
    for frame in range(N):
        mask = project.mask(frame, 1)
        binary = np.zeros(project.size, np.uint8) if mask is None else mask.astype(np.uint8) * 255
        Image.fromarray(binary, mode="L").save(folder / f"{frame:05d}.png")
    info = run(python, "read_davis2017.py", toolkit, "load", root, tmp_path / "d.npz", tmp_path=tmp_path)
    assert info["objects"] == 0
    with pytest.raises(ImportFormatError, match="DAVIS 2016"):
        evaluate_project(project, root)


@pytest.mark.parametrize("polygons", [False, True])
def test_youtube_vis_api_reads_ytvis(project: Project, tmp_path: Path, polygons: bool) -> None:
    api = consumer("MASKLET_TEST_YTVIS_API_DIR")
    python = os.environ.get("MASKLET_TEST_YTVIS_PYTHON", sys.executable)
    out = export_project(project, "ytvis", tmp_path / "ytvis.json", polygons=polygons)
    info = run(python, "read_ytvis.py", api, out, tmp_path / "y.npz", tmp_path=tmp_path)
    assert info["videos"] == 1 and info["anns"] == 3 and info["categories"] == ["person", "dog"]
    assert_same(keyed(tmp_path / "y.npz"), stored(project))


@pytest.mark.parametrize("variant", ["instances_txt", "instances"])
def test_mots_tools_read_mots(project: Project, tmp_path: Path, variant: str) -> None:
    tools = consumer("MASKLET_TEST_MOTS_TOOLS_DIR")
    project.update_object(1, category="pedestrian")
    project.update_object(2, category="person")
    project.update_object(5, category="car")
    out = export_project(project, "mots", tmp_path / "mots")
    info = run(sys.executable, "read_mots.py", tools, out / variant, "walk", tmp_path / "m.npz",
               tmp_path=tmp_path)
    assert info["frames"] == (N - 1 if variant == "instances_txt" else N)  # no line for the empty frame
    ids = {1: 2001, 2: 2002, 5: 1005}
    expected = {(f, ids[o]): m for (f, o), m in one_per_pixel(project).items()}
    assert_same(keyed(tmp_path / "m.npz"), expected)
    classes = {k: int(v) for k, v in keyed(tmp_path / "m.npz", prefix="c").items()}
    assert all(c == i // 1000 for (_, i), c in classes.items())


def test_ultralytics_loads_yolo_segmentation(project: Project, tmp_path: Path) -> None:
    python = consumer("MASKLET_TEST_ULTRALYTICS_PYTHON")
    out = export_project(project, "yolo", tmp_path / "yolo")
    info = run(python, "read_ultralytics.py", out / "data.yaml", tmp_path / "u.npz", tmp_path=tmp_path)
    assert info["images"] == N and info["names"] == {"0": "person", "1": "dog"}
    tracks = json.loads((out / "masklet_tracks" / "walk.json").read_text())["frames"]
    merged: dict[tuple[int, int], np.ndarray] = {}
    for (frame, line), mask in keyed(tmp_path / "u.npz").items():
        key = (frame, tracks[f"walk_{frame:05d}"][line])
        merged[key] = merged[key] | mask if key in merged else mask
    # Ultralytics' own polygon2mask fills the pixel-centre polygons back to the very masks.
    assert_same(merged, stored(project))


def test_sam2_sav_loaders_read_sav(project: Project, tmp_path: Path) -> None:
    sam2 = consumer("MASKLET_TEST_SAM2_DIR")
    python = os.environ.get("MASKLET_TEST_SAM2_PYTHON", sys.executable)
    out = export_project(project, "sav", tmp_path / "sav")
    shutil.copyfile(project.video_path, out / "walk.mp4")  # SAVDataset decodes the video beside the JSON
    info = run(python, "read_sav.py", sam2, out, "walk", tmp_path / "s.npz", tmp_path=tmp_path)
    assert info["frames"] == N and info["masklets"] == 3 and info["masklet_id"] == [1, 2, 5]
    ids = [1, 2, 5]
    decoded = {(f, ids[k]): m for (f, k), m in keyed(tmp_path / "s.npz").items() if m.any()}
    assert_same(decoded, stored(project))
    with np.load(tmp_path / "s.npz") as data:
        for k, obj_id in enumerate(ids):  # frames with a stored mask, empty ones included
            assert data[f"valid{k}"].tolist() == [f for f in range(N) if project.mask(f, obj_id) is not None]
