"""RetryPolicy (delays, presets, tenacity retrying) and CircuitBreaker, with fake clocks."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore import exceptions as bce

from orbit_provider.s3.errors import (
    CircuitOpen,
    ConfigError,
    Network,
    NotFound,
    Throttled,
)
from orbit_provider.s3.recovery import (
    Backoff,
    BreakerState,
    CircuitBreaker,
    RetryPolicy,
    with_retry,
)


def slow_down() -> bce.ClientError:
    return bce.ClientError(
        {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject"
    )


def no_such_key() -> bce.ClientError:
    return bce.ClientError(
        {"Error": {"Code": "NoSuchKey"}, "ResponseMetadata": {"HTTPStatusCode": 404}}, "GetObject"
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Flaky:
    """Raises the given exceptions in turn, then returns 'ok'; counts calls."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


# -- delays -------------------------------------------------------------------------------


def test_exponential_delays_with_multiplier():
    p = RetryPolicy(initial_delay=0.5, multiplier=3, max_delay=100, jitter_factor=0)
    assert [p.delay(n) for n in range(1, 5)] == pytest.approx([0.5, 1.5, 4.5, 13.5])


def test_linear_delays():
    p = RetryPolicy(initial_delay=0.5, backoff=Backoff.LINEAR, max_delay=100, jitter_factor=0)
    assert [p.delay(n) for n in range(1, 5)] == pytest.approx([0.5, 1.0, 1.5, 2.0])


def test_constant_delays():
    p = RetryPolicy(initial_delay=0.7, backoff="constant", jitter_factor=0)
    assert p.backoff is Backoff.CONSTANT
    assert [p.delay(n) for n in range(1, 5)] == pytest.approx([0.7] * 4)


def test_delays_are_capped():
    p = RetryPolicy(initial_delay=1, multiplier=2, max_delay=5, jitter_factor=0)
    assert [p.delay(n) for n in range(1, 7)] == pytest.approx([1, 2, 4, 5, 5, 5])
    linear = RetryPolicy(initial_delay=2, backoff="linear", max_delay=5, jitter_factor=0)
    assert linear.delay(10) == 5


def test_jitter_bounds():
    p = RetryPolicy(initial_delay=1, multiplier=2, max_delay=100, jitter_factor=0.25)
    # rng() in [0, 1): 0 gives the lowest delay, values near 1 the highest
    assert p.delay(3, rng=lambda: 0.0) == pytest.approx(4 * 0.75)
    assert p.delay(3, rng=lambda: 0.5) == pytest.approx(4.0)
    assert p.delay(3, rng=lambda: 0.999999) == pytest.approx(4 * 1.25, rel=1e-5)
    for _ in range(500):
        assert 3.0 <= p.delay(3) <= 5.0


def test_jitter_never_exceeds_the_cap():
    p = RetryPolicy(initial_delay=10, max_delay=10, jitter_factor=0.5)
    assert p.delay(1, rng=lambda: 0.999) == 10
    assert p.delay(1, rng=lambda: 0.0) == pytest.approx(5)


def test_presets():
    fast, slow, network = RetryPolicy.fast(), RetryPolicy.slow(), RetryPolicy.network()
    assert fast.max_attempts < RetryPolicy().max_attempts < slow.max_attempts
    assert fast.max_delay < slow.max_delay
    assert fast.initial_delay < slow.initial_delay
    assert fast.make_breaker() is None and slow.make_breaker() is None
    assert network.use_circuit_breaker
    breaker = network.make_breaker()
    assert isinstance(breaker, CircuitBreaker)
    assert breaker.failure_threshold == network.circuit_breaker_threshold
    assert breaker.timeout == network.circuit_breaker_timeout
    assert network.max_attempts > fast.max_attempts


