"""What the three tree transfers (upload_tree, download_tree, sync) share while they run.

- One pool: a `ParallelRunner` of `workers` threads moves many files at once; a large file
  holds `parallel_operations` of the `workers` slots while its parts or ranges are in flight,
  so small files and parts of large ones share one bound on requests in flight.
- One budget: a shared request-rate limit (a view of the session's boto3 client that takes a
  token per request) and one bandwidth limit (a TokenBucket every file and part draws from).
- One stop: an error that would fail every file (bad credentials, a missing bucket, a store
  that stays down) stops the whole tree at once as `TreeStopped`.
- Progress per file (TransferStarted / TransferCompleted / TransferFailed) to one reporter,
  which the Airflow layer aggregates into files and bytes done with an ETA.
"""

from __future__ import annotations

import dataclasses
import mmap
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from orbit_provider.s3.errors import AccessDenied, CircuitOpen, ConfigError, NotFound, S3Error
from orbit_provider.s3.progress import (
    ProgressAggregator,
    ProgressReporter,
    TransferCompleted,
    TransferFailed,
    TransferStarted,
    new_transfer_id,
)
from orbit_provider.s3.transfer.runner import Cancelled, ParallelRunner
from orbit_provider.s3.transfer.small_http import make_lean
from orbit_provider.s3.transfer.tree_result import FAILED, FileOutcome, TreeRecorder, TreeResult
from orbit_provider.s3.wire.ratelimit import RateLimitedBoto, TokenBucket

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session

T = TypeVar("T")

DEFAULT_WORKERS = 16
#: error codes that fail every request of a tree the same way: stop at the first one
FATAL_CODES = frozenset(
    {
        "AccessDenied",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "NoSuchBucket",
        "AllAccessDisabled",
        "AccountProblem",
        "InvalidToken",
        "ExpiredToken",
        "TokenRefreshRequired",
        "RequestTimeTooSkewed",
        "CircuitOpen",
        "Forbidden",
        "403",
    }
)


class TreeStopped(S3Error):
    """A tree transfer stopped at an error that would fail every file. `code` is the cause's
    code; `result` holds what was done before the stop."""

    def __init__(self, message: str, *, cause: S3Error, result: TreeResult) -> None:
        super().__init__(message, bucket=cause.bucket, key=cause.key, code=cause.code,
                         status=cause.status)  # fmt: skip
        self.result = result
        # a store that stayed down may be back for a later try; bad credentials will not
        self.retryable = cause.retryable or isinstance(cause, CircuitOpen)


def is_fatal(exc: BaseException) -> bool:
    """Whether `exc` would fail every file of the tree (so retrying other files is futile)."""
    if isinstance(exc, CircuitOpen):
        return True
    if isinstance(exc, NotFound):
        return exc.key is None or exc.code == "NoSuchBucket"
    return isinstance(exc, AccessDenied) or getattr(exc, "code", None) in FATAL_CODES


def session_view(
    session: S3Session, *, bucket: str | None = None, limiter: TokenBucket | None = None
) -> S3Session:
    """`session` on another bucket and/or behind a request-rate limit: the same boto3 client
    (connection pool, credentials), retry policy and circuit breaker."""
    from orbit_provider.s3.session import S3Session

    if (bucket is None or bucket == session.bucket) and limiter is None:
        return session
    config = session.config
    if bucket is not None and bucket != config.bucket:
        config = dataclasses.replace(config, bucket=bucket)
    boto = session.s3 if limiter is None else RateLimitedBoto(session.s3, limiter)
    view = S3Session(
        config,
        retry_policy=session.retry_policy,
        circuit_breaker=session.circuit_breaker,
        boto_client=boto,
    )
    view.store_ignores_crc32 = session.store_ignores_crc32
    return view


def check_positive(name: str, value: Any, *, allow_none: bool = True) -> None:
    """Refuse a limit or count that is not a positive int (None allowed when `allow_none`)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{name}: {value!r} must be a positive number")


class Slots:
    """`total` units shared by the tree's workers: a small file takes one, a large file as
    many as its parts in flight, so the tree never has more than `total` requests out."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._free = total
        self._cond = threading.Condition()

    def take(self, n: int, stopped: Callable[[], bool]) -> int:
        n = max(1, min(n, self.total))
        with self._cond:
            while self._free < n and not stopped():
                self._cond.wait(0.5)
            self._free -= n
        return n

    def give(self, n: int) -> None:
        with self._cond:
            self._free += n
            self._cond.notify_all()


