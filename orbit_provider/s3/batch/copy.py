"""Batch copy: every key to dest_prefix + (key without strip_prefix, or its last path segment).

Planning is checked before copying: a key outside strip_prefix, a copy onto itself, or two
sources mapping to one destination is a ConfigError. For a list / tuple / set of keys every
key is planned before the first request, so bad input changes nothing. An iterator (e.g. a
generator of millions of keys) is planned as it is read, remembering only the destination
keys seen: the offending key fails alone with code "ConfigError", keys before it were copied.

skip_identical: when the destination already holds the source's ETag the key succeeds as
"already_done" without copying (a retried task redoes nothing). What the destination holds
is learnt by listing dest_prefix once (ListObjectsV2: 1,000 ETags a request, instead of a
HEAD per key, which doubled the requests of a copy); past LIST_LIMIT listed objects (or
if the listing is refused) each destination is HEADed instead. The listing is a snapshot
taken when the first key is copied. The source ETag comes from the item when it is an
ObjectSummary (a listing), otherwise from a HEAD made only when the destination exists.
ETags of multipart copies differ from their source's, so objects above
`multipart_copy_threshold` are copied again.

Each copy gets the call's `storage_class`, `sse` and metadata in its own request (no second
rewrite to re-tier or re-encrypt): `metadata_directive` "COPY" (the default without
`metadata`) keeps each source's user metadata and content headers, "REPLACE" (the default
with `metadata`) gives every copy `metadata` ({} when None) and keeps the source's content
headers. With a storage class or metadata given, skip_identical also asks the destination to
have that class (from the listing) and that metadata (a HEAD of a destination whose ETag
matches, so only a re-run pays it).

A copy keeps what its source has, as `transfer.copy.copy_object` does for any rewrite: the
source's SSE type, KMS key id and bucket-key setting (unless the call gives `sse`) and its
checksum algorithm (`copy.kept_from_source`). S3 would otherwise encrypt the copy with the
destination bucket's default and drop the source's KMS key. That needs the source's HEAD,
so every copied key costs a HEAD (reused from skip_identical when it made one); keys
skipped as identical cost none.

Each copy is one CopyObject sent by copy_http.HttpCopier (a third of botocore's client CPU;
its HEAD is lean too) when the environment allows plain HTTP and the threshold is the
5 GiB maximum; otherwise, and for sources over 5 GiB (the store refuses the single copy),
through `transfer.copy.copy_object`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from orbit_provider.s3.batch.engine import (
    batch_client,
    checked_key,
    request_limiter,
    result_key_of,
    run_batch,
)
from orbit_provider.s3.batch.models import ALREADY_DONE, BatchConfig, BatchResult, resolve_config
from orbit_provider.s3.config import (
    MAX_CHUNK_SIZE,
    ServerSideEncryption,
    StorageClass,
    validate_bucket_name,
    validate_key,
)
from orbit_provider.s3.errors import ConfigError, NotFound, S3Error
from orbit_provider.s3.limits import validate_metadata
from orbit_provider.s3.models import ObjectMetadata
from orbit_provider.s3.progress import ProgressReporter
from orbit_provider.s3.transfer.copy import copy_object, kept_from_source
from orbit_provider.s3.wire.checksums import plain_etag
from orbit_provider.s3.wire.copy_http import HttpCopier, make_copier, sendable

log = logging.getLogger("orbit_provider.s3.batch")

#: At most this many destination objects are listed (and their ETags held in memory, about
#: 150 bytes each) to decide skip_identical; beyond it, destinations are HEADed one by one.
LIST_LIMIT = 100_000
PAGE_SIZE = 1000  # keys a ListObjectsV2 page
_UNKNOWN = object()  # the listing cannot tell: HEAD the destination
METADATA_DIRECTIVES = ("COPY", "REPLACE")


@dataclass
class CopyPlan:
    """One key's copy: source, destination, and the source ETag when a listing gave it.
    `source` holds the source's HEAD between retries of the key (so a retry does not HEAD
    again, and a store failing every copy is not seen as half healthy); dropped once copied."""

    src: str
    dst: str
    etag: str | None = None
    source: ObjectMetadata | None = field(default=None, compare=False, repr=False)


class CopyPlanner:
    """Maps source keys to destination keys, refusing collisions and copies onto themselves."""

    def __init__(
        self, src_bucket: str, dest_prefix: str, dest_bucket: str, strip_prefix: str | None
    ) -> None:
        if not isinstance(dest_prefix, str):
            raise ConfigError(f"dest_prefix: {dest_prefix!r} must be a string")
        if strip_prefix is not None and not isinstance(strip_prefix, str):
            raise ConfigError(f"strip_prefix: {strip_prefix!r} must be a string or None")
        self.src_bucket = src_bucket
        self.dest_prefix = dest_prefix
        self.dest_bucket = dest_bucket
        self.strip_prefix = strip_prefix
        self._sources: dict[str, str] = {}  # destination -> source

    def destination(self, src: str) -> str:
        if self.strip_prefix is None:
            rest = src.rsplit("/", 1)[-1]
        elif src.startswith(self.strip_prefix):
            rest = src[len(self.strip_prefix) :]
        else:
            raise ConfigError(
                f"strip_prefix: key {src!r} does not start with {self.strip_prefix!r}"
            )
        if not rest:
            raise ConfigError(f"keys: {src!r} leaves an empty name for its destination")
        return validate_key(self.dest_prefix + rest, f"destination of {src!r}")

    def __call__(self, item: Any) -> CopyPlan:
        src = checked_key(item)
        dst = self.destination(src)
        if dst == src and self.dest_bucket == self.src_bucket:
            raise ConfigError(f"keys: {src!r} would be copied onto itself")
        other = self._sources.setdefault(dst, src)
        if other != src:
            raise ConfigError(
                f"keys: {other!r} and {src!r} both map to s3://{self.dest_bucket}/{dst}"
            )
        return CopyPlan(src, dst, getattr(item, "etag", None))


class DestinationIndex:
    """ETags and storage classes of the objects under the destination prefix, listed once, on
    first use, by whichever worker needs them first (the others wait). `entry(key)` is the
    destination's (ETag, storage class), None when it does not exist, or _UNKNOWN when the
    listing was too long or failed."""

    def __init__(self, bc: Any, bucket: str, prefix: str, limit: int = LIST_LIMIT) -> None:
        self.bc = bc
        self.bucket = bucket
        self.prefix = prefix
        self.limit = limit
        self._lock = threading.Lock()
        self._etags: dict[str, tuple[str | None, str]] | None = None
        self._complete = False

    def _load(self) -> None:
        etags: dict[str, tuple[str | None, str]] = {}
        params: dict[str, Any] = {"Prefix": self.prefix, "MaxKeys": PAGE_SIZE}
        try:
            while True:
                resp = self.bc.call("list_objects_v2", bucket=self.bucket, **params)
                for item in resp.get("Contents", []):
                    etags[item["Key"]] = (
                        plain_etag(item.get("ETag")),
                        item.get("StorageClass") or "STANDARD",
                    )
                token = resp.get("NextContinuationToken")
                if not (resp.get("IsTruncated") and token):
                    self._complete = True
                    break
                if len(etags) >= self.limit:
                    log.info(
                        "copy: more than %d objects under s3://%s/%s; checking destinations "
                        "one by one",
                        self.limit,
                        self.bucket,
                        self.prefix,
                    )
                    etags = {}
                    break
                params["ContinuationToken"] = token
        except S3Error as exc:
            if isinstance(exc, NotFound) and exc.key is None:
                raise  # the destination bucket is missing: an error, not "not there yet"
            log.info(
                "copy: cannot list s3://%s/%s (%s); checking destinations one by one",
                self.bucket,
                self.prefix,
                exc,
            )
            etags = {}
        self._etags = etags

    def entry(self, key: str) -> Any:
        with self._lock:
            if self._etags is None:
                self._load()
        if not self._complete:
            return _UNKNOWN
        return self._etags.get(key)  # type: ignore[union-attr]


def _head_or_none(bc: Any, bucket: str, key: str) -> ObjectMetadata | None:
    try:
        return bc.get_metadata(key, bucket=bucket)
    except NotFound as exc:
        if exc.key is None:  # the bucket is missing: an error, not "not there yet"
            raise
        return None


def metadata_to_set(
    metadata: dict[str, str] | None, metadata_directive: str | None
) -> dict[str, str] | None:
    """The user metadata every copy gets, or None to keep each source's: "REPLACE" (the
    default when `metadata` is given) sets `metadata` ({} when None); "COPY" keeps the
    source's and refuses `metadata`."""
    if metadata_directive is None:
        directive = "COPY" if metadata is None else "REPLACE"
    elif not isinstance(metadata_directive, str) or (
        metadata_directive.upper() not in METADATA_DIRECTIVES
    ):
        raise ConfigError(f"metadata_directive: {metadata_directive!r} must be COPY or REPLACE")
    else:
        directive = metadata_directive.upper()
    if directive == "COPY":
        if metadata is not None:
            raise ConfigError("metadata: given with metadata_directive='COPY', which ignores it")
        return None
    return dict(validate_metadata(metadata if metadata is not None else {}))


