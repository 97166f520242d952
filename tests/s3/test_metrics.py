"""The core's pushback counters: retries, throttled answers and breaker openings, counted
once each by the retry layer, through nested retries too, and by a real client behind a
proxy that answers SlowDown."""

from __future__ import annotations

import botocore.exceptions as bce
import pytest

from orbit_provider.s3 import metrics
from orbit_provider.s3.errors import NotFound, Throttled
from orbit_provider.s3.metrics import Counters, Counts
from orbit_provider.s3.recovery import CircuitBreaker, RetryPolicy, with_retry
from orbit_provider.testing.faultproxy import FaultProxy


def slow_down() -> bce.ClientError:
    return bce.ClientError(
        {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject"
    )


def no_such_key() -> bce.ClientError:
    return bce.ClientError(
        {"Error": {"Code": "NoSuchKey"}, "ResponseMetadata": {"HTTPStatusCode": 404}}, "GetObject"
    )


def failing(*failures: BaseException):
    pending = list(failures)

    def call() -> str:
        if pending:
            raise pending.pop(0)
        return "ok"

    return call


def no_sleep(_seconds: float) -> None:
    return None


def test_counts_subtract_and_counters_refuse_unknown_names():
    later = Counts(retries=5, throttles=3, breaker_opens=1)
    assert later.since(Counts(retries=2, throttles=3)) == Counts(3, 0, 1)
    assert later.to_dict() == {"retries": 5, "throttles": 3, "breaker_opens": 1}
    counters = Counters()
    counters.add("retries", 2)
    assert counters.snapshot() == Counts(retries=2)
    with pytest.raises(KeyError, match="bytes"):
        counters.add("bytes")


def test_each_retry_and_each_throttled_answer_is_counted_once():
    before = metrics.snapshot()
    policy = RetryPolicy(max_attempts=4, initial_delay=0)
    assert with_retry(policy, failing(slow_down(), slow_down(), TimeoutError()), sleep=no_sleep)
    assert metrics.snapshot().since(before) == Counts(retries=3, throttles=2)


def test_a_failure_no_retry_fixes_counts_nothing():
    before = metrics.snapshot()
    with pytest.raises(NotFound):
        with_retry(RetryPolicy(max_attempts=4, initial_delay=0), failing(no_such_key()),
                   sleep=no_sleep)  # fmt: skip
    assert metrics.snapshot().since(before) == Counts()


def test_nested_retry_layers_do_not_count_one_throttled_answer_twice():
    inner_policy = RetryPolicy(max_attempts=2, initial_delay=0)
    answers = failing(*(slow_down() for _ in range(4)))

    def inner() -> str:
        return with_retry(inner_policy, answers, sleep=no_sleep)

    before = metrics.snapshot()
    with pytest.raises(Throttled):
        with_retry(RetryPolicy(max_attempts=2, initial_delay=0), inner, sleep=no_sleep)
    # 4 answers, each throttled; 1 retry inside each of the 2 outer attempts, 1 outer retry
    assert metrics.snapshot().since(before) == Counts(retries=3, throttles=4)


def test_a_breaker_counts_when_it_opens_not_while_it_stays_open():
    clock = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, timeout=10, clock=lambda: clock[0])
    before = metrics.snapshot()
    breaker.record_failure()
    assert metrics.snapshot().since(before).breaker_opens == 0
    breaker.record_failure()
    breaker.record_failure()  # already open
    assert metrics.snapshot().since(before).breaker_opens == 1
    clock[0] = 11.0
    breaker.before_call()  # the half-open probe
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert metrics.snapshot().since(before).breaker_opens == 2


def test_a_client_behind_a_throttling_store_counts_its_pushback(make_seaweed_client, seaweed):
    with FaultProxy(seaweed.endpoint, rate=1.0, faults=("slowdown",)) as proxy:
        client = make_seaweed_client(endpoint=proxy.endpoint)
        client.retry_policy = RetryPolicy(max_attempts=3, initial_delay=0)
        before = metrics.snapshot()
        with pytest.raises(Throttled):
            client.upload_bytes(b"refused", "counted")
        assert metrics.snapshot().since(before) == Counts(retries=2, throttles=3)
        proxy.set_rate(0.0)
        client.upload_bytes(b"accepted", "counted")
        assert metrics.snapshot().since(before) == Counts(retries=2, throttles=3)
        assert proxy.counts["slowdown"] == 3
