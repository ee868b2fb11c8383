"""The synthetic clip generator: reproducible, ground truth consistent with what is drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sam3core.eval.synthetic import generate_clip, generate_set, read_label_png
from sam3core.video import VideoSource


@pytest.fixture(scope="module")
def clip():
    return generate_clip(11, num_frames=24, height=144, width=256, num_objects=3)


def test_same_seed_same_clip(clip) -> None:
    again = generate_clip(11, num_frames=24, height=144, width=256, num_objects=3)
    assert all(np.array_equal(a, b) for a, b in zip(clip.frames, again.frames))
    assert all(np.array_equal(a, b) for a, b in zip(clip.masks, again.masks))
    other = generate_clip(12, num_frames=24, height=144, width=256, num_objects=3)
    assert not np.array_equal(clip.frames[0], other.frames[0])


def test_shapes_and_ids(clip) -> None:
    assert clip.num_frames == 24 and (clip.height, clip.width) == (144, 256)
    assert all(f.shape == (144, 256, 3) and f.dtype == np.uint8 for f in clip.frames)
    assert all(m.shape == (144, 256) and m.dtype == np.uint8 for m in clip.masks)
    assert clip.obj_ids == [1, 2, 3]
    assert set(clip.shapes) == {1, 2, 3}


def test_ground_truth_matches_the_picture(clip) -> None:
    # Object pixels are textured and saturated, unlike the background: the colour inside each
    # object's mask differs from the background right around it.
    frame, labels = clip.frames[0].astype(float), clip.masks[0]
    for obj in clip.obj_ids:
        inside = labels == obj
        if inside.sum() < 50:
            continue
        assert np.abs(frame[inside].mean(axis=0) - frame[labels == 0].mean(axis=0)).max() > 10


def test_objects_move_and_change_size(clip) -> None:
    for obj in clip.obj_ids[1:]:
        areas = [int((m == obj).sum()) for m in clip.masks]
        boxes = [clip.first_box(obj, t) for t in (0, clip.num_frames - 1)]
        assert max(areas) > 1.05 * min(a for a in areas if a > 0) or boxes[0] != boxes[1]


def test_leaving_object_exits_and_returns() -> None:
    c = generate_clip(5, num_frames=30, height=90, width=160, num_objects=2)
    areas = [int((m == 1).sum()) for m in c.masks]
    assert areas[0] > 0 and areas[-1] > 0
    assert min(areas) == 0  # fully outside for a while


def test_write_video_and_davis_annotations(tmp_path: Path, clip) -> None:
    video = clip.write(tmp_path / "seq")
    assert video.name == "video.mp4"
    ann = sorted((tmp_path / "seq" / "Annotations").glob("*.png"))
    assert [p.name for p in ann[:2]] == ["00000.png", "00001.png"] and len(ann) == clip.num_frames
    assert np.array_equal(read_label_png(ann[3]), clip.masks[3])
    with VideoSource(video) as src:
        assert src.num_frames == clip.num_frames
        err = np.abs(src.frame(5).astype(int) - clip.frames[5].astype(int)).mean()
        assert err < 12  # lossy mp4 but the same picture
    jpegs = clip.write(tmp_path / "jpg", jpeg_frames=True)
    assert len(list(jpegs.glob("*.jpg"))) == clip.num_frames


def test_generate_set_and_bad_arguments() -> None:
    clips = generate_set(3, 2, num_frames=3, height=32, width=48, num_objects=1)
    assert len(clips) == 2 and clips[0].seed != clips[1].seed
    with pytest.raises(ValueError):
        generate_clip(0, num_frames=0)
    with pytest.raises(ValueError):
        generate_clip(0, num_objects=0)
    with pytest.raises(ValueError):
        generate_set(0, 0)
