"""Upload and download operators: a file, folder or glob to S3, and a key or prefix back.

Both are resumable across task retries on any worker (the core resumes from what S3 and the
destination hold; nothing is kept on the worker) and return a transfer summary.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orbit_provider.operators.base import (
    OrbitBaseOperator,
    OrbitTaskError,
    is_unrendered,
)
from orbit_provider.operators.summary import (
    DEFAULT_MAX_ITEMS,
    ReportTarget,
    report_name,
    transfer_summary,
)
from orbit_provider.s3.config import ServerSideEncryption, StorageClass
from orbit_provider.s3.transfer.local_tree import check_patterns, plan_uploads
from orbit_provider.s3.transfer.paths import make_parent, safe_join
from orbit_provider.s3.transfer.tree import download_tree, upload_tree
from orbit_provider.s3.transfer.tree_result import FAILED, SENT, SKIPPED, TreeResult


def _overrides(chunk_size: int | None, parallel_operations: int | None) -> dict[str, Any]:
    pairs = (("chunk_size", chunk_size), ("parallel_operations", parallel_operations))
    return {name: value for name, value in pairs if value is not None}


def check_write_options(storage_class: Any, sse: Any) -> None:
    """Parse storage class and encryption now (DAG parse time) unless they are templates or
    XCom values (parsed again at execute)."""
    if storage_class is not None and not is_unrendered(storage_class):
        StorageClass.parse(storage_class)
    if sse is not None and not is_unrendered(sse):
        ServerSideEncryption.parse(sse)


def _fail_on(summary: dict, operation: str) -> None:
    """Fail the task when objects failed; the message names the first keys and errors."""
    if not summary["failed"]:
        return
    shown = "; ".join(f"{f['key']}: {f['error']}" for f in summary["failures"][:5])
    more = summary["failed"] - min(5, len(summary["failures"]))
    raise OrbitTaskError(
        f"{operation}: {summary['failed']} of {summary['total']} object(s) failed "
        f"({summary['succeeded']} succeeded, {summary['skipped']} skipped): {shown}"
        + (f" (and {more} more)" if more > 0 else "")
        + (f"; full list: {summary['failures_report']}" if summary["failures_report"] else ""),
        code=summary["failures"][0].get("code") if summary["failures"] else None,
    )


def _object_entry(entry: Any, operation: str) -> dict:
    """A tree outcome in the summary's per-object shape (key, size, etag, ...)."""
    key = entry.source if operation == "download" else entry.dest
    item: dict[str, Any] = {"key": key, "size": entry.size, "etag": entry.etag,
                            "version_id": entry.version_id}  # fmt: skip
    for name in ("parts", "resumed_bytes", "verification"):
        value = getattr(entry, name)
        if value not in (None, 0, ""):
            item[name] = value
    if operation == "download":
        item["path"] = entry.dest
    return item


def tree_summary(
    result: TreeResult,
    *,
    operation: str,
    bucket: str,
    max_items: int,
    report: ReportTarget | None,
) -> dict:
    """The transfer summary (same keys as `transfer_summary`) of a core TreeResult. Failures
    beyond `max_items` are read back from the result's JSON Lines report for `report`."""
    entries = sorted(result.entries, key=lambda e: (e.source, e.dest))
    side = "source" if operation == "download" else "dest"  # which side is the object key
    failures = [{"key": getattr(e, side), "code": e.code, "error": e.reason}
                for e in entries if e.status == FAILED]  # fmt: skip
    if result.files_failed > len(failures) and result.report_path:
        failures = _failures_from_report(result.report_path, side)
    summary = transfer_summary(
        [], operation=operation, bucket=bucket, failures=failures,
        duration=result.duration, max_items=max_items, report=report,
    )  # fmt: skip
    sent = [_object_entry(e, operation) for e in entries if e.status == SENT]
    skipped = [getattr(e, side) for e in entries if e.status == SKIPPED]
    summary.update(
        total=result.files_total,
        succeeded=result.files_sent,
        skipped=result.files_skipped,
        failed=result.files_failed,
        bytes=result.size_sent,
        bytes_transferred=result.bytes_sent,
        objects=sent[:max_items],
        objects_truncated=result.files_sent > len(sent[:max_items]),
        skipped_keys=skipped[:max_items],
        verification=dict(result.verification),
    )
    duration = summary["duration_seconds"]
    rate = result.bytes_sent / duration / 2**20 if duration else 0.0
    summary["throughput_mib_s"] = round(rate, 3)
    return summary


