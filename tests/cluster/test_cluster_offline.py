"""What needs no Ray cluster: the manifest's checks (exit 2, every bad line named, nothing written),
resume bookkeeping, and Masklet without Ray (a frozen build, a bare install): plain messages, no crash."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.cluster.manifest import ManifestError, load_manifest
from app.cluster.resume import phase_of, plan_runs
from app.domain.model import Prompt
from app.domain.project import Project

ROOT = Path(__file__).resolve().parents[2]


def test_every_bad_manifest_line_is_named_before_anything_runs(make_clips, tmp_path: Path, capsys) -> None:
    manifest, videos = make_clips(2, frames=6)
    good = json.loads(manifest.read_text().splitlines()[0])
    with Project.create(tmp_path / "other.masklet", videos[1]):  # a project of another video
        pass
    before = sorted(p.name for p in tmp_path.iterdir())
    bad = [
        "{not json",
        json.dumps({**good, "colour": "red"}),
        json.dumps({k: v for k, v in good.items() if k != "video"}),
        json.dumps({**good, "video": "missing.mp4", "project": "m.masklet"}),
        json.dumps({**good, "project": "dup.masklet", "prompts": {"objects": [
            {"id": 1, "prompts": [{"frame": 60, "points": [[1, 1]], "labels": [1]}]}]}}),
        json.dumps({**good, "project": "x.masklet", "direction": "sideways"}),
        json.dumps({**good, "project": "y.masklet", "model": "sam2.1_hiera_tiny"}),
        json.dumps({**good, "project": "z.masklet", "checkpoint": "nope.pt"}),
        json.dumps(good),  # line 10: the same output project as line 1
        "[1, 2]",
        json.dumps({**good, "project": "other.masklet"}),
    ]
    manifest.write_text(json.dumps(good) + "\n\n" + "\n".join(bad) + "\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest(manifest)
    numbers = [int(p.split(":")[1]) for p in caught.value.problems]
    assert numbers == list(range(3, 14))
    text = "\n".join(caught.value.problems)
    for fragment in ("not valid JSON", "unknown key(s) ['colour']", "missing 'video'", "missing.mp4",
                     "frame outside", "direction must be", "needs a 'checkpoint'", "nope.pt: no such file",
                     "also the output of line 1", "must be a JSON object", "is not the video of project"):
        assert fragment in text, fragment
    assert main(["batch", str(manifest)]) == 2
    err = capsys.readouterr().err
    assert err.count("masklet: error: ") == 11 and f"{manifest}:5:" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing was created or changed


def test_options_and_files_are_checked_too(make_clips, tmp_path: Path, capsys) -> None:
    manifest, _ = make_clips(1, frames=6)
    assert main(["batch", str(manifest), "--workers", "0"]) == 2
    assert main(["batch", str(tmp_path / "absent.jsonl")]) == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    assert main(["batch", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "--workers must be at least 1" in err and "cannot be read" in err and "no items" in err


def test_runs_follow_masklet_track() -> None:
    prompts = [Prompt(3, 1, points=((1.0, 1.0),), labels=(1,)), Prompt(7, 2, box=(0.0, 0.0, 4.0, 4.0))]
    forward, backward = plan_runs(prompts, 10, "both")
    assert list(forward.frames(10)) == list(range(3, 10))
    assert list(backward.frames(10)) == list(range(7, -1, -1))
    assert [phase_of(r) for r in plan_runs(prompts, 10, "backward")] == ["backward"]


BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ModuleNotFoundError('No module named ' + repr(name))
        return None
sys.meta_path.insert(0, Block())
"""


def _run(script: str, blocked: tuple[str, ...]) -> subprocess.CompletedProcess:
    code = BLOCKER.format(blocked=blocked) + script
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_without_ray_the_app_works_and_cluster_requests_say_what_to_do(make_clips) -> None:
    manifest, videos = make_clips(1, frames=6, inline=False)
    video, prompts = videos[0], videos[0].with_suffix(".json")
    track = ["track", str(video), "--prompts", str(prompts), "--project"]
    script = f"""
import pkgutil, importlib, sys
import app.cluster
for info in pkgutil.walk_packages(app.cluster.__path__, prefix="app.cluster."):
    importlib.import_module(info.name)  # every module imports without Ray (and without Qt)
assert not [m for m in sys.modules if m.split('.')[0] in ('ray', 'PySide6')]
from app.cli import main
from app.cluster.runtime import ClusterUnavailableError, import_ray, ray_available
assert not ray_available()
try:
    import_ray()
except ClusterUnavailableError as exc:
    assert "Ray is not installed" in str(exc), exc
sys.frozen = True
try:
    import_ray()
except ClusterUnavailableError as exc:
    assert "desktop build of Masklet does not include Ray" in str(exc) and "source install" in str(exc)
del sys.frozen
assert main(["batch", {str(manifest)!r}]) == 2
assert main({track!r} + ["{video}.ray.masklet", "--ray", "local"]) == 2
import os
assert not os.path.exists("{video}.ray.masklet")
assert main({track!r} + ["{video}.masklet"]) == 0
print("ok")
"""
    result = _run(script, ("ray", "PySide6", "shiboken6", "qtawesome"))
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
    assert result.stderr.count("Ray is not installed") == 2  # batch and track --ray, one line each


def test_without_ray_the_engine_dialog_says_why_there_is_no_remote_option() -> None:
    script = """
import os
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.ui.dialogs import EngineDialog
from app.ui.worker import EngineSpec
dialog = EngineDialog(EngineSpec(None, None, "cpu"))
assert not dialog.remote.isEnabled() and "Ray is missing" in dialog.remote.note.text()
assert dialog.spec() == EngineSpec(None, None, "cpu")
print("ok")
"""
    result = _run(script, ("ray",))
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