def test_from_max_retries_counts_the_first_try():
    assert RetryPolicy.from_max_retries(0).max_attempts == 1
    assert RetryPolicy.from_max_retries(3).max_attempts == 4


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("max_attempts", 0, "max_attempts"),
        ("initial_delay", -1, "must not be negative"),
        ("max_delay", -1, "must not be negative"),
        ("multiplier", 0.5, "multiplier"),
        ("jitter_factor", 1.5, "jitter_factor"),
    ],
)
def test_policy_validation(field, value, rule):
    with pytest.raises(ConfigError, match=rule):
        RetryPolicy(**{field: value})


def test_with_changes():
    p = RetryPolicy().with_changes(max_attempts=9)
    assert p.max_attempts == 9


# -- with_retry -----------------------------------------------------------------------------


def test_retries_retryable_errors_until_success():
    sleeps: list[float] = []
    fn = Flaky(slow_down(), slow_down(), bce.EndpointConnectionError(endpoint_url="http://x"))
    policy = RetryPolicy(max_attempts=4, initial_delay=0.1, multiplier=2, jitter_factor=0)
    assert with_retry(policy, fn, sleep=sleeps.append) == "ok"
    assert fn.calls == 4
    assert sleeps == pytest.approx([0.1, 0.2, 0.4])


def test_gives_up_after_exactly_max_attempts():
    sleeps: list[float] = []
    fn = Flaky(*[slow_down() for _ in range(10)])
    policy = RetryPolicy(max_attempts=3, initial_delay=0, jitter_factor=0)
    with pytest.raises(Throttled) as info:
        with_retry(policy, fn, sleep=sleeps.append, bucket="b", key="k")
    assert fn.calls == 3
    assert len(sleeps) == 2
    assert (info.value.bucket, info.value.key) == ("b", "k")
    assert isinstance(info.value.__cause__, bce.ClientError)


def test_non_retryable_errors_are_raised_at_once():
    sleeps: list[float] = []
    fn = Flaky(no_such_key())
    with pytest.raises(NotFound) as info:
        with_retry(RetryPolicy(max_attempts=5), fn, sleep=sleeps.append, bucket="b", key="k")
    assert fn.calls == 1
    assert sleeps == []
    assert (info.value.bucket, info.value.key) == ("b", "k")


def test_non_s3_errors_are_not_retried():
    fn = Flaky(KeyError("bug"))
    with pytest.raises(Exception) as info:
        with_retry(RetryPolicy(max_attempts=5), fn, sleep=lambda s: None)
    assert fn.calls == 1
    assert info.value.retryable is False


def test_single_attempt_policy_never_sleeps():
    sleeps: list[float] = []
    fn = Flaky(slow_down())
    with pytest.raises(Throttled):
        with_retry(RetryPolicy(max_attempts=1), fn, sleep=sleeps.append)
    assert fn.calls == 1 and sleeps == []


def test_open_breaker_stops_the_retries():
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, timeout=10, clock=clock)
    fn = Flaky(*[slow_down() for _ in range(10)])
    with pytest.raises(CircuitOpen):
        with_retry(RetryPolicy(max_attempts=10, initial_delay=0), fn, breaker, lambda s: None)
    assert fn.calls == 3
    assert breaker.state is BreakerState.OPEN


# -- circuit breaker -----------------------------------------------------------------------


def fail(exc_factory=slow_down):
    def fn():
        raise exc_factory()

    return fn


def test_breaker_closed_open_half_open_closed():
    clock = FakeClock()
    b = CircuitBreaker(failure_threshold=3, timeout=30, success_threshold=2, clock=clock)
    assert b.state is BreakerState.CLOSED
    for _ in range(2):
        with pytest.raises(bce.ClientError):
            b.call(fail())
    assert b.state is BreakerState.CLOSED
    with pytest.raises(bce.ClientError):
        b.call(fail())
    assert b.state is BreakerState.OPEN and b.is_open

    calls = []
    with pytest.raises(CircuitOpen, match="circuit open"):
        b.call(lambda: calls.append(1))
    assert calls == []  # failing fast: the function was not called

    clock.advance(29.9)
    assert b.state is BreakerState.OPEN
    clock.advance(0.1)
    assert b.state is BreakerState.HALF_OPEN
    assert b.call(lambda: "probe") == "probe"
    assert b.state is BreakerState.HALF_OPEN  # one success of the two needed
    assert b.call(lambda: "probe") == "probe"
    assert b.state is BreakerState.CLOSED
    # closed again with a fresh count: two failures do not reopen it
    for _ in range(2):
        with pytest.raises(bce.ClientError):
            b.call(fail())
    assert b.state is BreakerState.CLOSED


