"""A task's transfer metrics, sent through Airflow's own metrics (`Stats`): StatsD, Datadog or
OpenTelemetry, whichever the deployment configured in ``[metrics]`` (nothing when none is).

`TaskMetrics` adds up what a task's core calls did: bytes and objects from the progress sink,
retries, throttled answers and breaker openings from the core's counters (s3/metrics.py).
`emit()` sends what was added since the last emit, once the task ends (or defers), so a task
costs a handful of metric packets, never one per object. Names are ``orbit.<operation>.<what>``
with the tags ``operator``, ``dag_id`` and ``task_id`` (used by backends that take tags).
"""

from __future__ import annotations

import datetime
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orbit_provider.s3 import metrics as core_metrics
from orbit_provider.s3.metrics import Counts

log = logging.getLogger("orbit_provider.metrics")

_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]+")

#: Counters sent with Stats.incr (summed by the backend over tasks).
COUNTERS = ("bytes", "objects", "objects_failed", "retries", "throttles", "breaker_opens")


def metric_name(operation: str, what: str) -> str:
    """``orbit.<operation>.<what>``, the operation cleaned to what every backend accepts."""
    return f"orbit.{_UNSAFE.sub('_', operation).strip('_') or 'task'}.{what}"


@dataclass
class _Totals:
    bytes: int = 0
    objects: int = 0
    objects_failed: int = 0
    retries: int = 0
    throttles: int = 0
    breaker_opens: int = 0
    seconds: float = 0.0
    calls: int = 0

    def counters(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTERS}


def moved(progress: dict[str, Any]) -> tuple[int, int, int]:
    """(bytes, objects done, objects failed) from a progress snapshot (`ProgressSink.snapshot`):
    a transfer's bytes and objects, a batch's succeeded and failed keys (no bytes)."""
    if progress.get("kind") == "batch":
        return 0, int(progress.get("succeeded") or 0), int(progress.get("failed") or 0)
    return (
        int(progress.get("bytes_done") or 0),
        int(progress.get("objects_done") or 0),
        int(progress.get("objects_failed") or 0),
    )


@dataclass
class TaskMetrics:
    """What one task did, per operation, until `emit` sends it.

    :param tags: sent with every metric (operator, dag_id, task_id).
    :param default_operation: the name used when a core call reported no operation.
    """

    tags: dict[str, str] = field(default_factory=dict)
    default_operation: str = "task"
    clock: Callable[[], float] = time.monotonic
    _pending: dict[str, _Totals] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def measure(self) -> tuple[float, Counts]:
        """A start mark for `record` (now, and the core's counters now)."""
        return self.clock(), core_metrics.snapshot()

    def record(self, start: tuple[float, Counts], progress: dict[str, Any]) -> None:
        """Add one core call that began at `start` and ended with `progress` (its sink's
        final snapshot)."""
        began, counts_before = start
        pushback = core_metrics.snapshot().since(counts_before)
        moved_bytes, done, failed = moved(progress)
        operation = progress.get("operation") or self.default_operation
        with self._lock:
            totals = self._pending.setdefault(operation, _Totals())
            totals.bytes += moved_bytes
            totals.objects += done
            totals.objects_failed += failed
            totals.retries += pushback.retries
            totals.throttles += pushback.throttles
            totals.breaker_opens += pushback.breaker_opens
            totals.seconds += max(self.clock() - began, 0.0)
            totals.calls += 1

    def totals(self) -> dict[str, Any]:
        """What is recorded and not emitted yet, over every operation: ``operation`` (the
        first one recorded, or None), ``bytes`` and ``objects``."""
        with self._lock:
            pending = list(self._pending.items())
        return {
            "operation": pending[0][0] if pending else None,
            "bytes": sum(t.bytes for _, t in pending),
            "objects": sum(t.objects for _, t in pending),
        }

    def emit(self, stats: Any = None) -> dict[str, dict[str, Any]]:
        """Send what was recorded since the last emit (`stats`: default Airflow's Stats) and
        return it by operation. A metrics backend that fails never fails the task."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return {}
        if stats is None:
            from airflow.sdk.observability.stats import Stats as stats
        sent: dict[str, dict[str, Any]] = {}
        for operation, totals in pending.items():
            values: dict[str, Any] = totals.counters()
            values["duration_ms"] = round(totals.seconds * 1000.0, 3)
            values["throughput"] = (
                totals.bytes / totals.seconds if totals.bytes and totals.seconds > 0 else None
            )
            sent[operation] = values
            try:
                for name in COUNTERS:
                    stats.incr(metric_name(operation, name), count=values[name], tags=self.tags)
                duration = datetime.timedelta(seconds=totals.seconds)
                stats.timing(metric_name(operation, "duration"), duration, tags=self.tags)
                if values["throughput"] is not None:  # bytes a second over the core calls
                    stats.gauge(metric_name(operation, "throughput"), values["throughput"],
                                tags=self.tags)  # fmt: skip
            except Exception as exc:  # metrics must never fail a transfer
                log.warning("could not send metrics for %s: %s", operation, exc)
        return sent


def task_tags(operator: Any) -> dict[str, str]:
    """The tags of an operator's metrics: its class, DAG and task ids."""
    tags = {"operator": type(operator).__name__}
    dag_id = getattr(operator, "dag_id", None)
    if dag_id:
        tags["dag_id"] = str(dag_id)
    task_id = getattr(operator, "task_id", None)
    if task_id:
        tags["task_id"] = str(task_id)
    return tags
