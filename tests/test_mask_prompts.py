"""Tracking from masks: PROMPTS.json "mask" files and ``masklet track --masks DAVIS_DIR``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import moving_square_frames
from PIL import Image

from app.cli import main
from app.domain.export_common import DAVIS_PALETTE
from app.domain.mask_prompts import load_mask_prompts, merge_specs
from app.domain.project import Project
from app.domain.prompts_file import PromptsError, load_prompts
from sam3core.video import write_video

N, H, W = 10, 96, 128


def square(frame: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[30:60, 10 + 4 * frame:40 + 4 * frame] = True
    return mask


def save_labels(labels: np.ndarray, path: Path, mode: str = "P") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(labels.astype(np.uint8), mode=mode)
    if mode == "P":
        image.putpalette(DAVIS_PALETTE)
    image.save(path)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return write_video(tmp_path / "square.mp4", moving_square_frames(N, H, W))


def test_prompts_file_mask_entries(tmp_path: Path) -> None:
    labels = np.zeros((H, W), np.uint8)
    labels[square(0)] = 3
    labels[0:5, 0:5] = 7
    save_labels(labels, tmp_path / "m" / "labels.png")
    save_labels(square(2).astype(np.uint8) * 255, tmp_path / "m" / "binary.png", mode="L")
    data = {"objects": [{"id": 3, "prompts": [{"frame": 0, "mask": "m/labels.png"}]},
                        {"id": 4, "prompts": [{"frame": 2, "mask": "m/binary.png"}]}]}
    file = tmp_path / "prompts.json"
    file.write_text(json.dumps(data))
    specs = load_prompts(file, num_frames=N, height=H, width=W)
    assert np.array_equal(specs[0].prompts[0].mask, square(0))  # the object's value in a label map
    assert np.array_equal(specs[1].prompts[0].mask, square(2))  # every non-zero pixel of a binary mask
    bad = {
        "does not exist": {"frame": 0, "mask": "m/none.png"},
        "cannot also have points": {"frame": 0, "mask": "m/binary.png", "points": [[1, 1]], "labels": [1]},
        "not the object's id": {"frame": 0, "mask": "m/labels.png"},  # for object 5: values 3 and 7 only
        "must be the path": {"frame": 0, "mask": 5},
    }
    for message, prompt in bad.items():
        file.write_text(json.dumps({"objects": [{"id": 5, "prompts": [prompt]}]}))
        with pytest.raises(PromptsError, match=message):
            load_prompts(file, num_frames=N, height=H, width=W)
    save_labels(np.zeros((H, W + 1), np.uint8), tmp_path / "m" / "wide.png")
    save_labels(np.zeros((H, W), np.uint8), tmp_path / "m" / "empty.png")
    for name, message in (("wide", f"is {W + 1}x{H}, the video {W}x{H}"), ("empty", "is empty")):
        prompt = {"frame": 0, "mask": f"m/{name}.png"}
        file.write_text(json.dumps({"objects": [{"id": 5, "prompts": [prompt]}]}))
        with pytest.raises(PromptsError, match=message):
            load_prompts(file, num_frames=N, height=H, width=W)


def test_davis_folder_modes(video: Path, tmp_path: Path) -> None:
    seq = tmp_path / "DAVIS" / "Annotations" / "480p" / "square"
    first = np.zeros((H, W), np.uint8)
    first[square(0)] = 1
    first[80:90, 0:10] = 255  # void: not an object
    save_labels(first, seq / "00000.png")
    later = first.copy()
    later[0:8, 100:120] = 2  # object 2 appears on frame 4
    save_labels(later, seq / "00004.png")
    size = {"num_frames": N, "height": H, "width": W}
    specs = load_mask_prompts(tmp_path / "DAVIS", video, **size)
    assert [(s.id, [p.frame for p in s.prompts]) for s in specs] == [(1, [0])]
    assert np.array_equal(specs[0].prompts[0].mask, square(0))
    specs = load_mask_prompts(seq, video, frames="appearance", **size)
    assert [(s.id, [p.frame for p in s.prompts]) for s in specs] == [(1, [0]), (2, [4])]
    specs = load_mask_prompts(seq, video, frames="all", **size)
    assert [(s.id, [p.frame for p in s.prompts]) for s in specs] == [(1, [0, 4]), (2, [4])]
    binary = tmp_path / "binary"
    save_labels(square(1).astype(np.uint8) * 255, binary / "00001.png", mode="L")
    (spec,) = load_mask_prompts(binary, video, **size)
    assert spec.id == 1 and spec.prompts[0].frame == 1  # a 0/255 mask is object 1
    save_labels(np.zeros((H, W), np.uint8), tmp_path / "void" / "00000.png")
    save_labels(square(1).astype(np.uint8) * 3, tmp_path / "void" / "00001.png")
    with pytest.raises(PromptsError, match="first mask holds no object"):
        load_mask_prompts(tmp_path / "void", video, **size)
    with pytest.raises(PromptsError, match=r"frame\(s\) \[0\]; keep one"):
        merge_specs(load_mask_prompts(seq, video, **size), load_mask_prompts(seq, video, **size))


def test_track_from_first_frame_masks_end_to_end(video: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    """The semi-supervised VOS run: first-frame masks in, the rest tracked by the classical engine,
    the result scored by the official protocol and exported again as DAVIS."""
    gt = tmp_path / "gt" / "square"
    for frame in range(N):
        save_labels(square(frame).astype(np.uint8), gt / f"{frame:05d}.png")
    first_only = tmp_path / "first" / "square"
    save_labels(square(0).astype(np.uint8), first_only / "00000.png")
    project = tmp_path / "p.masklet"
    assert main(["track", str(video), "--masks", str(first_only), "--project", str(project),
                 "--model", "classical"]) == 0
    with Project.open(project) as p:
        (prompt,) = p.prompts()
        assert prompt.frame == 0 and prompt.points == () and np.array_equal(prompt.mask, square(0))
        assert all(p.mask(f, 1) is not None for f in range(N))
    capsys.readouterr()
    assert main(["eval", str(project), "--gt", str(gt)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.split()[0] == "1")
    assert float(row.split()[2]) > 0.8  # J of a red square on texture
    assert main(["track", str(video), "--project", str(tmp_path / "q.masklet")]) == 2
    assert "--prompts PROMPTS.json, --masks DAVIS_DIR" in capsys.readouterr().err
