"""Provenance, confidence and reviews: the records, schema 2 and its migration, undo, status, the guard."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from app.domain import quality, review
from app.domain.commands import DeleteObject, SetMask, SetPrompt, UndoStack
from app.domain.export_common import DAVIS_PALETTE
from app.domain.importers import import_davis
from app.domain.model import Prompt
from app.domain.project import Project
from app.domain.provenance import TrackRecorder, prompt_origin, scores_from_output
from app.domain.quality import FrameScore, MaskInfo, Origin
from app.domain.store import check_project_file
from sam3core.video import write_video

H, W, N = 40, 56, 10


def square(t: int, size: int = 12) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[10:10 + size, 4 + 3 * t:4 + 3 * t + size] = True
    return mask


@pytest.fixture
def video(tmp_path: Path) -> Path:
    frames = []
    for t in range(N):
        frame = np.full((H, W, 3), 40, np.uint8)
        frame[square(t)] = (230, 60, 40)
        frames.append(frame)
    return write_video(tmp_path / "clip" / "sq.mp4", frames)


def downgrade_to_schema_1(path: Path) -> None:
    """Make ``path`` exactly what Masklet 0.x (schema 1) wrote: no provenance/review tables."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TABLE mask_info")
    conn.execute("DROP TABLE reviews")
    conn.execute("UPDATE schema_version SET version = 1")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def test_confidence_folds_presence_iou_and_engine_confidence() -> None:
    sure = FrameScore(12.0, iou=0.9)
    assert sure.present and sure.confidence == pytest.approx(0.9, abs=1e-4)
    weak = FrameScore(0.2, iou=0.95)  # barely present: doubtful however good the outline
    assert weak.confidence < 0.1
    gone = FrameScore(-9.0, iou=0.1)  # surely absent: the IoU of an empty mask means nothing
    assert not gone.present and gone.confidence > 0.99
    unsure_absent = FrameScore(-0.3)
    assert unsure_absent.confidence < 0.2
    assert FrameScore(8.0, engine_confidence=0.5).confidence == pytest.approx(0.5, abs=1e-3)
    # SAM 3's memory-selection score and ours agree on present objects (same formula)
    assert sure.confidence == pytest.approx((2 / (1 + math.exp(-12.0)) - 1) * 0.9)
    broken = FrameScore(float("nan"), iou=float("inf"), memory_score=-3.0)
    assert broken.object_score == 0.0 and broken.iou is None and broken.memory_score == 0.0
    with pytest.raises(ValueError, match="kind"):
        Origin("guessed")
    with pytest.raises(ValueError, match="verdict"):
        quality.Review(0, 1, "maybe", 0)


def test_scores_from_output_and_recorder_source_frames() -> None:
    scores = scores_from_output([3, 5], np.array([[4.0], [-2.0]]), {3: {"iou": 0.7}})
    assert scores[3].iou == 0.7 and scores[5].iou is None and not scores[5].present
    with pytest.raises(ValueError, match="2 object scores for 3"):
        scores_from_output([1, 2, 3], np.zeros((2, 1)))
    prompts = [Prompt(2, 1, ((5.0, 5.0),), (1,)), Prompt(6, 1, ((5.0, 5.0),), (1,)),
               Prompt(4, 2, mask=np.ones((H, W), bool))]
    forward = TrackRecorder(prompts, "classical", reverse=False, start=2)
    assert [forward.source_frame(f, 1) for f in (2, 3, 5, 6, 9)] == [2, 2, 2, 6, 6]
    assert forward.source_frame(3, 2) == 2  # before the object's first prompt: the run's start
    backward = TrackRecorder(prompts, "classical", reverse=True, start=9)
    assert [backward.source_frame(f, 1) for f in (0, 2, 3, 6, 7)] == [2, 2, 6, 6, 9]
    infos = {i.obj_id: i for i in forward.infos(4, {1: FrameScore(3.0), 2: FrameScore(5.0)})}
    assert infos[1].origin.kind == "tracked" and infos[1].origin.source_frame == 2
    assert infos[2].origin.kind == "painted"  # a mask prompt's frame keeps its human kind


