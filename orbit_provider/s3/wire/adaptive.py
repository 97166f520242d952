"""Adaptive throttling per endpoint: when the store answers "slow down" (503 SlowDown, 429,
Throttling...), send fewer requests a second and fewer at once; raise both again while the
answers are clean.

- Request rate: botocore's own adaptive-retry limiter (`ClientRateLimiter`: on a throttled
  answer the rate drops to 0.7x the rate measured then, and climbs back on a CUBIC curve; its
  token bucket is enforced only from the first throttled answer on). It is fed by our one
  retry layer (`recovery.with_retry`), since botocore's retries are off and part and range
  requests do not go through botocore at all. Unlike botocore, the rate is cut once per round
  (see below), not once per throttled answer: 30 requests throttled together are one signal,
  not 0.7**30.
- Requests in flight: additive increase, multiplicative decrease. A throttled answer halves
  the limit, once per round (answers to requests sent before the last cut do not cut again);
  a clean answer, while the limit is what holds requests back, adds 1/limit (about one more
  request in flight per round). No limit applies until the store first pushes back.
- What counts: botocore's throttling codes (SlowDown, Throttling, TooManyRequests, ...) and
  HTTP 429, not 503 ServiceUnavailable (a store that is down is the circuit breaker's
  business). And only a store that keeps pushing back cuts: a throttled answer cuts when at
  least half of the last SIGNAL_WINDOW answers (and MIN_THROTTLED of them) were throttled. A
  store over its rate throttles most of what exceeds it; a stray SlowDown is only retried.

One `AdaptiveThrottle` per endpoint and process (`shared_throttle`), like the circuit breaker:
every client of a store shares its view of how much the store takes.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.retries import bucket as botocore_bucket
from botocore.retries.adaptive import ClientRateLimiter, RateClocker
from botocore.retries.standard import ThrottledRetryableChecker
from botocore.retries.throttling import CubicCalculator

from orbit_provider.s3.errors import classify

log = logging.getLogger("orbit_provider.s3.throttle")

T = TypeVar("T")

#: The in-flight limit before the store ever pushed back: in effect none.
UNLIMITED = 1024
#: A throttled answer multiplies the in-flight limit by this.
DECREASE = 0.5
#: The recent answers that decide whether the store keeps pushing back ...
SIGNAL_WINDOW = 16
#: ... and the fewest throttled answers among them that do (and at least half of them).
MIN_THROTTLED = 4
#: botocore's throttling error codes, and the codes a bare 429 gets.
THROTTLE_CODES = frozenset(
    [*ThrottledRetryableChecker()._throttled_error_codes, "TooManyRequests", "429"]
)


class _Detector:
    """botocore's limiter asks its detector whether an answer was throttling; ours is told."""

    def is_throttling_error(self, throttled: bool = False, **_: Any) -> bool:
        return throttled


