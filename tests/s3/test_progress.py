"""ProgressReporter (callbacks, subscribe, queues, delivered on its own thread so no consumer
slows a transfer), ProgressAggregator (fan-out, and many transfers in one view),
ThroughputTracker and TransferStats (numbers on a fake clock)."""

from __future__ import annotations

import logging
import threading

import pytest

from orbit_provider.s3.progress import (
    BatchProgress,
    PartCompleted,
    Progress,
    ProgressAggregator,
    ProgressReporter,
    ThroughputTracker,
    TransferCompleted,
    TransferFailed,
    TransferProgress,
    TransferStarted,
)

GUARD = 30  # seconds: only a deadlock ever waits this long


def batch(n: int) -> BatchProgress:
    return BatchProgress("delete", n, n, 0, total=10)


def drain(q) -> list:
    items = []
    while not q.empty():
        items.append(q.get_nowait())
    return items


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- delivery ----------------------------------------------------------------------------------


def test_callbacks_and_subscribers_get_every_later_event_in_order():
    first, late = [], []
    reporter = ProgressReporter([first.append])
    reporter.emit(batch(1))
    assert reporter.flush(GUARD)
    reporter.subscribe(late.append)
    reporter.emit(PartCompleted("t", "k", 1, 5))
    reporter.emit(batch(2))
    reporter.close()
    assert first == [batch(1), PartCompleted("t", "k", 1, 5), batch(2)]
    assert late == [PartCompleted("t", "k", 1, 5), batch(2)]  # subscribed after the first


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
        assert reporter.flush(GUARD)
    assert seen == [batch(1)]
    assert "progress callback failed" in caplog.text


def test_an_inline_reporter_delivers_before_emit_returns():
    seen: list = []
    reporter = ProgressReporter([lambda e: seen.append(threading.current_thread())], inline=True)
    reporter.emit(batch(1))
    assert seen == [threading.current_thread()]


def test_a_subscriber_that_emits_again_or_flushes_does_not_deadlock():
    reporter = ProgressReporter()
    seen: list = []
    flushed: list = []

    def echo(event) -> None:
        seen.append(event.completed)
        if event.completed == 1:
            reporter.emit(batch(2))  # e.g. a subscriber that reports a derived event
            flushed.append(reporter.flush())  # cannot wait for itself: returns at once

    reporter.subscribe(echo)
    reporter.emit(batch(1))
    assert reporter.flush(GUARD), "emit from inside a subscriber deadlocked"
    assert seen == [1, 2] and flushed == [False]


def test_a_subscriber_blocked_until_the_transfer_ends_never_slows_it():
    """The subscriber waits, on the first event, until the transfer has finished: if any
    emit waited for it, the transfer could never finish."""
    finished = threading.Event()
    got: list = []

    def blocked(event) -> None:
        finished.wait(GUARD)
        got.append(event)

    reporter = ProgressReporter([blocked])
    ticks = iter(float(t) for t in range(100_000))
    transfer = TransferProgress(reporter, "download", "k", total_bytes=200, parts_total=100,
                                min_interval=0.0, clock=lambda: next(ticks))  # fmt: skip
    worker = threading.Thread(target=lambda: run_transfer(transfer, 100), daemon=True)
    worker.start()
    worker.join(GUARD)
    assert not worker.is_alive(), "the transfer waited for its subscriber"
    assert not got  # the subscriber is still held on the first event
    finished.set()
    assert reporter.flush(GUARD)
    assert isinstance(got[0], TransferStarted) and isinstance(got[-1], TransferCompleted)
    parts = [e.part_number for e in got if isinstance(e, PartCompleted)]
    assert parts == list(range(1, 101))  # lifecycle events are never dropped
    progress = [e.bytes_transferred for e in got if isinstance(e, Progress)]
    assert progress == sorted(progress) and progress[-1] == 200
    assert len(progress) < 200  # undelivered Progress events were replaced by newer ones


def run_transfer(transfer: TransferProgress, parts: int) -> None:
    transfer.start()
    for n in range(1, parts + 1):
        transfer.advance(1)
        transfer.advance(1)
        transfer.part_done(n, 2)
    transfer.complete()


def test_a_full_bounded_queue_holds_up_only_the_delivery():
    reporter = ProgressReporter()
    q = reporter.queue(maxsize=1)
    transfer = TransferProgress(reporter, "upload", "k", total_bytes=10, parts_total=5)
    run_transfer(transfer, 5)  # returns although nobody reads the queue yet
    events = []
    while not events or events[-1] is not None:
        events.append(q.get(timeout=GUARD))
        if isinstance(events[-1], TransferCompleted):
            reporter.close()
    assert isinstance(events[0], TransferStarted) and isinstance(events[-2], TransferCompleted)


# -- the aggregator: fan-out ------------------------------------------------------------------


def test_the_aggregator_fans_out_to_every_reporter_and_closes_them():
    with_callback, own = [], []
    by_callback = ProgressReporter([with_callback.append])
    by_queue = ProgressReporter()
    q = by_queue.queue()
    aggregator = ProgressAggregator([by_callback])
    aggregator.subscribe(own.append)  # it is a reporter itself
    aggregator.emit(PartCompleted("t", "k", 1, 1))
    aggregator.add(by_queue)  # from now on
    aggregator.emit(PartCompleted("t", "k", 2, 1))
    aggregator.close()
    assert [e.part_number for e in with_callback] == [1, 2]
    assert [e.part_number for e in own] == [1, 2]
    assert drain(q) == [PartCompleted("t", "k", 2, 1), None]


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
    for c in consumers:
        c.close()
    for events in (drain(q) for q in queues):
        # each consumer's dispatcher may coalesce Progress events on its own; the others
        # reach every consumer whole and in order
        kept = [e for e in events if not isinstance(e, Progress)]
        assert [type(e).__name__ for e in kept] == [
            "TransferStarted", "PartCompleted", "PartCompleted", "TransferCompleted", "NoneType"
        ]
        assert [e.part_number for e in kept if isinstance(e, PartCompleted)] == [1, 2]
        done = [e.bytes_transferred for e in events if isinstance(e, Progress)]
        assert done == sorted(done) and done[-1] == 100


