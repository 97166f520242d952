"""The batch engine: runs one operation over any iterable of keys, concurrently and boundedly.

- Keys are pulled lazily: at most `2 * max_concurrent` tasks (a task is one key, or one chunk
  of keys for DeleteObjects) are read ahead of the work, so a generator of millions of keys
  is never materialized, and memory stays flat: the counts are exact, but a lazy source's
  result keeps only the first `BatchConfig.max_results` outcomes (LAZY_RESULTS_CAP by
  default); `report_path` receives every outcome as a JSON line as it completes.
- A `Collection` input (list, tuple, set, ...) is validated in full before the first request
  (bad input raises ConfigError, nothing is changed) and its result keeps every key's
  outcome; an iterator is validated key by key as it is read, and a bad key fails on its own
  (code "ConfigError") without a request.
- Repeated keys of a Collection are processed once: later repeats are skipped and counted in
  `duplicates`. A lazy source (a listing) is taken as it comes: remembering every key read
  would grow with the batch.
- All accounting happens on the calling thread; workers only run the operation.
- Timeouts: a key whose operation runs longer than `operation_timeout` is failed with code
  "Timeout" and abandoned. Python cannot kill a thread, so its request finishes in the
  background, bounded by the client's socket read timeout (`S3Config.timeout_seconds`);
  the operations are idempotent, so a rerun repairs what a late finish did or did not do.
- Retries: the batch's requests go through a view of the client whose own retry policy is a
  single attempt, and each key's whole operation is retried under `BatchConfig.retry_policy`
  (one retry layer, attempts not multiplied). The client's circuit breaker still sees every
  request. While the default breaker is open the workers wait for its probe (the batch
  pauses); a key fails with CircuitOpen only when the store stays down past the breaker's
  open cycles, and then the batch stops: every key not yet run is counted `not_run`. With a
  fail-fast breaker (`max_open_cycles=None`) keys met while it is open fail at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from orbit_provider.s3.batch.models import (
    LAZY_RESULTS_CAP,
    BatchConfig,
    BatchResult,
    KeyOutcome,
    KeyStatus,
    is_already,
)
from orbit_provider.s3.config import validate_key
from orbit_provider.s3.errors import CircuitOpen, ConfigError, S3Error, classify
from orbit_provider.s3.progress import BatchProgress, ProgressReporter
from orbit_provider.s3.recovery import CircuitBreaker, RetryPolicy, with_retry
from orbit_provider.s3.session import S3Session
from orbit_provider.s3.wire.ratelimit import RateLimitedBoto, TokenBucket

log = logging.getLogger("orbit_provider.s3.batch")

P = TypeVar("P")

#: Seconds between two BatchProgress events (the final one is always sent).
PROGRESS_INTERVAL = 1.0


@dataclass(frozen=True)
class Done:
    """A successful key; `detail` e.g. "already_done"."""

    detail: str | None = None


Outcome = Done | S3Error


@dataclass
class _Task(Generic[P]):
    items: list[tuple[str, P]]
    started: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def batch_client(client: Any, config: BatchConfig) -> Any:
    """The client a batch talks through: same boto3 client (pool, credentials), same circuit
    breaker, one attempt per request (the engine retries per key) and the rate limit."""
    limiter = config.limiter()
    boto = client.s3 if limiter is None else RateLimitedBoto(client.s3, limiter)
    return S3Session(
        client.config,
        retry_policy=RetryPolicy(max_attempts=1),
        circuit_breaker=client.circuit_breaker,
        boto_client=boto,
    )


def request_limiter(bc: Any) -> TokenBucket | None:
    """The rate limit of a batch client's requests (None: unlimited)."""
    return getattr(bc.s3, "request_limiter", None)


def item_key(item: Any) -> str:
    """The object key of a batch item: a key string, or anything with `.key` (ObjectSummary)."""
    if isinstance(item, str):
        return item
    key = getattr(item, "key", None)
    if isinstance(key, str):
        return key
    raise ConfigError(
        f"keys: expected a key string or an object with .key, got {type(item).__name__}"
    )


