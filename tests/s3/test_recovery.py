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


# -- failure-rate opening, waiting for the probe, per-endpoint scope ---------------------------


def rate_breaker(clock, **overrides) -> CircuitBreaker:
    settings = {
        "failure_threshold": 10, "timeout": 30, "clock": clock, "failure_rate": 0.5,
        "window": 30, "window_size": 100, "minimum_calls": 20,
    }  # fmt: skip
    settings.update(overrides)
    return CircuitBreaker(**settings)


def test_rate_breaker_ignores_a_burst_of_failures_among_successes():
    b = rate_breaker(FakeClock())
    for _ in range(30):
        b.record_success()
    for _ in range(25):  # 25 in a row, as 32 concurrent timeouts would land
        b.record_failure()
    assert b.state is BreakerState.CLOSED  # 25 of 55: under half
    b.record_failure()
    b.record_failure()
    b.record_failure()
    b.record_failure()
    b.record_failure()
    assert b.state is BreakerState.OPEN  # 30 of 60


def test_rate_breaker_needs_the_minimum_number_of_calls():
    b = rate_breaker(FakeClock())
    for _ in range(19):
        b.record_failure()
    assert b.state is BreakerState.CLOSED
    b.record_failure()
    assert b.state is BreakerState.OPEN
    assert "20 of the last 20 requests failed" in b.open_message()


def test_rate_breaker_forgets_outcomes_older_than_the_window():
    clock = FakeClock()
    b = rate_breaker(clock)
    for _ in range(19):
        b.record_failure()
    clock.advance(31)
    b.record_failure()  # the 19 before are out of the window
    assert b.state is BreakerState.CLOSED


def test_rate_breaker_window_holds_the_latest_calls_only():
    b = rate_breaker(FakeClock())
    for _ in range(1000):
        b.record_success()
    for _ in range(49):
        b.record_failure()
    assert b.state is BreakerState.CLOSED
    b.record_failure()  # 50 of the last 100, however many successes came before
    assert b.state is BreakerState.OPEN


@pytest.mark.parametrize(
    "kwargs",
    [{"failure_rate": 0}, {"failure_rate": 1.5}, {"window": 0}, {"minimum_calls": 0},
     {"minimum_calls": 101, "window_size": 100}, {"max_open_cycles": 0}],
)  # fmt: skip
def test_rate_breaker_validation(kwargs):
    with pytest.raises(ConfigError):
        CircuitBreaker(**kwargs)


class SleepingClock(FakeClock):
    """A fake clock whose sleep moves it (what the waiting breaker calls)."""

    def __init__(self) -> None:
        super().__init__()
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


def waiting_breaker(clock: SleepingClock, cycles: int = 3) -> CircuitBreaker:
    return rate_breaker(clock, max_open_cycles=cycles, sleep=clock.sleep)


def open_it(b: CircuitBreaker) -> None:
    for _ in range(20):
        b.record_failure()
    assert b.state is BreakerState.OPEN


def test_waiting_breaker_holds_calls_until_the_probe_succeeds():
    clock = SleepingClock()
    b = waiting_breaker(clock)
    open_it(b)
    assert b.call(lambda: "through") == "through"  # waited for the probe time, then probed
    assert clock.slept == [30]
    assert b.state is BreakerState.CLOSED


def test_waiting_breaker_gives_up_after_the_open_cycles():
    clock = SleepingClock()
    b = waiting_breaker(clock, cycles=3)
    open_it(b)
    attempts = []

    def down():
        attempts.append(clock())
        raise slow_down()

    for _ in range(3):  # each probe fails; the caller's retry loop calls again
        with pytest.raises(bce.ClientError):
            b.call(down)
    with pytest.raises(CircuitOpen, match="circuit open after .* 3 probe"):
        b.call(down)
    assert len(attempts) == 3  # the three probes, 30 s apart; no call once it gave up
    assert attempts[1] - attempts[0] == 30 and attempts[2] - attempts[1] == 30


def test_after_giving_up_it_fails_fast_and_still_probes_every_timeout():
    clock = SleepingClock()
    b = waiting_breaker(clock, cycles=1)
    open_it(b)
    with pytest.raises(bce.ClientError):
        b.call(fail())  # the one allowed probe fails
    calls = []
    with pytest.raises(CircuitOpen, match="giving up"):
        b.call(lambda: calls.append(1))  # given up: no waiting, no call
    assert calls == [] and clock.slept == [30]
    clock.advance(30)
    assert b.call(lambda: "ok") == "ok"  # the next probe finds the store back
    assert b.state is BreakerState.CLOSED


