"""Provenance and reviews in exports, read back by the consumers' own tools; --reviewed-only.

The YouTube-VIS API (youtubevos/cocoapi ``ytvos.py``) is not on PyPI: point ``MASKLET_YTVIS_API`` at a
folder holding it as package ``ytvis_api`` (and ``MASKLET_YTVIS_PYTHON`` at an interpreter with its
matplotlib import satisfied); the test is skipped without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from app.cli import main
from app.domain import review
from app.domain.export import export_project
from app.domain.project import Project
from app.domain.quality import FrameScore, MaskInfo, Origin
from sam3core.video import write_video

H, W, N = 32, 48, 6
YTVIS_API = Path(os.environ.get("MASKLET_YTVIS_API", "/tmp/i18-ytvis"))
YTVIS_PYTHON = os.environ.get("MASKLET_YTVIS_PYTHON", "/tmp/i18-ytvis-venv/bin/python")


def blob(t: int, obj: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[4 + 8 * (obj - 1):10 + 8 * (obj - 1), 2 + 4 * t:10 + 4 * t] = True
    return mask


@pytest.fixture
def project(tmp_path: Path) -> Project:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(N)]
    video = write_video(tmp_path / "run.mp4", frames)
    p = Project.create(tmp_path / "p.masklet", video)
    p.add_object("a")
    p.add_object("b")
    for t in range(N):
        infos = [MaskInfo(t, 1, Origin("prompted" if t == 0 else "tracked", "sam2.1_hiera_tiny", "tiny.pt", 0,
                                       "2026-12-01T10:00:00Z"), FrameScore(3.0 - t, 0.9))]
        masks = {1: blob(t, 1), 2: blob(t, 2) if t != 3 else np.zeros((H, W), bool)}
        p.set_frame_masks(t, masks, infos=infos)
    p.set_mask(2, 2, blob(2, 2), info=MaskInfo(2, 2, Origin("painted")))
    review.review(p, 1, [1, 2])
    review.review(p, 2, [1])
    yield p
    p.close()


def test_coco_annotations_carry_provenance_and_load_in_pycocotools(project: Project, tmp_path: Path) -> None:
    out = export_project(project, "coco", tmp_path / "c.json")
    coco = COCO(str(out))
    anns = {(a["frame_id"], a["track_id"]): a for a in coco.loadAnns(coco.getAnnIds())}
    assert len(anns) == 2 * N - 1  # object 2 is absent on frame 3
    first = anns[(0, 1)]["attributes"]
    assert first == {"source": "prompted", "human": True, "engine": "sam2.1_hiera_tiny", "model": "tiny.pt",
                     "source_frame": 0, "created": "2026-12-01T10:00:00Z",
                     "mask_confidence": pytest.approx(0.9 * 0.9051, abs=1e-3),
                     "predicted_iou": 0.9, "object_score": 3.0, "reviewed": None}
    assert anns[(4, 1)]["attributes"]["source"] == "tracked" and not anns[(4, 1)]["attributes"]["human"]
    assert anns[(1, 1)]["attributes"]["reviewed"] == "accepted" and anns[(1, 1)]["attributes"]["human"]
    assert anns[(2, 2)]["attributes"]["source"] == "painted"
    assert anns[(4, 2)]["attributes"]["source"] == "unknown"
    assert np.array_equal(coco.annToMask(anns[(4, 1)]).astype(bool), blob(4, 1))


def test_ytvis_per_frame_provenance_lists(project: Project, tmp_path: Path) -> None:
    data = json.loads(export_project(project, "ytvis", tmp_path / "y.json").read_text())
    a, b = data["annotations"]
    for ann in (a, b):
        assert len(ann["provenance"]) == len(ann["confidences"]) == len(ann["reviewed"]) == N
        assert [p is None for p in ann["provenance"]] == [s is None for s in ann["segmentations"]]
    assert [p["kind"] for p in a["provenance"]] == ["prompted"] + ["tracked"] * (N - 1)
    assert a["reviewed"] == [None, "accepted", "accepted", None, None, None]
    assert b["provenance"][3] is None and b["provenance"][2]["kind"] == "painted"
    assert a["confidences"][0] == pytest.approx(0.8146, abs=1e-3)


@pytest.mark.skipif(not (YTVIS_API / "ytvis_api" / "ytvos.py").is_file() or not Path(YTVIS_PYTHON).exists(),
                    reason="YouTube-VIS API not fetched (see the module docstring)")
def test_ytvis_export_with_provenance_loads_in_the_youtube_vis_api(project: Project, tmp_path: Path) -> None:
    out = export_project(project, "ytvis", tmp_path / "y.json")
    script = f"""
