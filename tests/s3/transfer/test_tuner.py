"""ConcurrencyTuner on a fake clock: it grows while the rate of finished items grows, stops at
the cap, settles back where more workers stopped paying, and halves on SlowDown; and the
runner follows it."""

from __future__ import annotations

import threading

import pytest

from orbit_provider.s3.transfer.runner import ParallelRunner
from orbit_provider.s3.transfer.tuner import START_WORKERS, ConcurrencyTuner
from orbit_provider.s3.wire.adaptive import MIN_THROTTLED, AdaptiveThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def simulate(tuner: ConcurrencyTuner, clock: Clock, rate_of, windows: int) -> list[int]:
    """Feed up to `windows` rounds of items: with w workers, items finish at `rate_of(w)` a
    second. Returns the levels tried, in order."""
    levels: list[int] = []
    for _ in range(windows):
        if tuner.settled:
            break
        w = tuner.target
        if not levels or levels[-1] != w:
            levels.append(w)
        for _ in range(w):  # one window: `w` items at the rate this level reaches
            clock.now += 1.0 / rate_of(w)
            tuner.done()
    return levels


def test_grows_while_the_rate_grows_and_stops_at_the_cap():
    clock = Clock()
    tuner = ConcurrencyTuner(32, start=4, clock=clock)
    # a far network: every connection adds its own 20 MB/s (2.5 items of 8 MB a second)
    levels = simulate(tuner, clock, lambda w: 2.5 * w, windows=20)
    assert levels == [4, 8, 16, 32]
    assert tuner.settled and tuner.target == 32


def test_settles_at_the_best_level_when_more_workers_stop_paying():
    clock = Clock()
    tuner = ConcurrencyTuner(64, start=4, clock=clock)
    # linear up to 12 workers, then a ceiling (a proxy, the disk, the server)
    levels = simulate(tuner, clock, lambda w: 2.5 * min(w, 12), windows=20)
    assert levels == [4, 8, 16, 32]  # 16 gave 50% over 8; 32 gave nothing more
    assert tuner.settled and tuner.target == 16
    clock2 = Clock()
    loopback = ConcurrencyTuner(64, start=4, clock=clock2)
    levels = simulate(loopback, clock2, lambda w: 120.0, windows=100)  # one connection saturates
    assert levels == [4, 8]
    assert loopback.settled and loopback.target == 4  # back to where it started


def test_a_short_window_is_not_judged():
    clock = Clock()
    tuner = ConcurrencyTuner(16, start=4, clock=clock, min_window=0.25)
    for _ in range(10):  # a warm-up round of 4, then six items in 0.06 s: not yet a window
        clock.now += 0.01
        tuner.done()
    assert tuner.history == [] and tuner.target == 4
    clock.now += 0.2
    tuner.done()
    assert len(tuner.history) == 1 and tuner.target == 8


def test_halves_on_slowdown_and_grows_no_more():
    clock = Clock()
    tuner = ConcurrencyTuner(32, start=4, clock=clock)
    simulate(tuner, clock, lambda w: 2.5 * w, windows=3)  # a warm-up round, then two windows
    assert tuner.target == 16
    tuner.throttled()
    assert tuner.target == 8 and tuner.settled
    simulate(tuner, clock, lambda w: 2.5 * w, windows=5)
    assert tuner.target == 8
    tuner.throttled()
    tuner.throttled()
    tuner.throttled()
    tuner.throttled()
    assert tuner.target == 1


@pytest.mark.parametrize(("cap", "start"), [(1, 1), (3, 3), (16, START_WORKERS)])
def test_starts_at_a_few_workers_never_above_the_cap(cap, start):
    tuner = ConcurrencyTuner(cap)
    assert tuner.target == start
    assert tuner.settled == (cap <= START_WORKERS)


class Steered(ConcurrencyTuner):
    """A tuner the test moves by hand (the runner reads `target` and calls done/throttled)."""

    def __init__(self, cap: int) -> None:
        super().__init__(cap, start=4)
        self.settled = True
        self.done_calls = 0
        self.throttles = 0

    def done(self, items: int = 1) -> None:
        self.done_calls += items

    def throttled(self) -> None:
        self.throttles += 1
        self.target = max(1, self.target // 2)


def test_the_runner_keeps_the_tuners_number_in_flight_and_tells_it_of_slowdowns():
    tuner = Steered(8)
    throttle = AdaptiveThrottle()
    runner: ParallelRunner[int, int] = ParallelRunner(8, tuner=tuner, throttle=throttle)
    lock = threading.Lock()
    running, most = [0], []

    def work(i: int) -> int:
        with lock:
            running[0] += 1
            most.append(running[0])
        if i == 10:  # the store kept saying slow down while item 10 ran
            for _ in range(MIN_THROTTLED):
                throttle.answered(True)
        with lock:
            running[0] -= 1
        return i

    assert runner.run(range(40), work) == list(range(40))
    assert max(most) <= 4  # the tuner's 4, not the cap of 8
    assert tuner.throttles == 1 and tuner.target == 2
    assert max(most[-10:]) <= 2  # after the SlowDown, the halved number
    assert tuner.done_calls == 40


def test_a_tuned_run_starts_below_its_cap():
    assert ParallelRunner(32, tune=True).tuner.target == START_WORKERS


def test_untuned_runs_use_every_worker_at_once():
    barrier = threading.Barrier(8, timeout=10)
    runner: ParallelRunner[int, None] = ParallelRunner(8)
    runner.run(range(8), lambda _: barrier.wait() and None)  # all eight meet: all in flight
    assert runner.tuner is None


def test_a_tuned_run_logs_what_it_measured(caplog):
    clock = Clock()
    tuner = ConcurrencyTuner(16, start=4, clock=clock)

    def work(i: int) -> int:
        clock.now += 0.1  # every item takes the fake clock on: windows are judged
        return i

    runner: ParallelRunner[int, int] = ParallelRunner(16, tuner=tuner, name="orbit-test")
    with caplog.at_level("DEBUG", logger="orbit_provider.s3.transfer"):
        assert runner.run(range(60), work) == list(range(60))
    assert tuner.history  # windows were measured
    assert "orbit-test: ended with" in caplog.text and "items/s by workers: 4:" in caplog.text
