"""Progress as events: the core emits ProgressEvents to a reporter and never prints.

Consumers subscribe callbacks or read a queue; a reporter delivers on its own thread, so no
consumer ever slows a transfer. ProgressAggregator sums many transfers into one view. The
Airflow layer turns the events into task-log lines and XCom values.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger("orbit_provider.s3.progress")

_ids = itertools.count(1)


def new_transfer_id(prefix: str = "t") -> str:
    """A process-unique id that ties the events of one transfer together."""
    return f"{prefix}{next(_ids)}"


@dataclass(frozen=True)
class ProgressEvent:
    """Base of every event; `kind` names the event type."""

    kind = "event"


@dataclass(frozen=True)
class TransferStarted(ProgressEvent):
    transfer_id: str
    operation: str  # "upload", "download" or "copy"
    key: str
    total_bytes: int
    parts: int = 1
    resumed_bytes: int = 0
    kind = "transfer_started"


@dataclass(frozen=True)
class Progress(ProgressEvent):
    transfer_id: str
    key: str
    bytes_transferred: int
    total_bytes: int
    percentage: float
    rate: float  # bytes/s over the tracker's window
    eta: float | None  # seconds, None when the rate is still unknown
    parts_done: int = 0
    parts_total: int = 0
    kind = "progress"


@dataclass(frozen=True)
class PartCompleted(ProgressEvent):
    transfer_id: str
    key: str
    part_number: int
    size: int
    kind = "part_completed"


@dataclass(frozen=True)
class TransferCompleted(ProgressEvent):
    transfer_id: str
    key: str
    total_bytes: int
    duration: float
    throughput: float  # bytes/s, average over the transfer
    kind = "transfer_completed"


@dataclass(frozen=True)
class TransferFailed(ProgressEvent):
    transfer_id: str
    key: str
    error: str
    bytes_transferred: int
    resumable: bool = False
    kind = "transfer_failed"


@dataclass(frozen=True)
class BatchProgress(ProgressEvent):
    operation: str
    completed: int
    successful: int
    failed: int
    total: int | None = None  # None while the key source is still being read
    kind = "batch_progress"

    @property
    def percentage(self) -> float | None:
        if not self.total:
            return None
        return 100.0 * self.completed / self.total


Callback = Callable[[ProgressEvent], None]

#: A dispatcher thread with nothing to deliver for this long ends (a new one starts on the
#: next event), so reporters nobody closes do not keep idle threads.
DISPATCH_LINGER = 1.0


def _coalesce_key(event: ProgressEvent, seq: int) -> object:
    """Events under one key replace each other while undelivered: a transfer's Progress, a
    batch's BatchProgress (only the latest matters). Every other event has its own key."""
    if isinstance(event, Progress):
        return ("progress", event.transfer_id)
    if isinstance(event, BatchProgress):
        return ("batch", event.operation)
    return seq