import json, sys
sys.path.insert(0, {str(YTVIS_API)!r})
from ytvis_api.ytvos import YTVOS
api = YTVOS({str(out)!r})
ann = api.loadAnns(api.getAnnIds(vidIds=[1]))
masks = [[None if a['segmentations'][f] is None else api.annToMask(a, f).astype(bool).tolist()
          for f in range(len(a['segmentations']))] for a in ann]
print(json.dumps({{"n": len(ann), "masks": masks, "cats": api.getCatIds(), "prov": ann[0]['provenance'][1]}}))
"""
    result = subprocess.run([YTVIS_PYTHON, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["n"] == 2 and data["cats"] == [1] and data["prov"]["reviewed"] == "accepted"
    for obj, per_frame in zip((1, 2), data["masks"]):
        for t, mask in enumerate(per_frame):
            if obj == 2 and t == 3:
                assert mask is None
            else:
                assert np.array_equal(np.asarray(mask), blob(t, obj))


def test_davis_sidecar_lists_every_frame_and_object(project: Project, tmp_path: Path) -> None:
    out = export_project(project, "davis", tmp_path / "d")
    pngs = sorted(p.name for p in (out / "Annotations" / "480p" / "run").iterdir())
    assert pngs == [f"{t:05d}.png" for t in range(N)]  # nothing else among the frames
    side = json.loads((out / "Provenance" / "run.json").read_text())
    assert side["format"] == "masklet-provenance-1" and side["objects"]["2"]["name"] == "b"
    frames = {f["frame"]: f for f in side["frames"]}
    assert frames[3]["objects"]["2"] == {"kind": "unknown", "reviewed": None, "reviewed_at": None,
                                         "present": False}
    assert frames[1]["objects"]["1"]["reviewed"] == "accepted" and frames[0]["file"] == "00000.png"


def test_reviewed_only_exports(project: Project, tmp_path: Path) -> None:
    coco = json.loads(export_project(project, "coco", tmp_path / "c.json", reviewed_only=True).read_text())
    assert sorted((a["frame_id"], a["track_id"]) for a in coco["annotations"]) == [(1, 1), (1, 2), (2, 1)]
    yt = json.loads(export_project(project, "ytvis", tmp_path / "y.json", reviewed_only=True).read_text())
    assert [s is not None for s in yt["annotations"][0]["segmentations"]] == [False, True, True, False, False,
                                                                              False]
    out = export_project(project, "davis", tmp_path / "d", reviewed_only=True)
    # frame 2 has an unreviewed mask of object 2: not ground truth, left out
    assert sorted(p.name for p in (out / "Annotations" / "480p" / "run").iterdir()) == ["00001.png"]
    labels = np.asarray(Image.open(out / "Annotations" / "480p" / "run" / "00001.png"))
    assert np.array_equal(labels == 1, blob(1, 1)) and np.array_equal(labels == 2, blob(1, 2))
    assert [f["frame"] for f in json.loads((out / "Provenance" / "run.json").read_text())["frames"]] == [1]
    project.set_mask(1, 2, blob(1, 2) & False)  # the reviewed mask changed: its review lapses
    coco = json.loads(export_project(project, "coco", tmp_path / "c2.json", reviewed_only=True).read_text())
    assert sorted((a["frame_id"], a["track_id"]) for a in coco["annotations"]) == [(1, 1), (2, 1)]
    path = str(project.path)
    out = tmp_path / "cli.json"
    assert main(["export", path, "--format", "coco", "--out", str(out), "--reviewed-only"]) == 0
    rles = [a["segmentation"] for a in json.loads((tmp_path / "cli.json").read_text())["annotations"]]
    assert len(rles) == 2 and mask_utils.decode(rles[0]).shape == (H, W)


def test_ytvis_api_fixture_is_not_in_the_repo() -> None:
    root = Path(__file__).resolve().parents[1]
    assert not list(root.rglob("ytvos.py")), "the YouTube-VIS API is a test-time consumer, never vendored"
    assert sys.version_info >= (3, 11)
