"""`sync(session, source, dest)`: make `dest` hold what `source` holds.

`source` and `dest` are each a local folder or an `s3://bucket/prefix` URL: local -> S3 runs
upload_tree, S3 -> local download_tree, S3 -> S3 `copy_tree` (server-side copies through
transfer/copy.py; nothing passes through this machine). Identical files are always skipped.
`delete_extraneous` (off by default) also deletes what `dest` holds that `source` does not,
only after every transfer succeeded; a dry run lists those deletions first.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orbit_provider.s3.config import ServerSideEncryption, StorageClass, validate_bucket_name
from orbit_provider.s3.errors import ConfigError, S3Error
from orbit_provider.s3.models import ObjectSummary
from orbit_provider.s3.progress import ProgressReporter
from orbit_provider.s3.transfer import copy
from orbit_provider.s3.transfer.local_tree import check_patterns, relative_key, selected
from orbit_provider.s3.transfer.tree import (
    check_compare,
    delete_objects,
    download_tree,
    upload_tree,
)
from orbit_provider.s3.transfer.tree_result import (
    DEFAULT_MAX_ENTRIES,
    SENT,
    SKIPPED,
    WOULD_SEND,
    FileOutcome,
    TreeRecorder,
    TreeResult,
)
from orbit_provider.s3.transfer.tree_run import TreeRun, session_view

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session


def parse_location(location: str | os.PathLike) -> tuple[str | None, str]:
    """(bucket, prefix) for `s3://bucket/prefix`, (None, path) for a local folder."""
    if isinstance(location, os.PathLike):
        return None, os.fspath(location)
    if not isinstance(location, str) or not location:
        raise ConfigError(f"location: {location!r} must be a local folder or s3://bucket/prefix")
    if location.startswith("s3://"):
        bucket, _, prefix = location[5:].partition("/")
        return validate_bucket_name(bucket), prefix
    if "://" in location:
        raise ConfigError(f"location: {location!r}: only local paths and s3:// URLs are known")
    return None, location


def check_locations(
    source: str | os.PathLike, dest: str | os.PathLike
) -> tuple[tuple[str | None, str], tuple[str | None, str]]:
    """Both locations parsed, refusing a pair with no S3 side (before any request)."""
    src, dst = parse_location(source), parse_location(dest)
    if src[0] is None and dst[0] is None:
        raise ConfigError("sync: source and dest are both local; one of them must be s3://")
    return src, dst


def sync(
    session: S3Session,
    source: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    delete_extraneous: bool = False,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    compare_by: str = "checksum",
    dry_run: bool = False,
    workers: int | None = None,
    storage_class: StorageClass | str | None = None,
    sse: ServerSideEncryption | str | None = None,
    progress: ProgressReporter | None = None,
    max_bandwidth: int | None = None,
    max_requests_per_second: float | None = None,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    report_path: str | os.PathLike | None = None,
    durable: bool = True,
) -> TreeResult:
    """Make `dest` match `source` (see the module doc); -> TreeResult."""
    if not isinstance(delete_extraneous, bool):
        raise ConfigError(f"delete_extraneous: {delete_extraneous!r} must be True or False")
    (src_bucket, src_path), (dst_bucket, dst_path) = check_locations(source, dest)
    common: dict[str, Any] = dict(
        include=include, exclude=exclude, compare_by=compare_by, dry_run=dry_run,
        workers=workers, progress=progress, max_bandwidth=max_bandwidth,
        max_requests_per_second=max_requests_per_second, max_entries=max_entries,
        report_path=report_path, delete_extraneous=delete_extraneous,
    )  # fmt: skip
    if src_bucket is None:
        view = _on_bucket(session, dst_bucket)
        return upload_tree(view, src_path, dst_path, skip_identical=True,
                           storage_class=storage_class, sse=sse, **common)  # fmt: skip
    if dst_bucket is None:
        view = _on_bucket(session, src_bucket)
        return download_tree(view, src_path, dst_path, skip_identical=True, durable=durable,
                             **common)  # fmt: skip
    return copy_tree(session, src_bucket, src_path, dst_bucket, dst_path,
                     storage_class=storage_class, sse=sse, **common)  # fmt: skip


def _on_bucket(session: S3Session, bucket: str | None) -> S3Session:
    return session_view(session, bucket=bucket)


def copy_tree(
    session: S3Session,
    src_bucket: str,
    src_prefix: str,
    dst_bucket: str,
    dst_prefix: str,
    *,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    compare_by: str = "checksum",
    dry_run: bool = False,
    workers: int | None = None,
    storage_class: StorageClass | str | None = None,
    sse: ServerSideEncryption | str | None = None,
    progress: ProgressReporter | None = None,
    max_bandwidth: int | None = None,
    max_requests_per_second: float | None = None,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    report_path: str | os.PathLike | None = None,
    delete_extraneous: bool = False,
) -> TreeResult:
    """Server-side copy of every object under `src_prefix` to `dst_prefix` + its relative key,
    skipping objects the destination already holds (same size and ETag, or with
    `compare_by="size-mtime"` same size and a copy no older than the source)."""
    del max_bandwidth  # server-side copies move no bytes through this machine
    check_compare(compare_by)
    inc, exc = check_patterns("include", include), check_patterns("exclude", exclude)
    if src_bucket == dst_bucket and _overlap(src_prefix, dst_prefix):
        raise ConfigError(
            f"sync: s3://{src_bucket}/{src_prefix} and s3://{dst_bucket}/{dst_prefix} overlap; "
            "a copy into its own source would copy its copies"
        )
    session.write_args(storage_class, sse)  # checked before any request
    recorder = TreeRecorder(
        "copy", f"s3://{src_bucket}/{src_prefix}", f"s3://{dst_bucket}/{dst_prefix}",
        dry_run=dry_run, max_entries=max_entries, report_path=report_path,
    )  # fmt: skip
    run = TreeRun(
        session, recorder, operation="copy", workers=workers, progress=progress,
        max_bandwidth=None, max_requests_per_second=max_requests_per_second,
    )  # fmt: skip
    src_view, dst_view = run.view(src_bucket), run.view(dst_bucket)
    sources = [
        o for o in src_view.iter_objects(src_prefix)
        if not o.key.endswith("/") and selected(relative_key(o.key, src_prefix), inc, exc)
    ]  # fmt: skip
    existing = {o.key: o for o in dst_view.iter_objects(dst_prefix)}
    planned = [(o, dst_prefix + relative_key(o.key, src_prefix)) for o in sources]

    def work(pair: tuple[ObjectSummary, str]) -> FileOutcome:
        src, dst_key = pair
        where = f"s3://{src_bucket}/{src.key}"
        same = _same_copy(src, existing.get(dst_key), compare_by)
        if same is not None:
            return FileOutcome(where, dst_key, SKIPPED, size=src.size, reason=same)
        if dry_run:
            return FileOutcome(where, dst_key, WOULD_SEND, size=src.size)
        tid = run.started(dst_key, src.size)
        try:
            res = copy.copy_object(
                dst_view, src.key, dst_key, src_bucket, dst_bucket=dst_bucket,
                storage_class=storage_class, sse=sse,
            )  # fmt: skip
        except S3Error as error:
            run.failed(tid, dst_key, error)
            return run.fail(where, dst_key, src.size, error)
        run.completed(tid, dst_key, src.size)
        return FileOutcome(where, dst_key, SENT, size=src.size, bytes=src.size,
                           verification="server-side", etag=res.etag,
                           version_id=res.version_id)  # fmt: skip

    run.expect(len(planned), sum(o.size for o, _ in planned))
    run.run(planned, work, lambda pair: 1)
    if delete_extraneous:
        wanted = {dst for _, dst in planned}
        extra = [
            o for k, o in sorted(existing.items())
            if k not in wanted and not k.endswith("/")
            and selected(relative_key(k, dst_prefix), inc, exc)
        ]  # fmt: skip
        delete_objects(dst_view, recorder, extra, dry_run)
    return recorder.result()


def _overlap(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def _same_copy(src: ObjectSummary, dst: ObjectSummary | None, compare_by: str) -> str | None:
    if dst is None or dst.size != src.size:
        return None
    if compare_by == "size-mtime":
        if (
            dst.last_modified is not None
            and src.last_modified is not None
            and dst.last_modified >= src.last_modified
        ):
            return "same size, copy not older than the source"
        return None
    if src.etag and src.etag == dst.etag:
        return "same size and ETag"
    return None
