"""``masklet batch`` on a real local Ray instance (2 CPUs): the projects ``masklet track`` writes, a
killed worker's item resumed without losing or repeating a frame, reruns that skip and continue, and
failed items named with their reason."""

from __future__ import annotations

import collections
import os
import signal
import threading
from pathlib import Path

import pytest
import torch

from app.cli import main
from app.cluster.batch import BatchOptions, run_batch
from app.cluster.manifest import BatchItem, load_manifest
from app.cluster.testing import TINY_MODEL, tiny_factory, write_tiny_checkpoint
from app.domain.project import Project
from app.domain.review import mask_infos
from app.domain.tracking import apply_specs, track

pytestmark = pytest.mark.slow


def content(path: Path) -> dict:
    """Everything a project stores, comparable with ==."""
    with Project.open(path) as project:
        return {
            "engine": project.engine,
            "objects": [(o.id, o.name, o.category, o.color) for o in project.objects()],
            "prompts": [(p.frame, p.obj_id, p.points, p.labels, p.box) for p in project.prompts()],
            "masks": {(r.frame, r.obj_id): (r.counts, r.area) for f in range(project.num_frames)
                      for r in project.mask_records(f)},
            # provenance and scores, all but the time stamps
            "infos": sorted((i.frame, i.obj_id, i.origin.kind, i.origin.engine, i.origin.model,
                             i.origin.source_frame, i.origin.detail, i.score) for i in mask_infos(project)),
        }


