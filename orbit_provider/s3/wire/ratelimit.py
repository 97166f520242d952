"""A thread-safe token bucket: bandwidth limits (bytes/s) and request-rate limits (requests/s)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from orbit_provider.s3.errors import ConfigError


class TokenBucket:
    """Hands out `rate` tokens a second to any number of threads, with bursts up to `capacity`.

    `acquire(n)` takes n tokens and, when that puts the bucket in debt, sleeps until the debt
    is paid: the long-run rate stays at `rate` even for requests larger than the capacity.
    """

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
            raise ConfigError(f"rate: {rate!r} must be a positive number per second")
        self.rate = float(rate)
        self.capacity = float(capacity) if capacity is not None else max(self.rate / 10, 1.0)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.capacity
        self._last = clock()

    def acquire(self, amount: float = 1) -> float:
        """Take `amount` tokens, waiting as long as needed; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= amount
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait
