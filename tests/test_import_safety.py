"""Every import checked before anything is stored (issue 13: cases 3, 4 and the ids / deep JSON of 10)."""

from __future__ import annotations

import json
import resource
import struct
import subprocess
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from hostile import ROOT, H, W, cli_command, cli_env, digest, make_video, write_json
from PIL import Image
from pycocotools import mask as mask_utils

from app.cli import main
from app.domain import rle
from app.domain.project import Project

N = 6


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "p.masklet"
    with Project.create(path, make_video(tmp_path / "clip.mp4", frames=N)) as created:
        created.add_object("existing")
    return path


def _coco(annotations: list, images: list | None = None, **extra: object) -> dict:
    images = images if images is not None else [{"id": f + 1, "frame_id": f, "width": W, "height": H}
                                                for f in range(N)]
    return {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "thing"}], **extra}


def _ann(segmentation: object, **fields: object) -> dict:
    return {"id": 1, "image_id": 1, "category_id": 1, "segmentation": segmentation, **fields}


def _good_rle() -> dict:
    mask = np.zeros((H, W), np.uint8)
    mask[5:15, 5:25] = 1
    encoded = mask_utils.encode(np.asfortranarray(mask))
    return {"size": [H, W], "counts": encoded["counts"].decode()}


BAD_COCO = {
    "uncompressed runs short of H x W": (_coco([_ann({"size": [H, W], "counts": [5, 10]})]),
                                         "cover 15 pixels"),
    "uncompressed runs beyond H x W": (_coco([_ann({"size": [H, W], "counts": [5, H * W]})]), "cover"),
    "negative run": (_coco([_ann({"size": [H, W], "counts": [H * W + 5, -5]})]), "non-negative"),
    "float runs": (_coco([_ann({"size": [H, W], "counts": [1.5, H * W - 1.5]})]), "integers"),
    "compressed runs short": (_coco([_ann({"size": [H, W], "counts": "52"})]), "cover"),
    "compressed garbage": (_coco([_ann({"size": [H, W], "counts": "\x00\x01 ~~"})]), "not COCO compressed"),
    "compressed truncated": (_coco([_ann({"size": [H, W], "counts": "0`"})]), "middle of a run"),
    "compressed huge run": (_coco([_ann({"size": [H, W], "counts": "o" * 20 + "0"})]), "longer than any"),
    "size mismatch": (_coco([_ann({"size": [H + 1, W], "counts": "52"})]), "differs from the video"),
    "size not a pair": (_coco([_ann({"size": "big", "counts": "52"})]), "size must be"),
    "NaN polygon": (_coco([_ann([[1, 2, float("nan"), 4, 5, 6]])]), "NaN"),
    "infinite polygon": (_coco([_ann([[1, 2, 1e400, 4, 5, 6]])]), "NaN or infinity"),
    "far polygon": (_coco([_ann([[1, 2, 1e9, 4, 5, 6]])]), "far outside"),
    "odd polygon": (_coco([_ann([[1, 2, 3, 4, 5]])]), "odd count"),
    "polygon of strings": (_coco([_ann([["1", 2, 3, 4, 5, 6]])]), "list of numbers"),
    "flat polygon": (_coco([_ann([1, 2, 3, 4, 5, 6])]), "list of numbers"),
    "huge outline": (_coco([_ann([[0, 0, W, H] * 20000])]), "too large"),
    "no segmentation": (_coco([{"id": 1, "image_id": 1}]), "segmentation must be"),
    "track id 2**63": (_coco([_ann(_good_rle(), track_id=2**63)]), "not an object id"),
    "track id negative": (_coco([_ann(_good_rle(), track_id=-4)]), "not an object id"),
    "track id zero": (_coco([_ann(_good_rle(), instance_id=0)]), "not an object id"),
    "track id string": (_coco([_ann(_good_rle(), track_id="7")]), "not an object id"),
    "track id bool": (_coco([_ann(_good_rle(), track_id=True)]), "not an object id"),
    "image id 2**70 unknown": (_coco([_ann(_good_rle(), image_id=2**70)]), "unknown image"),
    "image id a list": (_coco([_ann(_good_rle(), image_id=[1])]), "unknown image"),
    "image not an object": (_coco([], images=[3]), "images[0] is not an object"),
    "image without id": (_coco([], images=[{"frame_id": 0}]), "no usable 'id'"),
    "two images one frame": (_coco([], images=[{"id": 1, "frame_id": 0}, {"id": 2, "frame_id": 0}]),
                             "both frame 0"),
    "duplicate image id": (_coco([], images=[{"id": 1, "frame_id": 0}, {"id": 1, "frame_id": 1}]),
                           "appears twice"),
    "frame out of range": (_coco([], images=[{"id": 1, "frame_id": 10**30}]), "not a frame"),
    "image of another size": (_coco([], images=[{"id": 1, "frame_id": 0, "width": 9, "height": 9}]), "9x9"),
    "annotation not an object": (_coco(["x"]), "is not an object"),
    "mixed annotation ids": (_coco([_ann(_good_rle(), id="a"), _ann({"counts": [1]}, id=2)]), "cover"),
    "categories not a list": (_coco([], categories={"1": "x"}), "'categories' must be a list"),
    "category without id": (_coco([], categories=[{"name": "x"}]), "needs an 'id'"),
    "not COCO": ({"images": {}}, "not a COCO file"),
    "a list": ([1, 2, 3], "not a COCO file"),
}


