"""Retry policies (built on tenacity) and a thread-safe circuit breaker.

One retry layer for the whole project: botocore's own retries are off, and every call
goes through a RetryPolicy that retries only what `errors.classify` calls retryable.
"""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import tenacity

from orbit_provider.s3.errors import CircuitOpen, ConfigError, S3Error, classify
from orbit_provider.s3.metrics import COUNTERS
from orbit_provider.s3.wire.adaptive import AdaptiveThrottle, is_throttle, reset_shared_throttles

log = logging.getLogger("orbit_provider.s3.recovery")

T = TypeVar("T")

#: The default breaker of every S3Client (per endpoint, see `shared_breaker`): it opens when, within
#: the last DEFAULT_BREAKER_WINDOW seconds, at least DEFAULT_BREAKER_MIN_CALLS requests were made,
#: at least DEFAULT_BREAKER_THRESHOLD of them failed and they were at least
#: DEFAULT_BREAKER_FAILURE_RATE of the calls; callers then wait for the half-open probe, and give up
#: (CircuitOpen) after DEFAULT_BREAKER_OPEN_CYCLES failed probes, DEFAULT_BREAKER_TIMEOUT apart.
DEFAULT_BREAKER_THRESHOLD = 10
DEFAULT_BREAKER_TIMEOUT = 30.0
DEFAULT_BREAKER_FAILURE_RATE = 0.5
DEFAULT_BREAKER_WINDOW = 30.0
DEFAULT_BREAKER_MIN_CALLS = 10
DEFAULT_BREAKER_OPEN_CYCLES = 3

#: The failure-rate window holds at most this many of the latest outcomes: an abrupt outage
#: fills it with failures within about as many requests, however busy the client was before.
DEFAULT_BREAKER_WINDOW_SIZE = 100