def test_waiting_callers_on_many_threads_resume_after_one_probe():
    clock = SleepingClock()
    b = waiting_breaker(clock)
    open_it(b)
    threads = 16
    calls = []
    start = threading.Barrier(threads)

    def work(n: int) -> str:
        start.wait()
        return b.call(lambda: calls.append(n) or "done")

    with ThreadPoolExecutor(threads) as pool:
        assert list(pool.map(work, range(threads))) == ["done"] * threads
    assert sorted(calls) == list(range(threads)) and b.state is BreakerState.CLOSED


def test_shared_breaker_is_one_per_endpoint_and_settings():
    from orbit_provider.s3.recovery import shared_breaker

    policy = RetryPolicy.client_default(3)
    a = policy.make_breaker(scope="http://127.0.0.1:1")
    assert a is policy.make_breaker(scope="http://127.0.0.1:1")
    assert a is not policy.make_breaker(scope="http://127.0.0.1:2")
    assert a.name == "http://127.0.0.1:1"
    other = RetryPolicy.client_default(3, breaker_timeout=5).make_breaker(scope=a.name)
    assert other is not a and other.timeout == 5
    assert shared_breaker(a.name, **policy.breaker_settings()) is a


def test_clients_of_one_endpoint_share_their_breaker(moto_s3):
    from orbit_provider.s3 import S3Client, S3Config

    one = S3Client(S3Config(bucket="bucket-one", region="us-east-1"))
    two = S3Client(S3Config(bucket="bucket-two", region="us-east-1"))
    elsewhere = S3Client(S3Config(bucket="bucket-one", region="eu-west-1"))
    assert one.circuit_breaker is two.circuit_breaker
    assert one.circuit_breaker is not elsewhere.circuit_breaker
    assert one.circuit_breaker.max_open_cycles == 3  # the default waits for its probes


def test_presets_are_the_guides_numbers():
    fast, slow, network = RetryPolicy.fast(), RetryPolicy.slow(), RetryPolicy.network()
    assert (fast.max_attempts, fast.initial_delay, fast.max_delay) == (3, 0.05, 1.0)
    assert (slow.max_attempts, slow.initial_delay, slow.max_delay) == (5, 0.2, 10.0)
    assert (network.max_attempts, network.initial_delay, network.max_delay) == (5, 0.1, 5.0)
    assert network.use_circuit_breaker and not fast.use_circuit_breaker
    assert not slow.use_circuit_breaker
    # exponential from the initial delay, capped (no jitter here)
    steady = slow.with_changes(jitter_factor=0)
    assert [steady.delay(n) for n in range(1, 8)] == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0]


def test_with_retry_honours_the_policys_breaker():
    policy = RetryPolicy(
        max_attempts=1, use_circuit_breaker=True, circuit_breaker_threshold=2,
        circuit_breaker_timeout=60,
    )  # fmt: skip
    fn = Flaky(*[slow_down() for _ in range(5)])
    for _ in range(2):
        with pytest.raises(Throttled):
            with_retry(policy, fn, sleep=lambda s: None)
    with pytest.raises(CircuitOpen):
        with_retry(policy, fn, sleep=lambda s: None)
    assert fn.calls == 2  # the third call never reached the endpoint
    without = RetryPolicy(max_attempts=1)
    with pytest.raises(Throttled):
        with_retry(without, fn, sleep=lambda s: None)  # no breaker asked for: it is called
    assert fn.calls == 3


def test_a_waiting_caller_reaches_the_probe_when_its_sleep_ends_exactly_at_the_deadline():
    """Opened at 43.27670679050534 with a 30 s timeout, `opened + timeout` rounds to a
    float whose distance from `opened` is below 30: a breaker that compared the two ways
    asked to sleep 0 s forever on a clock that moves only by the sleeps asked for."""
    now = [43.27670679050534]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) > 100:
            raise AssertionError(f"still waiting after {sleeps[:5]}...")
        now[0] += seconds

    b = CircuitBreaker(failure_threshold=1, timeout=30.0, clock=lambda: now[0], sleep=sleep,
                       max_open_cycles=3)  # fmt: skip
    b.record_failure()
    assert b.state is BreakerState.OPEN
    b.before_call()  # waits (sleeps) until the probe time, then goes through as the probe
    assert b.state is BreakerState.HALF_OPEN and len(sleeps) == 1 and sleeps[0] > 0
