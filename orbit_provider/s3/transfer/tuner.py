"""How many workers a parallel transfer uses, chosen from what it measures while it runs.

`parallel_operations` is the user's cap. A run starts with a few workers (START_WORKERS: about
as many as boto3 keeps in flight for one file, enough for loopback) and doubles them while the
aggregate rate of finished items grows by at least GAIN per doubling; the first step that does not
pay settles back at the best level seen. On loopback, where one connection is as fast as the
disk, that stays at the start; across a far network, where each connection is slow
(bandwidth-delay bound), it climbs towards the cap. A store that keeps answering SlowDown
halves the workers and settles them.

Items of one run are about the same size (parts, ranges), so items a second stand for bytes
a second. The tuner is pure bookkeeping on a clock: the runner calls it from one thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: Workers a tuned run starts with (the old fixed default of parallel_operations).
START_WORKERS = 8
#: Doubling the workers must raise the rate of finished items by this share to count as
#: growth (a server-bound transfer gains nothing; a connection-bound one about 100%).
GAIN = 0.25
#: The shortest measuring window, in seconds (shorter ones are mostly scheduling noise).
MIN_WINDOW = 0.25


class ConcurrencyTuner:
    """The number of workers to run now (`target`), learnt from `done()` and `throttled()`.

    Each level is measured over a window of at least `target` finished items and `min_window`
    seconds, from the moment the level was set; the first window opens only after a first
    round of `target` items (connections being made, the first requests' latency).
    """

    def __init__(
        self,
        cap: int,
        *,
        start: int = START_WORKERS,
        gain: float = GAIN,
        min_window: float = MIN_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cap < 1:
            raise ValueError("cap: must be at least 1")
        self.cap = cap
        self.gain = gain
        self.min_window = min_window
        self._clock = clock
        self.target = max(1, min(start, cap))
        self.settled = self.target >= cap
        self.best_rate = 0.0
        self.best_level = self.target
        self.history: list[tuple[int, float]] = []  # (workers, items a second) per window
        self._window_start = clock()
        self._window_done = 0
        self._warm_up = self.target

    def done(self, items: int = 1) -> None:
        """`items` more finished; at the end of a window, maybe change the level."""
        if self.settled:
            return
        if self._warm_up > 0:
            self._warm_up -= items
            if self._warm_up <= 0:
                self._set(self.target)  # measuring starts now
            return
        self._window_done += items
        elapsed = self._clock() - self._window_start
        if self._window_done < self.target or elapsed < self.min_window:
            return
        rate = self._window_done / elapsed
        self.history.append((self.target, rate))
        if rate >= self.best_rate * (1 + self.gain):
            self.best_rate, self.best_level = rate, self.target
            if self.target >= self.cap:
                self.settled = True
            else:
                self._set(min(self.cap, self.target * 2))
            return
        self.settled = True  # more workers did not pay: back to the best level
        self.target = self.best_level

    def throttled(self) -> None:
        """The store asked to slow down: half the workers, and no more growth."""
        self.target = max(1, self.target // 2)
        self.best_level = self.target
        self.settled = True

    def _set(self, level: int) -> None:
        self.target = level
        self._window_start = self._clock()
        self._window_done = 0
