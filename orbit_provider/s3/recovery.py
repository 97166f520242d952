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
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

import tenacity

from orbit_provider.s3.errors import CircuitOpen, ConfigError, S3Error, classify

log = logging.getLogger("orbit_provider.s3.recovery")

T = TypeVar("T")

#: The default breaker of every S3Client: opens after this many retryable failures in a row
#: (across all threads of the client) and fails fast for DEFAULT_BREAKER_TIMEOUT seconds.
DEFAULT_BREAKER_THRESHOLD = 10
DEFAULT_BREAKER_TIMEOUT = 30.0


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
    """Stops calling a failing endpoint: opens after `failure_threshold` failures in a row,
    lets one probe through after `timeout` seconds (half-open), closes again after
    `success_threshold` successes. Only retryable failures (network, 5xx, throttling,
    timeouts) count: a missing key says nothing about the endpoint's health.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        timeout: float = 30.0,
        success_threshold: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ConfigError("failure_threshold: must be at least 1")
        if timeout <= 0:
            raise ConfigError("timeout: must be positive")
        if success_threshold < 1:
            raise ConfigError("success_threshold: must be at least 1")
        self.failure_threshold = failure_threshold
        self.timeout = timeout
        self.success_threshold = success_threshold
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._successes = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            self._maybe_half_open()
            return self._state

    @property
    def is_open(self) -> bool:
        return self.state is BreakerState.OPEN

    def _maybe_half_open(self) -> None:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.timeout:
            self._state = BreakerState.HALF_OPEN
            self._successes = 0
            self._probe_in_flight = False

    def before_call(self) -> None:
        """Raise CircuitOpen if no call may go through now."""
        with self._lock:
            self._maybe_half_open()
            if self._state is BreakerState.OPEN:
                wait = self.timeout - (self._clock() - self._opened_at)
                raise CircuitOpen(
                    f"circuit open after {self._failures} consecutive failures; "
                    f"failing fast for another {max(wait, 0):.1f}s instead of calling a "
                    "failing endpoint"
                )
            if self._state is BreakerState.HALF_OPEN:
                if self._probe_in_flight:
                    raise CircuitOpen("circuit half-open: a probe call is already in flight")
                self._probe_in_flight = True

    def record_success(self) -> None:
        with self._lock:
            if self._state is BreakerState.HALF_OPEN:
                self._probe_in_flight = False
                self._successes += 1
                if self._successes >= self.success_threshold:
                    self._state = BreakerState.CLOSED
                    self._failures = 0
                    log.info("circuit closed again")
            elif self._state is BreakerState.CLOSED:
                self._failures = 0
            # OPEN: a call started before the breaker opened (or one cancelled locally) says
            # nothing new; keep the count that opened it (the CircuitOpen message names it)

    def record_failure(self) -> None:
        with self._lock:
            self._probe_in_flight = False
            self._failures += 1
            if self._state is BreakerState.HALF_OPEN or (
                self._state is BreakerState.CLOSED and self._failures >= self.failure_threshold
            ):
                if self._state is not BreakerState.OPEN:
                    log.warning("circuit opened after %d failures", self._failures)
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` through the breaker."""
        self.before_call()
        try:
            result = fn()
        except BaseException as exc:
            if classify(exc).retryable:
                self.record_failure()
            else:
                self.record_success()
            raise
        self.record_success()
        return result


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
        """Few quick retries, for interactive work."""
        return cls(max_attempts=3, initial_delay=0.05, max_delay=1.0)

    @classmethod
    def slow(cls) -> RetryPolicy:
        """Many patient retries, for long batch jobs against a throttling store."""
        return cls(max_attempts=8, initial_delay=1.0, max_delay=60.0, multiplier=2.0)

    @classmethod
    def network(cls) -> RetryPolicy:
        """For flaky links: more attempts and a breaker that stops hammering a dead endpoint."""
        return cls(
            max_attempts=6,
            initial_delay=0.2,
            max_delay=20.0,
            jitter_factor=0.3,
            use_circuit_breaker=True,
        )

    @classmethod
    def from_max_retries(cls, max_retries: int) -> RetryPolicy:
        return cls(max_attempts=max_retries + 1)

    @classmethod
    def client_default(cls, max_retries: int) -> RetryPolicy:
        """What an S3Client uses unless told otherwise: `max_retries` retries and a circuit
        breaker that opens after DEFAULT_BREAKER_THRESHOLD retryable failures in a row
        (see docs/architecture.md for why 10: fast at 100% faults, never at 20%)."""
        return cls(
            max_attempts=max_retries + 1,
            use_circuit_breaker=True,
            circuit_breaker_threshold=DEFAULT_BREAKER_THRESHOLD,
            circuit_breaker_timeout=DEFAULT_BREAKER_TIMEOUT,
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

    def make_breaker(self, clock: Callable[[], float] = time.monotonic) -> CircuitBreaker | None:
        if not self.use_circuit_breaker:
            return None
        return CircuitBreaker(
            failure_threshold=self.circuit_breaker_threshold,
            timeout=self.circuit_breaker_timeout,
            clock=clock,
        )

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
) -> T:
    """Call `fn` under `policy` (and `breaker`, when given); raise the last error as an
    S3Error naming `bucket` and `key`."""
    call = (lambda: breaker.call(fn)) if breaker is not None else fn
    try:
        return policy.retrying(sleep=sleep)(call)
    except Exception as exc:
        if isinstance(exc, S3Error):
            raise
        raise classify(exc, bucket=bucket, key=key) from exc