def test_schema_1_project_is_migrated_on_open_and_keeps_its_work(tmp_path: Path, video: Path) -> None:
    path = tmp_path / "old.masklet"
    with Project.create(path, video) as project:
        project.add_object("sq")
        project.set_prompt(Prompt(0, 1, ((8.0, 14.0),), (1,)))
        for t in range(N):
            project.set_mask(t, 1, square(t))
    downgrade_to_schema_1(path)
    ro = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
    try:  # read-only, unmigrated: the missing tables read as "no data"
        assert quality.read_infos(ro) == [] and list(quality.current_reviews(ro)) == []
    finally:
        ro.close()
    check_project_file(path)
    with Project.open(path) as project:
        assert [np.array_equal(project.mask(t, 1), square(t)) for t in range(N)] == [True] * N
        assert review.mask_infos(project) == []
        review.review(project, 3, [1])
        assert set(review.current_reviews(project)) == {(3, 1)}
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version").fetchone() == (2,)
    conn.close()


def test_provenance_survives_edits_undo_save_as_and_reopen(tmp_path: Path, video: Path) -> None:
    path = tmp_path / "p.masklet"
    with Project.create(path, video) as project:
        project.add_object("sq")
        stack = UndoStack(project)
        prompt = Prompt(0, 1, ((8.0, 14.0), (40.0, 30.0)), (1, 0))
        command = SetPrompt(prompt)
        stack.push(command)
        command.set_result(project, square(0), prompt_origin(prompt, "sam2.1_hiera_tiny", "tiny.pt"))
        recorder = TrackRecorder([prompt], "sam2.1_hiera_tiny", "tiny.pt", start=0)
        for t in range(1, N):
            project.set_frame_masks(t, {1: square(t)}, infos=recorder.infos(t, {1: FrameScore(2.0, 0.8)}))
        before = review.mask_info(project, 5, 1)
        stack.push(SetMask(5, 1, square(5, 8), text="Paint"))
        assert review.mask_info(project, 5, 1).origin.kind == "painted"
        stack.undo()  # the tracked mask AND its provenance come back
        assert review.mask_info(project, 5, 1) == before
        stack.redo()
        painted = review.mask_info(project, 5, 1)
        project.set_mask(7, 1, square(7, 6))  # a writer that does not say how: no stale provenance left
        assert review.mask_info(project, 7, 1) is None
        project.save_as(tmp_path / "copy.masklet")
    with Project.open(tmp_path / "copy.masklet") as project:
        info0 = review.mask_info(project, 0, 1)
        assert info0.origin.kind == "prompted" and info0.origin.engine == "sam2.1_hiera_tiny"
        assert info0.origin.model == "tiny.pt" and info0.origin.detail == "1 positive, 1 negative clicks"
        info3 = review.mask_info(project, 3, 1)
        assert info3.origin.kind == "tracked" and info3.origin.source_frame == 0
        assert info3.score.iou == pytest.approx(0.8)
        assert info3.confidence == pytest.approx(0.8 * 0.7616, abs=1e-3)
        assert review.mask_info(project, 5, 1) == painted
        assert review.mask_info(project, 7, 1) is None


def test_import_records_imported_provenance(tmp_path: Path, video: Path) -> None:
    folder = tmp_path / "gt"
    folder.mkdir()
    for t in (2, 4):
        png = Image.fromarray(square(t).astype(np.uint8) * 3, mode="P")
        png.putpalette(DAVIS_PALETTE)
        png.save(folder / f"{t:05d}.png")
    with Project.create(tmp_path / "p.masklet", video) as project:
        import_davis(project, folder)
        infos = review.mask_infos(project)
        assert [(i.frame, i.obj_id, i.origin.kind) for i in infos] == [(2, 3, "imported"), (4, 3, "imported")]
        assert str(folder) in infos[0].origin.detail and infos[0].score is None


