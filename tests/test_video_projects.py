"""Projects, exports and the frame reader: exact frames in every export, timestamps where a format has
room, H.264 overlays, and projects made with the older OpenCV reader keeping their masks."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from app.cli import main
from app.domain.export import export_project
from app.domain.project import Project, ProjectError
from sam3core.video import READER, VideoError, VideoSource
from sam3core.video.legacy import LegacyReader
from tests.video_matrix import MATRIX, encode, read_code

SPECS = {spec.name: spec for spec in MATRIX}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("clips")
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = encode(SPECS[name], folder)
        return made[name]

    return get


def _copy(path: Path, folder: Path) -> Path:
    target = folder / path.name
    target.write_bytes(path.read_bytes())
    return target


def _square(h: int, w: int, x: int) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mask[40:60, x:x + 20] = True
    return mask


def test_davis_images_are_the_exact_frames_of_a_vfr_bframe_video(clips, tmp_path: Path) -> None:
    video = _copy(clips("h264_vfr_bframes_mkv"), tmp_path)
    with Project.create(tmp_path / "p.masklet", video) as project:
        project.add_object("thing")
        project.set_mask(7, 1, _square(96, 128, 30))
        out = export_project(project, "davis", tmp_path / "davis", with_images=True)
    images = sorted((out / "JPEGImages" / "480p" / video.stem).glob("*.jpg"))
    assert len(images) == 120
    assert [read_code(np.asarray(Image.open(p))) for p in images] == list(range(120))


def test_rotated_video_exports_upright_frames_and_overlay(clips, tmp_path: Path) -> None:
    video = _copy(clips("h264_rotated_phone"), tmp_path)
    with Project.create(tmp_path / "r.masklet", video) as project:
        assert project.size == (160, 96)
        project.add_object("thing")
        project.set_mask(3, 1, _square(160, 96, 10))
        davis = export_project(project, "davis", tmp_path / "davis", with_images=True)
        overlay = export_project(project, "video", tmp_path / "overlay.mp4")
    first = np.asarray(Image.open(davis / "JPEGImages" / "480p" / video.stem / "00003.jpg"))
    assert first.shape == (160, 96, 3) and read_code(first) == 3
    with VideoSource(overlay) as shown:
        assert (shown.height, shown.width, shown.info.rotation) == (160, 96, 0)
        assert read_code(shown[5]) == 5


def test_overlay_is_browser_h264_and_keeps_variable_timing(clips, tmp_path: Path) -> None:
    video = _copy(clips("h264_vfr_bframes"), tmp_path)
    with Project.create(tmp_path / "v.masklet", video) as project:
        project.add_object("thing")
        project.set_mask(0, 1, _square(96, 128, 30))
        source_times = project.video.timestamps
        out = export_project(project, "video", tmp_path / "overlay.mp4")
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert stream.codec_context.profile in ("High", "Main", "Constrained Baseline")
    with VideoSource(out) as shown:
        assert shown.num_frames == 120
        assert np.allclose(np.diff(shown.timestamps), np.diff(source_times), atol=1e-3)
        assert [read_code(shown[i]) for i in (0, 1, 2, 59, 119)] == [0, 1, 2, 59, 119]


def test_overlay_of_odd_sized_video_is_padded_to_even(tmp_path: Path) -> None:
    frames = tmp_path / "odd"
    frames.mkdir()
    for i in range(3):
        Image.fromarray(np.full((51, 77, 3), 60 * i, np.uint8)).save(frames / f"{i}.png")
    with Project.create(tmp_path / "o.masklet", frames) as project:
        out = export_project(project, "video", tmp_path / "o.mp4")
    with VideoSource(out) as shown:
        assert (shown.num_frames, shown.height, shown.width) == (3, 52, 78)


def test_coco_and_ytvis_carry_frame_timestamps(clips, tmp_path: Path) -> None:
    video = _copy(clips("h264_vfr"), tmp_path)
    with Project.create(tmp_path / "t.masklet", video) as project:
        project.add_object("thing")
        project.set_mask(2, 1, _square(96, 128, 30))
        coco = json.loads(export_project(project, "coco", tmp_path / "c.json").read_text())
        ytvis = json.loads(export_project(project, "ytvis", tmp_path / "y.json").read_text())
    times = [image["timestamp"] for image in coco["images"]]
    assert times[:4] == [0.0, 0.02, 0.065, 0.085]
    assert ytvis["videos"][0]["timestamps"] == times


def test_image_folder_exports_have_no_timestamps(tmp_path: Path) -> None:
    frames = tmp_path / "f"
    frames.mkdir()
    for i in range(3):
        Image.fromarray(np.full((32, 32, 3), 60 * i, np.uint8)).save(frames / f"{i}.png")
    with Project.create(tmp_path / "f.masklet", frames) as project:
        coco = json.loads(export_project(project, "coco", tmp_path / "c.json").read_text())
    assert "timestamp" not in coco["images"][0]


def _make_legacy(project_path: Path, video: Path, masks: dict[int, np.ndarray]) -> None:
    """A project as the older OpenCV reader wrote it: its fingerprint and count, no video_reader key."""
    legacy = LegacyReader(video)
    with Project.create(project_path, video) as project:
        project.add_object("thing")
        for frame, mask in masks.items():
            project.set_mask(frame, 1, mask)
    conn = sqlite3.connect(project_path)
    with conn:
        conn.execute("DELETE FROM meta WHERE key = 'video_reader'")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'fingerprint'", (legacy.fingerprint(),))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'num_frames'", (str(legacy.num_frames),))
    conn.close()


def test_old_vfr_mkv_project_keeps_masks_when_the_count_changes(clips, tmp_path: Path) -> None:
    video = _copy(clips("h264_vfr_bframes_mkv"), tmp_path)
    assert LegacyReader(video).num_frames == 117  # what the old reader counted for 120 frames
    path = tmp_path / "old.masklet"
    _make_legacy(path, video, {5: _square(96, 128, 10), 100: _square(96, 128, 60)})
    with Project.open(path) as project:
        assert project.num_frames == 120
        assert project.frames_with_masks(1) == [5, 100]
        assert any("117" in note and "120" in note for note in project.notes)
        assert not any("could not be found" in note for note in project.notes)
    with Project.open(path) as again:  # migrated once: the reader is recorded, nothing more to say
        assert again.notes == [] and again._meta("video_reader") == READER


def test_old_project_after_a_damaged_frame_moves_masks_with_their_pictures(clips, tmp_path: Path) -> None:
    video = _copy(clips("mjpeg_corrupt"), tmp_path)  # frame 30 undecodable
    path = tmp_path / "old.masklet"
    # The old reader showed true frame i+1 as frame i after the damaged one: masks drawn on what it
    # showed sit one number too low.
    masks = {10: _square(96, 128, 10), 40: _square(96, 128, 40), 50: _square(96, 128, 50)}
    _make_legacy(path, video, masks)
    with Project.open(path) as project:
        assert project.frames_with_masks(1) == [10, 41, 51]
        assert np.array_equal(project.mask(41, 1), masks[40])
        assert any("moved by +1" in note for note in project.notes)
    backup = path.with_name(path.name + ".before-reader-update")
    assert backup.exists()
    conn = sqlite3.connect(backup)
    assert [r[0] for r in conn.execute("SELECT frame FROM masks ORDER BY frame")] == [10, 40, 50]
    conn.close()


def test_old_project_of_another_video_is_refused(clips, tmp_path: Path) -> None:
    video = _copy(clips("h264_cfr"), tmp_path)
    other = _copy(clips("mjpeg"), tmp_path)
    path = tmp_path / "old.masklet"
    _make_legacy(path, video, {1: _square(96, 128, 10)})
    with pytest.raises(ProjectError, match="is not the video of project"):
        Project.open(path, video_path=other)


def test_cli_reports_renumbered_frames(clips, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    video = _copy(clips("mjpeg_corrupt"), tmp_path)
    path = tmp_path / "old.masklet"
    _make_legacy(path, video, {45: _square(96, 128, 40)})
    assert main(["export", str(path), "--format", "coco", "--out", str(tmp_path / "c.json")]) == 0
    assert "moved by +1" in capsys.readouterr().err


def test_tracking_runs_through_a_damaged_frame_and_stores_nothing_for_it(
        clips, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spec = SPECS["h264_corrupt"]
    video = _copy(clips("h264_corrupt"), tmp_path)
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps({"objects": [{"id": 1, "prompts": [
        {"frame": 0, "box": [40, 30, 100, 80]}]}]}))
    out = tmp_path / "t.masklet"
    assert main(["track", str(video), "--prompts", str(prompts), "--project", str(out),
                 "--model", "classical"]) == 0
    with Project.open(out) as project:
        stored = project.frames_stored()
        assert spec.corrupt not in stored
        assert stored == [f for f in range(spec.frames) if f != spec.corrupt]
        assert project.video.damaged_frames == []  # a fresh reader has not met it yet
    assert any(f"frame {spec.corrupt} is damaged" in r.getMessage() for r in caplog.records)


def test_old_project_opened_read_only_says_its_masks_are_not_renumbered(clips, tmp_path: Path) -> None:
    video = _copy(clips("mjpeg_corrupt"), tmp_path)
    path = tmp_path / "old.masklet"
    _make_legacy(path, video, {40: _square(96, 128, 40)})
    with Project.open(path, read_only=True) as project:
        assert project.frames_with_masks(1) == [40]  # nothing written
        assert any("read-only" in note and "40" in note for note in project.notes)
    with Project.open(path) as project:  # for writing: renumbered now
        assert project.frames_with_masks(1) == [41]


def test_overlay_of_a_video_with_a_damaged_frame_keeps_every_frame(clips, tmp_path: Path) -> None:
    spec = SPECS["h264_corrupt"]
    video = _copy(clips("h264_corrupt"), tmp_path)
    with Project.create(tmp_path / "d.masklet", video) as project:
        out = export_project(project, "video", tmp_path / "d.mp4")
        with pytest.raises(VideoError, match=f"frame {spec.corrupt} is damaged"):
            export_project(project, "davis", tmp_path / "davis", with_images=True)
    with VideoSource(out) as shown:
        assert shown.num_frames == spec.frames
        assert read_code(shown[spec.corrupt + 1]) == spec.corrupt + 1
        assert abs(float(shown[spec.corrupt].mean()) - 64) < 3


def test_old_project_check_reports_progress_and_a_raise_from_it_changes_nothing(
        clips, tmp_path: Path) -> None:
    video = _copy(clips("mjpeg_corrupt"), tmp_path)
    path = tmp_path / "old.masklet"
    _make_legacy(path, video, {40: _square(96, 128, 40)})

    class StopError(Exception):
        pass

    def stop_halfway(done: int, total: int) -> None:
        if done > total // 2:
            raise StopError

    with pytest.raises(StopError):
        Project.open(path, progress=stop_halfway)
    assert not path.with_name(path.name + ".before-reader-update").exists()
    with Project.open(path, read_only=True) as untouched:  # the lock was released, nothing written
        assert untouched.frames_with_masks(1) == [40] and untouched._meta("video_reader") is None
    calls: list[tuple[int, int]] = []
    with Project.open(path, progress=lambda done, total: calls.append((done, total))) as project:
        assert project.frames_with_masks(1) == [41]
    totals = {total for _, total in calls}
    assert len(totals) == 1 and calls[-1][0] == calls[-1][1] == totals.pop() > 40
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
