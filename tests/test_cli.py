"""The masklet command: help, exit codes, prompt validation, and track/export/import/eval end to end."""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import moving_square_frames
from PIL import Image

from app import __version__
from app.cli import main
from app.domain.project import Project
from sam3core.video import write_video

NUM_FRAMES, H, W = 8, 96, 128


class DiskEngine:
    """Stand-in engine: a disk of radius 8 around the first point, moving right 2 px per frame."""

    name = "disk-test"
    device = torch.device("cpu")

    def init_state(self, video_path=None, *, video=None, **kwargs):
        return {"video": video, "objs": {}, "seen": []}

    # the rest of the engine contract (sam3core/engine.py): nothing to encode, no extra confidence
    def prefetch_features(self, state, frame_idx, should_stop=None):
        return False

    def frame_scores(self, state, frame_idx):
        return {}

    def close(self, state):
        state["closed"] = True

    def _masks(self, state: dict, frame: int) -> tuple[list[int], torch.Tensor]:
        yy, xx = np.mgrid[:H, :W]
        rows = [
            ((xx - x - 2 * frame) ** 2 + (yy - y) ** 2 < 64) * 2.0 - 1.0 for x, y in state["objs"].values()
        ]
        return list(state["objs"]), torch.from_numpy(np.stack(rows)[:, None].astype(np.float32))

    def add_new_points_or_box(
        self,
        state,
        frame_idx,
        obj_id,
        points=None,
        labels=None,
        box=None,
        clear_old_points=True,
        rel_coordinates=True,
    ):
        assert rel_coordinates is False  # the CLI passes pixels
        start = points[0] if points is not None else ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        state["objs"].setdefault(obj_id, (float(start[0]) - 2 * frame_idx, float(start[1])))
        ids, masks = self._masks(state, frame_idx)
        return frame_idx, ids, masks, masks

    def propagate_in_video(
        self,
        state,
        start_frame_idx=None,
        max_frame_num_to_track=None,
        reverse=False,
        propagate_preflight=False,
    ):
        frames = range(start_frame_idx, -1, -1) if reverse else range(start_frame_idx, NUM_FRAMES)
        for frame in frames:
            state["seen"].append((frame, reverse))
            ids, masks = self._masks(state, frame)
            yield frame, ids, masks, masks, torch.ones(len(ids))


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return write_video(tmp_path / "square.mp4", moving_square_frames(NUM_FRAMES, H, W))


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> list:
    built: list = []

    def build(name=None, *, checkpoint=None, device="cpu"):
        built.append((name, checkpoint, device))
        return DiskEngine()

    monkeypatch.setattr("sam3core.factory.build_engine", build)
    return built


def write_prompts(path: Path, objects: list) -> Path:
    path.write_text(json.dumps({"objects": objects}))
    return path


GOOD = [
    {
        "id": 1,
        "name": "square",
        "category": "toy",
        "prompts": [{"frame": 3, "points": [[30, 45]], "labels": [1]}],
    },
    {"id": 4, "prompts": [{"frame": 5, "box": [60, 10, 90, 40]}]},
]


