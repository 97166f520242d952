"""ProgressReporter (callbacks, subscribe, queues) and ProgressAggregator (fan-out)."""

from __future__ import annotations

import logging
import threading

from orbit_provider.s3.progress import (
    BatchProgress,
    Progress,
    ProgressAggregator,
    ProgressReporter,
    TransferCompleted,
    TransferProgress,
    TransferStarted,
)


def batch(n: int) -> BatchProgress:
    return BatchProgress("delete", n, n, 0, total=10)


def drain(q) -> list:
    items = []
    while not q.empty():
        items.append(q.get_nowait())
    return items


def test_callbacks_and_subscribers_get_every_later_event_in_order():
    first, late = [], []
    reporter = ProgressReporter([first.append])
    reporter.emit(batch(1))
    reporter.subscribe(late.append)
    reporter.emit(batch(2))
    assert [e.completed for e in first] == [1, 2]
    assert [e.completed for e in late] == [2]  # subscribed after the first event


def test_a_queue_gets_the_events_then_none_on_close():
    reporter = ProgressReporter()
    q = reporter.queue()
    reporter.emit(batch(1))
    reporter.close()
    assert drain(q) == [batch(1), None]


def test_a_failing_callback_is_logged_and_the_others_still_run(caplog):
    seen = []

    def broken(event):
        raise RuntimeError("consumer bug")

    reporter = ProgressReporter([broken])
    reporter.subscribe(seen.append)
    with caplog.at_level(logging.ERROR, logger="orbit_provider.s3.progress"):
        reporter.emit(batch(1))
    assert seen == [batch(1)]
    assert "progress callback failed" in caplog.text


def test_the_aggregator_fans_out_to_every_reporter_and_closes_them():
    with_callback, own = [], []
    by_callback = ProgressReporter([with_callback.append])
    by_queue = ProgressReporter()
    q = by_queue.queue()
    aggregator = ProgressAggregator([by_callback])
    aggregator.subscribe(own.append)  # it is a reporter itself
    aggregator.emit(batch(1))
    aggregator.add(by_queue)  # from now on
    aggregator.emit(batch(2))
    aggregator.close()
    assert [e.completed for e in with_callback] == [1, 2]
    assert [e.completed for e in own] == [1, 2]
    assert drain(q) == [batch(2), None]


def test_a_transfer_reported_through_the_aggregator_reaches_each_consumer_whole():
    consumers = [ProgressReporter() for _ in range(2)]
    queues = [c.queue() for c in consumers]
    ticks = iter(range(1000))
    transfer = TransferProgress(ProgressAggregator(consumers), "upload", "k", total_bytes=100,
                                parts_total=2, clock=lambda: float(next(ticks)))  # fmt: skip
    transfer.start()
    transfer.advance(50)
    transfer.part_done(1, 50)
    transfer.advance(50)
    transfer.part_done(2, 50)
    transfer.complete()
    first, second = (drain(q) for q in queues)
    assert first == second
    assert isinstance(first[0], TransferStarted)
    assert isinstance(first[-1], TransferCompleted)
    done = [e.bytes_transferred for e in first if isinstance(e, Progress)]
    assert done == sorted(done) and done[-1] == 100


def test_the_aggregator_is_safe_from_many_threads():
    counts = [[], []]
    aggregator = ProgressAggregator([ProgressReporter([counts[0].append])])

    def work(n: int) -> None:
        for i in range(200):
            aggregator.emit(batch(i))
        if n == 0:
            aggregator.add(ProgressReporter([counts[1].append]))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(counts[0]) == 8 * 200
    assert len(counts[1]) <= 7 * 200


def test_a_subscriber_that_emits_again_does_not_deadlock():
    reporter = ProgressReporter()
    seen: list = []

    def echo(event) -> None:
        seen.append(event)
        if event.completed == 1:
            reporter.emit(batch(2))  # e.g. a subscriber that reports a derived event

    reporter.subscribe(echo)
    done = threading.Event()
    threading.Thread(target=lambda: (reporter.emit(batch(1)), done.set()), daemon=True).start()
    assert done.wait(30), "emit from inside a subscriber deadlocked"
    assert [e.completed for e in seen] == [1, 2]


def test_a_slow_subscriber_does_not_hold_up_another_threads_emit():
    reporter = ProgressReporter()
    entered, release = threading.Event(), threading.Event()
    got: list = []

    def slow(event) -> None:
        if event.completed == 1:
            entered.set()
            release.wait(30)  # held until the other thread got through
        got.append(event.completed)

    reporter.subscribe(slow)
    first = threading.Thread(target=reporter.emit, args=(batch(1),), daemon=True)
    first.start()
    assert entered.wait(30)
    other = threading.Thread(target=reporter.emit, args=(batch(2),), daemon=True)
    other.start()
    other.join(30)
    assert not other.is_alive() and got == [2]  # delivered while the first is still held
    release.set()
    first.join(30)
    assert got == [2, 1]
