"""OrbitSyncOperator: make a destination (local folder or S3 prefix) match a source.

Thin: it resolves the two locations, calls the core `sync` (transfer/tree_sync.py) with the
task's progress sink, and returns the same transfer summary as the upload and download
operators, plus what a dry run would send and delete.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from orbit_provider.operators.base import OrbitTaskError, is_unrendered
from orbit_provider.operators.transfer import _fail_on, _TransferOperator, check_write_options
from orbit_provider.s3.transfer.tree_sync import check_locations, sync


class OrbitSyncOperator(_TransferOperator):
    """Make ``dest`` hold what ``source`` holds: local folder -> S3 prefix, S3 prefix -> local
    folder, or S3 prefix -> S3 prefix (server-side copies, nothing through the worker).

    Identical files are skipped (same size and CRC32 / MD5, or with ``compare="size-mtime"``
    same size and a destination no older than the source), so a re-run moves only what
    changed, and a retried task skips what the failed try finished and resumes its large
    file. Transfers run many files at once on one pool (see OrbitUploadOperator).

    :param source: A local folder or ``s3://bucket/prefix`` (templated).
    :param dest: A local folder or ``s3://bucket/prefix`` (templated). An ``s3://`` location
        without a bucket's name is not accepted; the connection's ``bucket`` is not used.
    :param delete_extraneous: Also delete what ``dest`` holds that ``source`` does not (only
        within ``include``/``exclude``, and only when every transfer succeeded). Off by
        default; run once with ``dry_run=True`` to see the list first.
    :param dry_run: Change nothing; the summary's ``planned`` and ``would_delete`` list what
        would be sent and deleted.
    :param compare: ``"checksum"`` (default) or ``"size-mtime"``.
    :param include: / :param exclude: Glob(s) on paths relative to the source and dest.
    :param storage_class: / :param sse: For objects written to S3.
    :param max_concurrent_files: Files in flight at once (default 16).
    :param max_requests_per_second: One request-rate budget for the whole sync.
    :param max_bandwidth: Bytes per second for the whole sync (uploads and downloads).
    :return: A transfer summary (``transfer_summary`` keys) plus ``deleted``, ``planned``,
        ``would_delete`` (capped at ``max_items``), ``source``, ``dest`` and ``dry_run``.
    """

    lineage_arguments = {"source": "local_inputs", "dest": "local_outputs"}
    template_fields: Sequence[str] = (*_TransferOperator.template_fields, "source", "dest")

    def __init__(
        self,
        *,
        source: str | os.PathLike,
        dest: str | os.PathLike,
        delete_extraneous: bool = False,
        dry_run: bool = False,
        compare: str = "checksum",
        storage_class: str | None = None,
        sse: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = os.fspath(source) if isinstance(source, os.PathLike) else source
        self.dest = os.fspath(dest) if isinstance(dest, os.PathLike) else dest
        for name, value in (("delete_extraneous", delete_extraneous), ("dry_run", dry_run)):
            if not isinstance(value, bool):
                raise OrbitTaskError(f"{name}: {value!r} must be True or False",
                                     code="ConfigError")  # fmt: skip
        if not is_unrendered(self.source) and not is_unrendered(self.dest):
            self._fail_fast(lambda: check_locations(self.source, self.dest))
        self._fail_fast(lambda: check_write_options(storage_class, sse))
        self.delete_extraneous = delete_extraneous
        self.dry_run = dry_run
        self.compare = compare
        self.storage_class = storage_class
        self.sse = sse

    def execute(self, context: Any) -> dict:
        (src_bucket, src_prefix), (dst_bucket, dst_prefix) = self.run_checked(
            lambda: check_locations(self.source, self.dest)
        )
        # the client talks to the buckets the locations name (the connection gives credentials)
        self.bucket = dst_bucket or src_bucket
        client = self.transfer_client()
        self.log.info(
            "sync %s -> %s%s%s", self.source, self.dest,
            " (deleting extraneous files)" if self.delete_extraneous else "",
            " [dry run]" if self.dry_run else "",
        )  # fmt: skip

        def run(reporter: Any, report_path: str | None) -> Any:
            return sync(
                client, self.source, self.dest, delete_extraneous=self.delete_extraneous,
                dry_run=self.dry_run, compare_by=self.compare, storage_class=self.storage_class,
                sse=self.sse, progress=reporter, report_path=report_path, **self.tree_options(),
            )  # fmt: skip

        holder: dict[str, Any] = {}

        def keep(reporter: Any, report_path: str | None) -> Any:
            holder["result"] = result = run(reporter, report_path)
            return result

        operation = "download" if dst_bucket is None else "upload"
        summary = self.run_tree(context, client, operation, keep)
        result = holder["result"]
        summary.update(
            operation="sync",
            source=self.source,
            dest=self.dest,
            dry_run=self.dry_run,
            deleted=result.files_deleted,
            planned=[e.dest for e in result.entries if e.status == "would_send"],
            would_delete=[e.dest for e in result.entries if e.status == "would_delete"],
        )
        for bucket, path, side in ((src_bucket, src_prefix, "inputs"),
                                   (dst_bucket, dst_prefix, "outputs")):  # fmt: skip
            if bucket is None:
                self.add_lineage(**{f"local_{side}": [path]})
            else:
                self.add_lineage(**{side: [(bucket, path)]})
        _fail_on(summary, "sync")
        return summary
