"""The classical engine's per-frame confidence: a mask in pieces and a bad step are remembered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sam3core.classical import ClassicalEngine
from sam3core.classical.state import ClassicalSettings
from sam3core.classical.track import calibrated, step_confidence
from sam3core.video import write_video

H, W = 120, 160


def test_a_mask_in_pieces_is_less_sure_than_a_whole_one() -> None:
    whole = np.zeros((H, W), bool)
    whole[30:70, 40:80] = True
    pieces = np.zeros((H, W), bool)
    pieces[30:70, 40:60] = True
    pieces[30:70, 100:120] = True  # the same area, half of it far away
    for mask in (whole, pieces):
        assert step_confidence(mask, mask, None, float(mask.sum()), 3) > 0
    one = step_confidence(whole, whole, None, float(whole.sum()), 3)
    two = step_confidence(pieces, pieces, None, float(pieces.sum()), 3)
    assert one == pytest.approx(1.0)
    assert two == pytest.approx(calibrated(np.sqrt(0.5)), abs=1e-6)
    assert two < one


def test_the_calibration_puts_the_doubtful_threshold_at_the_measured_knee() -> None:
    assert calibrated(0.0) == 0.0 and calibrated(1.0) == pytest.approx(1.0)
    assert calibrated(0.70) == pytest.approx(0.6)
    values = [calibrated(v) for v in np.linspace(0, 1, 101)]
    assert all(b > a for a, b in zip(values, values[1:]))  # monotone: the ranking is kept


def _clip_with_a_bad_frame(tmp_path: Path) -> Path:
    """A red square moving right on blue; on frame 6 it is half covered by blue (an occluder)."""
    frames = []
    for t in range(16):
        frame = np.full((H, W, 3), (30, 60, 160), np.uint8)
        x = 20 + 3 * t
        frame[40:80, x:x + 40] = (220, 40, 30)
        if t == 6:
            frame[40:80, x + 20:x + 40] = (30, 60, 160)
        frames.append(frame)
    return write_video(tmp_path / "frames", frames)


def _confidences(path: Path, settings: ClassicalSettings, anchor: int | None = None) -> dict[int, float]:
    engine = ClassicalEngine(settings)
    state = engine.init_state(str(path))
    first = np.zeros((H, W), bool)
    first[40:80, 20:60] = True
    engine.add_new_mask(state, 0, 1, first)
    if anchor is not None:
        later = np.zeros((H, W), bool)
        later[40:80, 20 + 3 * anchor:60 + 3 * anchor] = True
        engine.add_new_mask(state, anchor, 1, later)
    list(engine.propagate_in_video(state))
    conf = state.confidence(1)
    engine.close(state)
    assert isinstance(conf, dict)
    return conf


def test_a_bad_step_is_remembered_and_the_confidence_climbs_back_slowly(tmp_path: Path) -> None:
    path = _clip_with_a_bad_frame(tmp_path)
    recovery = ClassicalSettings().confidence_recovery
    conf = _confidences(path, ClassicalSettings())
    assert conf[0] == 1.0
    assert conf[6] < conf[5] - 0.1  # the half-covered frame is unsure
    for t in range(7, 16):
        assert conf[t] <= conf[t - 1] + recovery + 1e-9  # it climbs back at most that fast
    # Without the memory the next clean frames are sure again at once.
    forgetful = _confidences(path, ClassicalSettings(confidence_recovery=1.0))
    assert forgetful[6] == pytest.approx(conf[6])
    assert forgetful[9] > conf[9] + 0.05


def test_an_anchor_makes_the_track_sure_again(tmp_path: Path) -> None:
    path = _clip_with_a_bad_frame(tmp_path)
    conf = _confidences(path, ClassicalSettings(), anchor=10)
    assert conf[10] == 1.0
    assert conf[11] > conf[9]