def result_key_of(item: Any) -> str:
    """The `results` key of a per-key item (its repr when it is not a key at all)."""
    try:
        return item_key(item)
    except ConfigError:
        return repr(item)


def checked_key(item: Any) -> str:
    """`item_key`, checked: a bad key raises ConfigError naming it."""
    key = item_key(item)
    validate_key(key, f"keys: {key[:80]!r}")
    return key


def outcome_of(exc: BaseException, key: str | None = None) -> S3Error:
    """Any failure as an S3Error (ConfigError included)."""
    return classify(exc, key=key)


class BatchRun(Generic[P]):
    """One batch: pulls keys, schedules tasks, collects outcomes, emits progress."""

    def __init__(
        self,
        operation: str,
        config: BatchConfig,
        run_task: Callable[[list[tuple[str, P]]], dict[str, Outcome]],
        *,
        breaker: CircuitBreaker | None = None,
        progress: ProgressReporter | None = None,
        chunk_size: int = 1,
        clock: Callable[[], float] = time.monotonic,
        progress_interval: float = PROGRESS_INTERVAL,
    ) -> None:
        self.operation = operation
        self.config = config
        self.run_task = run_task
        self.breaker = breaker
        self.progress = progress
        self.chunk_size = chunk_size
        self.clock = clock
        self.progress_interval = progress_interval
        self.results: dict[str, KeyOutcome] = {}
        self.errors: list[tuple[str, str, str]] = []
        self.counts = {s: 0 for s in KeyStatus}
        self.already_done = 0
        self.duplicates = 0
        self.completed = 0
        self._keep: int | None = config.max_results
        self._report: Any = None
        self._pending: dict[Future, _Task[P]] = {}
        self._stop = False
        self._stop_reason = "not run: fail_fast stopped"
        self._total: int | None = None
        self._last_progress = float("-inf")

    # -- input ----------------------------------------------------------------------------

    def _prepared(
        self,
        items: Iterable[Any],
        key_of: Callable[[Any], str],
        prepare: Callable[[Any], P],
        seen: set[str] | None,
    ) -> Iterator[tuple[str, P | S3Error]]:
        """(result key, prepared item or its ConfigError), lazily; with `seen`, duplicates
        are dropped."""
        for item in items:
            key = key_of(item)
            if seen is not None:
                if key in seen:
                    self.duplicates += 1
                    continue
                seen.add(key)
            try:
                yield key, prepare(item)
            except ConfigError as exc:
                yield key, exc

    def _source(
        self, items: Iterable[Any], key_of: Callable[[Any], str], prepare: Callable[[Any], P]
    ) -> Iterator[tuple[str, P | S3Error]]:
        if isinstance(items, Collection) and not isinstance(items, str | bytes):
            prepared = list(self._prepared(items, key_of, prepare, set()))
            for _, value in prepared:
                if isinstance(value, ConfigError):
                    raise value
            self._total = len(prepared)
            return iter(prepared)
        if isinstance(items, str | bytes):
            raise ConfigError("keys: expected an iterable of keys, got a single string")
        if self._keep is None:
            self._keep = LAZY_RESULTS_CAP
        return self._prepared(items, key_of, prepare, None)

    # -- running --------------------------------------------------------------------------

    def run(
        self,
        items: Iterable[Any],
        key_of: Callable[[Any], str],
        prepare: Callable[[Any], P],
    ) -> BatchResult:
        source = self._source(items, key_of, prepare)
        if self.config.report_path is not None:
            self._report = open(self.config.report_path, "w", encoding="utf-8")  # noqa: SIM115
        started = self.clock()
        window = 2 * self.config.max_concurrent
        pool = ThreadPoolExecutor(
            max_workers=self.config.max_concurrent, thread_name_prefix=f"orbit-{self.operation}"
        )
        try:
            chunk: list[tuple[str, P]] = []
            for key, value in source:
                if isinstance(value, S3Error):
                    self._record(key, value)
                    continue
                if self._stop:
                    self._record(key, None)
                    continue
                chunk.append((key, value))
                if len(chunk) >= self.chunk_size:
                    self._schedule(pool, chunk, window)
                    chunk = []
            if chunk:
                self._schedule(pool, chunk, window)
            if self._total is None:
                self._total = self.completed + sum(len(t.items) for t in self._pending.values())
            while self._pending:
                self._drain()
        finally:
            for fut in self._pending:
                fut.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            if self._report is not None:
                self._report.close()
        self._emit(final=True)
        return BatchResult(
            total=self.completed,
            successful=self.counts[KeyStatus.SUCCEEDED],
            failed=self.counts[KeyStatus.FAILED],
            results=self.results,
            errors=self.errors,
            duration=max(self.clock() - started, 0.0),
            not_run=self.counts[KeyStatus.NOT_RUN],
            already_done=self.already_done,
            duplicates=self.duplicates,
            operation=self.operation,
            results_complete=len(self.results) == self.completed,
            report_path=str(self.config.report_path) if self.config.report_path else None,
        )

    def _schedule(self, pool: ThreadPoolExecutor, chunk: list[tuple[str, P]], window: int) -> None:
        while len(self._pending) >= window:
            self._drain()
        if self._stop:
            for key, _ in chunk:
                self._record(key, None)
            return
        if self.breaker is not None and self.breaker.max_open_cycles is None and (
            self.breaker.is_open
        ):  # a fail-fast breaker (the guide's): keys meeting it open fail without a request
            for key, _ in chunk:
                self._record(
                    key,
                    CircuitOpen(
                        f"{self.operation} of {key!r} not attempted: circuit open after repeated "
                        "failures of the endpoint",
                        key=key,
                    ),
                )
            return
        task: _Task[P] = _Task(chunk)
        self._pending[pool.submit(self._work, task)] = task

    def _work(self, task: _Task[P]) -> dict[str, Outcome]:
        with task.lock:
            task.started = self.clock()
        return self.run_task(task.items)

    def _drain(self) -> None:
        """Wait for at least one task to finish or time out, and account for it."""
        timeout = self.progress_interval
        limit = self.config.operation_timeout
        if limit is not None:
            now = self.clock()
            for task in self._pending.values():
                with task.lock:
                    started = task.started
                if started is not None:
                    timeout = min(timeout, max(started + limit - now, 0.0))
        done, _ = wait(list(self._pending), timeout=timeout, return_when=FIRST_COMPLETED)
        for fut in done:
            task = self._pending.pop(fut)
            self._finish(fut, task)
        if limit is not None:
            self._expire(limit)
        self._emit()

    def _finish(self, fut: Future, task: _Task[P]) -> None:
        if fut.cancelled():
            for key, _ in task.items:
                self._record(key, None)
            return
        exc = fut.exception()
        if exc is not None:  # run_task itself failed: every key of the task failed with it
            for key, _ in task.items:
                self._record(key, outcome_of(exc, key))
            return
        outcomes = fut.result()
        for key, _ in task.items:
            self._record(
                key,
                outcomes.get(key)
                or S3Error(
                    f"{self.operation}: no outcome for {key!r}", key=key, code="MissingResult"
                ),
            )

    def _expire(self, limit: float) -> None:
        now = self.clock()
        for fut, task in list(self._pending.items()):
            with task.lock:
                started = task.started
            if started is not None and now - started >= limit and not fut.done():
                del self._pending[fut]  # abandoned: its late result is ignored
                for key, _ in task.items:
                    self._record(
                        key,
                        S3Error(
                            f"{self.operation} of {key!r} took longer than operation_timeout="
                            f"{limit}s; abandoned",
                            key=key,
                            code="Timeout",
                        ),
                    )

    # -- accounting -----------------------------------------------------------------------

    def _record(self, key: str, outcome: Outcome | None) -> None:
        """Record one key's outcome (None: it did not run): counted always, kept in `results`
        and `errors` up to the cap, written to the report."""
        keep = self._keep is None or self.completed < self._keep
        if self._keep is None and key in self.results:  # a deduplicated list: cannot happen
            raise RuntimeError(f"batch engine recorded {key!r} twice")
        self.completed += 1
        if outcome is None:
            entry = KeyOutcome(KeyStatus.NOT_RUN.value, self._stop_reason)
            self.counts[KeyStatus.NOT_RUN] += 1
        elif isinstance(outcome, Done):
            entry = KeyOutcome(KeyStatus.SUCCEEDED.value, outcome.detail)
            self.counts[KeyStatus.SUCCEEDED] += 1
            self.already_done += is_already(outcome.detail)
        else:
            code = outcome.code or type(outcome).__name__
            entry = KeyOutcome(KeyStatus.FAILED.value, outcome.message, code)
            if self._keep is None or len(self.errors) < self._keep:
                self.errors.append((key, code, outcome.message))
            self.counts[KeyStatus.FAILED] += 1
        if keep:
            self.results[key] = entry
        if self._report is not None:
            line = {"key": key, "status": entry.status, "detail": entry.detail, "code": entry.code}
            self._report.write(json.dumps(line) + "\n")
        if outcome is not None and not isinstance(outcome, Done):
            # a waiting breaker gave up: the store stays down, so the rest would fail too
            store_down = (
                isinstance(outcome, CircuitOpen)
                and self.breaker is not None
                and self.breaker.max_open_cycles is not None
            )
            if (self.config.fail_fast or store_down) and not self._stop:
                self._stop = True
                why = "the store stays down" if store_down else "fail_fast"
                self._stop_reason = f"not run: {why}"
                log.warning("%s: %s: stopping after %s failed", self.operation, why, key)
                for fut in list(self._pending):
                    if fut.cancel():
                        task = self._pending.pop(fut)
                        for k, _ in task.items:
                            self._record(k, None)

    def _emit(self, final: bool = False) -> None:
        if self.progress is None:
            return
        now = self.clock()
        if not final and now - self._last_progress < self.progress_interval:
            return
        self._last_progress = now
        self.progress.emit(
            BatchProgress(
                operation=self.operation,
                completed=self.completed,
                successful=self.counts[KeyStatus.SUCCEEDED],
                failed=self.counts[KeyStatus.FAILED],
                total=self._total,
            )
        )


