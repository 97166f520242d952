"""What a tree transfer (upload_tree, download_tree, sync) did, file by file and in total.

`TreeRecorder` collects one `FileOutcome` per file from many worker threads: it keeps the
counts and bytes, the first `max_entries` outcomes (so a million-file tree does not hold a
million entries in memory or in an XCom), and, when asked, writes every outcome as one JSON
line to a report file as it goes. `TreeResult` is the frozen summary it produces.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

#: outcome statuses: done by this call, left alone, failed, or (dry run) what would happen
SENT, SKIPPED, FAILED, DELETED = "sent", "skipped", "failed", "deleted"
WOULD_SEND, WOULD_DELETE = "would_send", "would_delete"
DEFAULT_MAX_ENTRIES = 100


@dataclass(frozen=True)
class FileOutcome:
    """One file or object of a tree transfer.

    `source` and `dest` are a local path or an object key; `bytes` were moved by this call;
    `verification` names the check the stored or written bytes passed ("crc32", "md5",
    "size", ...); `reason` says why a file was skipped, deleted or failed, `code` the error kind.
    """

    source: str
    dest: str
    status: str
    size: int = 0
    bytes: int = 0
    verification: str | None = None
    reason: str | None = None
    code: str | None = None
    etag: str | None = None
    version_id: str | None = None
    resumed_bytes: int = 0
    parts: int = 0  # parts of a multipart upload (0: a single request)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form without the empty fields."""
        return {k: v for k, v in asdict(self).items() if v not in (None, 0) or k == "size"}


@dataclass(frozen=True)
class TreeResult:
    """Totals of a tree transfer and its first `max_entries` outcomes (failures first).

    `files_sent` and `bytes_sent` count what this call moved (resumed bytes are not counted
    in `bytes_sent`); `files_planned` and `files_would_delete` are what a dry run would send
and delete (deletions are not counted in `files_total`); `report_path` holds every
    outcome as JSON Lines when one was asked for.
    """

    operation: str
    source: str
    dest: str
    dry_run: bool
    files_total: int
    files_sent: int
    files_skipped: int
    files_failed: int
    files_deleted: int
    files_planned: int
    files_would_delete: int
    bytes_sent: int
    bytes_skipped: int
    bytes_planned: int
    size_sent: int  # total size of the files sent (bytes resumed from an earlier try included)
    duration: float
    entries: tuple[FileOutcome, ...]
    entries_truncated: bool
    verification: dict[str, int] = field(default_factory=dict)
    report_path: str | None = None

    @property
    def ok(self) -> bool:
        """No file failed."""
        return self.files_failed == 0

    @property
    def failures(self) -> list[FileOutcome]:
        """The failed outcomes among the kept entries."""
        return [e for e in self.entries if e.status == FAILED]

    @property
    def throughput(self) -> float:
        """Bytes sent per second over the whole call."""
        return self.bytes_sent / self.duration if self.duration > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        d = {name: getattr(self, name) for name in self.__dataclass_fields__}
        d["entries"] = [e.to_dict() for e in self.entries]
        d["throughput"] = self.throughput
        return d


class TreeRecorder:
    """Thread-safe accumulator of FileOutcomes (see the module doc)."""

    def __init__(
        self,
        operation: str,
        source: str,
        dest: str,
        *,
        dry_run: bool = False,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        report_path: str | os.PathLike | None = None,
    ) -> None:
        self.operation, self.source, self.dest, self.dry_run = operation, source, dest, dry_run
        self.max_entries = max(0, int(max_entries))
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._counts = {SENT: 0, SKIPPED: 0, FAILED: 0, DELETED: 0, WOULD_SEND: 0, WOULD_DELETE: 0}
        self._bytes = {SENT: 0, SKIPPED: 0, WOULD_SEND: 0, "size_sent": 0}
        self._verification: dict[str, int] = {}
        self._entries: list[FileOutcome] = []
        self._failures: list[FileOutcome] = []
        self._dropped = False
        self._report_path = Path(report_path) if report_path is not None else None
        self._report: IO[str] | None = None
        if self._report_path is not None:
            self._report_path.parent.mkdir(parents=True, exist_ok=True)
            self._report = open(self._report_path, "w", encoding="utf-8")  # noqa: SIM115

    def add(self, outcome: FileOutcome) -> FileOutcome:
        """Record one outcome (any thread); returns it."""
        line = json.dumps(outcome.to_dict(), sort_keys=True) + "\n" if self._report else None
        with self._lock:
            self._counts[outcome.status] = self._counts.get(outcome.status, 0) + 1
            if outcome.status == SENT:
                self._bytes[SENT] += outcome.bytes
                self._bytes["size_sent"] += outcome.size
            elif outcome.status == SKIPPED:
                self._bytes[SKIPPED] += outcome.size
            elif outcome.status == WOULD_SEND:
                self._bytes[WOULD_SEND] += outcome.size
            if outcome.verification and outcome.status == SENT:
                v = outcome.verification
                self._verification[v] = self._verification.get(v, 0) + 1
            if outcome.status == FAILED and len(self._failures) < self.max_entries:
                self._failures.append(outcome)
            elif outcome.status != FAILED and len(self._entries) < self.max_entries:
                self._entries.append(outcome)
            else:
                self._dropped = True
            if line is not None and self._report is not None:
                self._report.write(line)
        return outcome

    def count(self, status: str) -> int:
        with self._lock:
            return self._counts.get(status, 0)

    def close(self) -> None:
        """Close the report file (idempotent)."""
        with self._lock:
            if self._report is not None:
                self._report.close()
                self._report = None

    def result(self) -> TreeResult:
        """The TreeResult so far (closes the report file)."""
        self.close()
        with self._lock:
            c, b = self._counts, self._bytes
            kept = (self._failures + self._entries)[: self.max_entries]
            truncated = self._dropped or len(self._failures) + len(self._entries) > len(kept)
            return TreeResult(
                operation=self.operation,
                source=self.source,
                dest=self.dest,
                dry_run=self.dry_run,
                files_total=c[SENT] + c[SKIPPED] + c[FAILED] + c[WOULD_SEND],
                files_sent=c[SENT],
                files_skipped=c[SKIPPED],
                files_failed=c[FAILED],
                files_deleted=c[DELETED],
                files_planned=c[WOULD_SEND],
                files_would_delete=c[WOULD_DELETE],
                bytes_sent=b[SENT],
                bytes_skipped=b[SKIPPED],
                bytes_planned=b[WOULD_SEND],
                size_sent=b["size_sent"],
                duration=max(time.monotonic() - self._started, 1e-9),
                entries=tuple(kept),
                entries_truncated=truncated,
                verification=dict(self._verification),
                report_path=str(self._report_path) if self._report_path else None,
            )
