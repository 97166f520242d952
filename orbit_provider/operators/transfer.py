"""Upload and download operators: a file, folder or glob to S3, and a key or prefix back.

Both are resumable across task retries on any worker (the core resumes from what S3 and the
destination hold; nothing is kept on the worker) and return a transfer summary.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orbit_provider.operators.base import OrbitBaseOperator, OrbitTaskError, is_template
from orbit_provider.operators.summary import (
    DEFAULT_MAX_ITEMS,
    ReportTarget,
    report_name,
    transfer_summary,
)
from orbit_provider.s3.config import ServerSideEncryption, StorageClass
from orbit_provider.s3.errors import S3Error
from orbit_provider.s3.progress import BatchProgress
from orbit_provider.s3.transfer.local_tree import plan_downloads, plan_uploads
from orbit_provider.s3.transfer.paths import safe_join


def _overrides(chunk_size: int | None, parallel_operations: int | None) -> dict[str, Any]:
    pairs = (("chunk_size", chunk_size), ("parallel_operations", parallel_operations))
    return {name: value for name, value in pairs if value is not None}


def check_write_options(storage_class: Any, sse: Any) -> None:
    """Parse storage class and encryption now (DAG parse time) unless they are templates."""
    if storage_class is not None and not is_template(storage_class):
        StorageClass.parse(storage_class)
    if sse is not None and not is_template(sse):
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_bandwidth = max_bandwidth
        self.chunk_size = chunk_size
        self.parallel_operations = parallel_operations
        self.max_items = max_items
        self.report_prefix = report_prefix

    def transfer_client(self):
        return self.get_client(**_overrides(self.chunk_size, self.parallel_operations))

    def _report(self, context: Any, client: Any, operation: str) -> ReportTarget | None:
        if self.report_prefix is None:
            return None
        return ReportTarget(
            client=client, prefix=self.report_prefix, name=report_name(context, operation)
        )


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
    :param skip_if_identical: Skip files whose object already has the same size and checksum
        (CRC32, composite CRC32 of the parts, or MD5 ETag): cheap re-runs and backfills.
    :param max_bandwidth: Bytes per second for each file's upload (default: the connection's).
    :param chunk_size: Part size in bytes (default: the connection's, else 5 MiB).
    :param parallel_operations: Parts in flight at once (default: the connection's, else 4).
    :param max_items: Per-object details and failures kept in the returned summary.
    :param report_prefix: When more than ``max_items`` objects fail, write the full failure
        list as JSON lines to ``<report_prefix><dag>/<run>/<task>...jsonl`` in the bucket.
    :param client_options: Other S3Config overrides for this task.
    :return: A transfer summary (``transfer_summary``): counts, bytes, throughput, per-object
        results (key, size, etag, version_id, parts, parts_resumed) and failures.
    """

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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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

    def _changed(
        self, client: Any, plan: list, skipped: list[str], failures: list[dict], reporter: Any
    ) -> list:
        """The planned files whose object is missing or different; identical ones go to
        `skipped`, files whose comparison failed to `failures`."""
        todo = []
        errors = 0
        for done, item in enumerate(plan, 1):
            try:
                same = client.local_matches_remote(item.path, item.key)
            except S3Error as exc:
                errors += 1
                failures.append({"key": item.key, "code": exc.code, "error": str(exc)})
            else:
                if same.identical:
                    self.log.info("skipping %s: %s", item.key, same.reason)
                    skipped.append(item.key)
                else:
                    todo.append(item)
            reporter.emit(BatchProgress("compare", done, done - errors, errors, total=len(plan)))
        return todo

    def execute(self, context: Any) -> dict:
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
        results: list[Any] = []
        failures: list[dict] = []
        skipped: list[str] = []
        started = time.monotonic()
        if self.skip_if_identical:
            planned = plan
            plan = self.run_core(
                context, lambda r: self._changed(client, planned, skipped, failures, r)
            )
            total = sum(item.size for item in plan)

        def run(reporter: Any) -> None:
            for item in plan:
                try:
                    results.append(
                        client.upload_file(
                            item.path, item.key, storage_class=self.storage_class, sse=self.sse,
                            metadata=metadata, content_type=self.content_type, tags=tags,
                            progress=reporter, max_bandwidth=self.max_bandwidth,
                        )  # fmt: skip
                    )
                except S3Error as exc:
                    self.log.error("upload of %s to %s failed: %s", item.path, item.key, exc)
                    failures.append({"key": item.key, "code": exc.code, "error": str(exc)})

        if plan or not self.skip_if_identical:
            self.run_core(context, run, total_bytes=total, total_objects=len(plan))
        written = [self.key] if self.key is not None else [self.prefix or ""]
        self.add_lineage(
            outputs=[(client.bucket, k) for k in written], local_inputs=[self.source]
        )
        summary = transfer_summary(
            results, operation="upload", bucket=client.bucket, failures=failures,
            skipped=skipped, duration=time.monotonic() - started, max_items=self.max_items,
            report=self._report(context, client, "upload"),
        )  # fmt: skip
        _fail_on(summary, "upload")
        return summary


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
    :param max_bandwidth: Bytes per second for each file (default: the connection's).
    :param chunk_size: Range size in bytes (default: the connection's, else 5 MiB).
    :param parallel_operations: Ranges in flight at once (default: the connection's, else 4).
    :param max_items: Per-object details and failures kept in the returned summary.
    :param report_prefix: See OrbitUploadOperator.
    :param client_options: Other S3Config overrides for this task.
    :return: A transfer summary with each object's key, local path, size and resumed bytes.
    """

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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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

    def _plan(self, client: Any) -> list[tuple[str, Path, int | None]]:
        if self.key is not None:
            dest = str(self.dest)
            target = Path(dest)
            if dest.endswith(("/", os.sep)) or target.is_dir():
                name = self.key.rstrip("/").rsplit("/", 1)[-1]
                target = safe_join(target, name)
            return [(self.key, target, None)]
        listing = ((o.key, o.size) for o in client.iter_objects(self.prefix or ""))
        return [(p.key, p.path, p.size) for p in plan_downloads(listing, self.prefix or "",
                                                                self.dest)]  # fmt: skip

    def execute(self, context: Any) -> dict:
        if not self.dest:
            raise OrbitTaskError("dest: a local destination is required", code="ConfigError")
        client = self.transfer_client()
        plan = self.run_checked(lambda: self._plan(client))
        sizes = [size for _, _, size in plan]
        total = sum(sizes) if None not in sizes else None
        self.log.info(
            "downloading %d object(s) from s3://%s/%s to %s",
            len(plan), client.bucket, self.key or self.prefix or "", self.dest,
        )  # fmt: skip
        results: list[Any] = []
        failures: list[dict] = []
        started = time.monotonic()

        def run(reporter: Any) -> None:
            for key, path, _ in plan:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    results.append(
                        client.download_file(
                            key, path, version_id=self.version_id, progress=reporter,
                            max_bandwidth=self.max_bandwidth,
                        )  # fmt: skip
                    )
                except S3Error as exc:
                    if self.key is not None:
                        raise  # a single key: the task error is the core error
                    self.log.error("download of %s to %s failed: %s", key, path, exc)
                    failures.append({"key": key, "code": exc.code, "error": str(exc)})
                except OSError as exc:
                    failures.append({"key": key, "code": "LocalWriteError", "error": str(exc)})

        self.run_core(context, run, total_bytes=total, total_objects=len(plan))
        read = self.key if self.key is not None else self.prefix or ""
        self.add_lineage(inputs=[(client.bucket, read)], local_outputs=[self.dest])
        summary = transfer_summary(
            results, operation="download", bucket=client.bucket, failures=failures,
            duration=time.monotonic() - started, max_items=self.max_items,
            report=self._report(context, client, "download"),
        )  # fmt: skip
        _fail_on(summary, "download")
        return summary
