"""Shipped resources are found from a source checkout and from a PyInstaller layout, and are usable."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from app import resources
from sam3core.video import VideoSource


def test_resources_resolve_inside_the_checkout() -> None:
    root = Path(__file__).resolve().parents[1] / "resources"
    assert resources.resources_root() == root
    assert resources.sample_video_path() == root / "sample" / "sample.mp4"
    assert resources.app_icon_path() == root / "icons" / "masklet.svg"


def test_frozen_layout_uses_meipass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "_internal"
    (bundle / "resources" / "sample").mkdir(parents=True)
    (bundle / "resources" / "sample" / "sample.mp4").write_bytes(b"x")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert resources.is_frozen()
    assert resources.resources_root() == bundle / "resources"
    assert resources.sample_video_path() == bundle / "resources" / "sample" / "sample.mp4"
    with pytest.raises(FileNotFoundError, match="prompts.json.*broken install"):
        resources.sample_prompts_path()


def test_bad_names_are_refused() -> None:
    with pytest.raises(ValueError):
        resources.resource_path("../pyproject.toml")
    with pytest.raises(ValueError):
        resources.resource_path(str(Path(__file__).resolve()))
    with pytest.raises(FileNotFoundError, match="no-such-file"):
        resources.resource_path("no-such-file.png")
    with pytest.raises(ValueError):
        resources.app_icon_path(0)


def test_icons_exist_for_every_size_and_load() -> None:
    from PIL import Image

    svg = resources.app_icon_path().read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for size in resources.ICON_SIZES:
        path = resources.app_icon_path(size)
        with Image.open(path) as image:
            assert image.size == (size, size) and image.mode == "RGBA"
            alpha = np.asarray(image)[..., 3]
            assert alpha[0, 0] == 0 and alpha[size // 2, size // 2] == 255, "transparent corners, opaque body"
    assert resources.app_icon_path(20) == resources.app_icon_path(24)
    assert resources.app_icon_path(4096) == resources.app_icon_path(512)


def test_icon_loads_in_qt(qapp: object) -> None:
    from PySide6.QtGui import QIcon

    icon = QIcon(str(resources.app_icon_path(256)))
    assert not icon.isNull() and icon.availableSizes()


def test_sample_clip_is_small_and_opens() -> None:
    path = resources.sample_video_path()
    assert path.stat().st_size < 1_000_000, "the sample must stay small"
    with VideoSource(path) as video:
        assert video.num_frames >= 24 and (video.width, video.height) == (640, 360)
        last = video[video.num_frames - 1]
        assert last.shape == (360, 640, 3) and last.std() > 5, "frames carry real content"


def test_sample_ground_truth_matches_the_clip() -> None:
    from sam3core.eval.synthetic import read_label_png

    ann = resources.resource_path("sample/Annotations")
    files = sorted(ann.glob("*.png"))
    with VideoSource(resources.sample_video_path()) as video:
        assert len(files) == video.num_frames
        labels = read_label_png(files[0])
        assert labels.shape == (video.height, video.width)
    assert set(np.unique(labels)) - {0}, "objects are visible on frame 0"


def test_sample_prompts_are_valid_for_the_clip() -> None:
    from sam3core.eval.synthetic import read_label_png

    data = json.loads(resources.sample_prompts_path().read_text(encoding="utf-8"))
    assert set(data) == {"objects"} and data["objects"]
    first = read_label_png(resources.resource_path("sample/Annotations/00000.png"))
    ids = []
    for obj in data["objects"]:
        assert set(obj) <= {"id", "name", "category", "color", "prompts"}
        ids.append(obj["id"])
        for prompt in obj["prompts"]:
            assert len(prompt["points"]) == len(prompt["labels"])
            for (x, y), label in zip(prompt["points"], prompt["labels"]):
                assert 0 <= x < first.shape[1] and 0 <= y < first.shape[0]
                if label == 1 and prompt["frame"] == 0:
                    assert first[y, x] == obj["id"], f"positive click of object {obj['id']} lands on it"
    assert len(ids) == len(set(ids))
    # And the CLI's own validator (masklet track --prompts) accepts it as it is.
    from app.domain.prompts_file import load_prompts

    specs = load_prompts(resources.sample_prompts_path(), num_frames=48, height=first.shape[0],
                         width=first.shape[1])
    assert [spec.id for spec in specs] == ids and all(spec.prompts[0].box is not None for spec in specs)


def test_readme_shortcut_tables_match_the_action_table() -> None:
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "packaging" / "readme_shortcuts.py"
    spec = importlib.util.spec_from_file_location("readme_shortcuts", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = module.README.read_text(encoding="utf-8")
    assert module.render(readme) == readme, "README shortcuts are stale: run packaging/readme_shortcuts.py"
    assert "`Ctrl+Z`" in readme and "Positive point" in readme


def test_linux_desktop_entry_installs_with_icons(tmp_path: Path) -> None:
    import configparser
    import os
    import shutil
    import subprocess

    root = Path(__file__).resolve().parents[1]
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(root / "packaging" / "linux" / "masklet.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Icon"] == "masklet"
    assert section["Exec"].startswith("masklet ") and section["Categories"].endswith(";")
    if shutil.which("bash") is None:
        pytest.skip("bash is needed to run the installer")
    fake = tmp_path / "bin" / "masklet"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share")}
    script = root / "packaging" / "linux" / "install-desktop.sh"
    done = subprocess.run(["bash", str(script), str(fake)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    installed = tmp_path / "share" / "applications" / "masklet.desktop"
    text = installed.read_text(encoding="utf-8")
    assert f'Exec="{fake}" %f' in text and f"TryExec={fake}" in text
    hicolor = tmp_path / "share" / "icons" / "hicolor"
    for size in resources.ICON_SIZES:
        assert (hicolor / f"{size}x{size}" / "apps" / "masklet.png").is_file()
    assert (hicolor / "scalable" / "apps" / "masklet.svg").is_file()
    undo = subprocess.run(["bash", str(script), "--uninstall"], env=env, capture_output=True, text=True)
    assert undo.returncode == 0 and not installed.exists()
