"""``train.max_minutes``: a wall-clock budget for the training loop, summed over resumes."""

from __future__ import annotations

import time
from typing import Callable


class TimeBudget:
    """Loop time of this run: earlier sessions' (from the checkpoint) plus this one's since ``start()``.

    Start-up (building networks, caching data) happens before ``start()`` and is
    not counted. ``minutes=0`` means no budget. ``clock`` (seconds, monotonic) is
    injected by tests, so that they need no wall-clock window.
    """

    def __init__(self, minutes: float, earlier_seconds: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = minutes * 60.0
        self.earlier = earlier_seconds
        self._clock = clock
        self._started: float | None = None  # None until the loop starts
        self._start_step = 0

    def start(self, step: int) -> None:
        self._started = self._clock()
        self._start_step = step

    def session_seconds(self) -> float:
        return 0.0 if self._started is None else self._clock() - self._started

    def used(self) -> float:
        """Seconds of training-loop time so far, all sessions together."""
        return self.earlier + self.session_seconds()

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def exhausted(self) -> bool:
        return self.enabled and self.used() >= self.limit

    def final_step(self, step: int, scheduled: int) -> int:
        """Where training will stop: the schedule's end, or earlier when the budget runs out first
        (extrapolated from this session's steps per second), so the progress bar's ETA is right."""
        if not self.enabled or step <= self._start_step:
            return scheduled
        rate = (step - self._start_step) / max(self.session_seconds(), 1e-9)
        by_budget = step + int(max(0.0, self.limit - self.used()) * rate) + 1
        return min(scheduled, by_budget)