def test_the_aggregator_is_safe_from_many_threads():
    counts = [[], []]
    aggregator = ProgressAggregator([ProgressReporter([counts[0].append])])

    def work(n: int) -> None:
        for i in range(200):
            aggregator.emit(PartCompleted(f"t{n}", "k", i, 1))
        if n == 0:
            aggregator.add(ProgressReporter([counts[1].append]))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert aggregator.flush(GUARD)
    assert len(counts[0]) == 8 * 200
    assert len(counts[1]) <= 7 * 200


# -- the aggregator: many transfers in one view -----------------------------------------------


def test_the_aggregator_sums_files_and_bytes_with_rate_and_eta():
    clock = Clock()
    view = ProgressAggregator(total_files=3, total_bytes=300, clock=clock)
    empty = view.snapshot()
    assert (empty.files_done, empty.files_total, empty.bytes_done, empty.bytes_total) == (
        0, 3, 0, 300)  # fmt: skip
    assert empty.eta is None  # nothing moved yet: unknown, not zero
    a = TransferProgress(view, "download", "a", 100, clock=clock)
    b = TransferProgress(view, "download", "b", 100, clock=clock)
    c = TransferProgress(view, "download", "c", 100, clock=clock)
    a.start()
    b.start(resumed_bytes=40)  # found on disk: done, but not throughput
    clock.now = 1.0
    a.advance(60)
    clock.now = 2.0
    a.advance(40)
    a.complete()
    clock.now = 4.0
    b.advance(40)
    c.start()
    c.fail(RuntimeError("no"))
    snap = view.snapshot()
    assert (snap.files_done, snap.files_failed, snap.files_total) == (1, 1, 3)
    assert (snap.bytes_done, snap.bytes_total) == (180, 300)
    # 140 bytes moved within the 5 s window (since 0.0): 35 bytes/s; 120 left: 120/35 s
    assert snap.throughput == pytest.approx(35.0)
    assert snap.eta == pytest.approx(120 / 35.0)
    assert snap.percentage == pytest.approx(60.0)


def test_without_totals_the_view_grows_as_transfers_start():
    view = ProgressAggregator(clock=Clock())
    view.emit(TransferStarted("t1", "upload", "a", 10))
    view.emit(TransferStarted("t2", "upload", "b", 30))
    view.emit(TransferCompleted("t1", "a", 10, 1.0, 10.0))
    view.emit(TransferFailed("t2", "b", "boom", 5))
    view.emit(TransferCompleted("t2", "b", 30, 1.0, 30.0))  # after a failure: still failed
    snap = view.snapshot()
    assert (snap.files_done, snap.files_failed, snap.files_total) == (1, 1, 2)
    assert (snap.bytes_done, snap.bytes_total) == (40, 40)


# -- ThroughputTracker and TransferStats ------------------------------------------------------


def test_rate_and_eta_follow_the_recent_window():
    clock = Clock()
    tracker = ThroughputTracker(window=5.0, clock=clock)
    assert tracker.eta(100) is None and tracker.eta(0) == 0.0
    clock.now = 1.0
    tracker.add(100)
    assert tracker.rate == pytest.approx(100.0)  # 100 bytes in the 1 s since the start
    clock.now = 2.0
    tracker.add(300)
    assert tracker.rate == pytest.approx(200.0)  # 400 bytes in 2 s
    assert tracker.eta(1000) == pytest.approx(5.0)
    clock.now = 10.0
    tracker.add(50)  # the earlier samples left the window: only the recent rate counts
    assert tracker.rate == pytest.approx(10.0)  # 50 bytes over the 5 s window
    assert tracker.eta(100) == pytest.approx(10.0)
    clock.now = 20.0  # nothing within the window: the rate is unknown again
    assert tracker.rate == 0.0 and tracker.eta(100) is None


def test_transfer_stats_hold_bytes_time_throughputs_parts_and_retries():
    clock = Clock()
    transfer = TransferProgress(None, "upload", "k", 1000, parts_total=4, clock=clock)
    transfer.start()
    clock.now = 1.0
    transfer.advance(250)
    transfer.part_done(1, 250)
    transfer.retried()
    clock.now = 2.0
    transfer.advance(250)
    transfer.part_done(2, 250)
    middle = transfer.stats()
    assert (middle.bytes_transferred, middle.parts_done, middle.parts_total) == (500, 2, 4)
    assert middle.retries == 1 and middle.duration == pytest.approx(2.0)
    assert middle.average_throughput == pytest.approx(250.0)
    assert middle.current_throughput == pytest.approx(250.0)
    clock.now = 4.0
    transfer.advance(500)
    transfer.retried()
    final = transfer.complete()
    assert (final.bytes_transferred, final.parts_done, final.retries) == (1000, 4, 2)
    assert final.average_throughput == pytest.approx(250.0)
    assert final.current_throughput == pytest.approx(250.0)  # 1000 bytes in the last 4 s
    assert final.peak_throughput == pytest.approx(250.0)
