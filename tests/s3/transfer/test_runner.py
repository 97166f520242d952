"""The parallel runner: bounded in-flight work, first error wins and stops the rest, per-thread
buffers, results in item order, lazy sources."""

from __future__ import annotations

import threading

import pytest

from orbit_provider.s3.errors import S3Error
from orbit_provider.s3.transfer.runner import Cancelled, ParallelRunner, run_parallel


def test_results_come_back_in_item_order():
    assert run_parallel(range(50), lambda n: n * n, workers=4) == [n * n for n in range(50)]
    assert run_parallel([], lambda n: n, workers=4) == []


def test_never_more_than_workers_items_in_flight_and_the_source_is_read_lazily():
    lock = threading.Lock()
    running, most, pulled = [0], [0], []
    release = threading.Event()

    def source():
        for i in range(40):
            pulled.append(i)
            yield i

    def work(i: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            ahead = len(pulled) - i
        if i == 0:
            release.wait(10)  # hold one item while the others go on
        with lock:
            running[0] -= 1
        return ahead

    def unblock() -> None:
        while len(pulled) < 40:
            threading.Event().wait(0.001)
        release.set()

    threading.Thread(target=unblock, daemon=True).start()
    ahead = run_parallel(source(), work, workers=3)
    assert most[0] <= 3
    assert max(ahead) <= 3  # an item is pulled only when a worker is free


def test_the_first_error_stops_the_run_and_items_not_started_never_run():
    started = []
    runner: ParallelRunner[int, int] = ParallelRunner(2)

    def work(i: int) -> int:
        started.append(i)
        if i == 1:
            raise S3Error("part 2 failed", code="Boom")
        while not runner.cancelled():  # item 0 is still running when item 1 fails
            threading.Event().wait(0.001)
        return i

    with pytest.raises(S3Error, match="part 2 failed"):
        runner.run(range(100), work)
    assert sorted(started) == [0, 1]  # nothing was started after the failure


def test_running_items_see_the_stop_and_their_cancellation_is_not_the_error():
    runner: ParallelRunner[int, None] = ParallelRunner(2)
    failed = threading.Event()

    def work(i: int) -> None:
        if i == 0:
            failed.wait(10)
            runner.check()  # sees the other item's failure
            raise AssertionError("check() should have raised")
        failed.set()
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        runner.run([0, 1], work)
    assert runner.cancelled()


def test_each_worker_thread_reuses_its_own_buffer():
    made = []
    lock = threading.Lock()

    def factory() -> bytearray:
        with lock:
            made.append(threading.get_ident())
        return bytearray(16)

    runner: ParallelRunner[int, tuple[int, int]] = ParallelRunner(3, buffer_factory=factory)
    seen = runner.run(range(60), lambda _: (threading.get_ident(), id(runner.buffer())))
    by_thread: dict[int, set[int]] = {}
    for thread, buffer in seen:
        by_thread.setdefault(thread, set()).add(buffer)
    assert all(len(buffers) == 1 for buffers in by_thread.values())  # one buffer per thread
    assert len(made) == len(by_thread) <= 3


def test_a_stop_from_outside_skips_the_rest_and_raises_cancelled():
    runner: ParallelRunner[int, int] = ParallelRunner(1)

    def work(i: int) -> int:
        if i == 2:
            runner.stop()
        return i

    with pytest.raises(Cancelled):
        runner.run(range(10), work)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="workers"):
        ParallelRunner(0)
    with pytest.raises(RuntimeError, match="no buffer_factory"):
        ParallelRunner(1).run([1], lambda _: ParallelRunner(1).buffer())
