"""Whole folders and prefixes: `upload_tree` (local -> S3) and `download_tree` (S3 -> local).

Planning first, before any transfer (transfer/local_tree.py: which file goes to which key,
keys that would escape the folder refused, include/exclude globs). Then every file runs on
one shared pool (tree_run.py). Small files take the short path: one PUT with its checksum
(upload.upload_file below chunk_size), or one GET straight to a temp file, verified, made
durable in batches and renamed (small_download.py). Large files keep the resumable,
ranged, version-pinned paths (upload.upload_file, download.download_file), so a killed tree,
run again, skips the files already identical (`skip_identical`) and resumes the large one it
was in the middle of. An error that would fail every file stops the tree (TreeStopped); any
other failure is recorded for its file and the rest go on.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from orbit_provider.s3.config import ServerSideEncryption, StorageClass
from orbit_provider.s3.errors import ConfigError, NotFound, PreconditionFailed, S3Error
from orbit_provider.s3.models import ObjectSummary
from orbit_provider.s3.progress import ProgressReporter
from orbit_provider.s3.transfer import compare, download, upload
from orbit_provider.s3.transfer.download_plan import MIN_RANGE_SIZE
from orbit_provider.s3.transfer.download_state import STATE_SUFFIX, TEMP_SUFFIX
from orbit_provider.s3.transfer.local_tree import (
    PlannedDownload,
    PlannedUpload,
    check_patterns,
    plan_downloads,
    plan_uploads,
    relative_key,
    selected,
)
from orbit_provider.s3.transfer.small_download import (
    SMALL_SUFFIX,
    DurableBatch,
    NeedsLargePath,
    SmallFetch,
    fetch_small,
)
from orbit_provider.s3.transfer.small_http import can_put
from orbit_provider.s3.transfer.small_upload import put_small
from orbit_provider.s3.transfer.tree_result import (
    DEFAULT_MAX_ENTRIES,
    DELETED,
    SENT,
    SKIPPED,
    WOULD_DELETE,
    WOULD_SEND,
    FileOutcome,
    TreeRecorder,
    TreeResult,
)
from orbit_provider.s3.transfer.tree_run import TreeRun

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session

COMPARE_MODES = ("checksum", "size-mtime")
_OUR_TEMPS = (TEMP_SUFFIX, STATE_SUFFIX, SMALL_SUFFIX)


def check_compare(compare_by: str) -> None:
    """Refuse an unknown compare mode before any request."""
    if compare_by not in COMPARE_MODES:
        raise ConfigError(f"compare: {compare_by!r} must be one of {', '.join(COMPARE_MODES)}")


def _listing(session: S3Session, prefix: str) -> dict[str, ObjectSummary]:
    """Every object under `prefix` by key (one request per 1,000 keys)."""
    return {o.key: o for o in session.iter_objects(prefix)}


# -- upload ----------------------------------------------------------------------------------


def upload_tree(
    session: S3Session,
    local_dir: str | os.PathLike,
    prefix: str,
    *,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    skip_identical: bool = True,
    compare_by: str = "checksum",
    dry_run: bool = False,
    workers: int | None = None,
    storage_class: StorageClass | str | None = None,
    sse: ServerSideEncryption | str | None = None,
    metadata: dict[str, str] | None = None,
    content_type: str | None = None,
    tags: dict[str, str] | None = None,
    progress: ProgressReporter | None = None,
    max_bandwidth: int | None = None,
    max_requests_per_second: float | None = None,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    report_path: str | os.PathLike | None = None,
    delete_extraneous: bool = False,
    if_none_match: bool = False,
) -> TreeResult:
    """Upload a folder (recursively), a glob or one file to `prefix` + relative path.

    `if_none_match` (replace=False): a file whose key already holds an object fails with
    PreconditionFailed and is not sent; the others are written only onto free keys
    (If-None-Match: *, see upload.upload_file).

    `skip_identical`: files whose object already holds the same bytes are skipped: same size
    and the same CRC32 / MD5 (`compare_by="checksum"`, transfer/compare.py) or same size and
    the object no older than the file (`compare_by="size-mtime"`). `delete_extraneous`
    (used by sync) deletes objects under `prefix` that no file maps to, only when every file
    succeeded. `dry_run` sends nothing and lists what would be sent and deleted.
    """
    check_compare(compare_by)
    inc, exc = check_patterns("include", include), check_patterns("exclude", exclude)
    if not isinstance(prefix, str):
        raise ConfigError("prefix: a key prefix (string) is required")
    planned = [
        p for p in plan_uploads(local_dir, prefix=prefix)
        if selected(relative_key(p.key, prefix), inc, exc)
    ]  # fmt: skip
    write = session.write_args(storage_class, sse, metadata, content_type, tags)  # checked now
    recorder = TreeRecorder(
        "upload", os.fspath(local_dir), f"s3://{session.bucket}/{prefix}",
        dry_run=dry_run, max_entries=max_entries, report_path=report_path,
    )  # fmt: skip
    run = TreeRun(
        session, recorder, operation="upload", workers=workers, progress=progress,
        max_bandwidth=max_bandwidth, max_requests_per_second=max_requests_per_second,
    )  # fmt: skip
    listed = skip_identical or delete_extraneous or if_none_match
    remote = _listing(run.session, prefix) if listed else {}
    threshold = session.config.effective_chunk_size
    planned.sort(key=lambda p: (p.size < threshold, -p.size if p.size >= threshold else 0))
    run.expect(len(planned), sum(p.size for p in planned))

    def work(item: PlannedUpload) -> FileOutcome:
        src, size = str(item.path), item.size
        try:
            if skip_identical:
                same = _same_upload(run.session, item, remote.get(item.key), compare_by)
                if same is not None:
                    return FileOutcome(src, item.key, SKIPPED, size=size, reason=same)
            if if_none_match and item.key in remote:
                raise PreconditionFailed(
                    f"s3://{run.session.bucket}/{item.key} already exists (replace=False)",
                    bucket=run.session.bucket, key=item.key,
                )  # fmt: skip
            if dry_run:
                return FileOutcome(src, item.key, WOULD_SEND, size=size)
            large = size >= threshold
            if not large and run.lean is not None and can_put(write) and not if_none_match:
                return _put_one(run, item, write)
            tid = None if large else run.started(item.key, size)
            try:
                res = upload.upload_file(
                    run.session, item.path, item.key, storage_class=storage_class, sse=sse,
                    metadata=metadata, content_type=content_type, tags=tags,
                    progress=progress if large else None, max_bandwidth=run.limiter,
                    if_none_match=if_none_match, head_first=False,  # the listing showed none
                )  # fmt: skip
            except S3Error as error:
                if tid is not None:
                    run.failed(tid, item.key, error)
                raise
            if tid is not None:
                run.completed(tid, item.key, size)
            verification = _upload_check(run.session, res)
            return FileOutcome(
                src, item.key, SENT, size=size, bytes=res.bytes_sent, verification=verification,
                etag=res.etag, version_id=res.version_id,
                resumed_bytes=size - res.bytes_sent if res.parts_resumed else 0,
                parts=res.parts if res.parts > 1 else 0,
            )  # fmt: skip
        except S3Error as error:
            return run.fail(src, item.key, size, error)

    def weight(item: PlannedUpload) -> int:
        return run.part_workers if item.size >= threshold else 1

    run.run(planned, work, weight)
    if delete_extraneous:
        wanted = {p.key for p in planned}
        extra = [
            o for k, o in sorted(remote.items())
            if k not in wanted and not k.endswith("/")
            and selected(relative_key(k, prefix), inc, exc)
        ]  # fmt: skip
        delete_objects(run.session, recorder, extra, dry_run)
    return recorder.result()


def _upload_check(session: S3Session, res: upload.UploadResult) -> str:
    """What the store checked an upload against: its whole-file checksum ("crc32"), the
    composite of its parts' ("sha256-composite"), or only the size (checksums off)."""
    if not res.checksum:
        return "size"
    algorithm = (res.checksum_algorithm or _algorithm(session)).lower()
    composite = res.parts > 1 and session.config.effective_checksum_type == "COMPOSITE"
    return f"{algorithm}-composite" if composite else algorithm