@pytest.mark.parametrize("case", list(BAD_COCO))
def test_bad_coco_is_refused_with_exit_2_and_the_project_unchanged(
        case: str, project: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data, message = BAD_COCO[case]
    # Half valid: a good annotation first, so all-or-nothing is tested too.
    images = data.get("images") if isinstance(data, dict) else None
    if isinstance(data.get("annotations") if isinstance(data, dict) else None, list) and data["annotations"] \
            and images and isinstance(images[0], dict) and "frame_id" in images[0]:
        data = {**data, "annotations": [_ann(_good_rle(), id=0, image_id=2)] + data["annotations"]}
    file = write_json(tmp_path / "bad.json", data)
    before = digest(project), digest(file)
    code = main(["import", str(project), "--format", "coco", "--path", str(file)])
    err = capsys.readouterr().err
    assert code == 2, f"{case}: exit {code}: {err}"
    assert message in err and str(file) in err and err.count("\n") == 1, err
    assert (digest(project), digest(file)) == before


def test_a_good_coco_still_imports(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    file = write_json(tmp_path / "good.json", _coco([
        _ann(_good_rle(), track_id=3), _ann([[5, 5, 20, 5, 20, 20, 5, 20]], id=2, image_id=3, track_id=3),
        _ann({"size": [H, W], "counts": [100, 50, H * W - 150]}, id=3, image_id=4, track_id=2**31 - 1),
        _ann([[1, 1, 2, 2]], id=4, image_id=5, track_id=3)]))  # degenerate polygon: no area, not a box
    assert main(["import", str(project), "--format", "coco", "--path", str(file)]) == 0
    # The user gave four annotations and three masks are stored: the summary says where the fourth went.
    out = capsys.readouterr().out
    assert "imported 3 mask(s)" in out and "1 mask(s) without any pixel skipped" in out
    with Project.open(project) as p:
        assert [o.id for o in p.objects()] == [1, 3, 2**31 - 1]
        assert p.mask(2, 3).sum() > 0 and p.mask(3, 2**31 - 1).sum() == 50
        assert p.mask(4, 3).sum() == 0


def _limited(megabytes: int):  # noqa: ANN202
    def apply() -> None:
        limit = megabytes * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def test_the_nan_polygon_file_is_refused_in_bounded_memory_and_time(project: Path, tmp_path: Path) -> None:
    """Found: a 200-byte COCO file with a NaN polygon grew to 24 GB (segfault under a 6 GB limit)."""
    file = tmp_path / "nan.json"
    file.write_text('{"images":[{"id":1,"frame_id":0}],"annotations":[{"id":1,"image_id":1,'
                    '"category_id":1,"segmentation":[[10,10,NaN,10,30,30,10,30]]}]}')
    assert len(file.read_bytes()) < 200
    start = time.monotonic()
    done = subprocess.run(cli_command("import", str(project), "--format", "coco", "--path", str(file)),
                          cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120,
                          preexec_fn=_limited(1500))
    assert done.returncode == 2 and "NaN" in done.stderr, done.stderr
    assert time.monotonic() - start < 60


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ('{"images": [], "annotations": [], "x": ' + "9" * 5000 + "}", "not usable JSON"),
    ("", "is empty"),
    ("\xff\xfe garbage", "not a UTF-8"),
    ('{"images": [', "not valid JSON"),
])
def test_unreadable_json_is_exit_2(text: str, message: str, project: Path,
                                    tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    file = tmp_path / "x.json"
    file.write_bytes(text.encode("latin-1"))
    before = digest(project)
    assert main(["import", str(project), "--format", "coco", "--path", str(file)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Error:" not in err.replace("masklet: error:", ""), err
    assert digest(project) == before


def _png_header_only(path: Path, width: int, height: int) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def _label_png(path: Path, value: int = 1, size: tuple[int, int] = (H, W)) -> Path:
    labels = np.zeros(size, np.uint8)
    labels[3:9, 3:9] = value
    Image.fromarray(labels, mode="P").save(path)
    return path


@pytest.mark.parametrize("case", ["wrong size", "corrupt", "two files one frame", "bomb", "not a png",
                                  "frame out of range", "a file, not a folder", "missing"])
def test_bad_davis_is_refused_with_exit_2_and_the_project_unchanged(
        case: str, project: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "Annotations" / "clip"
    folder.mkdir(parents=True)
    _label_png(folder / "00000.png")  # a good frame first: all or nothing
    target = folder
    if case == "wrong size":
        _label_png(folder / "00001.png", size=(H + 2, W))
    elif case == "corrupt":
        (folder / "00001.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    elif case == "two files one frame":
        _label_png(folder / "1.png")
        _label_png(folder / "00001.png")
    elif case == "bomb":
        _png_header_only(folder / "00001.png", 100_000, 100_000)
    elif case == "not a png":
        (folder / "00001.png").write_text("hello")
    elif case == "frame out of range":
        _label_png(folder / "99999999999999999999.png")
    elif case == "a file, not a folder":
        target = folder / "00000.png"
    else:
        target = tmp_path / "nowhere"
    before = digest(project), digest(tmp_path / "Annotations")
    code = main(["import", str(project), "--format", "davis", "--path", str(target)])
    err = capsys.readouterr().err
    assert code == 2, f"{case}: {code} {err}"
    assert err.splitlines()[-1].startswith("masklet: error: "), err
    assert (digest(project), digest(tmp_path / "Annotations")) == before


def test_compressed_run_decoding_matches_pycocotools() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        height, width = (int(v) for v in rng.integers(1, 50, 2))
        mask = rng.random((height, width)) < rng.random()
        counts = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"]
        runs = rle.compressed_runs(counts)
        rle.check_runs(runs, height, width)
        flat = mask.T.ravel().astype(np.int8)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
        expected = np.diff(np.concatenate([[0], edges]))
        assert runs[runs > 0].tolist() == expected[expected > 0].tolist() and runs.sum() == height * width


def test_json_nesting_in_the_prompts_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    video = make_video(tmp_path / "clip.mp4", frames=3)
    prompts = tmp_path / "p.json"
    prompts.write_text('{"objects": ' + "[" * 200_000 + "]" * 200_000 + "}")
    code = main(["track", str(video), "--prompts", str(prompts), "--project", str(tmp_path / "x.masklet")])
    assert code == 2 and "nested too deeply" in capsys.readouterr().err
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"objects": [{"id": 2**63, "prompts": [{"frame": 0, "box": [1, 1, 5, 5]}]}]}))
    code = main(["track", str(video), "--prompts", str(big), "--project", str(tmp_path / "x.masklet")])
    assert code == 2 and "'id' must be a positive integer" in capsys.readouterr().err
    assert not (tmp_path / "x.masklet").exists()
