"""Exports never damage the project, the video or an earlier export (issue 13: cases 1 and 7)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hostile import ROOT, H, W, cli_env, digest, make_video
from PIL import Image

from app.cli import main
from app.domain.export import export_with_report
from app.domain.project import Project
from app.domain.safe_output import MARKER, ExportError
from sam3core.video import write_video

N = 30


def _mask(frame: int, obj: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[4 + 10 * obj:12 + 10 * obj, frame % 40:frame % 40 + 12] = True
    return mask


def _fill(project: Project) -> None:
    project.add_object("one")
    project.add_object("two")
    with project.batch():
        for frame in range(project.num_frames):
            project.set_frame_masks(frame, {1: _mask(frame, 1), 2: _mask(frame, 2)})


@pytest.fixture
def made(tmp_path: Path) -> tuple[Path, Path]:
    video = make_video(tmp_path / "clip.mp4", frames=N)
    path = tmp_path / "p.masklet"
    with Project.create(path, video) as project:
        _fill(project)
    return path, video


def _export(project: Path, fmt: str, out: Path | str) -> int:
    return main(["export", str(project), "--format", fmt, "--out", str(out)])


def _targets(tmp_path: Path, project: Path, video: Path, frames: Path) -> dict[str, Path]:
    (tmp_path / "link-to-project").symlink_to(project)
    (tmp_path / "link-to-video").symlink_to(video)
    os.link(project, tmp_path / "hardlink.masklet")
    crowded = tmp_path / "somebody-else"
    crowded.mkdir()
    (crowded / "thesis.txt").write_text("years of work")
    other = tmp_path / "other.masklet"
    Project.create(other, video).close()
    return {
        "the project": project, "its -wal": Path(f"{project}-wal"), "its -shm": Path(f"{project}-shm"),
        "its lock": Path(f"{project}.lock"), "a symlink to it": tmp_path / "link-to-project",
        "a hard link to it": tmp_path / "hardlink.masklet", "upper case": project.with_name("P.MASKLET"),
        "relative": Path(os.path.relpath(project)), "the video": video, "a symlink to the video":
        tmp_path / "link-to-video", "inside the frame folder": frames / "out.json", "the frame folder":
        frames, "a frame": frames / "00000.jpg", "the project's folder": tmp_path, "a user folder": crowded,
        "another project": other, "a device": Path("/dev/null"),
    }


def _all_files(root: Path) -> dict[str, str]:
    return {str(p): digest(p) for p in sorted(root.rglob("*")) if p.is_file() or p.is_symlink()}


@pytest.mark.parametrize("fmt", ["coco", "ytvis", "davis", "video"])
def test_dangerous_outputs_are_refused_with_exit_2_and_nothing_changes(
        made: tuple[Path, Path], tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture) -> None:
    """Found: --out P.masklet left a file that was no database; --out VIDEO destroyed the video."""
    project, video = made
    frames = write_video(tmp_path / "frames", [np.zeros((H, W, 3), np.uint8)] * 3)
    frames_project = tmp_path / "frames.masklet"
    Project.create(frames_project, frames).close()
    targets = _targets(tmp_path, project, video, frames)
    for name, out in targets.items():
        source = frames_project if "frame" in name else project
        before = _all_files(tmp_path)
        code = _export(source, fmt, out)
        err = capsys.readouterr().err
        after = _all_files(tmp_path)
        if fmt == "davis" and name in ("the project's folder", "a user folder"):
            # A folder format merges into a folder of other files: it only adds its own.
            assert code == 0, err
            assert {k: v for k, v in after.items() if k in before} == before
            added = [Path(k).relative_to(out).parts[0] for k in after if k not in before]
            assert set(added) == {"Annotations", "ImageSets", "masklet_ids", "Provenance", MARKER}, added
            continue
        assert code == 2, f"{fmt} --out {name}: exit {code}, {err}"
        assert err.startswith("masklet: error: ") and str(out) in err and err.count("\n") == 1, err
        assert after == before, f"{fmt} --out {name} changed a file"
    with Project.open(project) as reopened:
        assert reopened.mask_count() == 2 * N


def _slow_export(project: Path, fmt: str, out: Path) -> subprocess.Popen:
    code = f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from app.domain.project import Project
from app.domain.export import export_with_report
def progress(done, total):
    print(done, flush=True)
    time.sleep(0.05)
with Project.open(sys.argv[1], read_only=True) as project:
    export_with_report(project, sys.argv[2], sys.argv[3], progress=progress)
print("finished", flush=True)
"""
    return subprocess.Popen([sys.executable, "-c", code, str(project), fmt, str(out)], cwd=ROOT,
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_after(child: subprocess.Popen, lines: int) -> None:
    assert child.stdout is not None
    seen = 0
    for line in child.stdout:
        if line.strip().isdigit():
            seen += 1
        if seen >= lines:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    child.stderr.close()
    assert seen >= lines


@pytest.mark.parametrize(("fmt", "name"), [("coco", "c.json"), ("ytvis", "y.json"), ("davis", "davis"),
                                           ("video", "o.mp4")])
def test_a_killed_export_leaves_the_earlier_output_intact_and_is_cleaned_up(
        made: tuple[Path, Path], tmp_path: Path, fmt: str, name: str) -> None:
    """Found: a killed DAVIS export left 92-149 of 200 PNGs at the final path; others left .part files."""
    project, _video = made
    out = tmp_path / "exports" / name
    with Project.open(project, read_only=True) as p:
        first = export_with_report(p, fmt, out)
    assert first.path == out and first.files >= (N if fmt == "davis" else 1)
    before = digest(out)
    child = _slow_export(project, fmt, out)
    _kill_after(child, 10 if fmt != "ytvis" else 3)
    assert digest(out) == before  # the earlier export, untouched
    visible = [p.name for p in out.parent.iterdir() if not p.name.startswith(".masklet-staging-")]
    assert visible == [name]
    with Project.open(project, read_only=True) as p:
        again = export_with_report(p, fmt, out)
    assert again.replaced and sorted(p.name for p in out.parent.iterdir()) == [name]  # leftovers removed


def test_reexport_never_mixes_never_follows_symlinks_and_keeps_other_sequences(
        made: tuple[Path, Path], tmp_path: Path) -> None:
    """Found: re-export mixed old and new frames (42 frames still showing a deleted object); a symlink
    planted in the folder had its target overwritten."""
    from app.domain.review import review

    project, _video = made
    out = tmp_path / "davis"
    assert _export(project, "davis", out) == 0
    # Another video's sequence in the same dataset root, and a file of the user's.
    other_video = make_video(tmp_path / "other.mp4", frames=4, seed=7)
    with Project.create(tmp_path / "other.masklet", other_video) as other:
        other.add_object("x")
        other.set_mask(1, 1, _mask(1, 1))
    assert _export(tmp_path / "other.masklet", "davis", out) == 0
    (out / "README.txt").write_text("my dataset")
    kept = {k: v for k, v in _all_files(out).items() if "/other" in k or k.endswith("README.txt")}
    victim = tmp_path / "victim.txt"
    victim.write_text("not an annotation")
    seq = out / "Annotations" / "480p" / "clip"
    (seq / "00003.png").unlink()
    (seq / "00003.png").symlink_to(victim)
    with Project.open(project) as p:
        p.delete_object(2)
        review(p, 4, [1])
        review(p, 7, [1])
    # Only the reviewed frames now: every other frame of the earlier export is stale and goes.
    assert main(["export", str(project), "--format", "davis", "--out", str(out), "--reviewed-only"]) == 0
    assert victim.read_text() == "not an annotation"
    assert sorted(p.name for p in seq.iterdir()) == ["00004.png", "00007.png"]
    assert not any(p.is_symlink() for p in seq.iterdir())
    assert all(set(np.unique(np.asarray(Image.open(p))).tolist()) <= {0, 1} for p in seq.iterdir())
    assert {k: v for k, v in _all_files(out).items() if k in kept} == kept  # the other sequence, untouched


def test_a_merge_never_overwrites_what_no_masklet_export_wrote(made: tuple[Path, Path], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    project, _video = made
    root = tmp_path / "DAVIS"
    (root / "Annotations" / "480p" / "clip").mkdir(parents=True)  # the official DAVIS 2017 layout
    (root / "Annotations" / "480p" / "clip" / "00000.png").write_bytes(b"official ground truth")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    linked = tmp_path / "linked"
    (linked / "Annotations" / "480p").mkdir(parents=True)
    (linked / "Annotations" / "480p" / "clip").symlink_to(elsewhere)
    for out, message in ((root, "not written by a Masklet export"), (linked, "is a symlink")):
        before = _all_files(tmp_path)
        assert _export(project, "davis", out) == 2
        assert message in capsys.readouterr().err
        assert _all_files(tmp_path) == before and not list(elsewhere.iterdir())


DIE_WHILE_MOVING = """
import os, sys
sys.path.insert(0, {root!r})
from app.domain import output_merge
from app.domain.export import export_with_report
from app.domain.project import Project
real_replace, moved = os.replace, []

def dying_replace(src, dst):
    if len(moved) == 7 and "Annotations" in str(dst):
        os._exit(9)  # killed in the middle of the moves: no cleanup runs
    moved.append(dst)
    real_replace(src, dst)

output_merge.os = type("os", (), {{**{{k: getattr(os, k) for k in dir(os)}}, "replace": dying_replace}})
with Project.open(sys.argv[1], read_only=True) as project:
    export_with_report(project, "davis", sys.argv[2])
"""


def test_a_merge_killed_while_moving_is_completed_by_the_next_export(made: tuple[Path, Path],
                                                                    tmp_path: Path) -> None:
    from app.domain.safe_output import clean_leftovers

    project, _video = made
    out = tmp_path / "davis"
    assert _export(project, "davis", out) == 0
    with Project.open(project) as p:
        p.delete_object(2)
    child = subprocess.run([sys.executable, "-c", DIE_WHILE_MOVING.format(root=str(ROOT)), str(project),
                            str(out)], cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120)
    assert child.returncode == 9, child.stderr
    labels = [set(np.unique(np.asarray(Image.open(p))).tolist()) for p in
              sorted((out / "Annotations" / "480p" / "clip").iterdir())]
    assert any(2 in v for v in labels) and any(2 not in v for v in labels)  # half moved ...
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".masklet-staging-")]
    assert clean_leftovers(out)  # ... which the next export into the same place completes first
    labels = [set(np.unique(np.asarray(Image.open(p))).tolist()) for p in
              sorted((out / "Annotations" / "480p" / "clip").iterdir())]
    assert len(labels) == N and all(2 not in v for v in labels)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".masklet-staging-")]