def per_key(
    op: Callable[[str, P], str | None], policy: RetryPolicy, sleep: Callable[[float], None]
) -> Callable[[list[tuple[str, P]]], dict[str, Outcome]]:
    """A task runner for one-key tasks: `op(key, item)` returns a success detail or raises;
    the whole key's operation is retried under `policy`."""

    def run(items: list[tuple[str, P]]) -> dict[str, Outcome]:
        out: dict[str, Outcome] = {}
        for key, item in items:
            try:
                detail = with_retry(policy, lambda k=key, i=item: op(k, i), None, sleep, key=key)
                out[key] = Done(detail)
            except Exception as exc:  # every failure is this key's outcome
                out[key] = outcome_of(exc, key)
        return out

    return run


def run_batch(
    client: Any,
    operation: str,
    items: Iterable[Any],
    op: Callable[[Any, str, P], str | None],
    config: BatchConfig,
    *,
    prepare: Callable[[Any], P],
    key_of: Callable[[Any], str],
    progress: ProgressReporter | None = None,
    sleep: Callable[[float], None] = time.sleep,
    bc: Any = None,
) -> BatchResult:
    """Run `op(batch_client, key, prepared)` for every key under `config` (`bc`: the batch
    client to use, e.g. one whose rate limit other requests of the batch share)."""
    if bc is None:
        bc = batch_client(client, config)
    runner = per_key(lambda key, item: op(bc, key, item), config.retry_policy(), sleep)
    return BatchRun(
        operation, config, runner, breaker=client.circuit_breaker, progress=progress
    ).run(items, key_of, prepare)