def test_reviews_hold_only_for_the_mask_reviewed_and_survive_object_undo(tmp_path: Path, video: Path) -> None:
    with Project.create(tmp_path / "p.masklet", video) as project:
        project.add_object("a")
        project.add_object("b")
        for t in range(N):
            info = MaskInfo(t, 1, Origin("tracked", "classical"), FrameScore(1.0 - t))
            project.set_frame_masks(t, {1: square(t), 2: square(t, 5)}, infos=[info])
        events = []
        project.subscribe(lambda kind, frame, obj: events.append((kind, frame, obj)))
        assert [r.obj_id for r in review.review(project, 4, [1, 2, 99])] == [1, 2]
        assert ("review", 4, 1) in events
        review.review(project, 5, [1], "fixed")
        assert set(review.current_reviews(project)) == {(4, 1), (4, 2), (5, 1)}
        project.set_mask(4, 1, square(4, 6))
        assert set(review.stale_reviews(project)) == {(4, 1)}
        project.set_mask(4, 1, square(4))  # the reviewed mask again: the review holds again
        assert (4, 1) in review.current_reviews(project)
        tallies = {t.obj_id: t for t in review.tallies(project, threshold=0.5)}
        assert tallies[1].masked == N and tallies[1].reviewed == 2 and tallies[2].reviewed == 1
        # score 1 - t: confidence 0.46 (t=0, present), 0 (t=1: unsure), 0.46 (t=2, absent), >= 0.76 after
        assert tallies[1].doubtful == [0, 1, 2] and tallies[2].doubtful == []
        # frame 4 was rewritten without saying how: its provenance is unknown now, not stale
        assert tallies[1].kinds == {"tracked": N - 1, "unknown": 1} and tallies[2].kinds["unknown"] == N
        stack = UndoStack(project)
        stack.push(DeleteObject(1))
        assert review.mask_infos(project, obj_id=1) == [] and (5, 1) not in review.current_reviews(project)
        stack.undo()
        assert len(review.mask_infos(project, obj_id=1)) == N - 1  # all it had (frame 4: none)
        assert review.current_reviews(project)[(5, 1)].verdict == "fixed"
        review.unreview(project, 5, [1])
        assert (5, 1) not in review.current_reviews(project)


def test_review_guard_keeps_or_replaces_reviewed_frames(tmp_path: Path, video: Path) -> None:
    with Project.create(tmp_path / "p.masklet", video) as project:
        project.add_object("a")
        for t in range(N):
            project.set_mask(t, 1, square(t))
        review.review(project, 3, [1])
        review.review(project, 4, [1])
        keep = review.ReviewGuard(project, "keep")
        assert 1 in keep.filter(3, {1: square(3)}) and keep.changes == []  # unchanged: stored as is
        assert keep.filter(4, {1: square(4, 6)}) == {}
        assert keep.filter(5, {1: square(5, 6)}).keys() == {1}  # not reviewed: replaced
        (change,) = keep.changes
        assert (change.frame, change.obj_id, change.kept) == (4, 1, True)
        assert change.iou == pytest.approx(36 / 144) and change.changed_pixels == 144 - 36
        replace = review.ReviewGuard(project, "replace")
        assert replace.filter(4, {1: square(4, 6)}).keys() == {1} and replace.changes[0].kept is False
        with pytest.raises(ValueError, match="policy"):
            review.ReviewGuard(project, "ask")


def _tracked_project(tmp_path: Path, video: Path) -> Path:
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"objects": [{"id": 1, "name": "square", "prompts": [
        {"frame": 0, "points": [[10, 16]], "labels": [1]}]}]}))
    path = tmp_path / "t.masklet"
    assert main(["track", str(video), "--prompts", str(prompts), "--project", str(path)]) == 0
    return path


