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
from typing import Any, TypeVar

import boto3
from botocore.config import Config as BotoConfig

from orbit_provider import __version__
from orbit_provider.s3 import checksums
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

log = logging.getLogger("orbit_provider.s3.client")

T = TypeVar("T")

_PRESIGN_METHODS = {
    "GET": "get_object",
    "PUT": "put_object",
    "HEAD": "head_object",
    "DELETE": "delete_object",
}


def build_boto_client(config: S3Config, pool_size: int | None = None) -> Any:
    """A boto3 S3 client for `config`: botocore retries off, our own checksums, pool sized."""
    if config.credentials is not None:
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
    ) -> None:
        if not isinstance(config, S3Config):
            raise ConfigError("config: must be an S3Config")
        self.config = config
        self.retry_policy = retry_policy or RetryPolicy.from_max_retries(config.max_retries)
        self.circuit_breaker = circuit_breaker or self.retry_policy.make_breaker()
        self._boto = boto_client
        self._boto_lock = threading.Lock()

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
                    self._boto = build_boto_client(self.config)
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
        if cls is not StorageClass.STANDARD:
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
        crc = None
        if self.config.verify_checksums:
            crc = checksums.crc32_b64(checksums.crc32(data))
            args["ChecksumCRC32"] = crc
        if if_none_match:
            args["IfNoneMatch"] = "*"
        body = bytes(data) if not isinstance(data, bytes) else data
        resp = self.call("put_object", key=key, Body=body, **args)
        returned = resp.get("ChecksumCRC32")
        if crc and returned and returned != crc:
            raise IntegrityError(
                f"s3://{self.bucket}/{key}: server stored CRC32 {returned}, sent {crc}",
                bucket=self.bucket,
                key=key,
            )
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
        head = source_metadata
        threshold = self.config.multipart_copy_threshold
        needs_head = in_place or metadata is not None or progress is not None
        if head is None and (needs_head or threshold < MAX_CHUNK_SIZE):
            head = self._head_source(src_bucket, src_key, src_version_id)
        write = self.write_args(storage_class, sse)
        if in_place and not write and metadata is None:
            raise ConfigError(
                f"copy_object: copying s3://{src_bucket}/{src_key} onto itself changes nothing; "
                "give a storage class, encryption or metadata"
            )
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
