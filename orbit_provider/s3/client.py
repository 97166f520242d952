"""S3Client: the facade of the transfer core.

It owns one thread-safe boto3 client (retries off, a connection pool sized for the
configured parallelism) and sends every call through one RetryPolicy. Single-object
operations live here; multipart transfers, versioning and batches live in their own modules
and are reached through one-line methods below.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config as BotoConfig

from orbit_provider import __version__
from orbit_provider.s3 import checksums, log_redaction
from orbit_provider.s3.config import (
    MAX_CHUNK_SIZE,
    MAX_PARTS,
    S3Config,
    ServerSideEncryption,
    StorageClass,
    validate_bucket_name,
    validate_key,
)
from orbit_provider.s3.errors import ConfigError, IntegrityError, NotFound, S3Error
from orbit_provider.s3.models import (
    CopyResult,
    DeleteResult,
    ListPage,
    ObjectMetadata,
    ObjectSummary,
    PutResult,
    _version,
)
from orbit_provider.s3.progress import ProgressReporter, TransferProgress
from orbit_provider.s3.recovery import CircuitBreaker, RetryPolicy, with_retry
from orbit_provider.s3.stored_check import check_stored

if TYPE_CHECKING:
    from datetime import datetime
    from os import PathLike as _PathLike

    from orbit_provider.s3.batch import BatchConfig
    from orbit_provider.s3.download import DownloadResult as _DownloadResult
    from orbit_provider.s3.rollback import RollbackPlan, RollbackResult
    from orbit_provider.s3.versioning import (
        ObjectVersion,
        TimeRestore,
        VersionComparison,
        VersioningStatus,
        VersionListing,
    )

log = logging.getLogger("orbit_provider.s3.client")

T = TypeVar("T")

_PRESIGN_METHODS = {
    "GET": "get_object",
    "PUT": "put_object",
    "HEAD": "head_object",
    "DELETE": "delete_object",
}


def build_boto_client(
    config: S3Config, pool_size: int | None = None, session: Any = None
) -> Any:
    """A boto3 S3 client for `config`: botocore retries off, our own checksums, pool sized.

    `session`: a ready boto3 Session (e.g. with assumed-role credentials) used instead of
    the config's credentials/profile.
    """
    log_redaction.install()  # botocore's DEBUG logs would print the session token
    if session is not None:
        pass
    elif config.credentials is not None:
        session = boto3.session.Session(
            aws_access_key_id=config.credentials.access_key_id,
            aws_secret_access_key=config.credentials.secret_access_key,
            aws_session_token=config.credentials.session_token,
            region_name=config.region,
        )
    else:  # the standard chain: env, ~/.aws files and profiles, container and instance roles
        session = boto3.session.Session(profile_name=config.profile, region_name=config.region)
    boto_config = BotoConfig(
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=pool_size or max(32, config.parallel_operations * 2),
        connect_timeout=min(config.timeout_seconds, 60),
        read_timeout=config.timeout_seconds,
        tcp_keepalive=True,
        signature_version="s3v4",
        user_agent_extra=f"orbit-provider/{__version__}",
        # We compute and verify checksums ourselves (cheap CRC32), so botocore neither adds
        # its own nor SHA256-signs payloads (2.5 CPU-s/GiB over http, see docs/architecture.md).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={
            "addressing_style": "path" if config.force_path_style else "auto",
            "payload_signing_enabled": False,
        },
    )
    return session.client(
        "s3",
        endpoint_url=config.endpoint,
        region_name=config.region,
        config=boto_config,
    )


class S3Client:
    """Talks to one bucket (and, for copies, others) with the settings of an S3Config."""

    def __init__(
        self,
        config: S3Config,
        *,
        retry_policy: RetryPolicy | None = None,
        circuit_breaker: CircuitBreaker | None = None,
        boto_client: Any = None,
        boto_session: Any = None,
    ) -> None:
        if not isinstance(config, S3Config):
            raise ConfigError("config: must be an S3Config")
        self.config = config
        self.retry_policy = retry_policy or RetryPolicy.client_default(config.max_retries)
        self.circuit_breaker = circuit_breaker or self.retry_policy.make_breaker()
        self._boto = boto_client
        self._boto_session = boto_session  # a boto3 Session to build the client from, if given
        self._boto_lock = threading.Lock()
        # set once an answer shows the store ignores our CRC32 header (stored_check.py): from
        # then on PUTs and parts also carry Content-MD5, which every S3 store verifies
        self.store_ignores_crc32 = False

    def __repr__(self) -> str:
        return f"S3Client(bucket={self.config.bucket!r}, endpoint={self.config.endpoint!r})"

    @property
    def bucket(self) -> str:
        return self.config.bucket

    @property
    def s3(self) -> Any:
        """The underlying boto3 client (created on first use, shared by all threads)."""
        if self._boto is None:
            with self._boto_lock:
                if self._boto is None:
                    self._boto = build_boto_client(self.config, session=self._boto_session)
        return self._boto

    # -- the one retry path -------------------------------------------------------------

    def call(
        self,
        operation: str,
        *,
        key: str | None = None,
        bucket: str | None = None,
        **params: Any,
    ) -> dict:
        """Run one boto3 operation on `bucket` (default: ours) under the retry policy."""
        bucket = bucket or self.bucket
        method = getattr(self.s3, operation)
        if key is not None:
            params["Key"] = key
        return with_retry(
            self.retry_policy,
            lambda: method(Bucket=bucket, **params),
            self.circuit_breaker,
            bucket=bucket,
            key=key,
        )

    def retry(self, fn: Callable[[], T], *, key: str | None = None) -> T:
        """Run any callable (e.g. a GET plus reading its body) under the retry policy."""
        return with_retry(
            self.retry_policy, fn, self.circuit_breaker, bucket=self.bucket, key=key
        )

    # -- integrity of what we write --------------------------------------------------------

    def integrity_args(
        self, data: bytes | bytearray | memoryview, args: dict[str, Any]
    ) -> tuple[str | None, str | None]:
        """Add the checksums a PUT of `data` carries to `args`: a signed CRC32 with
        verify_checksums, plus Content-MD5 once this store showed that it ignores CRC32
        (stored_check.py). Returns (CRC32 sent, MD5 hex sent), None where not sent."""
        if not self.config.verify_checksums:
            return None, None
        crc = checksums.crc32_b64(checksums.crc32(data))
        args["ChecksumCRC32"] = crc
        if not self.store_ignores_crc32:
            return crc, None
        md5 = checksums.md5_hex(data)
        args["ContentMD5"] = checksums.b64_of_hex(md5)
        return crc, md5

    def check_stored(
        self, key: str, crc: str | None, resp: dict, what: str, md5_hex: Callable[[], str]
    ) -> bool:
        """stored_check.check_stored, remembering a store that ignores our CRC32 (and saying
        so once, not for every part)."""
        acknowledged = check_stored(
            self.bucket, key, crc, resp, what, md5_hex, warn=not self.store_ignores_crc32
        )
        if not acknowledged:
            self.store_ignores_crc32 = True
        return acknowledged

    def check_access(self, *, list_buckets: bool = False) -> str:
        """Prove that credentials and endpoint work with one cheap request, and say what it
        showed: HeadBucket on this client's bucket, or ListBuckets when `list_buckets` (no
        bucket is known yet). Errors are the usual S3Errors (NotFound, AccessDenied, ...)."""
        if list_buckets:
            buckets = self.retry(lambda: self.s3.list_buckets()).get("Buckets", [])
            return f"{len(buckets)} bucket(s) listed"
        self.call("head_bucket")
        return f"bucket {self.bucket!r} is reachable"

    # -- write arguments ------------------------------------------------------------------

    def write_args(
        self,
        storage_class: StorageClass | str | None = None,
        sse: ServerSideEncryption | str | None = None,
        metadata: dict[str, str] | None = None,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Request parameters that apply storage class, encryption, metadata and tags."""
        from orbit_provider.s3.limits import encode_tags, validate_metadata, validate_tags

        cls = StorageClass.parse(storage_class) if storage_class else self.config.storage_class
        args: dict[str, Any] = {}
        if storage_class or cls is not StorageClass.STANDARD:  # an explicit STANDARD is sent too
            args["StorageClass"] = cls.value
        encryption = ServerSideEncryption.parse(sse) or self.config.server_side_encryption
        if encryption is not None:
            args.update(encryption.request_args())
        if metadata:
            args["Metadata"] = validate_metadata(metadata)
        if content_type:
            args["ContentType"] = content_type
        if tags:
            args["Tagging"] = encode_tags(validate_tags(tags))
        return args

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
        """PUT `data` as `key` in one request; the server verifies a CRC32 of the bytes."""
        validate_key(key)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ConfigError(f"data: expected bytes, got {type(data).__name__}")
        if len(data) > MAX_CHUNK_SIZE:
            raise ConfigError("data: a single PUT holds at most 5 GiB; use upload_file")
        args = self.write_args(storage_class, sse, metadata, content_type, tags)
        body = bytes(data) if not isinstance(data, bytes) else data
        crc, md5 = self.integrity_args(body, args)
        if if_none_match:
            args["IfNoneMatch"] = "*"
        resp = self.call("put_object", key=key, Body=body, **args)
        self.check_stored(key, crc, resp, "PutObject", lambda: md5 or checksums.md5_hex(body))
        return PutResult(
            key=key,
            etag=checksums.plain_etag(resp.get("ETag")),
            version_id=_version(resp.get("VersionId")),
            size=len(data),
            checksum_crc32=crc,
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

    def get_metadata(self, key: str, *, version_id: str | None = None) -> ObjectMetadata:
        """HeadObject: size, last_modified, etag, content type, storage class, metadata."""
        validate_key(key)
        params: dict[str, Any] = {"ChecksumMode": "ENABLED"}
        if version_id:
            params["VersionId"] = version_id
        try:
            head = self.call("head_object", key=key, **params)
        except NotFound as exc:
            if version_id:
                raise NotFound(self.bucket, key, version_id=version_id) from exc
            raise
        return ObjectMetadata.from_head(key, head)

    def exists(self, key: str, *, version_id: str | None = None) -> bool:
        """Whether the key (or that version of it) exists."""
        try:
            self.get_metadata(key, version_id=version_id)
        except NotFound as exc:
            if exc.key is None:  # the bucket itself is missing: that is an error, not "no"
                raise
            return False
        return True

    def list_objects(
        self,
        prefix: str = "",
        continuation_token: str | None = None,
        max_keys: int = 1000,
        delimiter: str | None = None,
        start_after: str | None = None,
    ) -> ListPage:
        """One page of keys under `prefix`."""
        if not 1 <= max_keys <= 1000:
            raise ConfigError(f"max_keys: {max_keys} must be between 1 and 1000")
        params: dict[str, Any] = {"Prefix": prefix, "MaxKeys": max_keys}
        if continuation_token:
            params["ContinuationToken"] = continuation_token
        if delimiter:
            params["Delimiter"] = delimiter
        if start_after:
            params["StartAfter"] = start_after
        resp = self.call("list_objects_v2", **params)
        return ListPage(
            objects=[ObjectSummary.from_listing(o) for o in resp.get("Contents", [])],
            is_truncated=bool(resp.get("IsTruncated")),
            continuation_token=resp.get("NextContinuationToken"),
            common_prefixes=[p["Prefix"] for p in resp.get("CommonPrefixes", [])],
        )

    def iter_objects(self, prefix: str = "", page_size: int = 1000) -> Iterator[ObjectSummary]:
        """Every key under `prefix`, page after page, lazily."""
        token = None
        while True:
            page = self.list_objects(prefix, token, page_size)
            yield from page.objects
            if not page.is_truncated or not page.continuation_token:
                return
            token = page.continuation_token

    def delete(self, key: str, *, version_id: str | None = None) -> DeleteResult:
        """DeleteObject (a delete marker when versioned, unless a version id is given)."""
        validate_key(key)
        params: dict[str, Any] = {}
        if version_id:
            params["VersionId"] = version_id
        resp = self.call("delete_object", key=key, **params)
        return DeleteResult(
            key=key,
            version_id=resp.get("VersionId"),
            delete_marker=bool(resp.get("DeleteMarker")),
        )

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

    def get_tags(
        self, key: str, *, version_id: str | None = None, bucket: str | None = None
    ) -> dict[str, str]:
        """The object's tags as a dict."""
        params: dict[str, Any] = {"VersionId": version_id} if version_id else {}
        resp = self.call("get_object_tagging", key=key, bucket=bucket, **params)
        return {t["Key"]: t["Value"] for t in resp.get("TagSet", [])}

    # -- file upload (upload.py, incomplete_uploads.py) --------------------------------------

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
    ) -> Any:
        """Upload a local file (parallel multipart, resumable, verified) -> UploadResult."""
        from orbit_provider.s3.upload import upload_file

        return upload_file(
            self, path, key, storage_class=storage_class, sse=sse, metadata=metadata,
            content_type=content_type, tags=tags, progress=progress,
            max_bandwidth=max_bandwidth, resume_token=resume_token,
        )

    def local_matches_remote(self, path: Any, key: str) -> Any:
        """Whether `key` already holds the local file's bytes (size + CRC32/MD5) -> Comparison."""
        from orbit_provider.s3.compare import local_matches_remote

        return local_matches_remote(self, path, key)

    def list_incomplete_uploads(self, prefix: str = "") -> list[Any]:
        """Unfinished multipart uploads under `prefix` (IncompleteUpload), oldest first."""
        from orbit_provider.s3.incomplete_uploads import list_incomplete_uploads

        return list_incomplete_uploads(self, prefix)

    def abort_incomplete_uploads(
        self, prefix: str = "", older_than: Any = 0, dry_run: bool = False
    ) -> list[Any]:
        """Abort unfinished uploads under `prefix` started >= `older_than` (seconds/timedelta)
        ago; returns those aborted (or, with dry_run, those that would be)."""
        from orbit_provider.s3.incomplete_uploads import abort_incomplete_uploads

        return abort_incomplete_uploads(self, prefix, older_than, dry_run)

    # -- downloads (download.py) ----------------------------------------------------------

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
        from orbit_provider.s3 import download

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
        from orbit_provider.s3 import download

        return download.download_file_resumable(
            self, key, path, offset, version_id=version_id, progress=progress
        )

    # -- versioning (versioning.py, rollback.py) ------------------------------------------

    def get_versioning_status(self) -> VersioningStatus:
        """The bucket's VersioningStatus (status None: never enabled)."""
        from orbit_provider.s3 import versioning

        return versioning.get_versioning_status(self)

    def enable_versioning(self) -> VersioningStatus:
        from orbit_provider.s3 import versioning

        return versioning.enable_versioning(self)

    def suspend_versioning(self) -> VersioningStatus:
        from orbit_provider.s3 import versioning

        return versioning.suspend_versioning(self)

    def list_object_versions(self, key: str, *, page_size: int = 1000) -> VersionListing:
        """VersionListing of exactly `key`: versions and delete markers, all pages."""
        from orbit_provider.s3 import versioning

        return versioning.list_object_versions(self, key, page_size=page_size)

    def latest_version_id(self, key: str) -> str | None:
        from orbit_provider.s3 import versioning

        return versioning.latest_version_id(self, key)

    def is_newer_version(self, key: str, version_id: str) -> bool:
        from orbit_provider.s3 import versioning

        return versioning.is_newer_version(self, key, version_id)

    def download_version(
        self, key: str, version_id: str, path: str | _PathLike[str]
    ) -> _DownloadResult:
        from orbit_provider.s3 import versioning

        return versioning.download_version(self, key, version_id, path)

    def restore_version(self, key: str, version_id: str) -> str:
        """Copy `version_id` back on top of the key; returns the new version id."""
        from orbit_provider.s3 import versioning

        return versioning.restore_version(self, key, version_id)

    def restore_at(self, key: str, timestamp: datetime | str) -> TimeRestore:
        from orbit_provider.s3 import versioning

        return versioning.restore_at(self, key, timestamp)

    def delete_version(self, key: str, version_id: str) -> DeleteResult:
        from orbit_provider.s3 import versioning

        return versioning.delete_version(self, key, version_id)

    def undelete(self, key: str) -> str:
        from orbit_provider.s3 import versioning

        return versioning.undelete(self, key)

    def compare_versions(self, key: str, a: str, b: str) -> VersionComparison:
        from orbit_provider.s3 import versioning

        return versioning.compare_versions(self, key, a, b)

    def version_at(self, key: str, timestamp: datetime | str) -> ObjectVersion | None:
        """The ObjectVersion current at `timestamp`, or None (absent or deleted then)."""
        from orbit_provider.s3 import versioning

        return versioning.version_at(self, key, timestamp)

    def plan_rollback(
        self, prefix: str, timestamp: datetime | str, *, page_size: int = 1000
    ) -> RollbackPlan:
        from orbit_provider.s3 import rollback

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
        from orbit_provider.s3 import rollback

        return rollback.rollback_prefix(
            self, prefix, timestamp, dry_run=dry_run, config=config, progress=progress,
            page_size=page_size,
        )

    # -- batch operations (orbit_provider/s3/batch*.py) -----------------------------------

    def batch_delete(self, keys: Any, config: Any = None, *, progress: Any = None) -> Any:
        """DeleteObjects over keys or (key, version_id) tuples, 1,000 a request (BatchResult)."""
        from orbit_provider.s3 import batch_delete

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
    ) -> Any:
        """Server-side copy of every key to dest_prefix (BatchResult)."""
        from orbit_provider.s3 import batch_copy

        return batch_copy.batch_copy(
            self, keys, dest_prefix, config, dest_bucket=dest_bucket,
            strip_prefix=strip_prefix, skip_identical=skip_identical, progress=progress,
        )

    def batch_change_storage_class(
        self, keys: Any, storage_class: Any, config: Any = None, *, progress: Any = None
    ) -> Any:
        """In-place storage-class change keeping metadata, content type and tags (BatchResult)."""
        from orbit_provider.s3 import batch_objects

        return batch_objects.batch_change_storage_class(
            self, keys, storage_class, config, progress=progress
        )

    def batch_update_metadata(
        self, keys: Any, metadata: dict, config: Any = None, merge: bool = True, *,
        progress: Any = None,
    ) -> Any:
        """Merge or replace user metadata of every key (BatchResult)."""
        from orbit_provider.s3 import batch_objects

        return batch_objects.batch_update_metadata(
            self, keys, metadata, config, merge, progress=progress
        )

    def batch_tag_objects(
        self, keys: Any, tags: dict, config: Any = None, merge: bool = True, *,
        progress: Any = None,
    ) -> Any:
        """Merge or replace the tags of every key (BatchResult)."""
        from orbit_provider.s3 import batch_objects

        return batch_objects.batch_tag_objects(self, keys, tags, config, merge, progress=progress)

    def restore_archived(
        self, keys: Any, days: int = 1, tier: str = "Standard", config: Any = None, *,
        progress: Any = None,
    ) -> Any:
        """RestoreObject for archived keys (BatchResult)."""
        from orbit_provider.s3 import batch_restore

        return batch_restore.restore_archived(self, keys, days, tier, config, progress=progress)

    def restore_status(self, key: str) -> Any:
        """RestoreStatus(state, expires) of one key from its HEAD."""
        from orbit_provider.s3 import batch_restore

        return batch_restore.restore_status(self, key)

    # -- copies ---------------------------------------------------------------------------

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
    ) -> CopyResult:
        """Server-side copy of any size, keeping metadata, content type and tags.

        Above `config.multipart_copy_threshold` the copy runs as parallel UploadPartCopy
        requests. `metadata` replaces the user metadata; None keeps the source's.
        """
        validate_key(src_key, "src_key")
        validate_key(dst_key, "dst_key")
        src_bucket = validate_bucket_name(src_bucket) if src_bucket else self.bucket
        dst_bucket = validate_bucket_name(dst_bucket) if dst_bucket else self.bucket
        source = {"Bucket": src_bucket, "Key": src_key}
        if src_version_id:
            source["VersionId"] = src_version_id
        in_place = src_bucket == dst_bucket and src_key == dst_key and not src_version_id
        write = self.write_args(storage_class, sse)
        if in_place and not write and metadata is None:
            raise ConfigError(
                f"copy_object: copying s3://{src_bucket}/{src_key} onto itself changes nothing; "
                "give a storage class, encryption or metadata"
            )
        head = source_metadata
        threshold = self.config.multipart_copy_threshold
        needs_head = in_place or metadata is not None or progress is not None
        if head is None and (needs_head or threshold < MAX_CHUNK_SIZE):
            head = self._head_source(src_bucket, src_key, src_version_id)
        if head is None or head.size <= threshold:
            try:
                return self._copy_single(
                    source, dst_key, dst_bucket, head, write, metadata, in_place, progress
                )
            except S3Error as exc:
                if head is not None or exc.code not in ("InvalidRequest", "EntityTooLarge"):
                    raise
                head = self._head_source(src_bucket, src_key, src_version_id)
                if head.size <= threshold:
                    raise
        return self._copy_multipart(source, dst_key, dst_bucket, head, write, metadata, progress)

    def _head_source(self, bucket: str, key: str, version_id: str | None) -> ObjectMetadata:
        params: dict[str, Any] = {"VersionId": version_id} if version_id else {}
        try:
            head = self.call("head_object", key=key, bucket=bucket, **params)
        except NotFound as exc:
            raise NotFound(bucket, key, version_id=version_id) from exc
        return ObjectMetadata.from_head(key, head)

    def _copy_single(
        self,
        source: dict,
        dst_key: str,
        dst_bucket: str,
        head: ObjectMetadata | None,
        write: dict,
        metadata: dict[str, str] | None,
        in_place: bool,
        progress: ProgressReporter | None,
    ) -> CopyResult:
        from orbit_provider.s3.limits import validate_metadata

        params = dict(write)
        if metadata is not None or in_place:
            # REPLACE re-sends metadata and content headers: S3-compatible stores (SeaweedFS)
            # refuse an in-place storage-class change with COPY.
            assert head is not None
            params.update(head.content_args())
            if metadata is not None:
                params["Metadata"] = validate_metadata(metadata)
            params["MetadataDirective"] = "REPLACE"
        tracker = None
        if progress is not None and head is not None:
            tracker = TransferProgress(progress, "copy", dst_key, head.size)
            tracker.start()
        try:
            resp = self.call(
                "copy_object", key=dst_key, bucket=dst_bucket, CopySource=source, **params
            )
        except S3Error as exc:
            if tracker:
                tracker.fail(exc)
            raise
        if tracker:
            tracker.advance(head.size)
            tracker.complete()
        result = resp.get("CopyObjectResult", {})
        return CopyResult(
            src_key=source["Key"],
            dst_key=dst_key,
            etag=checksums.plain_etag(result.get("ETag")),
            version_id=_version(resp.get("VersionId")),
            size=head.size if head else -1,
            src_bucket=source["Bucket"],
            dst_bucket=dst_bucket,
        )

    def _copy_multipart(
        self,
        source: dict,
        dst_key: str,
        dst_bucket: str,
        head: ObjectMetadata,
        write: dict,
        metadata: dict[str, str] | None,
        progress: ProgressReporter | None,
    ) -> CopyResult:
        from orbit_provider.s3.limits import encode_tags, validate_metadata

        size = head.size
        part_size = min(MAX_CHUNK_SIZE, max(self.config.chunk_size, math.ceil(size / MAX_PARTS)))
        ranges = [(start, min(start + part_size, size) - 1) for start in range(0, size, part_size)]
        create = dict(write)
        create.update(head.content_args())
        if metadata is not None:
            create["Metadata"] = validate_metadata(metadata)
        tags = self.get_tags(
            source["Key"], version_id=source.get("VersionId"), bucket=source["Bucket"]
        )
        if tags:
            create["Tagging"] = encode_tags(tags)
        upload_id = self.call("create_multipart_upload", key=dst_key, bucket=dst_bucket, **create)[
            "UploadId"
        ]
        tracker = TransferProgress(progress, "copy", dst_key, size, len(ranges))
        tracker.start()
        copy_source_if = {"CopySourceIfMatch": f'"{head.etag}"'} if head.etag else {}

        def copy_part(index: int) -> dict:
            first, last = ranges[index]
            resp = self.call(
                "upload_part_copy",
                key=dst_key,
                bucket=dst_bucket,
                CopySource=source,
                CopySourceRange=f"bytes={first}-{last}",
                PartNumber=index + 1,
                UploadId=upload_id,
                **copy_source_if,
            )
            tracker.advance(last - first + 1)
            tracker.part_done(index + 1, last - first + 1)
            return {"PartNumber": index + 1, "ETag": resp["CopyPartResult"]["ETag"]}

        try:
            with ThreadPoolExecutor(max_workers=self.config.parallel_operations) as pool:
                parts = list(pool.map(copy_part, range(len(ranges))))
            resp = self.call(
                "complete_multipart_upload",
                key=dst_key,
                bucket=dst_bucket,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException as exc:
            # A copy has no local state worth resuming: abort so nothing half-written remains.
            tracker.fail(exc)
            try:
                self.call(
                    "abort_multipart_upload", key=dst_key, bucket=dst_bucket, UploadId=upload_id
                )
            except S3Error:
                log.warning("could not abort multipart copy to s3://%s/%s", dst_bucket, dst_key)
            raise
        tracker.complete()
        return CopyResult(
            src_key=source["Key"],
            dst_key=dst_key,
            etag=checksums.plain_etag(resp.get("ETag")),
            version_id=_version(resp.get("VersionId")),
            size=size,
            parts=len(ranges),
            src_bucket=source["Bucket"],
            dst_bucket=dst_bucket,
        )
