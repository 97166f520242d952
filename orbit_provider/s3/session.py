"""S3Session: what every feature of the core talks through.

One thread-safe boto3 client (botocore retries off, a pool sized for the parallelism), the one
retrying call under the RetryPolicy and the circuit breaker, the write and integrity arguments,
and the raw single-object requests (HEAD, list, delete, tags) that transfers, batches and
versioning build on. Feature modules take an S3Session; `S3Client` (client.py) is the facade
on top that composes them, and nothing in the core imports it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import boto3
from botocore import UNSIGNED
from botocore.config import Config as BotoConfig

from orbit_provider import __version__
from orbit_provider.s3.config import S3Config, ServerSideEncryption, StorageClass, validate_key
from orbit_provider.s3.errors import ConfigError, NotFound
from orbit_provider.s3.limits import encode_tags, validate_metadata, validate_tags
from orbit_provider.s3.models import DeleteResult, ListPage, ObjectMetadata, ObjectSummary
from orbit_provider.s3.recovery import CircuitBreaker, RetryPolicy, with_retry
from orbit_provider.s3.wire import checksums, log_redaction
from orbit_provider.s3.wire.adaptive import AdaptiveThrottle, shared_throttle
from orbit_provider.s3.wire.botocore_data import share_data
from orbit_provider.s3.wire.stored_check import check_stored

T = TypeVar("T")


def boto_session(config: S3Config) -> Any:
    """The boto3 Session of `config`: its static credentials, else the standard chain (env,
    ~/.aws files and profile, web identity, container and instance roles)."""
    if config.credentials is not None:
        return boto3.session.Session(
            aws_access_key_id=config.credentials.access_key_id,
            aws_secret_access_key=config.credentials.secret_access_key,
            aws_session_token=config.credentials.session_token,
            region_name=config.region,
        )
    return boto3.session.Session(profile_name=config.profile, region_name=config.region)


def build_control_client(config: S3Config, session: Any = None) -> Any:
    """A boto3 s3control client (S3 Batch Operations jobs) with `config`'s credentials and
    region, botocore's own standard retries (job calls are few and idempotent by token)."""
    log_redaction.install()
    return share_data(session or boto_session(config)).client(
        "s3control",
        region_name=config.region,
        config=BotoConfig(
            retries={"max_attempts": config.max_retries + 1, "mode": "standard"},
            user_agent_extra=f"orbit-provider/{__version__}",
        ),
    )


def build_boto_client(
    config: S3Config, pool_size: int | None = None, session: Any = None
) -> Any:
    """A boto3 S3 client for `config`: botocore retries off, our own checksums, pool sized.

    `session`: a ready boto3 Session (e.g. with assumed-role credentials) used instead of
    the config's credentials/profile.
    """
    log_redaction.install()  # botocore's DEBUG logs would print the session token
    if config.credentials is not None:  # masked wherever an error or a log line shows them
        creds = config.credentials
        log_redaction.remember(
            creds.access_key_id, creds.secret_access_key, creds.session_token
        )
    session = share_data(session or boto_session(config))
    extra = dict(config.botocore_config or {})  # the user's settings orbit does not own
    s3_extra = extra.pop("s3", None) or {}
    if extra.get("signature_version") == "unsigned":  # anonymous, as the amazon provider
        extra["signature_version"] = UNSIGNED
    if "user_agent_extra" in extra:
        extra["user_agent_extra"] = f"orbit-provider/{__version__} {extra['user_agent_extra']}"
    settings: dict[str, Any] = {
        "retries": {"total_max_attempts": 1, "mode": "standard"},
        "max_pool_connections": pool_size or max(32, config.parallel_operations * 2),
        "connect_timeout": min(config.timeout_seconds, 60),
        "read_timeout": config.timeout_seconds,
        "tcp_keepalive": True,
        "signature_version": "s3v4",
        "user_agent_extra": f"orbit-provider/{__version__}",
        # We compute and verify checksums ourselves (cheap CRC32), so botocore neither adds
        # its own nor SHA256-signs payloads (2.5 CPU-s/GiB over http, see docs/architecture.md).
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
        "s3": {
            "addressing_style": "path" if config.force_path_style else "auto",
            "payload_signing_enabled": False,
            # presigned part and range URLs come from this client, so they follow it too
            "use_accelerate_endpoint": config.use_accelerate_endpoint,
            **s3_extra,
        },
        **extra,
    }
    return session.client(
        "s3",
        endpoint_url=config.endpoint,
        region_name=config.region,
        config=BotoConfig(**settings),
        # True leaves botocore's own choice (AWS_CA_BUNDLE, ca_bundle in the AWS config);
        # the plain-HTTP pools follow it too (wire/plain_http.py)
        verify=None if config.verify is True else config.verify,
    )


_UNSET: Any = object()  # a lazily made attribute not made yet


