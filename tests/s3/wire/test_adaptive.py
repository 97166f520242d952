"""AdaptiveThrottle: SlowDown answers cut the request rate and the requests in flight, clean
answers raise them again; nested requests pass; one throttle per endpoint."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError

from orbit_provider.s3.errors import NotFound
from orbit_provider.s3.recovery import RetryPolicy, reset_shared_breakers, with_retry
from orbit_provider.s3.wire.adaptive import (
    MIN_THROTTLED,
    SIGNAL_WINDOW,
    UNLIMITED,
    AdaptiveThrottle,
    is_throttle,
    shared_throttle,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TickingClock(FakeClock):
    """Each reading is a second later: the rate limit's tokens never run out."""

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def slow_down() -> ClientError:
    return ClientError(
        {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject"
    )


def push_back(t: AdaptiveThrottle, started_round: int | None = None) -> None:
    """Throttled answers until they cut (at most a window of them: stale ones never cut)."""
    cuts = t.cuts
    for _ in range(SIGNAL_WINDOW):
        t.answered(True, started_round)
        if t.cuts > cuts:
            return


def test_throttles_are_recognised():
    assert is_throttle(slow_down())
    too_many = ClientError(
        {"Error": {"Code": "TooManyRequests"}, "ResponseMetadata": {"HTTPStatusCode": 429}}, "Get"
    )
    assert is_throttle(too_many)
    down = ClientError(
        {"Error": {"Code": "ServiceUnavailable"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "X"
    )
    assert not is_throttle(down)  # a store that is down: the breaker's business
    assert not is_throttle(NotFound("b", "k"))
    assert not is_throttle(KeyboardInterrupt())


def test_a_stray_slowdown_cuts_nothing_a_store_that_keeps_pushing_back_does():
    t = AdaptiveThrottle(clock=FakeClock(), max_in_flight=16)
    for _ in range(20):  # one throttled answer in every SIGNAL_WINDOW: retried, nothing cut
        for _ in range(SIGNAL_WINDOW - 1):
            t.answered(False)
        t.answered(True)
    assert (t.cuts, t.limit, t.enabled) == (0, 16, False)
    assert t.throttled == 20
    for _ in range(SIGNAL_WINDOW // 2 - 2):
        t.answered(True)
    assert t.cuts == 0  # 7 of the last 16 answers throttled
    t.answered(True)  # 8 of 16: half the window, the signal
    assert (t.cuts, t.limit, t.enabled) == (1, 8, True)


def test_no_limit_until_the_store_pushes_back():
    t = AdaptiveThrottle(clock=FakeClock())
    for _ in range(50):
        t.answered(False)
    assert not t.enabled
    assert t.rate is None
    assert t.limit == UNLIMITED


def test_slowdown_cuts_the_rate_to_a_share_of_the_measured_rate_and_it_climbs_back():
    clock = FakeClock()
    t = AdaptiveThrottle(clock=clock)
    for _ in range(200):  # 100 clean answers a second for two seconds
        clock.now += 0.01
        t.answered(False)
    push_back(t)
    assert t.enabled
    cut = t.rate
    assert cut is not None and 50 <= cut <= 90  # 0.7 x about 100/s
    push_back(t, started_round=0)  # sent together with the first ones: no second cut
    assert t.rate == pytest.approx(cut, rel=0.05)
    for _ in range(1000):  # ten more seconds of clean answers at the same pace
        clock.now += 0.01
        t.answered(False)
    assert t.rate > cut * 1.2


def test_slowdown_halves_the_in_flight_limit_once_per_round_and_clean_answers_add_back():
    t = AdaptiveThrottle(clock=FakeClock(), max_in_flight=16)
    push_back(t)  # nothing in flight: the limit itself is halved
    assert t.limit == 8
    push_back(t, started_round=0)  # sent before the cut: no second cut
    assert t.limit == 8
    push_back(t, started_round=1)
    assert t.limit == 4
    assert t.cuts == 2


def test_additive_increase_only_while_the_limit_holds_requests_back():
    t = AdaptiveThrottle(clock=TickingClock(), max_in_flight=8)
    push_back(t)
    push_back(t, started_round=1)
    assert t.limit == 2
    for _ in range(10):  # nothing in flight: the limit does not bind, so it stays
        t.answered(False)
    assert t.limit == 2
    release = threading.Event()
    entered = threading.Barrier(3)

    def hold() -> None:
        def request() -> None:
            entered.wait()
            release.wait()

        t.run(request)

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for th in threads:
        th.start()
    entered.wait()  # both slots taken: the limit binds now
    assert t.in_flight == 2
    for _ in range(4):  # about one more slot per round (limit answers)
        t.answered(False)
    assert t.limit == 3
    release.set()
    for th in threads:
        th.join()
    for _ in range(100):
        t.answered(False)
    assert t.limit == 3  # not binding any more: no growth past what is used


def test_run_keeps_at_most_limit_requests_in_flight():
    t = AdaptiveThrottle(max_in_flight=2)
    lock = threading.Lock()
    now, peak = 0, 0
    gate = threading.Event()

    def request() -> None:
        nonlocal now, peak
        with lock:
            now += 1
            peak = max(peak, now)
        gate.wait(5)
        with lock:
            now -= 1

    threads = [threading.Thread(target=t.run, args=(request,)) for _ in range(6)]
    for th in threads:
        th.start()
    while t.in_flight < 2:
        threading.Event().wait(0.01)
    gate.set()
    for th in threads:
        th.join()
    assert peak == 2
    assert t.clean == 6 and t.in_flight == 0


def test_a_nested_request_on_the_same_thread_passes_through():
    t = AdaptiveThrottle(max_in_flight=1)
    assert t.run(lambda: t.run(lambda: "inner")) == "inner"
    assert t.clean == 1  # the outer request is the one counted


def test_failures_that_are_not_throttling_cut_nothing():
    t = AdaptiveThrottle(max_in_flight=4)
    with pytest.raises(NotFound):
        t.run(lambda: (_ for _ in ()).throw(NotFound("b", "k")))
    assert t.limit == 4 and not t.enabled and t.throttled == 0


def test_with_retry_sends_every_attempt_through_the_throttle():
    t = AdaptiveThrottle(clock=TickingClock(), max_in_flight=8)
    answers = [slow_down()] * MIN_THROTTLED + ["ok"]

    def call():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    policy = RetryPolicy(max_attempts=MIN_THROTTLED + 1, initial_delay=0, jitter_factor=0)
    assert with_retry(policy, call, None, lambda _: None, throttle=t) == "ok"
    assert t.throttled == MIN_THROTTLED and t.clean == 1
    assert t.enabled and t.limit < 8


def test_one_throttle_per_endpoint_forgotten_with_the_breakers():
    a = shared_throttle("http://127.0.0.1:1")
    assert shared_throttle("http://127.0.0.1:1") is a
    assert shared_throttle("http://127.0.0.1:2") is not a
    reset_shared_breakers()
    assert shared_throttle("http://127.0.0.1:1") is not a