def _algorithm(session: S3Session) -> str:
    """The name of the checksum our uploads send (crc32 unless the config says another)."""
    return str(getattr(session.config, "checksum_algorithm", "CRC32")).lower()


def _put_one(run: TreeRun, item: PlannedUpload, write: dict) -> FileOutcome:
    """A small file by the short path: one PUT over plain HTTP (small_upload.py)."""
    tid = run.started(item.key, item.size)
    try:
        res = put_small(run.session, run.lean, item.path, item.key, write, run.limiter)
    except S3Error as error:
        run.failed(tid, item.key, error)
        raise
    run.completed(tid, item.key, item.size)
    return FileOutcome(
        str(item.path), item.key, SENT, size=item.size, bytes=item.size,
        verification=_algorithm(run.session) if res.checksum else "size",
        etag=res.etag, version_id=res.version_id,
    )  # fmt: skip


def _same_upload(
    session: S3Session, item: PlannedUpload, remote: ObjectSummary | None, compare_by: str
) -> str | None:
    """Why the object already holds the file (None: it does not, or cannot be proven to)."""
    if remote is None or remote.size != item.size:
        return None
    if compare_by == "size-mtime":
        mtime = int(item.path.stat().st_mtime)  # listings give whole seconds
        if remote.last_modified is not None and remote.last_modified.timestamp() >= mtime:
            return "same size, object not older than the file"
        return None
    same = compare.local_matches_remote(session, item.path, item.key)
    return same.reason if same.identical else None