def test_half_open_failure_reopens():
    clock = FakeClock()
    b = CircuitBreaker(failure_threshold=2, timeout=5, clock=clock)
    for _ in range(2):
        with pytest.raises(bce.ClientError):
            b.call(fail())
    clock.advance(5)
    assert b.state is BreakerState.HALF_OPEN
    with pytest.raises(bce.ClientError):
        b.call(fail())
    assert b.state is BreakerState.OPEN
    clock.advance(4)
    with pytest.raises(CircuitOpen):
        b.call(lambda: None)  # the timeout restarted at the failed probe
    clock.advance(1)
    assert b.state is BreakerState.HALF_OPEN


def test_half_open_lets_one_probe_through():
    clock = FakeClock()
    b = CircuitBreaker(failure_threshold=1, timeout=1, clock=clock)
    b.record_failure()
    clock.advance(1)
    b.before_call()  # the probe
    with pytest.raises(CircuitOpen, match="probe"):
        b.before_call()
    b.record_success()
    assert b.state is BreakerState.CLOSED
    b.before_call()


def test_only_retryable_failures_count():
    b = CircuitBreaker(failure_threshold=2, timeout=5, clock=FakeClock())
    for _ in range(10):
        with pytest.raises(bce.ClientError):
            b.call(fail(no_such_key))
    assert b.state is BreakerState.CLOSED
    with pytest.raises(bce.ClientError):
        b.call(fail())
    with pytest.raises(bce.ClientError):
        b.call(fail(no_such_key))  # a non-retryable answer proves the endpoint is alive
    with pytest.raises(bce.ClientError):
        b.call(fail())
    assert b.state is BreakerState.CLOSED
    with pytest.raises(Network):
        b.call(fail(lambda: Network("down")))
    assert b.state is BreakerState.OPEN


def test_success_resets_the_failure_count():
    b = CircuitBreaker(failure_threshold=3, timeout=5, clock=FakeClock())
    for _ in range(5):
        b.record_failure()
        b.record_failure()
        b.record_success()
    assert b.state is BreakerState.CLOSED


@pytest.mark.parametrize(
    "kwargs",
    [{"failure_threshold": 0}, {"timeout": 0}, {"success_threshold": 0}],
)
def test_breaker_validation(kwargs):
    with pytest.raises(ConfigError):
        CircuitBreaker(**kwargs)


def test_breaker_counts_failures_from_many_threads():
    threads, per_thread = 8, 500
    b = CircuitBreaker(failure_threshold=threads * per_thread, timeout=5, clock=FakeClock())
    start = threading.Barrier(threads)

    def hammer(n: int) -> None:
        start.wait()
        for _ in range(per_thread - (1 if n == 0 else 0)):
            with pytest.raises(bce.ClientError):
                b.call(fail())

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(hammer, range(threads)))
    assert b.state is BreakerState.CLOSED  # one failure short of the threshold
    b.record_failure()
    assert b.state is BreakerState.OPEN


def test_half_open_admits_exactly_one_probe_among_many_threads():
    clock = FakeClock()
    b = CircuitBreaker(failure_threshold=1, timeout=1, clock=clock)
    b.record_failure()
    clock.advance(1)
    threads = 16
    start = threading.Barrier(threads)

    def try_call(_: int) -> bool:
        start.wait()
        try:
            b.before_call()
        except CircuitOpen:
            return False
        return True

    with ThreadPoolExecutor(threads) as pool:
        admitted = list(pool.map(try_call, range(threads)))
    assert admitted.count(True) == 1
