"""S3Client: the facade of the transfer core.

An S3Session (the boto3 client, the one retrying call, write and integrity arguments, raw
HEAD / list / delete / tags) plus one-line entry points to the feature modules: transfers
(transfer/), versioning (versions/) and batches (batch/). The feature modules take the
session; nothing in the core imports this module.
"""

from __future__ import annotations

from datetime import datetime
from os import PathLike
from typing import Any

from orbit_provider.s3.batch import copy as batch_copy
from orbit_provider.s3.batch import delete as batch_delete
from orbit_provider.s3.batch import job_engine
from orbit_provider.s3.batch import objects as batch_objects
from orbit_provider.s3.batch import restore as batch_restore
from orbit_provider.s3.batch.batch_operations import DELETE_REFUSED, JobSettings
from orbit_provider.s3.batch.models import BatchConfig
from orbit_provider.s3.config import (
    MAX_CHUNK_SIZE,
    ServerSideEncryption,
    StorageClass,
    validate_key,
)
from orbit_provider.s3.errors import ConfigError, IntegrityError, NotFound, PreconditionFailed
from orbit_provider.s3.models import CopyResult, DeleteResult, ObjectMetadata, PutResult, _version
from orbit_provider.s3.progress import ProgressReporter
from orbit_provider.s3.session import S3Session, build_boto_client
from orbit_provider.s3.transfer import (
    compare,
    copy,
    download,
    incomplete_uploads,
    tree,
    tree_sync,
    upload,
)
from orbit_provider.s3.versions import rollback, versioning
from orbit_provider.s3.versions.rollback import RollbackPlan, RollbackResult
from orbit_provider.s3.versions.versioning import (
    ObjectVersion,
    TimeRestore,
    VersionComparison,
    VersioningStatus,
    VersionListing,
)
from orbit_provider.s3.wire import checksums

__all__ = ["S3Client", "build_boto_client"]

_PRESIGN_METHODS = {
    "GET": "get_object",
    "PUT": "put_object",
    "HEAD": "head_object",
    "DELETE": "delete_object",
}


