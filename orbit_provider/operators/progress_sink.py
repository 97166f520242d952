"""Progress into task logs and (opt-in) the `orbit_progress` XCom, shared by every operator.

The core emits ProgressEvents from worker threads. `ProgressSink` only records them (cheap,
thread-safe); `flush()`, called from the task's main thread, writes a log line every
`log_interval` seconds or when a 10% step is crossed, and pushes the latest progress dict to
XCom at most every `xcom_interval` seconds. `run_with_progress(context, fn)` runs the core
call in a thread and flushes from the main thread, because task-SDK calls (XCom pushes talk
to the supervisor) belong to the task's main thread.

The XCom push is off unless asked for (`progress_xcom=True`, or `[orbit] progress_xcom` in
Airflow's config): every push is a write to the metadata database, and a thousand mapped
tasks pushing every 2 s would make hundreds of writes a second (`ProgressSettings`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.progress import (
    BatchProgress,
    Progress,
    ProgressEvent,
    ProgressReporter,
    ThroughputTracker,
    TransferCompleted,
    TransferFailed,
    TransferStarted,
)

XCOM_KEY = "orbit_progress"
MIB = 1024 * 1024

#: Airflow config section of the settings below (``AIRFLOW__ORBIT__PROGRESS_XCOM=True`` ...).
CONFIG_SECTION = "orbit"
DEFAULT_LOG_INTERVAL = 5.0
DEFAULT_XCOM_INTERVAL = 2.0

T = TypeVar("T")
_default_log = logging.getLogger("orbit_provider.progress")


@dataclass(frozen=True)
class ProgressSettings:
    """How a task reports progress: the task-log line's interval, and whether (and how often)
    the progress dict is pushed to the `orbit_progress` XCom.

    :param xcom: push to XCom (off by default: each push is a metadata-database write).
    :param xcom_interval: seconds between XCom pushes (the final push always happens).
    :param log_interval: seconds between task-log lines (a 10% step logs at once).
    """

    xcom: bool = False
    xcom_interval: float = DEFAULT_XCOM_INTERVAL
    log_interval: float = DEFAULT_LOG_INTERVAL

    def __post_init__(self) -> None:
        check_progress_options(self.xcom, self.xcom_interval, self.log_interval)

    @classmethod
    def resolve(
        cls,
        *,
        xcom: bool | None = None,
        xcom_interval: float | None = None,
        log_interval: float | None = None,
    ) -> ProgressSettings:
        """The operator's values where given, else Airflow's ``[orbit]`` config
        (``progress_xcom``, ``progress_xcom_interval``, ``progress_log_interval``), else the
        defaults. Read at run time, so a config change needs no DAG change."""
        from airflow.sdk.configuration import conf

        def option(value: Any, name: str, get: Callable[..., Any], default: Any) -> Any:
            if value is not None:
                return value
            try:
                return get(CONFIG_SECTION, name, fallback=default)
            except Exception as exc:  # AirflowConfigException: e.g. progress_xcom = maybe
                raise ConfigError(f"[{CONFIG_SECTION}] {name}: {exc}") from exc

        return cls(
            xcom=option(xcom, "progress_xcom", conf.getboolean, False),
            xcom_interval=option(
                xcom_interval, "progress_xcom_interval", conf.getfloat, DEFAULT_XCOM_INTERVAL
            ),
            log_interval=option(
                log_interval, "progress_log_interval", conf.getfloat, DEFAULT_LOG_INTERVAL
            ),
        )


def check_progress_options(
    xcom: Any = None, xcom_interval: Any = None, log_interval: Any = None
) -> None:
    """Refuse a non-boolean `xcom` or a negative / non-numeric interval (None: not given)."""
    if xcom is not None and not isinstance(xcom, bool):
        raise ConfigError(f"progress_xcom: {xcom!r} must be True, False or None")
    for name, value in (("progress_xcom_interval", xcom_interval),
                        ("progress_log_interval", log_interval)):  # fmt: skip
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{name}: {value!r} must be a number of seconds, 0 or more")


class ProgressSink:
    """Turns ProgressEvents into bounded-rate log lines and XCom values.

    :param push: called with the progress dict when an XCom push is due (main thread).
    :param log: where progress lines go (the operator's ``self.log``).
    :param log_interval: seconds between log lines (a 10% step logs at once).
    :param xcom_interval: seconds between XCom pushes.
    :param step_percent: a line is logged each time progress crosses a multiple of this.
    :param total_bytes: bytes of the whole job when it spans several transfers (a folder).
    :param total_objects: objects in the whole job, for "files done/total".
    :param clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        *,
        push: Callable[[dict], None] | None = None,
        log: logging.Logger | logging.LoggerAdapter | Any = None,
        log_interval: float = 5.0,
        xcom_interval: float = 2.0,
        step_percent: float = 10.0,
        total_bytes: int | None = None,
        total_objects: int | None = None,
        operation: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._push = push
        self._log = log or _default_log
        self.log_interval = log_interval
        self.xcom_interval = xcom_interval
        self.step_percent = step_percent
        self._clock = clock
        self._lock = threading.Lock()
        self._tracker = ThroughputTracker(clock=clock)
        self._operation = operation
        self._total_bytes = total_bytes
        self._total_objects = total_objects
        self._transfers: dict[str, dict] = {}  # transfer_id -> {done, total, parts...}
        self._completed = 0
        self._failed = 0
        self._batch: BatchProgress | None = None
        self._current_key: str | None = None
        self._version = 0  # bumped on every recorded change
        self._logged_version = -1
        self._pushed_version = -1
        self._last_log = float("-inf")
        self._last_push = float("-inf")
        self._last_step = -1
        self._final = False

    # -- recording (any thread) -----------------------------------------------------------

    def __call__(self, event: ProgressEvent) -> None:
        """A ProgressReporter callback: record the event (thread-safe, no I/O)."""
        with self._lock:
            self._record(event)
            self._version += 1

    def reporter(self) -> ProgressReporter:
        """A ProgressReporter whose events reach this sink; pass it to core calls. Inline:
        recording is a few additions under a lock, no I/O, so it needs no thread of its own
        (the log lines and XCom pushes happen in `flush`, on the task's thread)."""
        return ProgressReporter([self], inline=True)

    def _record(self, event: ProgressEvent) -> None:
        if isinstance(event, BatchProgress):
            self._batch = event
            self._operation = self._operation or event.operation
            return
        transfer_id = getattr(event, "transfer_id", None)
        if transfer_id is None:
            return
        state = self._transfers.setdefault(
            transfer_id, {"done": 0, "total": 0, "parts_done": 0, "parts_total": 0}
        )
        self._current_key = getattr(event, "key", self._current_key)
        if isinstance(event, TransferStarted):
            self._operation = self._operation or event.operation
            state.update(total=event.total_bytes, parts_total=event.parts, done=event.resumed_bytes)
        elif isinstance(event, Progress):
            self._advance(state, event.bytes_transferred)
            state.update(
                total=event.total_bytes,
                parts_done=event.parts_done,
                parts_total=event.parts_total,
            )
        elif isinstance(event, TransferCompleted):
            self._advance(state, event.total_bytes)
            state.update(total=event.total_bytes, parts_done=state["parts_total"])
            if not state.get("ended"):
                self._completed += 1
                state["ended"] = True
        elif isinstance(event, TransferFailed):
            if not state.get("ended"):
                self._failed += 1
                state["ended"] = True

    def _advance(self, state: dict, done: int) -> None:
        delta = done - state["done"]
        if delta > 0:
            self._tracker.add(delta)
            state["done"] = done

    # -- reading ----------------------------------------------------------------------------

    def snapshot(self) -> dict:
        """The latest progress as a JSON-serializable dict (what goes to XCom)."""
        with self._lock:
            return self._snapshot_locked()

    def _snapshot_locked(self) -> dict:
        if self._batch is not None and not self._transfers:
            b = self._batch
            pct = b.percentage
            return {
                "kind": "batch",
                "operation": self._operation,
                "done": b.completed,
                "total": b.total,
                "succeeded": b.successful,
                "failed": b.failed,
                "percent": None if pct is None else round(pct, 1),
                "final": self._final,
            }
        done = sum(t["done"] for t in self._transfers.values())
        known_total = sum(t["total"] for t in self._transfers.values())
        total = max(self._total_bytes or 0, known_total)
        rate = self._tracker.rate
        remaining = max(total - done, 0)
        eta = 0.0 if remaining == 0 else (remaining / rate if rate > 0 else None)
        snap = {
            "kind": "transfer",
            "operation": self._operation,
            "key": self._current_key,
            "bytes_done": done,
            "bytes_total": total,
            "percent": round(100.0 if total == 0 else min(100.0, 100.0 * done / total), 1),
            "rate_mib_s": round(rate / MIB, 2),
            "eta_seconds": None if eta is None else round(eta, 1),
            "parts_done": sum(t["parts_done"] for t in self._transfers.values()),
            "parts_total": sum(t["parts_total"] for t in self._transfers.values()),
            "objects_done": self._completed,
            "objects_failed": self._failed,
            "objects_total": self._total_objects or len(self._transfers),
            "final": self._final,
        }
        return snap

    # -- output (main thread) -------------------------------------------------------------

    def flush(self, final: bool = False) -> None:
        """Log and push if due; `final=True` always logs and pushes once more."""
        now = self._clock()
        with self._lock:
            if self._version == 0 and not final:
                return  # nothing has happened yet
            if final:
                self._final = True
            snap = self._snapshot_locked()
            changed_log = self._version != self._logged_version
            changed_push = self._version != self._pushed_version
            step = _step(snap.get("percent"), self.step_percent)
            due_log = final or (
                changed_log
                and (now - self._last_log >= self.log_interval or step > self._last_step)
            )
            due_push = self._push is not None and (
                final or (changed_push and now - self._last_push >= self.xcom_interval)
            )
            if due_log:
                self._last_log, self._logged_version = now, self._version
                self._last_step = max(self._last_step, step)
            if due_push:
                self._last_push, self._pushed_version = now, self._version
        if due_log:
            self._log.info("%s", format_line(snap))
        if due_push:
            self._push(snap)


def _step(percent: float | None, step_percent: float) -> int:
    if percent is None or step_percent <= 0:
        return -1
    return int(percent // step_percent)


def format_line(snap: dict) -> str:
    """One human-readable progress line for the task log."""
    op = snap.get("operation") or "transfer"
    if snap["kind"] == "batch":
        total = "?" if snap["total"] is None else snap["total"]
        pct = "" if snap["percent"] is None else f" ({snap['percent']:.1f}%)"
        return (
            f"orbit progress: {op} {snap['done']}/{total}{pct}, "
            f"succeeded {snap['succeeded']}, failed {snap['failed']}"
            + (" [final]" if snap["final"] else "")
        )
    eta = snap["eta_seconds"]
    eta_text = "?" if eta is None else _duration(eta)
    parts = f", parts {snap['parts_done']}/{snap['parts_total']}" if snap["parts_total"] else ""
    objects = ""
    if snap["objects_total"] > 1:
        objects = f", objects {snap['objects_done']}/{snap['objects_total']}"
        if snap["objects_failed"]:
            objects += f" ({snap['objects_failed']} failed)"
    return (
        f"orbit progress: {op} {snap['percent']:.1f}% "
        f"({snap['bytes_done'] / MIB:.1f}/{snap['bytes_total'] / MIB:.1f} MiB), "
        f"{snap['rate_mib_s']:.1f} MiB/s, ETA {eta_text}{parts}{objects}"
        + (" [final]" if snap["final"] else "")
    )


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def xcom_pusher(context: Any) -> Callable[[dict], None] | None:
    """A function that pushes a value to XCom key `orbit_progress` for the running task."""
    ti = context.get("ti") if context else None
    if ti is None:
        return None
    return lambda value: ti.xcom_push(key=XCOM_KEY, value=value)


def sink_for(
    context: Any,
    log: Any = None,
    *,
    settings: ProgressSettings | None = None,
    **options: Any,
) -> ProgressSink:
    """A ProgressSink that logs to `log` and, when `settings.xcom`, pushes to the task's
    `orbit_progress` XCom (`settings`: default `ProgressSettings.resolve()`, i.e. Airflow's
    ``[orbit]`` config). `options` go to ProgressSink and win over `settings`."""
    settings = settings or ProgressSettings.resolve()
    options.setdefault("log_interval", settings.log_interval)
    options.setdefault("xcom_interval", settings.xcom_interval)
    push = xcom_pusher(context) if settings.xcom else None
    return ProgressSink(push=push, log=log, **options)


def run_with_progress(
    context: Any,
    fn: Callable[[ProgressReporter], T],
    *,
    sink: ProgressSink | None = None,
    log: Any = None,
    poll_interval: float = 1.0,
    settings: ProgressSettings | None = None,
    **options: Any,
) -> T:
    """Run `fn(reporter)` in a worker thread; flush progress from this (the main) thread.

    Returns what `fn` returns, or raises what it raised, after a final log line (and XCom
    push, when `settings` ask for one). `options` go to ProgressSink (total_bytes, ...).
    """
    sink = sink or sink_for(context, log=log, settings=settings, **options)
    reporter = sink.reporter()
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            outcome["value"] = fn(reporter)
        except BaseException as exc:  # handed to the main thread below
            outcome["error"] = exc
        finally:
            done.set()

    # A daemon thread: if the task process is killed, nothing waits for the transfer.
    worker = threading.Thread(target=work, name="orbit-transfer", daemon=True)
    worker.start()
    while not done.wait(poll_interval):
        sink.flush()
    worker.join()
    sink.flush(final=True)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