def delete_objects(
    session: S3Session, recorder: TreeRecorder, extra: list[ObjectSummary], dry_run: bool
) -> None:
    """Delete objects no source maps to (DeleteObjects, 1,000 a request), only after every
    transfer succeeded; a dry run lists them."""
    if not extra:
        return
    if dry_run:
        for o in extra:
            recorder.add(FileOutcome("", o.key, WOULD_DELETE, size=o.size,
                                     reason="no source file"))  # fmt: skip
        return
    if recorder.count("failed"):
        for o in extra:
            recorder.add(FileOutcome("", o.key, SKIPPED, size=o.size,
                                     reason="not deleted: some transfers failed"))  # fmt: skip
        return
    for start in range(0, len(extra), 1000):
        chunk = extra[start : start + 1000]
        resp = session.call(
            "delete_objects",
            Delete={"Objects": [{"Key": o.key} for o in chunk], "Quiet": True},
        )
        errors = {e.get("Key"): e for e in resp.get("Errors", [])}
        for o in chunk:
            err = errors.get(o.key)
            if err is None:
                recorder.add(FileOutcome("", o.key, DELETED, size=o.size, reason="no source"))
            else:
                recorder.add(FileOutcome(
                    "", o.key, "failed", size=o.size, code=err.get("Code"),
                    reason=f"delete failed: {err.get('Message')}",
                ))  # fmt: skip


# -- download --------------------------------------------------------------------------------


def small_download_limit(session: S3Session) -> int:
    """Objects up to this size take the short path (one GET: what download_file would fetch
    in a single range anyway)."""
    return max(session.config.effective_chunk_size, MIN_RANGE_SIZE)


def download_tree(
    session: S3Session,
    prefix: str,
    local_dir: str | os.PathLike,
    *,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    skip_identical: bool = True,
    compare_by: str = "checksum",
    dry_run: bool = False,
    workers: int | None = None,
    durable: bool = True,
    progress: ProgressReporter | None = None,
    max_bandwidth: int | None = None,
    max_requests_per_second: float | None = None,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    report_path: str | os.PathLike | None = None,
    delete_extraneous: bool = False,
) -> TreeResult:
    """Download every object under `prefix` to `local_dir` + its key without the prefix.

    Keys that would escape `local_dir` (or land two on one file) refuse the whole download
    before anything is written. `skip_identical`: a local file of the same size is proven
    identical by its CRC32 / MD5 against the object's (`compare_by="checksum"`) or by being no
    older than the object (`"size-mtime"`). `durable` (default on) syncs every file before
    it is renamed into place, batched (small_download.DurableBatch). `delete_extraneous`
    (used by sync) deletes local files under `local_dir` that no key maps to, only when every
    object succeeded.
    """
    check_compare(compare_by)
    inc, exc = check_patterns("include", include), check_patterns("exclude", exclude)
    if not isinstance(prefix, str):
        raise ConfigError("prefix: a key prefix (string) is required")
    if not isinstance(local_dir, str | os.PathLike) or not os.fspath(local_dir):
        raise ConfigError("local_dir: a local folder is required")
    root = Path(os.fspath(local_dir)).absolute()
    if root.exists() and not root.is_dir():
        raise ConfigError(f"local_dir: {str(root)!r} exists and is not a folder")
    recorder = TreeRecorder(
        "download", f"s3://{session.bucket}/{prefix}", str(root),
        dry_run=dry_run, max_entries=max_entries, report_path=report_path,
    )  # fmt: skip
    run = TreeRun(
        session, recorder, operation="download", workers=workers, progress=progress,
        max_bandwidth=max_bandwidth, max_requests_per_second=max_requests_per_second,
    )  # fmt: skip
    listing = [
        o for o in run.session.iter_objects(prefix)
        if not o.key.endswith("/") and selected(relative_key(o.key, prefix), inc, exc)
    ]  # fmt: skip
    by_key = {o.key: o for o in listing}
    planned = plan_downloads(((o.key, o.size) for o in listing), prefix, root)
    if not dry_run:
        root.mkdir(parents=True, exist_ok=True)
    limit = small_download_limit(session)
    planned.sort(key=lambda p: (p.size <= limit, -p.size if p.size > limit else 0))
    run.expect(len(planned), sum(p.size for p in planned))
    batch = DurableBatch(durable=durable)
    made: set[Path] = set()
    placed = _Placed(recorder, run)

    def ensure_folder(folder: Path) -> None:
        if folder not in made:
            folder.mkdir(parents=True, exist_ok=True)
            made.add(folder)

    def work(item: PlannedDownload) -> FileOutcome | None:
        dst, size = str(item.path), item.size
        try:
            if skip_identical:
                same = _same_download(run.session, item, by_key[item.key], compare_by)
                if same is not None:
                    return FileOutcome(item.key, dst, SKIPPED, size=size, reason=same)
            if dry_run:
                return FileOutcome(item.key, dst, WOULD_SEND, size=size)
            try:
                ensure_folder(item.path.parent)
            except OSError as error:
                raise S3Error(f"{item.path.parent}: cannot create the folder: {error.strerror}",
                              key=item.key, code="LocalWriteError") from error  # fmt: skip
            if size <= limit:
                try:
                    fetched = fetch_small(
                        run.session, item.key, item.path, max_size=limit,
                        buffer=run.runner.buffer(), limiter=run.limiter, lean=run.lean,
                    )  # fmt: skip
                except NeedsLargePath:
                    pass  # a composite checksum or a grown object: the resumable path below
                else:
                    placed.started(fetched)
                    placed.record(batch.add(fetched))
                    return None
            res = download.download_file(run.session, item.key, item.path, progress=progress,
                                         max_bandwidth=run.limiter)  # fmt: skip
            return FileOutcome(
                item.key, dst, SENT, size=size, bytes=res.bytes_received,
                verification=res.verification, etag=res.etag, version_id=res.version_id,
                resumed_bytes=res.resumed_bytes,
            )  # fmt: skip
        except S3Error as error:
            return run.fail(item.key, dst, size, error)

    def weight(item: PlannedDownload) -> int:
        return 1 if item.size <= limit else run.part_workers

    try:
        run.run(planned, work, weight)
    finally:
        try:
            placed.record(batch.flush())  # what was verified is kept, even on a stop
        except OSError:
            batch.discard()
            raise
    if delete_extraneous:
        _delete_local(root, {p.path for p in planned}, recorder, dry_run, inc, exc)
    return recorder.result()


