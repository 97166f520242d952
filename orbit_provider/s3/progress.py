"""Progress as events: the core emits ProgressEvents to a reporter and never prints.

Consumers subscribe callbacks or read a queue from their own thread; the Airflow layer
turns the events into task-log lines and XCom values.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import deque
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


class ProgressReporter:
    """Delivers events to callbacks (on the emitting thread) and/or to queues.

    Thread-safe: worker threads of one transfer emit concurrently. Callbacks run outside
    the reporter's lock, so one that emits again does not deadlock and a slow one holds up
    only the thread that emitted, never the others. A failing callback is logged and never
    breaks the transfer.
    """

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self._callbacks: list[Callback] = list(callbacks)
        self._queues: list[queue.Queue] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Callback) -> None:
        """Call `callback(event)` for every event from now on (on the emitting thread)."""
        with self._lock:
            self._callbacks.append(callback)

    def queue(self, maxsize: int = 0) -> queue.Queue:
        """A queue that receives every event from now on; `None` is put on `close()`."""
        q: queue.Queue = queue.Queue(maxsize)
        with self._lock:
            self._queues.append(q)
        return q

    def emit(self, event: ProgressEvent) -> None:
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

    def close(self) -> None:
        """Tell queue readers that no more events will come."""
        with self._lock:
            for q in self._queues:
                q.put(None)


class ProgressAggregator(ProgressReporter):
    """One reporter that fans every event out to several existing reporters.

    Pass it to a core call when its events must reach consumers that each already hold
    their own reporter (say, a queue read by one thread and a reporter with callbacks);
    `close()` closes them all. It is a ProgressReporter itself, so it also takes callbacks
    and queues of its own.
    """

    def __init__(self, reporters: Iterable[ProgressReporter] = ()) -> None:
        super().__init__()
        self._reporters = list(reporters)

    def add(self, reporter: ProgressReporter) -> None:
        """Send every event from now on to `reporter` too."""
        with self._lock:
            self._reporters.append(reporter)

    def emit(self, event: ProgressEvent) -> None:
        super().emit(event)
        with self._lock:
            reporters = list(self._reporters)
        for reporter in reporters:
            reporter.emit(event)

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
        self.started = clock()
        self.total = 0
        self.peak = 0.0

    def add(self, nbytes: int) -> None:
        with self._lock:
            now = self._clock()
            self.total += nbytes
            self._samples.append((now, nbytes))
            self._trim(now)
            self.peak = max(self.peak, self._rate_locked(now))

    def _trim(self, now: float) -> None:
        while self._samples and now - self._samples[0][0] > self.window:
            self._samples.popleft()

    def _rate_locked(self, now: float) -> float:
        if not self._samples:
            return 0.0
        span = max(now - self._samples[0][0], min(self.window, now - self.started), 1e-3)
        return sum(n for _, n in self._samples) / span

    @property
    def rate(self) -> float:
        """Bytes per second over the last `window` seconds."""
        with self._lock:
            now = self._clock()
            self._trim(now)
            return self._rate_locked(now)

    def eta(self, remaining: int) -> float | None:
        """Seconds until `remaining` more bytes are done at the current rate."""
        rate = self.rate
        if remaining <= 0:
            return 0.0
        return remaining / rate if rate > 0 else None

    def stats(self) -> TransferStats:
        with self._lock:
            duration = max(self._clock() - self.started, 0.0)
            return TransferStats(
                bytes_transferred=self.total,
                duration=duration,
                average_throughput=self.total / duration if duration > 0 else 0.0,
                peak_throughput=self.peak,
            )


@dataclass(frozen=True)
class TransferStats:
    """Totals of one transfer: bytes, seconds, average and peak throughput (bytes/s)."""

    bytes_transferred: int
    duration: float
    average_throughput: float
    peak_throughput: float


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

    def complete(self) -> TransferStats:
        stats = self.tracker.stats()
        duration = max(self.clock() - self._start, 1e-9)
        with self._lock:
            self._done = self.total_bytes
            self._parts_done = self.parts_total
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
