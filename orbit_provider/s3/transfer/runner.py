"""The one parallel runner of the core: parts of an upload, ranges of a download, parts of a
multipart copy and, next, the files of a tree transfer all fan out through it.

- Bounded: at most `workers` items are in flight; items are pulled from the iterable only
  as workers free up, so a lazy source is never read far ahead. An untuned run has its
  workers pull the next item themselves: no submitting thread to wait for (it had to get
  the GIL back after every item) and no futures to wait on (for a tree of small files that
  bookkeeping was a noticeable share of the CPU and idled the workers).
- First error wins: the first failure stops items not yet started, work already running can
  look at `cancelled()` and give up early (raising `Cancelled`, which is never reported as
  the error), and that first failure is raised once the running items have finished.
- Per-thread buffers: `buffer()` returns the calling worker's own buffer, made once by the
  factory and reused for every item that thread runs.
- Tuned (`tune=True`, for the parts or ranges of one transfer): `workers` is a cap. The run
  starts with a few workers and adds more while the rate of finished items grows
  (tuner.py), so a far network gets many connections and loopback keeps few; a store that
  keeps answering SlowDown (its `throttle` cut) halves them. Untuned runs (items of any
  size, such as a tree's files) run `workers` from the start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Generic, TypeVar

from orbit_provider.s3.errors import S3Error
from orbit_provider.s3.transfer.tuner import ConcurrencyTuner
from orbit_provider.s3.wire.adaptive import AdaptiveThrottle

log = logging.getLogger("orbit_provider.s3.transfer")

T = TypeVar("T")
R = TypeVar("R")


class Cancelled(S3Error):
    """Raised by work that stopped because another item failed first (an S3Error, so the
    retry path passes it through untouched and never retries it)."""

    code = "Cancelled"


class ParallelRunner(Generic[T, R]):
    """Runs `work(item)` for every item on up to `workers` threads (see the module doc).

    `tune`: choose how many of the `workers` run with a ConcurrencyTuner (only for items of
    about one size, such as the parts or ranges of one transfer); `tuner`: a given one;
    `throttle`: the store's AdaptiveThrottle, whose cuts make the tuner back off.
    """

    def __init__(
        self,
        workers: int,
        *,
        name: str = "orbit",
        buffer_factory: Callable[[], Any] | None = None,
        tune: bool = False,
        tuner: ConcurrencyTuner | None = None,
        throttle: AdaptiveThrottle | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers: must be at least 1")
        self.workers = workers
        self.name = name
        self.tuner = tuner or (ConcurrencyTuner(workers) if tune else None)
        self.throttle = throttle
        self._buffer_factory = buffer_factory
        self._local = threading.local()
        self._stop = threading.Event()

    def cancelled(self) -> bool:
        """True once an item has failed (or the caller was interrupted): stop early."""
        return self._stop.is_set()

    def check(self) -> None:
        """Raise Cancelled if the run is stopping."""
        if self._stop.is_set():
            raise Cancelled("cancelled: another item failed first")

    def buffer(self) -> Any:
        """This worker thread's buffer, made on first use and reused for later items."""
        buf = getattr(self._local, "buffer", None)
        if buf is None:
            if self._buffer_factory is None:
                raise RuntimeError("ParallelRunner.buffer: no buffer_factory given")
            buf = self._local.buffer = self._buffer_factory()
        return buf

    def run(self, items: Iterable[T], work: Callable[[T], R]) -> list[R]:
        """Run `work` over `items`; the results in item order, or the first error raised."""
        tuner = self.tuner
        if tuner is None:
            return self._run_pulling(items, work)
        results: dict[int, R] = {}
        error: BaseException | None = None
        source = iter(enumerate(items))
        pending: dict[Future, int] = {}
        cuts = self.throttle.cuts if self.throttle is not None else 0

        def guarded(item: T) -> R:
            self.check()
            try:
                return work(item)
            except BaseException:
                self._stop.set()  # at once, so no worker starts another item
                raise

        with ThreadPoolExecutor(self.workers, thread_name_prefix=self.name) as pool:
            try:
                while True:
                    while (len(pending) < min(self.workers, tuner.target)
                           and not self._stop.is_set()):  # fmt: skip
                        nxt = next(source, None)
                        if nxt is None:
                            break
                        pending[pool.submit(guarded, nxt[1])] = nxt[0]
                    if not pending:
                        break
                    done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                    for future in done:
                        index = pending.pop(future)
                        exc = future.exception()
                        if exc is None:
                            results[index] = future.result()
                        elif error is None and not isinstance(exc, Cancelled):
                            error = exc
                    if self.throttle is not None and self.throttle.cuts > cuts:
                        cuts = self.throttle.cuts  # the store keeps pushing back
                        tuner.throttled()
                    tuner.done(len(done))
            except BaseException:
                self._stop.set()  # interrupted while waiting: running items see cancelled()
                for future in pending:
                    future.cancel()
                raise
        if tuner.history:
            log.debug(
                "%s: ended with %d workers of %d; items/s by workers: %s",
                self.name,
                tuner.target,
                self.workers,
                ", ".join(f"{w}: {rate:.1f}" for w, rate in tuner.history),
            )
        if error is None and self._stop.is_set():
            error = Cancelled("cancelled")  # stopped from outside the runner
        if error is not None:
            raise error
        return [results[i] for i in sorted(results)]

    def _run_pulling(self, items: Iterable[T], work: Callable[[T], R]) -> list[R]:
        """`run` with a fixed number of workers, each taking the next item itself."""
        source = iter(enumerate(items))
        lock = threading.Lock()
        results: dict[int, R] = {}
        errors: list[BaseException] = []

        def worker() -> None:
            while not self._stop.is_set():
                try:
                    with lock:
                        index, item = next(source)
                except StopIteration:
                    return
                except BaseException as exc:  # the source itself failed
                    self._fail(lock, errors, exc)
                    return
                try:
                    self.check()
                    results[index] = work(item)
                except BaseException as exc:
                    self._fail(lock, errors, exc)
                    return

        threads = [
            threading.Thread(target=worker, name=f"{self.name}_{i}", daemon=True)
            for i in range(self.workers)
        ]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        except BaseException:
            self._stop.set()  # interrupted while waiting: running items see cancelled()
            for thread in threads:
                if thread.ident is not None:
                    thread.join()
            raise
        if errors:
            raise errors[0]
        if self._stop.is_set():
            raise Cancelled("cancelled")  # stopped from outside the runner
        return [results[i] for i in sorted(results)]

    def _fail(self, lock: threading.Lock, errors: list[BaseException], exc: BaseException
              ) -> None:  # fmt: skip
        self._stop.set()  # at once, so no worker starts another item
        if not isinstance(exc, Cancelled):
            with lock:
                errors.append(exc)  # the first one is raised

    def stop(self) -> None:
        """Stop the run from outside: items not started are skipped, running ones see it."""
        self._stop.set()


def run_parallel(
    items: Iterable[T],
    work: Callable[[T], R],
    *,
    workers: int,
    name: str = "orbit",
) -> list[R]:
    """`ParallelRunner(workers, name=name).run(items, work)` for work that needs no buffer."""
    return ParallelRunner(workers, name=name).run(items, work)