class Backoff(enum.StrEnum):
    """How the delay between attempts grows."""

    EXPONENTIAL = "exponential"
    LINEAR = "linear"
    CONSTANT = "constant"


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Stops calling a failing endpoint, and lets one probe through after `timeout` seconds
    (half-open); `success_threshold` successful probes close it again. Only retryable failures
    (network, 5xx, throttling, timeouts) count: a missing key says nothing about the endpoint.

    When it opens:
    - `failure_rate` None (the guide's breaker): after `failure_threshold` failures in a row.
    - `failure_rate` set: over the window (the last `window_size` calls, none older than
      `window` seconds), when at least `minimum_calls` calls were made, at least
      `failure_threshold` failed, and the failed share is at least `failure_rate`. A burst of
      concurrent timeouts does not open it; a store that fails most of what it is sent does.

    While it is open:
    - `max_open_cycles` None: calls fail fast with CircuitOpen.
    - `max_open_cycles` set: calls *wait* for the half-open probe instead of failing, and go
      through once it succeeds. Calls give up with CircuitOpen only when `max_open_cycles`
      probes in a row have failed since the breaker opened; from then on it fails fast like
      the guide's breaker, still letting one probe through every `timeout` seconds.

    `clock` and `sleep` can be replaced (tests): waits for the probe time use `sleep` when given.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        timeout: float = 30.0,
        success_threshold: int = 1,
        clock: Callable[[], float] = time.monotonic,
        *,
        failure_rate: float | None = None,
        window: float = DEFAULT_BREAKER_WINDOW,
        window_size: int = DEFAULT_BREAKER_WINDOW_SIZE,
        minimum_calls: int = DEFAULT_BREAKER_MIN_CALLS,
        max_open_cycles: int | None = None,
        sleep: Callable[[float], None] | None = None,
        name: str = "",
    ) -> None:
        if failure_threshold < 1:
            raise ConfigError("failure_threshold: must be at least 1")
        if timeout <= 0:
            raise ConfigError("timeout: must be positive")
        if success_threshold < 1:
            raise ConfigError("success_threshold: must be at least 1")
        if failure_rate is not None and not 0 < failure_rate <= 1:
            raise ConfigError("failure_rate: must be above 0 and at most 1")
        if window <= 0:
            raise ConfigError("window: must be positive")
        if not 1 <= minimum_calls <= window_size:
            raise ConfigError("minimum_calls: must be at least 1 and at most window_size")
        if max_open_cycles is not None and max_open_cycles < 1:
            raise ConfigError("max_open_cycles: must be at least 1 (or None to fail fast)")
        self.failure_threshold = failure_threshold
        self.timeout = timeout
        self.success_threshold = success_threshold
        self.failure_rate = failure_rate
        self.window = window
        self.window_size = window_size
        self.minimum_calls = minimum_calls
        self.max_open_cycles = max_open_cycles
        self.name = name
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._probe = threading.local()
        self._state = BreakerState.CLOSED
        self._failures = 0  # in a row (the guide's rule only)
        self._outcomes: deque[tuple[float, bool]] = deque()  # (time, failed), rate rule only
        self._window_failures = 0
        self._successes = 0
        self._opened_at = 0.0
        self._open_cycles = 0  # failed probes since the breaker last opened
        self._probe_in_flight = False
        self._reason = ""

    @property
    def state(self) -> BreakerState:
        with self._lock:
            self._maybe_half_open()
            return self._state

    @property
    def is_open(self) -> bool:
        return self.state is BreakerState.OPEN

    @property
    def gave_up(self) -> bool:
        """A waiting breaker saw its last `max_open_cycles` probes fail: the store stays down."""
        with self._lock:
            return self.max_open_cycles is not None and self._open_cycles >= self.max_open_cycles

    @property
    def open_cycles(self) -> int:
        """Probes that failed since the breaker last opened (0 while it is closed)."""
        with self._lock:
            return self._open_cycles

    def _probe_at(self) -> float:
        """When the open breaker lets a probe through."""
        return self._opened_at + self.timeout

    def _maybe_half_open(self) -> None:
        # one deadline for both tests: `now - opened >= timeout` and `opened + timeout - now`
        # can disagree in floating point, and a clock that moves only by the sleeps asked
        # for (a test's) would then be asked to sleep 0 s forever
        if self._state is BreakerState.OPEN and self._clock() >= self._probe_at():
            self._state = BreakerState.HALF_OPEN
            self._successes = 0
            self._probe_in_flight = False

    def open_message(self) -> str:
        """Why calls do not go through now."""
        where = f" to {self.name}" if self.name else ""
        if self.max_open_cycles is None:
            wait = self.timeout - (self._clock() - self._opened_at)
            return (
                f"circuit open after {self._reason}{where}; failing fast for another "
                f"{max(wait, 0):.1f}s instead of calling a failing endpoint"
            )
        return (
            f"circuit open after {self._reason}{where}, and {self._open_cycles} probe(s) "
            f"{self.timeout:g}s apart failed too: the store stays down; giving up"
        )

    def before_call(self) -> None:
        """Return when a call may go through; raise CircuitOpen when none may (see the class
        doc for when that is)."""
        with self._lock:
            while True:
                self._maybe_half_open()
                if self._state is BreakerState.CLOSED:
                    return
                if self._state is BreakerState.HALF_OPEN and not self._probe_in_flight:
                    self._probe_in_flight = True
                    self._probe.active = True
                    return
                if self.max_open_cycles is None:
                    if self._state is BreakerState.HALF_OPEN:
                        raise CircuitOpen("circuit half-open: a probe call is already in flight")
                    raise CircuitOpen(self.open_message())
                if self._open_cycles >= self.max_open_cycles:
                    raise CircuitOpen(self.open_message())
                self._wait_for_change()

    def _wait_for_change(self) -> None:
        """Wait (lock held on entry and exit) until the probe time or a probe's outcome."""
        if self._state is BreakerState.OPEN:
            delay = max(self._probe_at() - self._clock(), 0.0)
            if self._sleep is not None:
                self._lock.release()
                try:
                    self._sleep(delay)
                finally:
                    self._lock.acquire()
                return
            self._changed.wait(min(delay, 1.0) or 0.001)
        else:  # half-open, a probe in flight: its outcome notifies
            self._changed.wait(1.0)

    def _took_probe(self) -> bool:
        probe = getattr(self._probe, "active", False)
        self._probe.active = False
        return probe

    def _note(self, failed: bool) -> None:
        """Count one outcome for the opening rule."""
        if self.failure_rate is None:
            self._failures = self._failures + 1 if failed else 0
            return
        now = self._clock()
        self._outcomes.append((now, failed))
        self._window_failures += failed
        while self._outcomes and (
            now - self._outcomes[0][0] > self.window or len(self._outcomes) > self.window_size
        ):
            self._window_failures -= self._outcomes.popleft()[1]

    def _should_open(self) -> bool:
        if self.failure_rate is None:
            return self._failures >= self.failure_threshold
        calls = len(self._outcomes)
        return (
            calls >= self.minimum_calls
            and self._window_failures >= self.failure_threshold
            and self._window_failures >= self.failure_rate * calls
        )

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._changed.notify_all()

    def record_success(self) -> None:
        with self._lock:
            probe = self._took_probe()
            if self._state is BreakerState.CLOSED:
                self._note(False)
            elif probe:
                self._probe_in_flight = False
                self._successes += 1
                if self._successes >= self.success_threshold:
                    self._state = BreakerState.CLOSED
                    self._failures = self._window_failures = 0
                    self._outcomes.clear()
                    self._open_cycles = 0
                    log.info("circuit closed again%s", f" ({self.name})" if self.name else "")
                self._changed.notify_all()
            # otherwise: a call started before the breaker opened says nothing new

    def record_failure(self) -> None:
        with self._lock:
            probe = self._took_probe()
            if self._state is BreakerState.CLOSED:
                self._note(True)
                if self._should_open():
                    if self.failure_rate is None:
                        self._reason = f"{self._failures} consecutive failures"
                    else:
                        self._reason = (
                            f"{self._window_failures} of the last {len(self._outcomes)} "
                            f"requests failed within {self.window:g}s"
                        )
                    log.warning("circuit opened after %s", self._reason)
                    COUNTERS.add("breaker_opens")
                    self._open_cycles = 0
                    self._open()
            elif probe or (self._state is BreakerState.HALF_OPEN and self.max_open_cycles is None):
                self._probe_in_flight = False
                self._open_cycles += 1
                self._open()
            # otherwise: a call started before the breaker opened says nothing new

    def release_probe(self) -> None:
        """The probe of this thread ended without an answer from the store (e.g. cancelled
        locally): let another caller probe."""
        with self._lock:
            if self._took_probe():
                self._probe_in_flight = False
                self._changed.notify_all()

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` through the breaker."""
        self.before_call()
        try:
            result = fn()
        except BaseException as exc:
            if not isinstance(exc, Exception):
                self.release_probe()
            elif classify(exc).retryable:
                self.record_failure()
            else:
                self.record_success()
            raise
        self.record_success()
        return result


_shared: dict[tuple, CircuitBreaker] = {}
_shared_lock = threading.Lock()


def shared_breaker(scope: str, **settings: Any) -> CircuitBreaker:
    """The one breaker of this process for `scope` (an endpoint) and these settings: every
    client talking to the same store shares its view of the store's health."""
    key = (scope, tuple(sorted(settings.items())))
    with _shared_lock:
        breaker = _shared.get(key)
        if breaker is None:
            breaker = _shared[key] = CircuitBreaker(name=scope, **settings)
        return breaker


def reset_shared_breakers() -> None:
    """Forget every shared breaker, and every endpoint's adaptive throttle with them (tests,
    or a process that starts over)."""
    with _shared_lock:
        _shared.clear()
    reset_shared_throttles()


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry retryable failures; a value that builds a
    tenacity `Retrying`. `max_attempts` counts the first try."""

    max_attempts: int = 4
    initial_delay: float = 0.1
    max_delay: float = 10.0
    backoff: Backoff = Backoff.EXPONENTIAL
    multiplier: float = 2.0
    jitter_factor: float = 0.2
    use_circuit_breaker: bool = False
    circuit_breaker_threshold: int = 5
    circuit_breaker_timeout: float = 30.0
    #: None: open after `circuit_breaker_threshold` failures in a row; else the failed share of
    #: the calls in the last `circuit_breaker_window` seconds (see CircuitBreaker)
    circuit_breaker_failure_rate: float | None = None
    circuit_breaker_window: float = DEFAULT_BREAKER_WINDOW
    circuit_breaker_min_calls: int = DEFAULT_BREAKER_MIN_CALLS
    #: None: fail fast while open; else wait for the probe, give up after this many failed ones
    circuit_breaker_open_cycles: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "backoff", Backoff(self.backoff))
        if self.max_attempts < 1:
            raise ConfigError("max_attempts: must be at least 1")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ConfigError("initial_delay/max_delay: must not be negative")
        if self.multiplier < 1:
            raise ConfigError("multiplier: must be at least 1")
        if not 0 <= self.jitter_factor <= 1:
            raise ConfigError("jitter_factor: must be between 0 and 1")

    @classmethod
    def fast(cls) -> RetryPolicy:
        """The guide's fast preset: 3 attempts, 50 ms growing to at most 1 s."""
        return cls(max_attempts=3, initial_delay=0.05, max_delay=1.0)

    @classmethod
    def slow(cls) -> RetryPolicy:
        """The guide's slow preset: 5 attempts, 200 ms growing to at most 10 s."""
        return cls(max_attempts=5, initial_delay=0.2, max_delay=10.0)

    @classmethod
    def network(cls) -> RetryPolicy:
        """The guide's network preset: 5 attempts, 100 ms growing to at most 5 s, and a
        circuit breaker that stops hammering a dead endpoint."""
        return cls(
            max_attempts=5,
            initial_delay=0.1,
            max_delay=5.0,
            use_circuit_breaker=True,
        )

    @classmethod
    def from_max_retries(cls, max_retries: int) -> RetryPolicy:
        return cls(max_attempts=max_retries + 1)

    @classmethod
    def client_default(
        cls,
        max_retries: int,
        *,
        breaker_timeout: float = DEFAULT_BREAKER_TIMEOUT,
        breaker_open_cycles: int = DEFAULT_BREAKER_OPEN_CYCLES,
    ) -> RetryPolicy:
        """What an S3Client uses unless told otherwise: `max_retries` retries and a circuit
        breaker that opens on the failure rate of a recent window and, while open, makes
        callers wait for its probe (see docs/architecture.md: never at 20% faults, within
        the window at 100%, and an outage shorter than the open cycles only pauses work)."""
        return cls(
            max_attempts=max_retries + 1,
            use_circuit_breaker=True,
            circuit_breaker_threshold=DEFAULT_BREAKER_THRESHOLD,
            circuit_breaker_timeout=breaker_timeout,
            circuit_breaker_failure_rate=DEFAULT_BREAKER_FAILURE_RATE,
            circuit_breaker_window=DEFAULT_BREAKER_WINDOW,
            circuit_breaker_min_calls=DEFAULT_BREAKER_MIN_CALLS,
            circuit_breaker_open_cycles=breaker_open_cycles,
        )

    def with_changes(self, **changes: object) -> RetryPolicy:
        return replace(self, **changes)

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based), jitter included."""
        if self.backoff is Backoff.EXPONENTIAL:
            base = self.initial_delay * self.multiplier ** (attempt - 1)
        elif self.backoff is Backoff.LINEAR:
            base = self.initial_delay * attempt
        else:
            base = self.initial_delay
        base = min(base, self.max_delay)
        if self.jitter_factor:
            base *= 1 + self.jitter_factor * (2 * rng() - 1)
        return max(0.0, min(base, self.max_delay))

    def breaker_settings(self) -> dict[str, Any]:
        """The CircuitBreaker arguments this policy asks for."""
        return {
            "failure_threshold": self.circuit_breaker_threshold,
            "timeout": self.circuit_breaker_timeout,
            "failure_rate": self.circuit_breaker_failure_rate,
            "window": self.circuit_breaker_window,
            "minimum_calls": self.circuit_breaker_min_calls,
            "max_open_cycles": self.circuit_breaker_open_cycles,
        }

    def make_breaker(
        self, clock: Callable[[], float] = time.monotonic, *, scope: str | None = None
    ) -> CircuitBreaker | None:
        """A breaker with this policy's settings (None without `use_circuit_breaker`); with a
        `scope` (an endpoint), the one this process shares for it (`shared_breaker`)."""
        if not self.use_circuit_breaker:
            return None
        if scope is not None:
            return shared_breaker(scope, **self.breaker_settings())
        return CircuitBreaker(clock=clock, **self.breaker_settings())

    def retrying(self, sleep: Callable[[float], None] = time.sleep) -> tenacity.Retrying:
        """A tenacity Retrying that retries only retryable errors, re-raising the last one."""
        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=lambda rs: self.delay(rs.attempt_number),
            retry=tenacity.retry_if_exception(lambda e: classify(e).retryable),
            before_sleep=_log_retry,
            sleep=sleep,
            reraise=True,
        )


def _log_retry(state: tenacity.RetryCallState) -> None:
    COUNTERS.add("retries")
    exc = state.outcome.exception() if state.outcome else None
    log.info(
        "attempt %d failed (%s); retrying in %.2fs",
        state.attempt_number,
        classify(exc) if exc else "?",
        state.next_action.sleep if state.next_action else 0,
    )


def with_retry(
    policy: RetryPolicy,
    fn: Callable[[], T],
    breaker: CircuitBreaker | None = None,
    sleep: Callable[[float], None] = time.sleep,
    *,
    bucket: str | None = None,
    key: str | None = None,
    throttle: AdaptiveThrottle | None = None,
) -> T:
    """Call `fn` under `policy` and `breaker`; raise the last error as an S3Error naming
    `bucket` and `key`. With no `breaker` given, a policy with `use_circuit_breaker` uses the
    process's breaker for its settings (`shared_breaker`), so its calls share one view.
    `throttle`: the endpoint's adaptive rate and in-flight limits, which every attempt goes
    through (after the breaker lets it) and learns from (wire/adaptive.py)."""
    if breaker is None and policy.use_circuit_breaker:
        breaker = policy.make_breaker(scope="with_retry")
    attempts = 0

    def send() -> T:
        return fn() if throttle is None else throttle.run(fn)

    def attempt() -> T:
        nonlocal attempts
        attempts += 1
        if breaker is None:
            return send()
        if attempts > 1 and breaker.gave_up:
            # a retry after the breaker gave up would only be one more probe of a store that
            # stays down: end this call the way every other caller's ends
            raise CircuitOpen(breaker.open_message())
        return breaker.call(send)

    def call() -> T:
        try:
            return attempt()
        except Exception as exc:
            _count_failure(exc)
            raise

    try:
        return policy.retrying(sleep=sleep)(call)
    except Exception as exc:
        if isinstance(exc, S3Error):
            raise
        error = classify(exc, bucket=bucket, key=key)
        _mark_counted(error)  # counted as `exc`: an outer with_retry must not count it again
        raise error from exc


def _count_failure(exc: Exception) -> None:
    """Count a failed attempt's throttling (metrics.py) once, however many nested retry
    layers it passes through."""
    if getattr(exc, "_orbit_counted", False):
        return
    if is_throttle(exc):
        COUNTERS.add("throttles")
    _mark_counted(exc)


def _mark_counted(exc: Exception) -> None:
    try:
        exc._orbit_counted = True  # type: ignore[attr-defined]
    except AttributeError:  # an exception type with __slots__: counted again at worst
        pass