class TreeRun:
    """One tree transfer while it runs: the runner, slots, recorder, limits and progress."""

    def __init__(
        self,
        session: S3Session,
        recorder: TreeRecorder,
        *,
        operation: str,
        workers: int | None,
        progress: ProgressReporter | None,
        max_bandwidth: int | None,
        max_requests_per_second: float | None,
    ) -> None:
        check_positive("workers", workers)
        check_positive("max_bandwidth", max_bandwidth)
        check_positive("max_requests_per_second", max_requests_per_second)
        self.operation = operation
        self.recorder = recorder
        self.progress = progress
        self.workers = int(workers or DEFAULT_WORKERS)
        self.request_limiter = (
            TokenBucket(max_requests_per_second) if max_requests_per_second else None
        )
        self.session = session_view(session, limiter=self.request_limiter)
        bandwidth = max_bandwidth or session.config.max_bandwidth
        # one bandwidth limit for every file of the tree, large ones' parts included
        self.limiter = TokenBucket(bandwidth) if bandwidth else None
        self.part_workers = min(session.config.parallel_operations, self.workers)
        self.slots = Slots(self.workers)
        self.runner: ParallelRunner[Any, None] = ParallelRunner(
            self.workers, name=f"orbit-{operation}-tree", buffer_factory=self._buffer
        )
        self.stop_error: S3Error | None = None
        self._stop_lock = threading.Lock()
        # small objects go over plain HTTP where botocore is not needed (small_http.py)
        self.lean = make_lean(self.session, self.request_limiter)

    @staticmethod
    def _buffer() -> memoryview:
        # page-aligned (mmap), so a short-path download can write it with O_DIRECT
        return memoryview(mmap.mmap(-1, 1 << 20))

    def view(self, bucket: str) -> S3Session:
        """This run's session (rate limit included) on `bucket`."""
        return session_view(self.session, bucket=bucket)

    # -- progress ------------------------------------------------------------------------

    def expect(self, files: int, nbytes: int) -> None:
        """Tell a ProgressAggregator given as `progress` the tree's totals, so its
        snapshot() has files and bytes done of the total and an ETA from the start."""
        if isinstance(self.progress, ProgressAggregator):
            self.progress.expect(files, nbytes)

    def started(self, key: str, size: int) -> str:
        tid = new_transfer_id("f")
        if self.progress is not None:
            self.progress.emit(TransferStarted(tid, self.operation, key, size))
        return tid

    def completed(self, tid: str, key: str, size: int) -> None:
        if self.progress is not None:
            self.progress.emit(TransferCompleted(tid, key, size, 0.0, 0.0))

    def failed(self, tid: str, key: str, error: BaseException) -> None:
        if self.progress is not None:
            self.progress.emit(TransferFailed(tid, key, str(error), 0))

    # -- running ---------------------------------------------------------------------------

    def run(self, items: Iterable[T], work: Callable[[T], FileOutcome | None],
            weight: Callable[[T], int]) -> None:  # fmt: skip
        """Run `work` over `items` on the pool; a fatal error stops the tree (TreeStopped)."""

        def one(item: T) -> None:
            taken = self.slots.take(weight(item), self.runner.cancelled)
            try:
                self.runner.check()
                outcome = work(item)
            except S3Error as exc:  # work records per-file failures: this one stops the tree
                if not isinstance(exc, Cancelled):
                    with self._stop_lock:
                        self.stop_error = self.stop_error or exc
                raise
            finally:
                self.slots.give(taken)
            if outcome is not None:
                self.recorder.add(outcome)

        try:
            self.runner.run(items, one)
        except S3Error as exc:
            self.close()
            cause = self.stop_error or exc
            result = self.recorder.result()
            done = result.files_sent + result.files_skipped
            raise TreeStopped(
                f"{self.operation} stopped at the first error that would fail every file: "
                f"{cause} ({done} file(s) done before it; the rest were not tried)",
                cause=cause,
                result=result,
            ) from cause
        self.close()

    def close(self) -> None:
        """Close the plain-HTTP connections (idempotent)."""
        if self.lean is not None:
            self.lean.close()

    def fail(self, source: str, dest: str, size: int, exc: S3Error) -> FileOutcome:
        """The outcome of a file that failed alone (the tree goes on); fatal ones re-raise."""
        if is_fatal(exc):
            raise exc
        return FileOutcome(source, dest, FAILED, size=size, reason=str(exc), code=exc.code)