class S3Client(S3Session):
    """Talks to one bucket (and, for copies, others) with the settings of an S3Config."""

    # -- single-object operations -----------------------------------------------------------

    def upload_bytes(
        self,
        data: bytes | bytearray | memoryview,
        key: str,
        *,
        metadata: dict[str, str] | None = None,
        content_type: str | None = None,
        storage_class: StorageClass | str | None = None,
        sse: ServerSideEncryption | str | None = None,
        tags: dict[str, str] | None = None,
        if_none_match: bool = False,
    ) -> PutResult:
        """PUT `data` as `key` in one request; the server verifies a checksum of the bytes
        (the config's checksum_algorithm). `if_none_match`: only if no object has the key
        (If-None-Match: *, atomic on AWS; a HEAD first catches stores that ignore it)."""
        validate_key(key)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ConfigError(f"data: expected bytes, got {type(data).__name__}")
        if len(data) > MAX_CHUNK_SIZE:
            raise ConfigError("data: a single PUT holds at most 5 GiB; use upload_file")
        args = self.write_args(storage_class, sse, metadata, content_type, tags)
        body = bytes(data) if not isinstance(data, bytes) else data
        crc, md5 = self.integrity_args(body, args)
        if if_none_match:
            if self.exists(key):
                raise PreconditionFailed(
                    f"s3://{self.bucket}/{key} already exists (replace=False / if_none_match)",
                    bucket=self.bucket, key=key,
                )
            args["IfNoneMatch"] = "*"
        resp = self.call("put_object", key=key, Body=body, **args)
        self.check_stored(key, crc, resp, "PutObject", lambda: md5 or checksums.md5_hex(body))
        return PutResult(
            key=key,
            etag=checksums.plain_etag(resp.get("ETag")),
            version_id=_version(resp.get("VersionId")),
            size=len(data),
            checksum_crc32=crc if self.config.checksum_algorithm == "CRC32" else None,
        )

    def download_bytes(self, key: str, *, version_id: str | None = None) -> bytes:
        """GET the whole object into memory, checked against its length and checksum."""
        validate_key(key)
        params: dict[str, Any] = {"Key": key}
        if version_id:
            params["VersionId"] = version_id
        if self.config.verify_checksums:
            params["ChecksumMode"] = "ENABLED"

        def get() -> tuple[dict, bytes]:
            resp = self.s3.get_object(Bucket=self.bucket, **params)
            with resp["Body"] as body:
                return resp, body.read()

        resp, data = self.retry(get, key=key)
        expected = resp.get("ContentLength")
        if expected is not None and expected != len(data):
            raise IntegrityError(
                f"s3://{self.bucket}/{key}: got {len(data)} bytes, expected {expected}",
                bucket=self.bucket,
                key=key,
            )
        if self.config.verify_checksums:
            problem = checksums.verify_full_object(data, resp)
            if problem is None and checksums.is_md5_etag(resp.get("ETag")) and not resp.get(
                "SSEKMSKeyId"
            ):
                etag = checksums.plain_etag(resp["ETag"])
                actual = checksums.md5_hex(data)
                problem = None if actual == etag else f"MD5 {actual} != ETag {etag}"
            if problem:
                raise IntegrityError(
                    f"s3://{self.bucket}/{key}: downloaded bytes do not match: {problem}",
                    bucket=self.bucket,
                    key=key,
                )
        return data

    def exists(self, key: str, *, version_id: str | None = None) -> bool:
        """Whether the key (or that version of it) exists."""
        try:
            self.get_metadata(key, version_id=version_id)
        except NotFound as exc:
            if exc.key is None:  # the bucket itself is missing: that is an error, not "no"
                raise
            return False
        return True

    def presigned_url(self, key: str, expires_in: int = 3600, method: str = "GET") -> str:
        """A URL that lets its holder GET/PUT/HEAD/DELETE the key without credentials."""
        validate_key(key)
        op = _PRESIGN_METHODS.get(str(method).upper())
        if op is None:
            raise ConfigError(f"method: {method!r} must be one of {', '.join(_PRESIGN_METHODS)}")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int) or not (
            1 <= expires_in <= 604800
        ):
            raise ConfigError(f"expires_in: {expires_in!r} must be 1 to 604800 seconds (7 days)")
        return self.s3.generate_presigned_url(
            op, Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )

    # -- file upload (transfer/) --------------------------------------

    def upload_file(
        self,
        path: Any,
        key: str,
        *,
        storage_class: StorageClass | str | None = None,
        sse: ServerSideEncryption | str | None = None,
        metadata: dict[str, str] | None = None,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
        progress: ProgressReporter | None = None,
        max_bandwidth: int | None = None,
        resume_token: Any = None,
        if_none_match: bool = False,
    ) -> Any:
        """Upload a local file (parallel multipart, resumable, verified with the config's
        checksum_algorithm / checksum_type) -> UploadResult. A retry ends with its own
        storage class, encryption, metadata, tags and content type. `if_none_match`: only
        if no object has the key (atomic on AWS)."""
        return upload.upload_file(
            self, path, key, storage_class=storage_class, sse=sse, metadata=metadata,
            content_type=content_type, tags=tags, progress=progress,
            max_bandwidth=max_bandwidth, resume_token=resume_token, if_none_match=if_none_match,
        )

    def local_matches_remote(self, path: Any, key: str) -> Any:
        """Whether `key` already holds the local file's bytes (size + the object's checksum,
        whichever algorithm, or MD5 ETag) -> Comparison."""
        return compare.local_matches_remote(self, path, key)

    def list_incomplete_uploads(self, prefix: str = "") -> list[Any]:
        """Unfinished multipart uploads under `prefix` (IncompleteUpload), oldest first."""
        return incomplete_uploads.list_incomplete_uploads(self, prefix)

    def abort_incomplete_uploads(
        self, prefix: str = "", older_than: Any = 0, dry_run: bool = False
    ) -> list[Any]:
        """Abort unfinished uploads under `prefix` started >= `older_than` (seconds/timedelta)
        ago; returns those aborted (or, with dry_run, those that would be)."""
        return incomplete_uploads.abort_incomplete_uploads(self, prefix, older_than, dry_run)

    # -- downloads (transfer/download.py) ----------------------------------------------------------

    def download_file(
        self,
        key: str,
        path: Any,
        *,
        version_id: str | None = None,
        progress: ProgressReporter | None = None,
        max_bandwidth: int | None = None,
    ) -> Any:
        """Parallel, resumable, verified download to `path` (a DownloadResult)."""
        return download.download_file(
            self, key, path, version_id=version_id, progress=progress, max_bandwidth=max_bandwidth
        )

    def download_file_resumable(
        self,
        key: str,
        path: Any,
        offset: int,
        *,
        version_id: str | None = None,
        progress: ProgressReporter | None = None,
    ) -> Any:
        """Finish a download whose first `offset` bytes are already in `path`."""
        return download.download_file_resumable(
            self, key, path, offset, version_id=version_id, progress=progress
        )

    # -- folders and prefixes (transfer/tree.py, tree_sync.py) --------------------------------

    def upload_tree(self, local_dir: Any, prefix: str, **options: Any) -> Any:
        """Upload a folder (or glob, or file) to `prefix`, many files at once (TreeResult);
        `options`: see transfer.tree.upload_tree (include, exclude, skip_identical, dry_run,
        workers, write arguments, progress, limits, report_path)."""
        return tree.upload_tree(self, local_dir, prefix, **options)

    def download_tree(self, prefix: str, local_dir: Any, **options: Any) -> Any:
        """Download every key under `prefix` into `local_dir`, many at once (TreeResult);
        `options`: see transfer.tree.download_tree."""
        return tree.download_tree(self, prefix, local_dir, **options)

    def sync(self, source: Any, dest: Any, **options: Any) -> Any:
        """Make `dest` match `source` (local folder or s3://bucket/prefix, any direction,
        S3 -> S3 server-side); `delete_extraneous` off by default (TreeResult)."""
        return tree_sync.sync(self, source, dest, **options)

    # -- versioning (versions/) ------------------------------------------

    def get_versioning_status(self) -> VersioningStatus:
        """The bucket's VersioningStatus (status None: never enabled)."""
        return versioning.get_versioning_status(self)

    def enable_versioning(self) -> VersioningStatus:
        return versioning.enable_versioning(self)

    def suspend_versioning(self) -> VersioningStatus:
        return versioning.suspend_versioning(self)

    def list_object_versions(self, key: str, *, page_size: int = 1000) -> VersionListing:
        """VersionListing of exactly `key`: versions and delete markers, all pages."""
        return versioning.list_object_versions(self, key, page_size=page_size)

    def latest_version_id(self, key: str) -> str | None:
        return versioning.latest_version_id(self, key)

    def is_newer_version(self, key: str, version_id: str) -> bool:
        return versioning.is_newer_version(self, key, version_id)

    def download_version(
        self, key: str, version_id: str, path: str | PathLike[str]
    ) -> download.DownloadResult:
        return versioning.download_version(self, key, version_id, path)

    def restore_version(self, key: str, version_id: str) -> str:
        """Copy `version_id` back on top of the key; returns the new version id."""
        return versioning.restore_version(self, key, version_id)

    def restore_at(self, key: str, timestamp: datetime | str) -> TimeRestore:
        return versioning.restore_at(self, key, timestamp)

    def delete_version(self, key: str, version_id: str) -> DeleteResult:
        return versioning.delete_version(self, key, version_id)

    def undelete(self, key: str) -> str:
        return versioning.undelete(self, key)

    def compare_versions(self, key: str, a: str, b: str) -> VersionComparison:
        return versioning.compare_versions(self, key, a, b)

    def version_at(self, key: str, timestamp: datetime | str) -> ObjectVersion | None:
        """The ObjectVersion current at `timestamp`, or None (absent or deleted then)."""
        return versioning.version_at(self, key, timestamp)

    def plan_rollback(
        self, prefix: str, timestamp: datetime | str, *, page_size: int = 1000
    ) -> RollbackPlan:
        return rollback.plan_rollback(self, prefix, timestamp, page_size=page_size)

    def rollback_prefix(
        self,
        prefix: str,
        timestamp: datetime | str,
        *,
        dry_run: bool = False,
        config: BatchConfig | None = None,
        progress: ProgressReporter | None = None,
        page_size: int = 1000,
    ) -> RollbackResult:
        """Bring every key under `prefix` back to its state at `timestamp` (RollbackResult)."""
        return rollback.rollback_prefix(
            self, prefix, timestamp, dry_run=dry_run, config=config, progress=progress,
            page_size=page_size,
        )

    # -- batch operations (batch/) -----------------------------------
    # engine="client" (default): this process sends the requests -> BatchResult.
    # engine="s3_batch_operations" with job=JobSettings(...): AWS runs one job over the keys
    # and the call blocks until it ends -> JobOutcome (dry_run=True: the JobPlan, nothing
    # written); see batch/job_engine.py. Deletes and metadata merges are not job operations.

    def batch_delete(
        self, keys: Any, config: Any = None, *, progress: Any = None, engine: str = "client",
        job: JobSettings | None = None,
    ) -> Any:
        """DeleteObjects over keys or (key, version_id) tuples, 1,000 a request (BatchResult)."""
        job_engine.refuse_job(engine, job, DELETE_REFUSED)
        return batch_delete.batch_delete(self, keys, config, progress=progress)

    def batch_copy(
        self,
        keys: Any,
        dest_prefix: str,
        config: Any = None,
        *,
        dest_bucket: str | None = None,
        strip_prefix: str | None = None,
        skip_identical: bool = True,
        progress: Any = None,
        sse: ServerSideEncryption | str | None = None,
        storage_class: StorageClass | str | None = None,
        metadata: dict[str, str] | None = None,
        metadata_directive: str | None = None,
        engine: str = "client",
        job: JobSettings | None = None,
        dry_run: bool = False,
    ) -> Any:
        """Server-side copy of every key to dest_prefix (BatchResult); storage class,
        encryption and metadata are set in the same request (default: the source's)."""
        if job_engine.wants_job(engine, job, dry_run):
            return job_engine.copy_job(
                self, keys, dest_prefix, job, dry_run=dry_run, config=config, progress=progress,
                dest_bucket=dest_bucket, strip_prefix=strip_prefix, sse=sse,
                storage_class=storage_class, metadata=metadata,
                metadata_directive=metadata_directive,
            )
        return batch_copy.batch_copy(
            self, keys, dest_prefix, config, dest_bucket=dest_bucket,
            strip_prefix=strip_prefix, skip_identical=skip_identical, progress=progress,
            sse=sse, storage_class=storage_class, metadata=metadata,
            metadata_directive=metadata_directive,
        )

    def batch_change_storage_class(
        self, keys: Any, storage_class: Any, config: Any = None, *, progress: Any = None,
        engine: str = "client", job: JobSettings | None = None, dry_run: bool = False,
    ) -> Any:
        """In-place storage-class change keeping metadata, content type and tags (BatchResult)."""
        if job_engine.wants_job(engine, job, dry_run):
            return job_engine.storage_class_job(self, keys, storage_class, job, dry_run=dry_run,
                                                config=config, progress=progress)  # fmt: skip
        return batch_objects.batch_change_storage_class(
            self, keys, storage_class, config, progress=progress
        )

    def batch_update_metadata(
        self, keys: Any, metadata: dict, config: Any = None, merge: bool = True, *,
        progress: Any = None, engine: str = "client", job: JobSettings | None = None,
        dry_run: bool = False, content_type: str | None = None,
        storage_class: StorageClass | str | None = None,
    ) -> Any:
        """Merge or replace user metadata of every key (BatchResult). On the job engine:
        replace only, with the `content_type` and `storage_class` every object gets."""
        if job_engine.wants_job(engine, job, dry_run):
            return job_engine.metadata_job(
                self, keys, metadata, job, merge=merge, content_type=content_type,
                storage_class=storage_class, dry_run=dry_run, config=config, progress=progress,
            )  # fmt: skip
        if content_type is not None or storage_class is not None:
            raise ConfigError(
                "content_type / storage_class: only with engine='s3_batch_operations' (the "
                "client engine keeps each object's own)"
            )
        return batch_objects.batch_update_metadata(
            self, keys, metadata, config, merge, progress=progress
        )

    def batch_tag_objects(
        self, keys: Any, tags: dict, config: Any = None, merge: bool = True, *,
        progress: Any = None, engine: str = "client", job: JobSettings | None = None,
        dry_run: bool = False,
    ) -> Any:
        """Merge or replace the tags of every key (BatchResult)."""
        if job_engine.wants_job(engine, job, dry_run):
            return job_engine.tag_job(self, keys, tags, job, merge=merge, dry_run=dry_run,
                                      config=config, progress=progress)  # fmt: skip
        return batch_objects.batch_tag_objects(self, keys, tags, config, merge, progress=progress)

    def restore_archived(
        self, keys: Any, days: int = 1, tier: str = "Standard", config: Any = None, *,
        progress: Any = None, engine: str = "client", job: JobSettings | None = None,
        dry_run: bool = False,
    ) -> Any:
        """RestoreObject for archived keys (BatchResult)."""
        if job_engine.wants_job(engine, job, dry_run):
            return job_engine.restore_job(self, keys, days, tier, job, dry_run=dry_run,
                                          config=config, progress=progress)  # fmt: skip
        return batch_restore.restore_archived(self, keys, days, tier, config, progress=progress)

    def restore_status(self, key: str) -> Any:
        """RestoreStatus(state, expires) of one key from its HEAD."""
        return batch_restore.restore_status(self, key)

    # -- copies (transfer/copy.py) ------------------------------------------------------------

    def copy_object(
        self,
        src_key: str,
        dst_key: str,
        src_bucket: str | None = None,
        *,
        dst_bucket: str | None = None,
        src_version_id: str | None = None,
        storage_class: StorageClass | str | None = None,
        sse: ServerSideEncryption | str | None = None,
        metadata: dict[str, str] | None = None,
        progress: ProgressReporter | None = None,
        source_metadata: ObjectMetadata | None = None,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
        if_none_match: bool = False,
    ) -> CopyResult:
        """Server-side copy of any size, keeping metadata, content type and tags (parallel
        UploadPartCopy above `config.multipart_copy_threshold`; `metadata`, `content_type`
        and `tags` replace the source's, None keeps them; `if_none_match`: only onto a key
        no object has)."""
        return copy.copy_object(
            self, src_key, dst_key, src_bucket, dst_bucket=dst_bucket,
            src_version_id=src_version_id, storage_class=storage_class, sse=sse,
            metadata=metadata, progress=progress, source_metadata=source_metadata,
            content_type=content_type, tags=tags, if_none_match=if_none_match,
        )