def track_like_cli(item: BatchItem, out: Path, checkpoint: Path) -> Path:
    """What ``masklet track`` does (app.cli.cmd_track), with the tiny SAM 2.1 the CLI cannot name."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the worker (one CPU slot): identical floating-point sums
    try:
        engine = tiny_factory(TINY_MODEL, str(checkpoint), "cpu")
        with Project.create(out, item.video, engine=item.engine_name) as project:
            apply_specs(project, list(item.specs))
            project.engine = item.engine_name
            track(project, engine, direction=item.direction, model=checkpoint.name)
    finally:
        torch.set_num_threads(threads)
    return out


def cli_track(item: BatchItem, prompts: Path, out: Path) -> Path:
    assert main(["track", str(item.video), "--prompts", str(prompts), "--project", str(out),
                 "--direction", item.direction]) == 0
    return out


def test_batch_gives_the_projects_of_masklet_track(ray_cluster, make_clips, tmp_path: Path) -> None:
    checkpoint = write_tiny_checkpoint(tmp_path / "tiny.pt")
    classical, _ = make_clips(2, frames=9, inline=False, name="classical.jsonl", direction="both")
    sam, _ = make_clips(2, frames=6, first_seed=5, name="sam.jsonl", model=TINY_MODEL, checkpoint="tiny.pt")
    manifest = tmp_path / "all.jsonl"
    manifest.write_text(classical.read_text() + sam.read_text())
    items = load_manifest(manifest)
    assert [i.engine_name for i in items] == ["classical"] * 2 + [TINY_MODEL] * 2
    results = run_batch(items, BatchOptions(workers=2, factory=tiny_factory))
    assert [r.status for r in results] == ["done"] * 4, [r.error for r in results]
    assert {r.worker for r in results} and all(r.objects == 2 for r in results)
    for item in items:
        reference = tmp_path / "reference" / item.project.name
        reference.parent.mkdir(exist_ok=True)
        if item.model is None:
            cli_track(item, item.video.with_suffix(".json"), reference)
        else:
            track_like_cli(item, reference, checkpoint)
        got, want = content(item.project), content(reference)
        assert len(got["masks"]) == 2 * item.num_frames
        diff = [(a, b) for a, b in zip(got.pop("infos"), want.pop("infos")) if a != b]
        assert not diff, repr((item.label, [(a[5:], b[5:]) for a, b in diff[:2]]))
        assert got == want, item.label


def test_a_killed_worker_loses_and_repeats_no_frame(ray_cluster, make_clips, tmp_path: Path) -> None:
    manifest, _ = make_clips(3, frames=20, inline=False)
    items = load_manifest(manifest)
    commits: collections.Counter = collections.Counter()
    killed: list[int] = []

    def on_frame(item: BatchItem, phase: str, frame: int, engine) -> None:  # noqa: ANN001
        if phase != "prompt":
            commits[(item.line, frame)] += 1
        if item.line == 1 and frame == 6 and not killed:
            killed.append(engine.worker["pid"])
            os.kill(engine.worker["pid"], signal.SIGKILL)  # the worker process dies mid-item

    results = run_batch(items, BatchOptions(workers=2, step_frames=2, step_budget_s=0.0), on_frame=on_frame)
    assert killed and [r.status for r in results] == ["done"] * 3, [r.error for r in results]
    assert results[0].attempts == 2 and results[1].attempts == results[2].attempts == 1
    assert str(killed[0]) not in results[0].worker  # finished by another worker process
    for item in items:
        assert [commits[(item.line, f)] for f in range(item.num_frames)] == [1] * item.num_frames
        with Project.open(item.project) as project:
            assert project.frames_stored() == list(range(item.num_frames))
            assert all(len(project.mask_records(f)) == 2 for f in range(item.num_frames))
    # Up to the kill the frames are those of an uninterrupted `masklet track`.
    reference = cli_track(items[0], items[0].video.with_suffix(".json"), tmp_path / "ref.masklet")
    got, want = content(items[0].project), content(reference)
    assert all(got["masks"][key] == want["masks"][key] for key in want["masks"] if key[0] <= 6)
    assert [i[:3] for i in got["infos"]] == [i[:3] for i in want["infos"]]  # every mask has provenance


def test_reruns_skip_finished_items_and_continue_a_stopped_one(ray_cluster, make_clips, capsys) -> None:
    manifest, _ = make_clips(2, frames=14)
    items = load_manifest(manifest)
    stop = threading.Event()

    def stop_at_frame_5(item: BatchItem, phase: str, frame: int, engine) -> None:  # noqa: ANN001
        if item.line == 2 and frame == 5:
            stop.set()  # as if the batch were interrupted (Ctrl+C) here

    first = run_batch(items, BatchOptions(workers=1), on_frame=stop_at_frame_5, stop=stop)
    assert [r.status for r in first] == ["done", "stopped"]
    with Project.open(items[1].project) as project:
        assert project.frames_stored() == list(range(6))
    commits: list[tuple[int, int]] = []
    second = run_batch(items, BatchOptions(workers=1),
                       on_frame=lambda item, phase, frame, engine: commits.append((item.line, frame)))
    assert [r.status for r in second] == ["skipped", "done"]
    assert commits == [(2, f) for f in range(6, items[1].num_frames)]  # only what was missing
    with Project.open(items[1].project) as project:
        assert project.frames_stored() == list(range(items[1].num_frames))
    assert main(["batch", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert out.count("skipped (finished earlier)") == 2 and "0 failed" in out


def test_failed_items_are_named_with_their_reason(ray_cluster, make_clips, tmp_path: Path, capsys) -> None:
    manifest, _ = make_clips(2, frames=8)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    lines = manifest.read_text().splitlines()
    lines[1] = lines[1][:-1] + ', "model": "sam2.1_hiera_tiny", "checkpoint": "junk.pt"}'
    manifest.write_text("\n".join(lines) + "\n")
    assert main(["batch", str(manifest), "--workers", "1"]) == 1
    captured = capsys.readouterr()
    assert "1 done, 0 skipped, 1 failed" in captured.out
    assert "item 2:clip1.avi (clip1.masklet) failed:" in captured.err and "junk.pt" in captured.err


def test_batch_from_first_frame_masks(ray_cluster, make_clips, tmp_path: Path) -> None:  # noqa: ANN001
    """The semi-supervised VOS batch: a DAVIS folder of first-frame masks per video instead of clicks."""
    import json

    import numpy as np
    from PIL import Image

    manifest, videos = make_clips(1, frames=8)
    labels = np.zeros((72, 96), np.uint8)
    labels[10:30, 8:30] = 1  # the red shape on frame 0
    folder = tmp_path / "first" / videos[0].stem
    folder.mkdir(parents=True)
    image = Image.fromarray(labels, mode="L").convert("P")
    image.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)
    image.save(folder / "00000.png")
    line = {"video": videos[0].name, "masks": f"first/{videos[0].stem}", "project": "masks.masklet"}
    manifest.write_text(json.dumps(line) + "\n")
    (item,) = load_manifest(manifest)
    assert [(p.frame, p.obj_id, p.points) for s in item.specs for p in s.prompts] == [(0, 1, ())]
    (result,) = run_batch([item], BatchOptions(workers=1))
    assert result.status == "done", result.error
    reference = tmp_path / "ref-masks.masklet"
    assert main(["track", str(videos[0]), "--masks", str(folder), "--project", str(reference)]) == 0
    got, want = content(item.project), content(reference)
    assert len(got["masks"]) == item.num_frames and got["masks"] == want["masks"]
    assert got["prompts"] == want["prompts"]