def test_a_failing_exporter_leaves_nothing_behind(made: tuple[Path, Path], tmp_path: Path) -> None:
    project, _video = made
    out = tmp_path / "d"

    def explode(done: int, total: int) -> None:
        if done == 5:
            raise RuntimeError("disk on fire")

    with Project.open(project) as p, pytest.raises(RuntimeError, match="disk on fire"):
        export_with_report(p, "davis", out, progress=explode)
    with Project.open(project) as p, pytest.raises(RuntimeError, match="disk on fire"):
        export_with_report(p, "davis", tmp_path / "new" / "deeper" / "d", progress=explode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "p.masklet"]  # folders made, removed


def test_the_export_says_what_it_wrote(made: tuple[Path, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    project, _video = made
    assert _export(project, "davis", tmp_path / "d") == 0
    # the PNGs, the provenance, the id map and ImageSets/2017/val.txt
    assert f"davis: wrote folder {tmp_path / 'd'} ({N + 3} files," in capsys.readouterr().out
    assert _export(project, "coco", tmp_path / "c.json") == 0
    assert f"coco: wrote {tmp_path / 'c.json'} (1 file," in capsys.readouterr().out
    assert _export(project, "coco", tmp_path / "c.json") == 0
    assert "replacing the earlier one" in capsys.readouterr().out
    assert json.loads((tmp_path / "c.json").read_text())["annotations"]


def test_an_empty_folder_is_a_fine_davis_target_but_not_a_json_target(made: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    project, _video = made
    empty = tmp_path / "empty"
    empty.mkdir()
    with Project.open(project, read_only=True) as p:
        with pytest.raises(ExportError, match="is a folder"):
            export_with_report(p, "coco", empty)
        # the PNGs, the provenance, the id map and ImageSets/2017/val.txt
        assert export_with_report(p, "davis", empty).files == N + 3
