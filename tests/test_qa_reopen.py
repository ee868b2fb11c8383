"""A project must reopen in another process: nothing stored may depend on the interpreter's hash seed.

Found by QA: a project made by ``masklet track FRAME_FOLDER`` was refused by the next ``masklet status``
("is not the video of project ...") five times in six, because a frame folder's fingerprint hashed its
sampled files in ``set`` order, which changes with PYTHONHASHSEED from one process to the next.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _frames_dir(tmp_path: Path) -> Path:
    from PIL import Image

    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(7):  # distinct content and sizes: the three sampled files differ
        pixels = rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.jpg", quality=50 + 5 * i)
    return folder


def _run(code: str, seed: int) -> str:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_a_frame_folder_fingerprint_is_the_same_in_every_process(tmp_path: Path) -> None:
    folder = _frames_dir(tmp_path)
    code = f"from sam3core.video import VideoSource\nprint(VideoSource({str(folder)!r}).fingerprint())"
    prints = {_run(code, seed) for seed in (1, 2, 3, 4, 5, 6)}
    assert len(prints) == 1, prints


def test_a_project_on_a_frame_folder_reopens_in_another_process(tmp_path: Path) -> None:
    folder = _frames_dir(tmp_path)
    project = tmp_path / "p.masklet"
    _run(f"from app.domain.project import Project\nProject.create({str(project)!r}, {str(folder)!r}).close()",
         seed=1)
    for seed in (2, 3, 4):
        code = (f"from app.domain.project import Project\n"
                f"with Project.open({str(project)!r}, read_only=True) as p: print(p.video.num_frames)")
        assert _run(code, seed) == "7"