class _Dispatcher:
    """Delivers events on its own thread, in order. `post` never waits for a subscriber:
    undelivered Progress / BatchProgress events are replaced by newer ones of the same
    transfer or batch (so at most one per transfer waits), lifecycle events (Started,
    PartCompleted, Completed, Failed) are never dropped."""

    def __init__(self, deliver: Callable[[ProgressEvent], None]) -> None:
        self._deliver = deliver
        self._cond = threading.Condition()
        self._pending: OrderedDict[object, ProgressEvent] = OrderedDict()
        self._seq = itertools.count()
        self._posted = 0  # events accepted
        self._done = 0  # events delivered, or replaced by a newer one before delivery
        self._thread: threading.Thread | None = None

    def post(self, event: ProgressEvent) -> None:
        with self._cond:
            key = _coalesce_key(event, next(self._seq))
            if self._pending.pop(key, None) is not None:
                self._done += 1  # the newer event stands for the one it replaces
            self._pending[key] = event
            self._posted += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="orbit-progress", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._pending:
                    self._cond.wait(DISPATCH_LINGER)
                if not self._pending:
                    self._thread = None
                    self._cond.notify_all()
                    return
                _key, event = self._pending.popitem(last=False)
            try:
                self._deliver(event)
            finally:
                with self._cond:
                    self._done += 1
                    self._cond.notify_all()

    def on_own_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event posted before this call was delivered; False on timeout
        (or when called by a subscriber, from the delivering thread itself)."""
        if self.on_own_thread():
            return False
        with self._cond:
            target = self._posted
            return self._cond.wait_for(lambda: self._done >= target, timeout)


class ProgressReporter:
    """Delivers events to callbacks and queues, without ever holding up the emitter.

    Thread-safe: worker threads of one transfer emit concurrently. By default events are
    delivered by the reporter's own dispatcher thread, in order: a slow subscriber delays
    only later deliveries (undelivered Progress / BatchProgress events are then replaced by
    the newest of their transfer or batch; TransferStarted, PartCompleted, TransferCompleted
    and TransferFailed always arrive), never the transfer. A subscriber may emit again. Read
    what a call reported after `flush()` or `close()`. With `inline=True` callbacks run on
    the emitting thread instead (outside any lock): for a subscriber that must act before
    the transfer goes on (a test's fault hook), at the price of slowing it.
    A failing callback is logged and never breaks the transfer.
    """

    def __init__(self, callbacks: Iterable[Callback] = (), *, inline: bool = False) -> None:
        self._callbacks: list[Callback] = list(callbacks)
        self._queues: list[queue.Queue] = []
        self._lock = threading.Lock()
        self.inline = inline
        self._dispatcher = None if inline else _Dispatcher(self._deliver)

    def subscribe(self, callback: Callback) -> None:
        """Call `callback(event)` for every event from now on."""
        with self._lock:
            self._callbacks.append(callback)

    def queue(self, maxsize: int = 0) -> queue.Queue:
        """A queue that receives every event from now on; `None` is put on `close()`. A full
        bounded queue holds up only the delivery, not the transfer."""
        q: queue.Queue = queue.Queue(maxsize)
        with self._lock:
            self._queues.append(q)
        return q

    def emit(self, event: ProgressEvent) -> None:
        if self._dispatcher is None:
            self._deliver(event)
            return
        with self._lock:
            if not (self._callbacks or self._queues):
                return  # nobody listens: no thread
        self._dispatcher.post(event)

    def _deliver(self, event: ProgressEvent) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
            queues = list(self._queues)
        for q in queues:
            q.put(event)
        for cb in callbacks:
            try:
                cb(event)
            except Exception:  # a broken consumer must not break a transfer
                log.exception("progress callback failed")

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event emitted so far has been delivered (True), or `timeout`
        seconds (False). From inside a subscriber it returns False at once."""
        return True if self._dispatcher is None else self._dispatcher.flush(timeout)

    def close(self) -> None:
        """Deliver what is pending, then tell queue readers that no more events will come."""
        self.flush()
        with self._lock:
            queues = list(self._queues)
        for q in queues:
            q.put(None)


@dataclass(frozen=True)
class AggregateProgress:
    """Many transfers as one: files and bytes done of the total, throughput and ETA.
    `files_total` / `bytes_total` are what the aggregator was told, or what it has seen
    started when it was told nothing (then they grow as transfers start)."""

    files_done: int
    files_failed: int
    files_total: int
    bytes_done: int
    bytes_total: int
    throughput: float  # bytes/s over the recent window
    eta: float | None  # seconds; None while the rate is unknown

    @property
    def percentage(self) -> float:
        if self.bytes_total <= 0:
            return 100.0 if self.files_total and self.files_done == self.files_total else 0.0
        return min(100.0, 100.0 * self.bytes_done / self.bytes_total)


class ProgressAggregator(ProgressReporter):
    """Many transfers (a folder, a batch) into one view, and one reporter that fans every
    event out to several others.

    `snapshot()` sums what the events of every transfer said: files done / failed of the
    total, bytes done of the total (bytes a resume found in place count as done, not as
    throughput), the recent throughput and the ETA. Give `total_files` / `total_bytes` when
    they are known up front. Recording is a few additions under a lock on the emitting
    thread; subscribers and the reporters added (`add`) get every event through their own
    dispatchers, so none of them holds up a transfer. `close()` closes them all.
    """

    def __init__(
        self,
        reporters: Iterable[ProgressReporter] = (),
        *,
        total_files: int | None = None,
        total_bytes: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        inline: bool = False,
    ) -> None:
        super().__init__(inline=inline)
        self._reporters = list(reporters)
        self._total_files = total_files
        self._total_bytes = total_bytes
        self._view_lock = threading.Lock()
        self._tracker = ThroughputTracker(clock=clock)
        self._transfers: dict[str, list[int]] = {}  # id -> [done, total]
        self._ended: dict[str, bool] = {}  # id -> succeeded

    def expect(self, total_files: int, total_bytes: int) -> None:
        """The totals, once they are known (a tree transfer tells them after planning)."""
        with self._view_lock:
            self._total_files, self._total_bytes = total_files, total_bytes

    def add(self, reporter: ProgressReporter) -> None:
        """Send every event from now on to `reporter` too."""
        with self._lock:
            self._reporters.append(reporter)

    def emit(self, event: ProgressEvent) -> None:
        self._record(event)
        super().emit(event)
        with self._lock:
            reporters = list(self._reporters)
        for reporter in reporters:
            reporter.emit(event)

    def _record(self, event: ProgressEvent) -> None:
        transfer_id = getattr(event, "transfer_id", None)
        if transfer_id is None:
            return
        with self._view_lock:
            state = self._transfers.setdefault(transfer_id, [0, 0])
            if isinstance(event, TransferStarted):
                state[:] = [event.resumed_bytes, event.total_bytes]
            elif isinstance(event, Progress):
                self._advance(state, event.bytes_transferred)
                state[1] = event.total_bytes
            elif isinstance(event, TransferCompleted):
                self._advance(state, event.total_bytes)
                self._ended.setdefault(transfer_id, True)
            elif isinstance(event, TransferFailed):
                self._ended.setdefault(transfer_id, False)

    def _advance(self, state: list[int], done: int) -> None:
        if done > state[0]:
            self._tracker.add(done - state[0])
            state[0] = done

    def snapshot(self) -> AggregateProgress:
        """The view of every transfer reported so far."""
        with self._view_lock:
            done = sum(d for d, _t in self._transfers.values())
            seen_total = sum(t for _d, t in self._transfers.values())
            total = max(self._total_bytes or 0, seen_total)
            succeeded = sum(1 for ok in self._ended.values() if ok)
            failed = len(self._ended) - succeeded
            files_total = max(self._total_files or 0, len(self._transfers))
        return AggregateProgress(
            files_done=succeeded,
            files_failed=failed,
            files_total=files_total,
            bytes_done=done,
            bytes_total=total,
            throughput=self._tracker.rate,
            eta=self._tracker.eta(total - done),
        )

    def flush(self, timeout: float | None = None) -> bool:
        ok = super().flush(timeout)
        with self._lock:
            reporters = list(self._reporters)
        return all([ok, *(r.flush(timeout) for r in reporters)])

    def close(self) -> None:
        super().close()
        with self._lock:
            reporters = list(self._reporters)
        for reporter in reporters:
            reporter.close()


class ThroughputTracker:
    """Windowed transfer rate and ETA, plus the totals TransferStats needs. Thread-safe."""

    def __init__(self, window: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, int]] = deque()
        self._window_bytes = 0  # the sum of the samples' bytes, kept as they come and go
        self.started = clock()
        self.total = 0
        self.peak = 0.0

    def add(self, nbytes: int) -> None:
        with self._lock:
            now = self._clock()
            self.total += nbytes
            self._samples.append((now, nbytes))
            self._window_bytes += nbytes
            self._trim(now)
            self.peak = max(self.peak, self._rate_locked(now))

    def _trim(self, now: float) -> None:
        while self._samples and now - self._samples[0][0] > self.window:
            self._window_bytes -= self._samples.popleft()[1]

    def _rate_locked(self, now: float) -> float:
        if not self._samples:
            return 0.0
        span = max(now - self._samples[0][0], min(self.window, now - self.started), 1e-3)
        return self._window_bytes / span

    @property
    def rate(self) -> float:
        """Bytes per second over the last `window` seconds (the current throughput)."""
        with self._lock:
            now = self._clock()
            self._trim(now)
            return self._rate_locked(now)

    def eta(self, remaining: int) -> float | None:
        """Seconds until `remaining` more bytes are done at the recent rate: 0.0 when nothing
        remains, None while that rate is unknown (nothing moved within the window)."""
        if remaining <= 0:
            return 0.0
        rate = self.rate
        return remaining / rate if rate > 0 else None

    def stats(self, parts_done: int = 0, parts_total: int = 0, retries: int = 0) -> TransferStats:
        with self._lock:
            now = self._clock()
            duration = max(now - self.started, 0.0)
            self._trim(now)
            return TransferStats(
                bytes_transferred=self.total,
                duration=duration,
                average_throughput=self.total / duration if duration > 0 else 0.0,
                current_throughput=self._rate_locked(now),
                peak_throughput=self.peak,
                parts_done=parts_done,
                parts_total=parts_total,
                retries=retries,
            )