def _failures_from_report(path: str, side: str) -> list[dict]:
    """Every failure of a tree from its JSON Lines report."""
    failures = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            entry = json.loads(line)
            if entry.get("status") == FAILED:
                failures.append({"key": entry.get(side), "code": entry.get("code"),
                                 "error": entry.get("reason")})  # fmt: skip
    return failures


class _TransferOperator(OrbitBaseOperator):
    """Shared arguments of the transfer operators (see the subclasses' docstrings)."""

    def __init__(
        self,
        *,
        max_bandwidth: int | None = None,
        chunk_size: int | None = None,
        parallel_operations: int | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
        report_prefix: str | None = None,
        include: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        max_concurrent_files: int | None = None,
        max_requests_per_second: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_bandwidth = max_bandwidth
        self.chunk_size = chunk_size
        self.parallel_operations = parallel_operations
        self.max_items = max_items
        self.report_prefix = report_prefix
        for name, value in (("include", include), ("exclude", exclude)):
            if not is_unrendered(value):
                self._fail_fast(lambda name=name, value=value: check_patterns(name, value))
        self.include = include
        self.exclude = exclude
        self.max_concurrent_files = max_concurrent_files
        self.max_requests_per_second = max_requests_per_second

    def transfer_client(self):
        return self.get_client(**_overrides(self.chunk_size, self.parallel_operations))

    def _report(self, context: Any, client: Any, operation: str) -> ReportTarget | None:
        if self.report_prefix is None:
            return None
        return ReportTarget(
            client=client, prefix=self.report_prefix, name=report_name(context, operation)
        )

    def tree_options(self) -> dict[str, Any]:
        """The core tree arguments these operators share."""
        return {
            "include": self.include,
            "exclude": self.exclude,
            "workers": self.max_concurrent_files,
            "max_bandwidth": self.max_bandwidth,
            "max_requests_per_second": self.max_requests_per_second,
            "max_entries": self.max_items,
        }

    def run_tree(self, context: Any, client: Any, operation: str, fn: Any, **sink: Any) -> dict:
        """Run a core tree call `fn(reporter, report_path)` with progress and return its
        summary; the full outcome list goes to a temporary JSON Lines file when failures may
        need reporting beyond `max_items`."""
        with tempfile.TemporaryDirectory(prefix="orbit-tree-") as folder:
            path = os.path.join(folder, "outcomes.jsonl") if self.report_prefix else None
            result = self.run_core(context, lambda reporter: fn(reporter, path), **sink)
            return tree_summary(result, operation=operation, bucket=client.bucket,
                                max_items=self.max_items,
                                report=self._report(context, client, operation))  # fmt: skip


class OrbitUploadOperator(_TransferOperator):
    """Upload a local file, a folder (recursively) or a glob to S3.

    Parallel multipart, verified (CRC32 per part and for the whole object), and resumable:
    when a try fails mid-upload, the multipart upload is kept and the next try (on any
    worker) continues it, re-sending only the parts S3 does not hold yet.

    :param source: A local file, a folder (uploaded recursively) or a glob pattern such as
        ``/data/**/*.csv`` (templated).
    :param bucket: Destination bucket (templated; default: the connection's ``bucket``).
    :param key: Destination key for a single file (templated). Exclusive with ``prefix``.
    :param prefix: Destination prefix (templated): a folder's files go to prefix + their path
        relative to the folder (forward slashes), a glob's to prefix + their path relative to
        the pattern's wildcard-free leading folder, a single file to prefix + its name.
    :param storage_class: e.g. ``"STANDARD_IA"``, ``"INTELLIGENT_TIERING"``, ``"GLACIER"``.
    :param sse: ``"AES256"``, ``"aws:kms"`` or ``"aws:kms:<key id>"``.
    :param metadata: User metadata for every object (templated).
    :param tags: Object tags for every object (templated; at most 10).
    :param content_type: Content type for every object (default: none sent).
    :param replace: When False, never overwrite: a file whose key holds an object fails
        (PreconditionFailed) and is not sent, atomically on AWS (If-None-Match: * on the PUT
        or the multipart completion; a HEAD or listing first catches stores that ignore the
        condition, which is then not atomic). Default True (the amazon provider's
        LocalFilesystemToS3Operator defaults to False).
    :param skip_if_identical: Skip files whose object already has the same size and checksum
        (CRC32, composite CRC32 of the parts, or MD5 ETag): cheap re-runs and backfills.
    :param max_bandwidth: Bytes per second for each file's upload (default: the connection's).
    :param chunk_size: Part size in bytes (default: the connection's, else 5 MiB).
    :param parallel_operations: Most parts in flight at once (default: the connection's, else
        32; an upload starts with 8 and adds more while they pay).
    :param max_items: Per-object details and failures kept in the returned summary.
    :param report_prefix: When more than ``max_items`` objects fail, write the full failure
        list as JSON lines to ``<report_prefix><dag>/<run>/<task>...jsonl`` in the bucket.
    :param include: Glob(s) a folder's or glob's files must match, relative to the folder
        (``*`` crosses ``/``; a pattern without ``/`` also matches the file name alone).
    :param exclude: Glob(s) of files to leave out (wins over ``include``).
    :param max_concurrent_files: Files in flight at once for a folder or glob (default 16; a
        large file's parts count against it).
    :param max_requests_per_second: One request-rate budget for the whole folder.
    :param client_options: Other S3Config overrides for this task.
    :return: A transfer summary (``transfer_summary``): counts, bytes, throughput, per-object
        results (key, size, etag, version_id, parts, parts_resumed) and failures.

    A folder or glob runs as one core ``upload_tree``: many small files at once (one PUT
    each), large ones split into parts, one connection pool and bandwidth limit. A failed
    file is reported and the others go on; an error that would fail every file (refused
    credentials, a missing bucket) stops the task at once with one error.
    """

    lineage_arguments = {"source": "local_inputs", "key": "outputs", "prefix": "outputs"}
    template_fields: Sequence[str] = (
        *OrbitBaseOperator.template_fields,
        "source",
        "key",
        "prefix",
        "metadata",
        "tags",
        "content_type",
        "storage_class",
    )
    template_fields_renderers = {"metadata": "json", "tags": "json"}

    def __init__(
        self,
        *,
        source: str | os.PathLike,
        key: str | None = None,
        prefix: str | None = None,
        storage_class: str | None = None,
        sse: str | None = None,
        metadata: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        content_type: str | None = None,
        skip_if_identical: bool = False,
        replace: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(replace, bool):
            raise OrbitTaskError(f"replace: {replace!r} must be True or False", code="ConfigError")
        self.replace = replace
        if key is not None and prefix is not None:
            raise OrbitTaskError("key and prefix: give one of them, not both", code="ConfigError")
        if key is None and prefix is None:
            raise OrbitTaskError(
                "key or prefix: give the destination key (one file) or a prefix",
                code="ConfigError",
            )
        self._fail_fast(lambda: check_write_options(storage_class, sse))
        self.source = os.fspath(source) if isinstance(source, os.PathLike) else source
        self.key = key
        self.prefix = prefix
        self.storage_class = storage_class
        self.sse = sse
        self.metadata = metadata
        self.tags = tags
        self.content_type = content_type
        self.skip_if_identical = skip_if_identical

    def execute(self, context: Any) -> dict:
        self.take_urls("key", "prefix")
        plan = self.run_checked(lambda: plan_uploads(self.source, key=self.key, prefix=self.prefix))
        client = self.transfer_client()
        metadata = dict(self.metadata) if self.metadata else None
        tags = dict(self.tags) if self.tags else None
        # storage class, encryption, metadata and tags are checked here, before any request
        self.run_checked(
            lambda: client.write_args(self.storage_class, self.sse, metadata, self.content_type,
                                      tags)  # fmt: skip
        )
        total = sum(item.size for item in plan)
        self.log.info(
            "uploading %d file(s), %.1f MiB, from %s to s3://%s/%s",
            len(plan), total / 2**20, self.source, client.bucket, self.key or self.prefix or "",
        )  # fmt: skip
        write = {"storage_class": self.storage_class, "sse": self.sse, "metadata": metadata,
                 "content_type": self.content_type, "tags": tags}  # fmt: skip
        if self.key is not None:
            summary = self._upload_one(context, client, plan[0], write)
        else:
            summary = self.run_tree(
                context, client, "upload",
                lambda reporter, report_path: upload_tree(
                    client, self.source, self.prefix or "", skip_identical=self.skip_if_identical,
                    progress=reporter, report_path=report_path, if_none_match=not self.replace,
                    **write, **self.tree_options(),
                ),
                total_bytes=None if self.skip_if_identical else total, total_objects=len(plan),
            )  # fmt: skip
        written = [self.key] if self.key is not None else [self.prefix or ""]
        self.add_lineage(
            outputs=[(client.bucket, k) for k in written], local_inputs=[self.source]
        )
        _fail_on(summary, "upload")
        return summary

    def _upload_one(self, context: Any, client: Any, item: Any, write: dict) -> dict:
        """One file to one key (the resumable multipart path above chunk_size)."""
        started = time.monotonic()
        results: list[Any] = []
        skipped: list[str] = []
        if self.skip_if_identical:
            same = self.run_checked(lambda: client.local_matches_remote(item.path, item.key))
            if same.identical:
                self.log.info("skipping %s: %s", item.key, same.reason)
                skipped.append(item.key)
        if not skipped:
            results.append(self.run_core(
                context,
                lambda reporter: client.upload_file(
                    item.path, item.key, progress=reporter, max_bandwidth=self.max_bandwidth,
                    if_none_match=not self.replace, **write,
                ),
                total_bytes=item.size, total_objects=1,
            ))  # fmt: skip
        return transfer_summary(
            results, operation="upload", bucket=client.bucket, skipped=skipped,
            duration=time.monotonic() - started, max_items=self.max_items,
        )  # fmt: skip


class OrbitDownloadOperator(_TransferOperator):
    """Download a key to a local file, or every key under a prefix to a local folder.

    Parallel ranged GETs, verified, atomic (the destination never holds a partial file) and
    resumable: a retried try continues from what the failed one wrote to its temporary file.

    :param bucket: Source bucket (templated; default: the connection's ``bucket``).
    :param key: The key to download (templated). Exclusive with ``prefix``.
    :param prefix: Download every key under this prefix (templated); each goes to
        ``dest/<key without the prefix>``. Keys that would escape ``dest`` (``../x``,
        absolute, through a symlink) are refused before anything is downloaded.
    :param dest: Local destination (templated): a file path for ``key`` (an existing folder
        or a path ending in ``/`` receives the key's base name), a folder for ``prefix``.
        Missing parent folders are created.
    :param version_id: Download this version of ``key`` (templated).
    :param require_verification: Fail an object, before writing anything, when only its size
        can be checked (no CRC32 and no usable MD5 ETag; default: the connection's, else
        False, which logs a warning naming the key). Each object's summary entry says which
        check ran (``verification``: ``crc32``, ``crc32-composite``, ``md5`` or ``size``).
    :param skip_if_identical: With ``prefix``, skip objects whose local file already holds
        the same bytes (same size and CRC32 / MD5): a retried task skips finished files and
        resumes the partial large one.
    :param include: / :param exclude: Glob(s) on the key below the prefix (see the upload).
    :param max_concurrent_files: Objects in flight at once under a prefix (default 16).
    :param max_requests_per_second: One request-rate budget for the whole prefix.
    :param max_bandwidth: Bytes per second (default: the connection's).
    :param chunk_size: Range size in bytes (default: the connection's, else 5 MiB).
    :param parallel_operations: Ranges in flight at once (default: the connection's, else 32).
    :param max_items: Per-object details and failures kept in the returned summary.
    :param report_prefix: See OrbitUploadOperator.
    :param client_options: Other S3Config overrides for this task.
    :return: A transfer summary with each object's key, local path, size and resumed bytes.
    """

    lineage_arguments = {"key": "inputs", "prefix": "inputs", "dest": "local_outputs"}
    template_fields: Sequence[str] = (
        *OrbitBaseOperator.template_fields,
        "key",
        "prefix",
        "dest",
        "version_id",
    )

    def __init__(
        self,
        *,
        dest: str | os.PathLike,
        key: str | None = None,
        prefix: str | None = None,
        version_id: str | None = None,
        require_verification: bool | None = None,
        skip_if_identical: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.skip_if_identical = skip_if_identical
        if key is not None and prefix is not None:
            raise OrbitTaskError("key and prefix: give one of them, not both", code="ConfigError")
        if key is None and prefix is None:
            raise OrbitTaskError(
                "key or prefix: give the key to download or a prefix", code="ConfigError"
            )
        if require_verification is not None and not isinstance(require_verification, bool):
            raise OrbitTaskError(
                f"require_verification: {require_verification!r} must be True or False",
                code="ConfigError",
            )
        self.require_verification = require_verification
        if version_id is not None and key is None:
            raise OrbitTaskError(
                "version_id: only valid with key, not with prefix", code="ConfigError"
            )
        self.dest = os.fspath(dest) if isinstance(dest, os.PathLike) else dest
        self.key = key
        self.prefix = prefix
        self.version_id = version_id

    def transfer_client(self):
        overrides = _overrides(self.chunk_size, self.parallel_operations)
        if self.require_verification is not None:
            overrides["require_verification"] = self.require_verification
        return self.get_client(**overrides)

    def _target(self) -> Path:
        dest = str(self.dest)
        target = Path(dest)
        if dest.endswith(("/", os.sep)) or target.is_dir():
            name = self.key.rstrip("/").rsplit("/", 1)[-1]
            target = safe_join(target, name)
        return target

    def execute(self, context: Any) -> dict:
        if not self.dest:
            raise OrbitTaskError("dest: a local destination is required", code="ConfigError")
        self.take_urls("key", "prefix")
        client = self.transfer_client()
        self.log.info(
            "downloading from s3://%s/%s to %s",
            client.bucket, self.key or self.prefix or "", self.dest,
        )  # fmt: skip
        if self.key is not None:
            summary = self._download_one(context, client, self.run_checked(self._target))
        else:
            summary = self.run_tree(
                context, client, "download",
                lambda reporter, report_path: download_tree(
                    client, self.prefix or "", self.dest, skip_identical=self.skip_if_identical,
                    progress=reporter, report_path=report_path, **self.tree_options(),
                ),
            )  # fmt: skip
        read = self.key if self.key is not None else self.prefix or ""
        self.add_lineage(inputs=[(client.bucket, read)], local_outputs=[self.dest])
        _fail_on(summary, "download")
        return summary

    def _download_one(self, context: Any, client: Any, target: Path) -> dict:
        """One key to one file (resumable, ranged, version-pinned); its errors fail the task."""
        started = time.monotonic()

        def run(reporter: Any) -> Any:
            make_parent(target)  # a file in the way is named, not "[Errno 17] File exists"
            return client.download_file(
                self.key, target, version_id=self.version_id, progress=reporter,
                max_bandwidth=self.max_bandwidth,
            )  # fmt: skip

        result = self.run_core(context, run, total_objects=1)
        return transfer_summary(
            [result], operation="download", bucket=client.bucket,
            duration=time.monotonic() - started, max_items=self.max_items,
        )  # fmt: skip