class _Clock:
    """botocore's Clock protocol over a plain `() -> seconds` function (tests pass a fake)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.current_time = now

    def sleep(self, seconds: float) -> None:  # pragma: no cover - botocore never calls it
        raise NotImplementedError


def is_throttle(exc: BaseException) -> bool:
    """Whether a failure is the store asking us to slow down (see THROTTLE_CODES)."""
    return isinstance(exc, Exception) and classify(exc).code in THROTTLE_CODES


class AdaptiveThrottle:
    """The request rate and the requests in flight one endpoint takes (see the module doc).

    `run(fn)` sends one request through it: it waits for a slot and a token, runs `fn`, and
    learns from the outcome. Nested calls on one thread (a request made inside another's
    retry) pass straight through, so a thread never waits on a slot it holds.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        max_in_flight: int = UNLIMITED,
        name: str = "",
    ) -> None:
        self.name = name
        self.max_in_flight = max_in_flight
        botocore_clock = botocore_bucket.Clock() if clock is None else _Clock(clock)
        self._now = botocore_clock.current_time
        self._bucket = botocore_bucket.TokenBucket(max_rate=1, clock=botocore_clock)
        self._rate = ClientRateLimiter(
            rate_adjustor=CubicCalculator(starting_max_rate=0, start_time=self._now()),
            rate_clocker=RateClocker(botocore_clock),
            token_bucket=self._bucket,
            throttling_detector=_Detector(),
            clock=botocore_clock,
        )
        self._cond = threading.Condition()
        self._limit = float(max_in_flight)
        self._in_flight = 0
        self._round = 0  # how many times the in-flight limit was cut
        self._recent: deque[bool] = deque(maxlen=SIGNAL_WINDOW)  # throttled?, latest last
        self._enabled = False
        self._local = threading.local()
        self.throttled = 0  # throttled answers seen
        self.clean = 0  # other answers seen

    # -- what it allows now ----------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """True once the store kept pushing back: from then on the rate limit is enforced."""
        return self._enabled

    @property
    def rate(self) -> float | None:
        """Requests a second allowed now (None until the store first pushed back)."""
        return self._bucket.max_rate if self._enabled else None

    @property
    def limit(self) -> int:
        """Requests allowed in flight at once now."""
        with self._cond:
            return max(1, int(self._limit))

    @property
    def cuts(self) -> int:
        """How many times the store's pushing back cut the limits."""
        with self._cond:
            return self._round

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    # -- one request -----------------------------------------------------------------------

    def run(self, fn: Callable[[], T]) -> T:
        """Send one request (`fn`) under the limits and learn from its outcome."""
        if getattr(self._local, "depth", 0):
            return fn()
        started_round = self._enter()
        self._local.depth = 1
        try:
            if self._enabled:
                self._rate.on_sending_request(None)
            result = fn()
        except BaseException as exc:
            if isinstance(exc, Exception):
                self.answered(is_throttle(exc), started_round)
            raise
        else:
            self.answered(False, started_round)
            return result
        finally:
            self._local.depth = 0
            self._leave()

    def _enter(self) -> int:
        with self._cond:
            while self._in_flight >= max(1, int(self._limit)):
                self._cond.wait(1.0)
            self._in_flight += 1
            return self._round

    def _leave(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify()

    def answered(self, throttled: bool, started_round: int | None = None) -> None:
        """Learn from one answer of the store (`started_round`: the round the request was
        sent in, None for the current one)."""
        with self._cond:
            self._recent.append(throttled)
            pushed = sum(self._recent)
            cut = (
                throttled
                and (started_round is None or started_round == self._round)
                and pushed >= max(MIN_THROTTLED, len(self._recent) / 2)
            )
            # the rate is measured on every answer, and cut once per round like the in-flight
            # limit: a burst of throttled answers to requests sent together is one signal
            self._rate.on_receiving_response(throttled=cut)
            if throttled:
                self.throttled += 1
                first = cut and not self._enabled
                if cut:
                    self._enabled = True
                    busy = self._in_flight if self._in_flight else self._limit
                    self._limit = max(1.0, min(self._limit, busy) * DECREASE)
                    self._round += 1
                    self._recent.clear()
                    self._cond.notify_all()
                if first:
                    log.info(
                        "%s asks to slow down: adapting the request rate (now %.1f/s) and "
                        "the requests in flight (now %d)",
                        self.name or "the store",
                        self._bucket.max_rate,
                        max(1, int(self._limit)),
                    )
                return
            self.clean += 1
            if self._limit < self.max_in_flight and self._in_flight >= int(self._limit):
                self._limit = min(float(self.max_in_flight), self._limit + 1.0 / self._limit)
                self._cond.notify()


_shared: dict[str, AdaptiveThrottle] = {}
_shared_lock = threading.Lock()


def shared_throttle(scope: str) -> AdaptiveThrottle:
    """The one AdaptiveThrottle of this process for `scope` (an endpoint)."""
    with _shared_lock:
        throttle = _shared.get(scope)
        if throttle is None:
            throttle = _shared[scope] = AdaptiveThrottle(name=scope)
        return throttle


def reset_shared_throttles() -> None:
    """Forget every shared throttle (tests, or a process that starts over)."""
    with _shared_lock:
        _shared.clear()