class S3Session:
    """The boto3 client, the retrying call and the per-store state of one S3Config."""

    def __init__(
        self,
        config: S3Config,
        *,
        retry_policy: RetryPolicy | None = None,
        circuit_breaker: CircuitBreaker | None = None,
        boto_client: Any = None,
        boto_session: Any = None,
        throttle: AdaptiveThrottle | None = None,
    ) -> None:
        if not isinstance(config, S3Config):
            raise ConfigError("config: must be an S3Config")
        self.config = config
        self.retry_policy = retry_policy or RetryPolicy.client_default(
            config.max_retries,
            breaker_timeout=config.circuit_breaker_timeout,
            breaker_open_cycles=config.circuit_breaker_open_cycles,
        )
        # one breaker per endpoint in this process: every client of a store shares its health
        self.circuit_breaker = circuit_breaker or self.retry_policy.make_breaker(
            scope=config.endpoint_scope
        )
        # one adaptive throttle per endpoint too: SlowDown answers lower the request rate and
        # the requests in flight of every client of that store (wire/adaptive.py)
        self.throttle = throttle or shared_throttle(config.endpoint_scope)
        self._boto = boto_client
        self._boto_session = boto_session  # a boto3 Session to build the client from, if given
        self._boto_lock = threading.Lock()
        self._control: Any = None
        self._lister: Any = _UNSET  # LeanLister, or None where botocore must list
        # set once an answer shows the store ignores our CRC32 header (stored_check.py): from
        # then on PUTs and parts also carry Content-MD5, which every S3 store verifies
        self.store_ignores_crc32 = False

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(bucket={self.config.bucket!r}, "
            f"endpoint={self.config.endpoint!r})"
        )

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

    @property
    def s3control(self) -> Any:
        """A boto3 s3control client with the same credentials (S3 Batch Operations jobs)."""
        if self._control is None:
            with self._boto_lock:
                if self._control is None:
                    self._control = build_control_client(self.config, self._boto_session)
        return self._control

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
            throttle=self.throttle,
        )

    def retry(self, fn: Callable[[], T], *, key: str | None = None) -> T:
        """Run any callable (e.g. a GET plus reading its body) under the retry policy."""
        return with_retry(
            self.retry_policy,
            fn,
            self.circuit_breaker,
            bucket=self.bucket,
            key=key,
            throttle=self.throttle,
        )

    # -- integrity of what we write --------------------------------------------------------

    def integrity_args(
        self,
        data: bytes | bytearray | memoryview,
        args: dict[str, Any],
        algorithm: str | None = None,
    ) -> tuple[str | None, str | None]:
        """Add the checksums a PUT of `data` carries to `args`: a signed checksum of
        `algorithm` (default: the config's checksum_algorithm) with verify_checksums, plus
        Content-MD5 once this store showed that it ignores flexible checksums
        (stored_check.py). Returns (checksum sent, MD5 hex sent), None where not sent."""
        if not self.config.verify_checksums:
            return None, None
        algorithm = algorithm or self.config.checksum_algorithm
        crc = checksums.checksum_b64(algorithm, data)
        args[checksums.param_name(algorithm)] = crc
        if not self.store_ignores_crc32:
            return crc, None
        md5 = checksums.md5_hex(data)
        args["ContentMD5"] = checksums.b64_of_hex(md5)
        return crc, md5

    def check_stored(
        self,
        key: str,
        crc: str | None,
        resp: dict,
        what: str,
        md5_hex: Callable[[], str],
        algorithm: str | None = None,
    ) -> bool:
        """stored_check.check_stored for a checksum of `algorithm` (default: the config's),
        remembering a store that ignores it (and saying so once, not for every part)."""
        acknowledged = check_stored(
            self.bucket,
            key,
            crc,
            resp,
            what,
            md5_hex,
            warn=not self.store_ignores_crc32,
            algorithm=algorithm or self.config.checksum_algorithm,
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

    # -- raw single-object requests ----------------------------------------------------------

    def head(
        self,
        key: str,
        *,
        version_id: str | None = None,
        bucket: str | None = None,
        **params: Any,
    ) -> dict:
        """HeadObject with ChecksumMode ENABLED: the raw answer. The one HEAD of the core
        (`params`: more HeadObject arguments, e.g. PartNumber, IfMatch); a missing object
        raises NotFound naming the key (and the version asked for)."""
        params["ChecksumMode"] = "ENABLED"
        if version_id:
            params["VersionId"] = version_id
        try:
            return self.call("head_object", key=key, bucket=bucket, **params)
        except NotFound as exc:
            if exc.key is None:  # the bucket itself is missing
                raise
            raise NotFound(bucket or self.bucket, key, version_id=version_id) from exc

    def get_metadata(
        self, key: str, *, version_id: str | None = None, bucket: str | None = None
    ) -> ObjectMetadata:
        """HeadObject: size, last_modified, etag, content type, storage class, metadata."""
        validate_key(key)
        return ObjectMetadata.from_head(key, self.head(key, version_id=version_id, bucket=bucket))

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
        lister = self._lean_lister()
        if lister is not None:
            return lister.page(params)
        resp = self.call("list_objects_v2", **params)
        return ListPage(
            objects=[ObjectSummary.from_listing(o) for o in resp.get("Contents", [])],
            is_truncated=bool(resp.get("IsTruncated")),
            continuation_token=resp.get("NextContinuationToken"),
            common_prefixes=[p["Prefix"] for p in resp.get("CommonPrefixes", [])],
        )

    def _lean_lister(self) -> Any:
        """The plain-HTTP lister of this session (wire/list_http.py), made on first use, or
        None where requests must go through botocore."""
        if self._lister is _UNSET:
            from orbit_provider.s3.wire.list_http import LeanLister
            from orbit_provider.s3.wire.plain_http import use_plain_http

            with self._boto_lock:
                if self._lister is _UNSET:
                    self._lister = LeanLister(self) if use_plain_http(self) else None
        return self._lister

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

    def get_tags(
        self, key: str, *, version_id: str | None = None, bucket: str | None = None
    ) -> dict[str, str]:
        """The object's tags as a dict."""
        params: dict[str, Any] = {"VersionId": version_id} if version_id else {}
        resp = self.call("get_object_tagging", key=key, bucket=bucket, **params)
        return {t["Key"]: t["Value"] for t in resp.get("TagSet", [])}