class _Placed:
    """Records short-path downloads once their batch has made them durable and renamed them
    (progress: started when verified, completed when in place)."""

    def __init__(self, recorder: TreeRecorder, run: TreeRun) -> None:
        self.recorder = recorder
        self.run = run
        self._lock = threading.Lock()
        self._pending: dict[Path, str] = {}

    def started(self, fetch: SmallFetch) -> None:
        tid = self.run.started(fetch.key, fetch.size)
        with self._lock:
            self._pending[fetch.temp] = tid

    def record(self, fetches: list[SmallFetch]) -> None:
        for f in fetches:
            with self._lock:
                tid = self._pending.pop(f.temp, None)
            if tid is not None:
                self.run.completed(tid, f.key, f.size)
            self.recorder.add(FileOutcome(
                f.key, str(f.dest), SENT, size=f.size, bytes=f.size,
                verification=f.verification, etag=f.etag, version_id=f.version_id,
            ))  # fmt: skip


def _same_download(
    session: S3Session, item: PlannedDownload, remote: ObjectSummary, compare_by: str
) -> str | None:
    """Why the local file already holds the object (None: it does not, or is not proven)."""
    try:
        st = item.path.stat()
    except OSError:
        return None
    if not item.path.is_file() or st.st_size != item.size:
        return None
    if compare_by == "size-mtime":
        if remote.last_modified is not None and st.st_mtime >= remote.last_modified.timestamp():
            return "same size, file not older than the object"
        return None
    try:
        same = compare.local_matches_remote(session, item.path, item.key)
    except NotFound:
        return None
    return same.reason if same.identical else None


def _delete_local(
    root: Path,
    wanted: set[Path],
    recorder: TreeRecorder,
    dry_run: bool,
    include: Sequence[str],
    exclude: Sequence[str],
) -> None:
    """Delete local files under `root` that no key maps to (never our own temp files), only
    after every download succeeded; a dry run lists them."""
    if not root.is_dir():
        return
    failed = recorder.count("failed") > 0
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if path in wanted or name.endswith(_OUR_TEMPS):
                continue
            relative = path.relative_to(root).as_posix()
            if not selected(relative, include, exclude):
                continue
            size = path.stat().st_size if path.is_file() else 0
            if dry_run:
                recorder.add(FileOutcome("", str(path), WOULD_DELETE, size=size,
                                         reason="no source object"))  # fmt: skip
            elif failed:
                recorder.add(FileOutcome("", str(path), SKIPPED, size=size,
                                         reason="not deleted: some transfers failed"))  # fmt: skip
            else:
                try:
                    path.unlink()
                except OSError as error:
                    recorder.add(FileOutcome("", str(path), "failed", size=size,
                                             reason=f"delete failed: {error.strerror}",
                                             code="LocalWriteError"))  # fmt: skip
                else:
                    recorder.add(FileOutcome("", str(path), DELETED, size=size,
                                             reason="no source object"))  # fmt: skip
