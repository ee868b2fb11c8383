"""Project store: round trips, refusal of foreign/newer files without touching them, moved videos."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from app.domain.model import Prompt
from app.domain.project import Project, ProjectError, VideoMissingError
from sam3core.video import write_video

H, W, N = 40, 56, 6


def make_video(path: Path, seed: int = 0, frames: int = N) -> Path:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    return write_video(path, [np.roll(base, 3 * i, axis=1) for i in range(frames)])


def box_mask(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return make_video(tmp_path / "clip.mp4")


def test_everything_round_trips_through_the_file(tmp_path: Path, video: Path) -> None:
    path = tmp_path / "p.masklet"
    with Project.create(path, video, engine="sam2.1_hiera_tiny") as project:
        dog = project.add_object("dog", "animal")
        cat = project.add_object(category="animal", color="#123456", obj_id=7)
        project.update_object(dog.id, hidden=True, name="Rex")
        ring = box_mask(5, 30, 10, 40)
        ring[12:20, 20:30] = False
        project.set_frame_masks(3, {dog.id: ring, cat.id: box_mask(0, 4, 0, 4)})
        project.set_mask(4, cat.id, np.zeros((H, W), bool))
        project.set_prompt(Prompt(3, dog.id, ((10.5, 20.0), (1.0, 2.0)), (1, 0), (1.0, 2.0, 30.0, 35.0)))
        project.set_prompt(Prompt(0, cat.id, mask=box_mask(1, 9, 1, 9)))
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0

    with Project.open(path) as project:
        assert project.engine == "sam2.1_hiera_tiny"
        assert [(o.id, o.name, o.category, o.hidden) for o in project.objects()] == [
            (1, "Rex", "animal", True), (7, "Object 7", "animal", False)]
        assert project.object(7).color == "#123456"
        assert project.next_object_id() == 8
        assert np.array_equal(project.mask(3, 1), ring)
        assert set(project.masks_on_frame(3)) == {1, 7}
        assert project.frames_with_masks(7) == [3]  # the empty mask on frame 4 is stored but absent
        assert project.mask(4, 7) is not None and not project.mask(4, 7).any()
        prompt = project.prompt(3, 1)
        assert prompt.points == ((10.5, 20.0), (1.0, 2.0)) and prompt.labels == (1, 0)
        assert prompt.box == (1.0, 2.0, 30.0, 35.0) and prompt.mask is None
        assert np.array_equal(project.prompt(0, 7).mask, box_mask(1, 9, 1, 9))
        assert [p.frame for p in project.prompts(obj_id=7)] == [0]
        project.delete_object(1)
        assert project.prompts(obj_id=1) == [] and project.mask(3, 1) is None


def test_bad_arguments_are_clear_errors(tmp_path: Path, video: Path) -> None:
    with Project.create(tmp_path / "p.masklet", video) as project:
        project.add_object()
        with pytest.raises(ValueError, match="shape"):
            project.set_mask(0, 1, np.zeros((3, 3), bool))
        with pytest.raises(IndexError, match="frame 99"):
            project.set_mask(99, 1, box_mask(0, 1, 0, 1))
        with pytest.raises(KeyError, match="no object with id 5"):
            project.set_mask(0, 5, box_mask(0, 1, 0, 1))
        with pytest.raises(ValueError, match="already exists"):
            project.add_object(obj_id=1)
        with pytest.raises(ValueError, match="unknown object field"):
            project.update_object(1, size=3)
        assert project.mask_count() == 0
    with pytest.raises(ProjectError, match="already exists"):
        Project.create(tmp_path / "p.masklet", video)


def test_listeners_hear_committed_changes_once(tmp_path: Path, video: Path) -> None:
    events: list[tuple] = []
    with Project.create(tmp_path / "p.masklet", video) as project:
        project.subscribe(lambda *e: events.append(e))
        project.add_object()
        with project.batch():
            project.set_mask(2, 1, box_mask(0, 5, 0, 5))
            assert events == [("object", None, 1)]  # nothing announced before the commit
        with pytest.raises(RuntimeError), project.batch():
            project.set_mask(3, 1, box_mask(0, 5, 0, 5))
            raise RuntimeError("abort")
        assert project.mask(3, 1) is None  # rolled back
    assert events == [("object", None, 1), ("mask", 2, 1)]


def test_non_project_files_are_refused_untouched(tmp_path: Path, video: Path) -> None:
    text = tmp_path / "notes.masklet"
    text.write_text("just some text that is long enough " * 10)
    other_db = tmp_path / "other.db"
    conn = sqlite3.connect(other_db)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    empty = tmp_path / "empty.masklet"
    empty.write_bytes(b"")
    cases = ((text, "not an SQLite"), (other_db, "another application"), (empty, "not an SQLite"))
    for path, message in cases:
        before = digest(path)
        with pytest.raises(ProjectError, match=message):
            Project.open(path)
        assert digest(path) == before
        assert not Path(f"{path}-wal").exists()
    with pytest.raises(ProjectError, match="no such project"):
        Project.open(tmp_path / "missing.masklet")


def test_newer_schema_is_refused_untouched(tmp_path: Path, video: Path) -> None:
    path = tmp_path / "future.masklet"
    Project.create(path, video).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(ProjectError, match="newer Masklet"):
        Project.open(path)
    assert digest(path) == before
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 1")
    conn.execute("PRAGMA user_version = 42")
    conn.commit()
    conn.close()
    with pytest.raises(ProjectError, match="schema 42"):
        Project.open(path)


def test_moved_video_asks_for_the_new_location_and_remembers_it(tmp_path: Path, video: Path) -> None:
    path = tmp_path / "p.masklet"
    Project.create(path, video).close()
    moved = tmp_path / "elsewhere" / "clip.mp4"
    moved.parent.mkdir()
    shutil.move(video, moved)
    with pytest.raises(VideoMissingError) as info:
        Project.open(path)
    assert info.value.expected_path == video.resolve()
    with Project.open(path, video_path=moved) as project:
        assert project.video_path == moved.resolve()
    with Project.open(path) as project:
        assert project.video_path == moved.resolve()


def test_project_and_video_moved_together_are_found(tmp_path: Path) -> None:
    folder = tmp_path / "a"
    folder.mkdir()
    make_video(folder / "clip.mp4")
    Project.create(folder / "p.masklet", folder / "clip.mp4").close()
    folder.rename(tmp_path / "b")
    with Project.open(tmp_path / "b" / "p.masklet") as project:
        assert project.video_path == (tmp_path / "b" / "clip.mp4").resolve()


def test_a_different_video_is_refused(tmp_path: Path, video: Path) -> None:
    path = tmp_path / "p.masklet"
    Project.create(path, video).close()
    other = make_video(tmp_path / "other.mp4", seed=5)
    before = digest(path)
    with pytest.raises(ProjectError, match="is not the video of project"):
        Project.open(path, video_path=other)
    assert digest(path) == before


def test_in_memory_project_saves_as_and_continues_in_the_file(tmp_path: Path, video: Path) -> None:
    project = Project.in_memory(video)
    assert project.path is None
    project.add_object("a")
    project.set_mask(1, 1, box_mask(2, 9, 2, 9))
    target = tmp_path / "saved.masklet"
    project.save_as(target)
    project.set_mask(2, 1, box_mask(3, 9, 3, 9))  # lands in the file from now on
    copy = tmp_path / "copy.masklet"
    project.save_as(copy)
    project.set_mask(3, 1, box_mask(3, 9, 3, 9))
    project.close()
    with Project.open(target) as reopened:
        assert reopened.frames_with_masks(1) == [1, 2]
    with Project.open(copy) as reopened:
        assert reopened.frames_with_masks(1) == [1, 2, 3]
        assert reopened.path == copy.resolve()
