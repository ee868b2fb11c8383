"""The propagation's time-left estimate (app/ui/eta.py) on a jumpy sequence of frame times."""

from __future__ import annotations

import itertools

import pytest

from app.ui.eta import RateEstimator

# A SAM run on a busy CPU: the prompted frame comes back at once, then frames of 4-6 s with stalls of
# 15 s and an instant one (cached features) among them; about 5 s per frame on average.
JUMPY = [0.01, 4.0, 6.0, 5.0, 15.0, 4.5, 0.02, 5.5, 6.0, 4.0, 14.0, 5.0, 4.5, 5.5, 0.05, 6.0, 4.0, 5.0,
         15.0, 5.0, 4.5, 5.5, 6.0, 4.0, 5.0]
TOTAL = 200


def estimates(times: list[float]) -> list[float | None]:
    rate = RateEstimator()
    clock = 100.0
    rate.start(clock)
    out = []
    for done, seconds in enumerate(times, start=1):
        clock += seconds
        rate.frame_done(clock)
        out.append(rate.eta_s(TOTAL - done))
    return out


def naive(times: list[float]) -> list[float]:
    """What the status bar showed before: frames done / time since the start."""
    return [(TOTAL - done) * elapsed / done for done, elapsed in enumerate(itertools.accumulate(times), 1)]


def test_no_estimate_before_a_few_frames_are_timed() -> None:
    eta = estimates(JUMPY)
    assert eta[:3] == [None, None, None]  # the prompted frame is not timed; three timed frames first
    assert eta[3] is not None


def test_the_estimate_stays_smooth_and_near_the_truth_on_a_jumpy_sequence() -> None:
    eta = [e for e in estimates(JUMPY) if e is not None]
    truth_per_frame = sum(JUMPY[1:]) / len(JUMPY[1:])
    shown = range(4, len(JUMPY) + 1)  # frames done when each estimate is shown
    for done, value in zip(shown, eta):
        assert value == pytest.approx((TOTAL - done) * truth_per_frame, rel=0.35)
    steps = [abs(b - a) / a for a, b in zip(eta, eta[1:])]
    assert max(steps) < 0.25  # no jump like 0:22 -> 9:16 -> 15:39
    jumps = [abs(b - a) / a for a, b in zip(naive(JUMPY), naive(JUMPY)[1:])]
    assert max(jumps) > 1.0  # the plain average did jump on the same sequence


def test_a_new_request_does_not_time_its_prompted_frame() -> None:
    rate = RateEstimator()
    rate.start(0.0)
    clock = 0.0
    for seconds in (0.01, 5.0, 5.0, 5.0, 5.0):
        clock += seconds
        rate.frame_done(clock)
    assert rate.seconds_per_frame == pytest.approx(5.0)
    rate.new_run()  # the backward run starts at the prompted frame again: instant
    rate.frame_done(clock + 0.01)
    assert rate.seconds_per_frame == pytest.approx(5.0)
    assert rate.fps == pytest.approx(0.2)
