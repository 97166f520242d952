"""TokenBucket with a fake clock and sleep: burst, debt, long-run rate, many threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.wire.ratelimit import TokenBucket


class FakeTime:
    """A clock that only moves when someone sleeps (or the test advances it)."""

    def __init__(self, advance_on_sleep: bool = True) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.advance_on_sleep = advance_on_sleep
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if self.advance_on_sleep:
                self.now += seconds


def bucket(rate, capacity=None, advance_on_sleep=True):
    t = FakeTime(advance_on_sleep)
    return TokenBucket(rate, capacity, clock=t.clock, sleep=t.sleep), t


def test_burst_up_to_capacity_without_waiting():
    b, t = bucket(rate=100, capacity=10)
    for _ in range(10):
        assert b.acquire() == 0
    assert t.sleeps == []
    assert b.acquire() == pytest.approx(0.01)
    assert t.sleeps == pytest.approx([0.01])


def test_default_capacity_is_a_tenth_of_a_second():
    assert TokenBucket(1000).capacity == 100
    assert TokenBucket(5).capacity == 1  # never below one token


def test_refill_is_capped_at_capacity():
    b, t = bucket(rate=10, capacity=5)
    t.now += 3600  # an hour idle does not bank an hour of tokens
    for _ in range(5):
        assert b.acquire() == 0
    assert b.acquire() == pytest.approx(0.1)


def test_debt_model_request_larger_than_capacity():
    b, t = bucket(rate=1000, capacity=100)
    # 1,100 tokens: 100 in hand, the other 1,000 are paid off in one second
    assert b.acquire(1100) == pytest.approx(1.0)
    assert t.now == pytest.approx(1.0)
    # the debt was paid by sleeping: the bucket is empty, not in credit
    assert b.acquire(500) == pytest.approx(0.5)


def test_debt_carries_to_the_next_caller():
    b, t = bucket(rate=100, capacity=10, advance_on_sleep=False)
    assert b.acquire(10) == 0
    assert b.acquire(50) == pytest.approx(0.5)
    # nobody slept on the clock: the next caller waits behind the earlier debt
    assert b.acquire(50) == pytest.approx(1.0)
    t.now += 1.0
    assert b.acquire(10) == pytest.approx(0.1)


def test_long_run_rate():
    rate, capacity = 2_000_000, 200_000  # 2 MB/s
    b, t = bucket(rate=rate, capacity=capacity)
    total = 0
    for size in [65536] * 500 + [1, 7, 1_000_000, 12345] * 10:
        b.acquire(size)
        total += size
    # everything beyond the initial burst went out at exactly `rate`
    assert t.now == pytest.approx((total - capacity) / rate)


def test_many_threads_share_one_rate():
    threads, per_thread, amount = 8, 200, 10
    rate, capacity = 1000, 10
    b, t = bucket(rate=rate, capacity=capacity, advance_on_sleep=False)
    start = threading.Barrier(threads)

    def worker(_: int) -> list[float]:
        start.wait()
        return [b.acquire(amount) for _ in range(per_thread)]

    with ThreadPoolExecutor(threads) as pool:
        waits = sorted(w for ws in pool.map(worker, range(threads)) for w in ws)
    # with the clock standing still, every acquire adds exactly `amount` of debt: the waits are
    # 0, 0.01, 0.02, ... with none lost or doubled, whatever the interleaving
    n = threads * per_thread
    assert waits == pytest.approx([i * amount / rate for i in range(n)])
    assert len(t.sleeps) == n - 1


@pytest.mark.parametrize("rate", [0, -1, "100", True, None])
def test_rate_must_be_positive(rate):
    with pytest.raises(ConfigError, match=r"^rate: "):
        TokenBucket(rate)