def test_version_and_help(capsys: pytest.CaptureFixture) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"masklet {__version__}"
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(word in out for word in ("track", "export", "import", "eval", "--self-check", "Exit codes"))
    for command in ("track", "export", "import", "eval"):
        assert main([command, "--help"]) == 0
        assert "usage: masklet " + command in capsys.readouterr().out
    main(["track", "--help"])
    track_help = capsys.readouterr().out
    assert '"labels": [1, 1]' in track_help and "inverted or empty box" in track_help
    assert "--direction" in track_help and "backward" in track_help


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["export"]) == 2
    assert main(["track", "v.mp4", "--prompts", "p.json", "--project", "o.masklet", "--model", "sam9"]) == 2
    assert main(["export", str(tmp_path / "nothing.masklet"), "--format", "coco", "--out", "x.json"]) == 2
    assert "no such project file" in capsys.readouterr().err
    not_project = tmp_path / "notes.masklet"
    not_project.write_text("x" * 200)
    assert main(["eval", str(not_project), "--gt", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a Masklet project" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        ("not json {", "not valid JSON"),
        (
            [
                {
                    "id": 1,
                    "name": "a",
                    "prompts": [{"frame": 0, "points": [[5, 5]], "labels": [1], "extra": 1}],
                }
            ],
            "object 1 (a), prompt 0 (frame 0): unknown key(s) ['extra']",
        ),
        ([{"id": 1, "colour": "red", "prompts": []}], "object 1: unknown key(s) ['colour']"),
        (
            [{"id": 2, "prompts": [{"frame": 8, "points": [[5, 5]], "labels": [1]}]}],
            "object 2, prompt 0 (frame 8): frame outside the video's 0..7",
        ),
        (
            [
                {
                    "id": 2,
                    "prompts": [
                        {"frame": 0, "points": [[5, 5]], "labels": [1]},
                        {"frame": 1, "points": [[128, 5]], "labels": [1]},
                    ],
                }
            ],
            "object 2, prompt 1 (frame 1): point 0 (128, 5) is outside the 128x96 image",
        ),
        (
            [{"id": 3, "prompts": [{"frame": 0, "box": [50, 10, 40, 30]}]}],
            "object 3, prompt 0 (frame 0): box",
        ),
        ([{"id": 3, "prompts": [{"frame": 0, "box": [10, 10, 40, 10]}]}], "inverted or empty"),
        (
            [{"id": 3, "prompts": [{"frame": 0, "points": [[1, 1], [2, 2]], "labels": [1]}]}],
            "2 points but 1 labels",
        ),
        ([{"id": 3, "prompts": [{"frame": 0, "points": [[1, 1]]}]}], "'points' and 'labels' go together"),
        ([{"id": 3, "prompts": [{"frame": 0}]}], "needs 'points'"),
        ([{"id": 0, "prompts": [{"frame": 0, "box": [1, 1, 5, 5]}]}], "'id' must be a positive integer"),
        ([GOOD[1], GOOD[1]], "object 4 appears twice"),
        ([{"id": 3, "prompts": [{"frame": 0, "points": [[1, 1]], "labels": [2]}]}], "label 0 must be 1"),
    ],
)
def test_bad_prompts_are_rejected_before_any_work(
    objects: object,
    message: str,
    video: Path,
    tmp_path: Path,
    fake_engine: list,
    capsys: pytest.CaptureFixture,
) -> None:
    prompts = tmp_path / "p.json"
    if isinstance(objects, str):
        prompts.write_text(objects)
    else:
        write_prompts(prompts, objects)
    out = tmp_path / "out.masklet"
    assert main(["track", str(video), "--prompts", str(prompts), "--project", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("masklet: error: ") and err.count("\n") == 1
    assert not out.exists() and fake_engine == []  # nothing was built or written


@pytest.mark.parametrize(
    ("direction", "frames"), [("forward", range(3, 8)), ("backward", range(0, 6)), ("both", range(0, 8))]
)
def test_track_propagates_and_stores_every_frame(
    direction: str,
    frames: range,
    video: Path,
    tmp_path: Path,
    fake_engine: list,
    capsys: pytest.CaptureFixture,
) -> None:
    prompts = write_prompts(tmp_path / "p.json", GOOD)
    out = tmp_path / "out.masklet"
    code = main(
        [
            "track",
            str(video),
            "--prompts",
            str(prompts),
            "--project",
            str(out),
            "--direction",
            direction,
            "--device",
            "cpu",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert fake_engine == [(None, None, "cpu")]
    assert "forward" in capsys.readouterr().err or direction == "backward"
    with Project.open(out) as project:
        assert [(o.id, o.name, o.category) for o in project.objects()] == [
            (1, "square", "toy"),
            (4, "Object 4", "object"),
        ]
        assert project.engine == "disk-test"
        assert [p.frame for p in project.prompts()] == [3, 5]
        assert project.frames_stored() == list(frames)
        ys, xs = np.nonzero(project.mask(frames[-1], 1))
        assert abs(xs.mean() - (30 + 2 * (frames[-1] - 3))) < 1 and abs(ys.mean() - 45) < 1


def test_track_with_the_classical_engine(video: Path, tmp_path: Path) -> None:
    prompts = write_prompts(
        tmp_path / "p.json", [{"id": 1, "prompts": [{"frame": 0, "points": [[25, 45]], "labels": [1]}]}]
    )
    out = tmp_path / "c.masklet"
    assert (
        main(["track", str(video), "--prompts", str(prompts), "--project", str(out), "--model", "classical"])
        == 0
    )
    with Project.open(out) as project:
        assert project.frames_with_masks(1) == list(range(NUM_FRAMES))
        assert project.mask(0, 1)[45, 25]  # the clicked square is inside its mask


@pytest.fixture
def tracked(video: Path, tmp_path: Path, fake_engine: list) -> Path:
    out = tmp_path / "t.masklet"
    assert (
        main(
            [
                "track",
                str(video),
                "--prompts",
                str(write_prompts(tmp_path / "p.json", GOOD)),
                "--project",
                str(out),
                "--direction",
                "both",
            ]
        )
        == 0
    )
    return out


def test_export_import_eval(tracked: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for fmt, out in (("coco", "e/c.json"), ("ytvis", "e/y.json"), ("davis", "e/davis"), ("video", "e/o.mp4")):
        assert main(["export", str(tracked), "--format", fmt, "--out", str(tmp_path / out)]) == 0
        assert (tmp_path / out).exists()
    assert (
        main(["export", str(tracked), "--format", "coco", "--polygons", "--out", str(tmp_path / "p.json")])
        == 0
    )
    capsys.readouterr()
    gt = tmp_path / "e" / "davis" / "Annotations" / "480p" / "square"
    assert main(["eval", str(tracked), "--gt", str(tmp_path / "e" / "davis")]) == 0  # the dataset root
    out = capsys.readouterr().out
    assert "J&F" in out and out.count(" 1.000") >= 9  # perfect against its own export, 2 objects + overall
    assert f"({NUM_FRAMES - 2} ground-truth frames)" in out  # official protocol: first and last not scored
    # Damage the ground truth of object 4 (renumbered 2 by the export) on every frame: it leaves the
    # ground truth, object 1 stays perfect.
    for png in gt.glob("*.png"):
        labels = np.asarray(Image.open(png)).copy()
        labels[labels == 2] = 0
        Image.fromarray(labels, mode="P").save(png)
    assert main(["eval", str(tracked), "--gt", str(gt)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "1.000" in rows["1"] and "4" not in rows  # object 4 no longer in the ground truth
    assert main(["eval", str(tracked), "--gt", str(gt), "--keep-first-last"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[-1] == str(NUM_FRAMES)
    # Import into a fresh project of the same video.
    with Project.open(tracked) as project:
        video = project.video_path
    fresh = tmp_path / "fresh.masklet"
    Project.create(fresh, video).close()
    assert main(["import", str(fresh), "--format", "coco", "--path", str(tmp_path / "e/c.json")]) == 0
    assert "created [1, 4]" in capsys.readouterr().out
    assert main(["import", str(fresh), "--format", "davis", "--path", str(tmp_path / "nowhere")]) == 2


def test_moved_video_needs_video_option(tracked: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    moved = tmp_path / "moved.mp4"
    shutil.move(tmp_path / "square.mp4", moved)
    assert main(["export", str(tracked), "--format", "coco", "--out", str(tmp_path / "c.json")]) == 2
    assert "--video NEW_PATH" in capsys.readouterr().err
    assert (
        main(
            [
                "export",
                str(tracked),
                "--format",
                "coco",
                "--out",
                str(tmp_path / "c.json"),
                "--video",
                str(moved),
            ]
        )
        == 0
    )


def test_unexpected_failure_exits_1_with_one_line(
    tracked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("app.domain.export.export_with_report", broken)
    assert main(["export", str(tracked), "--format", "coco", "--out", str(tmp_path / "c.json")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError: disk on fire" in err


def test_everything_else_launches_the_gui(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list = []
    fake = types.ModuleType("app.ui.launch")
    fake.run_gui = lambda path, **options: calls.append((path, options)) or 0
    monkeypatch.setitem(sys.modules, "app.ui.launch", fake)
    assert main([]) == 0
    assert main(["clip.mp4", "--device", "cpu", "--model", "sam3", "--checkpoint", "w.pt"]) == 0
    assert calls == [
        (None, {"checkpoint": None, "device": None, "model": None, "random_weights": False}),
        ("clip.mp4", {"checkpoint": "w.pt", "device": "cpu", "model": "sam3", "random_weights": False}),
    ]
    assert main(["clip.mp4", "--bogus"]) == 2
    monkeypatch.setattr("app.selfcheck.run_self_check", lambda: 0)
    assert main(["--self-check"]) == 0 and len(calls) == 2


def test_track_with_the_classical_engine_on_a_gpu_is_a_clear_error(
    video: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    prompts = write_prompts(tmp_path / "p.json", GOOD)
    out = tmp_path / "out.masklet"
    args = ["track", str(video), "--prompts", str(prompts), "--project", str(out), "--device", "cuda"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "classical engine runs on the CPU only" in err and "Traceback" not in err
    assert not out.exists()  # nothing on disk