def test_track_records_provenance_and_status_reports_it(tmp_path: Path, video: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    path = _tracked_project(tmp_path, video)
    with Project.open(path) as project:
        infos = review.mask_infos(project)
        assert [i.frame for i in infos] == list(range(N))
        assert infos[0].origin.kind == "prompted" and infos[0].origin.detail == "1 positive click"
        assert {i.origin.kind for i in infos[1:]} == {"tracked"}
        assert {i.origin.source_frame for i in infos[1:]} == {0} and infos[5].origin.engine == "classical"
        assert all(i.score is not None for i in infos[1:])
        review.review(project, 2, [1])
    capsys.readouterr()
    assert main(["status", str(path)]) == 0
    text = capsys.readouterr().out
    assert "1 of 10 masks reviewed" in text and "prompted 1, tracked 9" in text
    assert main(["status", str(path), "--json", "--threshold", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    (obj,) = data["objects"]
    assert obj["reviewed"] == 1 and obj["frames_with_mask"] == N and obj["provenance"]["tracked"] == 9
    assert obj["doubtful"] == obj["scored"]  # nothing is certain at threshold 1
    assert main(["status", str(path), "--threshold", "1.5"]) == 2
    assert main(["status", str(tmp_path / "missing.masklet")]) == 2


def _tracked_by_tiny_sam(tmp_path: Path, video: Path, name: str, spy: dict | None = None) -> list[MaskInfo]:
    """Track the square with a tiny random-weight SAM model (``name``) through ``masklet track``'s loop;
    ``spy`` collects what the engine's frame_scores returned per frame."""
    import torch

    from app.domain.tracking import track
    from sam3core.sam.network_config import tiny_test_config
    from sam3core.sam.registry import build_tracker
    from sam3core.sam.sam3 import sam3_tiny_test_config

    torch.manual_seed(0)
    predictor = build_tracker(name, config=sam3_tiny_test_config() if name == "sam3" else tiny_test_config())
    with torch.no_grad():  # random weights call every object absent; make them "present"
        predictor.model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(4.0)
    if spy is not None:
        original = predictor.frame_scores

        def frame_scores(state, frame_idx):  # noqa: ANN001, ANN202
            spy[frame_idx] = original(state, frame_idx)
            return spy[frame_idx]

        predictor.frame_scores = frame_scores
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a busy 2-core machine torch's threads spin-wait; one is much faster
    try:
        with Project.create(tmp_path / f"{name}.masklet", video) as project:
            project.add_object("sq")
            project.set_prompt(Prompt(0, 1, ((10.0, 16.0),), (1,)))
            assert track(project, predictor, model="tiny.pt") == N + 1
            infos = review.mask_infos(project)
    finally:
        torch.set_num_threads(threads)
    assert [i.frame for i in infos] == list(range(N)) and infos[0].origin.engine == predictor.name
    return infos


def test_sam_tracking_stores_predicted_iou_and_object_score(tmp_path: Path, video: Path) -> None:
    """The SAM decoder's predicted IoU reaches the store (it used to be dropped after the decoder)."""
    seen: dict = {}
    infos = _tracked_by_tiny_sam(tmp_path, video, "sam2.1_hiera_tiny", seen)
    tracked = infos[1:]
    assert {i.origin.kind for i in tracked} == {"tracked"} and tracked[0].origin.model == "tiny.pt"
    for info in tracked:
        assert info.score.iou == pytest.approx(seen[info.frame][1]["iou"], abs=1e-6)
        assert info.score.memory_score is None  # SAM 2.1 has no memory selection
        assert 0.0 <= info.score.iou <= 1.0 and info.confidence is not None
    assert infos[0].origin.kind == "prompted" and infos[0].score is not None  # scored by propagation


def test_sam3_tracking_stores_its_memory_selection_score(tmp_path: Path, video: Path) -> None:
    for info in _tracked_by_tiny_sam(tmp_path, video, "sam3")[1:]:
        s = info.score
        assert s.iou is not None and s.memory_score is not None
        # SAM 3's own score: (2 sigmoid(object score) - 1) x IoU for a present object
        expected = (2 / (1 + math.exp(-s.object_score)) - 1) * s.iou if s.present else 0.0
        assert s.memory_score == pytest.approx(expected, abs=2e-3)
