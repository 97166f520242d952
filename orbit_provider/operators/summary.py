"""JSON-serializable task summaries from core results, shared by every operator.

A summary has the same keys for transfers and batches, so mapped tasks aggregate simply:
counts, bytes, duration, throughput, per-object details and failures, both capped at
`max_items` so a million-key batch does not bloat XCom. When failures exceed the cap, the
full list is written as JSON lines to a local folder and/or an S3 object (`ReportTarget`),
and the summary says where (`failures_report`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_MAX_ITEMS = 100
MIB = 1024 * 1024

_COUNTS = ("total", "succeeded", "failed", "not_run", "skipped", "already_done")
_BYTES = ("bytes", "bytes_transferred")
_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")


@dataclass(frozen=True)
class ReportTarget:
    """Where the full failure list goes when it exceeds the cap.

    :param directory: a local folder; the report is ``<directory>/<name>.jsonl``.
    :param client: an S3Client; the report is the object ``<prefix><name>.jsonl`` in its bucket.
    :param prefix: the key prefix of S3 reports.
    :param name: the report's name (see `report_name`), may hold ``/``.
    """

    directory: str | os.PathLike | None = None
    client: Any = None
    prefix: str = "orbit-reports/"
    name: str = "failures"

    def publish(self, path: str | os.PathLike) -> list[str]:
        """Put a report the engine already wrote (JSON lines at `path`) where it belongs: it
        stays in `directory` (it was written there), and is uploaded under `prefix`."""
        locations = []
        if self.directory is not None:
            locations.append(os.fspath(path))
        if self.client is not None:
            key = f"{self.prefix}{self.name}.jsonl"
            self.client.upload_file(path, key, content_type="application/x-ndjson")
            locations.append(f"s3://{self.client.bucket}/{key}")
            if self.directory is None:  # a temporary file, only written to be uploaded
                Path(path).unlink(missing_ok=True)
        return locations

    def write(self, failures: list[dict]) -> list[str]:
        """Write every failure as one JSON line; return the locations written."""
        data = "".join(json.dumps(f, sort_keys=True) + "\n" for f in failures).encode()
        locations = []
        if self.directory is not None:
            path = Path(self.directory) / f"{self.name}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
            locations.append(str(path))
        if self.client is not None:
            key = f"{self.prefix}{self.name}.jsonl"
            self.client.upload_bytes(data, key, content_type="application/x-ndjson")
            locations.append(f"s3://{self.client.bucket}/{key}")
        return locations


def report_name(context: Mapping[str, Any] | None, operation: str) -> str:
    """A report name unique per task try: ``<dag>/<run>/<task>[-<map>]-try<n>-<operation>``."""
    ti = (context or {}).get("ti")
    if ti is None:
        return _safe(operation) + "-failures"
    task = _safe(ti.task_id)
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        task += f"-{map_index}"
    try_number = getattr(ti, "try_number", None)
    if try_number:
        task += f"-try{try_number}"
    return f"{_safe(ti.dag_id)}/{_safe(ti.run_id)}/{task}-{_safe(operation)}-failures"


def _safe(text: Any) -> str:
    return _UNSAFE.sub("_", str(text)).strip("_") or "_"


def _failure(item: Any) -> dict:
    """A failure as {key, code, error} from a dict, (key, error) or (key, code, error)."""
    if isinstance(item, Mapping):
        return {"key": item.get("key"), "code": item.get("code"), "error": item.get("error")}
    item = tuple(item)
    if len(item) == 2:
        return {"key": item[0], "code": None, "error": str(item[1])}
    key, code, error = item[:3]
    return {"key": key, "code": code, "error": str(error)}


def _object(result: Any) -> dict:
    """Per-object details of an upload/download/put/copy result (duck-typed)."""
    key = getattr(result, "key", None) or getattr(result, "dst_key", None)
    entry: dict[str, Any] = {
        "key": key,
        "size": getattr(result, "size", None),
        "etag": getattr(result, "etag", None),
        "version_id": getattr(result, "version_id", None),
    }
    for attr in ("src_key", "parts", "parts_resumed", "resumed_bytes", "checksum", "verification"):
        value = getattr(result, attr, None)
        if value not in (None, 0, ""):
            entry[attr] = value
    path = getattr(result, "path", None)
    if path is not None:
        entry["path"] = os.fspath(path)
    return entry


def _moved(result: Any) -> int:
    for attr in ("bytes_sent", "bytes_received"):
        value = getattr(result, attr, None)
        if value is not None:
            return int(value)
    return int(getattr(result, "size", 0) or 0)


def _finish(
    summary: dict, failures: list[dict], max_items: int, report: ReportTarget | None
) -> dict:
    summary["failures"] = failures[:max_items]
    summary["failures_truncated"] = len(failures) > max_items
    summary["failures_report"] = None
    if len(failures) > max_items and report is not None:
        summary["failures_report"] = report.write(failures) or None
    duration = summary["duration_seconds"]
    summary["throughput_mib_s"] = (
        round(summary["bytes_transferred"] / duration / MIB, 3) if duration > 0 else 0.0
    )
    return summary


def transfer_summary(
    results: Iterable[Any],
    *,
    operation: str,
    bucket: str,
    failures: Iterable[Any] = (),
    skipped: Iterable[str] = (),
    duration: float | None = None,
    max_items: int = DEFAULT_MAX_ITEMS,
    report: ReportTarget | None = None,
) -> dict:
    """Summary of object transfers (UploadResult, DownloadResult, PutResult, CopyResult...).

    :param results: the succeeded transfers.
    :param failures: (key, error), (key, code, error) or {key, code, error} per failed object.
    :param skipped: keys left alone on purpose (e.g. identical already).
    :param duration: wall-clock seconds of the whole job; default: the sum of the results'.
    """
    results = list(results)
    failure_list = [_failure(f) for f in failures]
    skipped = list(skipped)
    if duration is None:
        duration = sum(float(getattr(r, "duration", 0) or 0) for r in results)
    summary: dict[str, Any] = {
        "operation": operation,
        "bucket": bucket,
        "total": len(results) + len(failure_list) + len(skipped),
        "succeeded": len(results),
        "failed": len(failure_list),
        "not_run": 0,
        "skipped": len(skipped),
        "already_done": 0,
        "bytes": sum(int(getattr(r, "size", 0) or 0) for r in results),
        "bytes_transferred": sum(_moved(r) for r in results),
        "duration_seconds": round(float(duration), 3),
        "objects": [_object(r) for r in results[:max_items]],
        "objects_truncated": len(results) > max_items,
        "skipped_keys": skipped[:max_items],
    }
    return _finish(summary, failure_list, max_items, report)


def batch_summary(
    result: Any,
    *,
    bucket: str,
    operation: str | None = None,
    bytes_total: int = 0,
    max_items: int = DEFAULT_MAX_ITEMS,
    report: ReportTarget | None = None,
) -> dict:
    """Summary of a core BatchResult (counts, failures with keys; no per-key list). When the
    engine wrote a per-key report (`result.report_path`), the report target publishes that
    file: it holds every key, not only the failures kept in memory."""
    failure_list = [_failure(e) for e in result.errors]
    summary: dict[str, Any] = {
        "operation": operation or getattr(result, "operation", "") or "batch",
        "bucket": bucket,
        "total": int(result.total),
        "succeeded": int(result.successful),
        "failed": int(result.failed),
        "not_run": int(getattr(result, "not_run", 0)),
        "skipped": 0,
        "already_done": int(getattr(result, "already_done", 0)),
        "bytes": int(bytes_total),
        "bytes_transferred": int(bytes_total),
        "duration_seconds": round(float(result.duration), 3),
        "objects": [],
        "objects_truncated": False,
        "skipped_keys": [],
    }
    engine_report = getattr(result, "report_path", None)
    summary = _finish(summary, failure_list, max_items, None if engine_report else report)
    summary["failures_truncated"] = summary["failed"] > len(summary["failures"])
    if engine_report and report is not None:
        summary["failures_report"] = report.publish(engine_report) or None
    return summary


def aggregate_summaries(
    summaries: Iterable[Mapping[str, Any] | None], *, max_items: int = DEFAULT_MAX_ITEMS
) -> dict:
    """One summary for mapped tasks: counts and bytes summed, lists concatenated and capped.

    `duration_seconds` is the longest task's (tasks run side by side), `task_seconds` the sum.
    """
    parts = [s for s in summaries if s]
    operations = sorted({s.get("operation") or "" for s in parts})
    buckets = sorted({s.get("bucket") or "" for s in parts})
    out: dict[str, Any] = {
        "operation": operations[0] if len(operations) == 1 else ",".join(operations),
        "bucket": buckets[0] if len(buckets) == 1 else ",".join(buckets),
        "tasks": len(parts),
    }
    for name in (*_COUNTS, *_BYTES):
        out[name] = sum(int(s.get(name) or 0) for s in parts)
    durations = [float(s.get("duration_seconds") or 0) for s in parts]
    out["duration_seconds"] = round(max(durations, default=0.0), 3)
    out["task_seconds"] = round(sum(durations), 3)
    for name in ("objects", "skipped_keys", "failures"):
        merged = [item for s in parts for item in s.get(name) or []]
        out[name] = merged[:max_items]
        truncated = any(s.get(f"{name}_truncated") for s in parts) or len(merged) > max_items
        if name != "skipped_keys":
            out[f"{name}_truncated"] = truncated
    reports = []
    for s in parts:
        reports.extend(s.get("failures_report") or [])
    out["failures_report"] = reports or None
    duration = out["duration_seconds"]
    out["throughput_mib_s"] = (
        round(out["bytes_transferred"] / duration / MIB, 3) if duration > 0 else 0.0
    )
    return out
