"""A propagation's rate and time left, smoothed (Qt-free; the worker thread feeds it).

The plain average (frames done / time since the start) gives wild estimates: the first frame of a run
is the prompted frame, returned at once (or it carries the run's set-up), and a SAM frame's time grows
as its memory bank fills and varies with the CPU's load. So the first frame of each run is not timed,
nothing is estimated before a few frames have been timed, and after that each frame's time moves an
exponential moving average of seconds per frame, a single frame's time counting at most ``CLAMP`` times
(or at least 1 / ``CLAMP`` of) the current average: one stall or one instant frame barely moves it.
"""

from __future__ import annotations

WARMUP_FRAMES = 3   # frames timed before any estimate is shown
ALPHA = 0.2         # weight of the newest frame in the moving average
CLAMP = 2.0         # a frame counts at most CLAMP x (at least 1/CLAMP of) the current average


class RateEstimator:
    """Seconds per frame of a running propagation; ``start`` at the run's start, ``frame_done`` after
    each frame (``new_run`` where a run of another request begins: its first frame is not timed)."""

    def __init__(self, warmup: int = WARMUP_FRAMES, alpha: float = ALPHA, clamp: float = CLAMP) -> None:
        self.warmup = max(1, warmup)
        self.alpha = alpha
        self.clamp = clamp
        self._last: float | None = None
        self._skip = True
        self._timed: list[float] = []
        self._average: float | None = None

    def start(self, now: float) -> None:
        self._last = now
        self._skip = True
        self._timed = []
        self._average = None

    def new_run(self) -> None:
        """The next frame starts another request (a prompted frame again): it is not timed."""
        self._skip = True

    def frame_done(self, now: float) -> None:
        last, self._last = self._last, now
        if last is None:
            return
        if self._skip:
            self._skip = False
            return
        seconds = max(0.0, now - last)
        if self._average is None:
            self._timed.append(seconds)
            if len(self._timed) >= self.warmup:
                self._average = max(sum(self._timed) / len(self._timed), 1e-6)
            return
        bounded = min(max(seconds, self._average / self.clamp), self._average * self.clamp)
        self._average += self.alpha * (bounded - self._average)

    @property
    def seconds_per_frame(self) -> float | None:
        """None until ``warmup`` frames have been timed."""
        return self._average

    @property
    def fps(self) -> float:
        """Frames per second (0.0 while there is no estimate yet)."""
        spf = self._average
        return 1.0 / spf if spf else 0.0

    def eta_s(self, left: int) -> float | None:
        spf = self._average
        return None if spf is None or left <= 0 else left * spf
