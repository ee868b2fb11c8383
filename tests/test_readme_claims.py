"""What the README says about project file names is what the app does (issue 17, item 12)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.ui.project_files import candidate_paths, open_or_create_for_video
from sam3core.video import write_video

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_names_the_project_file_as_the_app_does(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASKLET_HOME", str(tmp_path / "home"))
    assert "`sample.mp4` → `sample.masklet`" in README and "VIDEO.masklet" not in README
    video = write_video(tmp_path / "sample.mp4", [np.zeros((32, 48, 3), np.uint8)] * 2, fps=5)
    project, status = open_or_create_for_video(video)
    try:
        assert project.path is not None and project.path.name == "sample.masklet"
        assert project.path.parent == video.parent.resolve() and project.path.name in status
    finally:
        project.close()
    assert "a frame folder `shots/` → `shots.masklet` next to the" in README
    folder = tmp_path / "shots"
    folder.mkdir()
    assert candidate_paths(folder)[0] == tmp_path.resolve() / "shots.masklet"
    assert [p.name for p in candidate_paths(video)[1:5]] == [f"sample-{k}.masklet" for k in range(2, 6)]
    assert "`sample-2.masklet` …\n   `sample-5.masklet`" in README