def batch_copy(
    client: Any,
    keys: Iterable[Any],
    dest_prefix: str,
    config: BatchConfig | None = None,
    *,
    dest_bucket: str | None = None,
    strip_prefix: str | None = None,
    skip_identical: bool = True,
    progress: ProgressReporter | None = None,
    sleep: Callable[[float], None] = time.sleep,
    sse: ServerSideEncryption | str | None = None,
    storage_class: StorageClass | str | None = None,
    metadata: dict[str, str] | None = None,
    metadata_directive: str | None = None,
) -> BatchResult:
    """Server-side copy of every key (any size) to `dest_prefix` in `dest_bucket` (default:
    the client's bucket), each keeping its source's encryption and checksum algorithm
    unless `sse` sets the encryption of every copy ("AES256", "aws:kms" or
    "aws:kms:<key id>"). `storage_class` and `metadata` (see metadata_to_set) are set by
    the copy itself: one request per object."""
    config = resolve_config(config)
    dest = validate_bucket_name(dest_bucket) if dest_bucket else client.bucket
    planner = CopyPlanner(client.bucket, dest_prefix, dest, strip_prefix)
    new_metadata = metadata_to_set(metadata, metadata_directive)

    bc = batch_client(client, config)  # one rate limit for every request of the batch
    index: DestinationIndex | None = None
    if skip_identical:
        limit = LIST_LIMIT
        if isinstance(keys, Collection) and not isinstance(keys, str | bytes):
            limit = min(LIST_LIMIT, max(1000, 4 * len(keys)))  # a few keys: a few LISTs
        index = DestinationIndex(bc, dest, dest_prefix, limit)

    write = client.write_args(storage_class, sse)
    wanted_class = write.get("StorageClass")
    copier: HttpCopier | None = None
    if client.config.multipart_copy_threshold >= MAX_CHUNK_SIZE:
        copier = make_copier(bc, write, request_limiter(bc))

    def copy(bc: Any, key: str, plan: CopyPlan) -> str | None:
        result = _copy(bc, plan)
        plan.source = None
        return result

    def _identical(plan: CopyPlan) -> bool:
        """The destination already is this copy: the source's ETag, and the class and
        metadata the call asks for."""
        assert index is not None
        dst_head: ObjectMetadata | None = None
        existing = index.entry(plan.dst)
        if existing is _UNKNOWN:
            dst_head = _head_or_none(bc, dest, plan.dst)
            existing = (dst_head.etag, dst_head.storage_class) if dst_head else None
        if not existing or not existing[0]:
            return False
        if wanted_class is not None and existing[1] != wanted_class:
            return False
        etag = plan.etag
        if etag is None:
            plan.source = plan.source or _head_source(plan)
            etag = plan.source.etag
        if etag != existing[0]:
            return False
        if new_metadata is not None:
            dst_head = dst_head or _head_or_none(bc, dest, plan.dst)
            return dst_head is not None and dst_head.metadata == new_metadata
        return True

    def _head_source(plan: CopyPlan) -> ObjectMetadata:
        if copier is not None:
            return ObjectMetadata.from_head(plan.src, copier.head(client.bucket, plan.src))
        return bc.get_metadata(plan.src)

    def _copy(bc: Any, plan: CopyPlan) -> str | None:
        if index is not None and _identical(plan):
            return ALREADY_DONE
        source_head = plan.source = plan.source or _head_source(plan)
        if copier is not None and source_head.size <= MAX_CHUNK_SIZE:
            args = kept_from_source(write, source_head, sse_given=sse is not None)
            if new_metadata is not None:
                args.update(source_head.content_args())
                args["Metadata"] = new_metadata
                args["MetadataDirective"] = "REPLACE"
            if sendable(args):
                copier.copy(client.bucket, plan.src, dest, plan.dst, write=args)
                return None
        copy_object(
            bc, plan.src, plan.dst, dst_bucket=dest, sse=sse, storage_class=storage_class,
            metadata=new_metadata, source_metadata=source_head,
        )
        return None

    try:
        return run_batch(
            client,
            "copy",
            keys,
            copy,
            config,
            prepare=planner,
            key_of=result_key_of,
            progress=progress,
            sleep=sleep,
            bc=bc,
        )
    finally:
        if copier is not None:
            copier.close()