@dataclass(frozen=True)
class TransferStats:
    """Totals of one transfer: bytes moved, seconds, average and current (recent window) and
    peak throughput (bytes/s), parts done of the total, and requests retried."""

    bytes_transferred: int
    duration: float
    average_throughput: float
    current_throughput: float = 0.0
    peak_throughput: float = 0.0
    parts_done: int = 0
    parts_total: int = 0
    retries: int = 0


@dataclass
class TransferProgress:
    """Emits the events of one transfer in order, from any number of worker threads.

    `Progress.bytes_transferred` only grows and the last one says 100% exactly once the
    transfer completes. `min_interval` bounds how often Progress events fire between parts.
    """

    reporter: ProgressReporter | None
    operation: str
    key: str
    total_bytes: int
    parts_total: int = 1
    min_interval: float = 0.2
    clock: Callable[[], float] = time.monotonic
    transfer_id: str = field(default_factory=new_transfer_id)

    def __post_init__(self) -> None:
        self.tracker = ThroughputTracker(clock=self.clock)
        self._lock = threading.Lock()
        self._done = 0
        self._parts_done = 0
        self._last_emit = float("-inf")
        self._start = self.clock()
        self._retries = 0

    @property
    def bytes_done(self) -> int:
        return self._done

    def start(self, resumed_bytes: int = 0, resumed_parts: int = 0) -> None:
        """Announce the transfer; bytes already in place (a resume) count as done."""
        with self._lock:
            self._done = resumed_bytes
            self._parts_done = resumed_parts
            self._emit(
                TransferStarted(
                    self.transfer_id,
                    self.operation,
                    self.key,
                    self.total_bytes,
                    self.parts_total,
                    resumed_bytes,
                )
            )

    def advance(self, nbytes: int) -> None:
        """Count `nbytes` more sent or received."""
        self.tracker.add(nbytes)
        with self._lock:
            self._done = min(self._done + nbytes, self.total_bytes)
            now = self.clock()
            if now - self._last_emit >= self.min_interval and self._done < self.total_bytes:
                self._last_emit = now
                self._emit_progress()

    def part_done(self, part_number: int, size: int) -> None:
        with self._lock:
            self._parts_done += 1
            self._emit(PartCompleted(self.transfer_id, self.key, part_number, size))
            if self._done < self.total_bytes:
                self._last_emit = self.clock()
                self._emit_progress()

    def retried(self) -> None:
        """Count one request of this transfer that was sent again (TransferStats.retries)."""
        with self._lock:
            self._retries += 1

    def stats(self) -> TransferStats:
        """The transfer so far: bytes moved by this call, time, throughput, parts, retries."""
        with self._lock:
            parts, retries = self._parts_done, self._retries
        return self.tracker.stats(parts, self.parts_total, retries)

    def complete(self) -> TransferStats:
        duration = max(self.clock() - self._start, 1e-9)
        with self._lock:
            self._done = self.total_bytes
            self._parts_done = self.parts_total
            stats = self.tracker.stats(self._parts_done, self.parts_total, self._retries)
            self._emit_progress()
            self._emit(
                TransferCompleted(
                    self.transfer_id,
                    self.key,
                    self.total_bytes,
                    duration,
                    stats.bytes_transferred / duration,
                )
            )
        return stats

    def fail(self, error: BaseException, resumable: bool = False) -> None:
        with self._lock:
            self._emit(
                TransferFailed(self.transfer_id, self.key, str(error), self._done, resumable)
            )

    def _emit_progress(self) -> None:
        total = self.total_bytes
        pct = 100.0 if total == 0 else min(100.0, 100.0 * self._done / total)
        self._emit(
            Progress(
                self.transfer_id,
                self.key,
                self._done,
                total,
                pct,
                self.tracker.rate,
                self.tracker.eta(total - self._done),
                self._parts_done,
                self.parts_total,
            )
        )

    def _emit(self, event: ProgressEvent) -> None:
        if self.reporter is not None:
            self.reporter.emit(event)
