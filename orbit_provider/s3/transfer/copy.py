"""Server-side copies of any size: one CopyObject up to `multipart_copy_threshold`, else
parallel UploadPartCopy requests (through the parallel runner), keeping metadata, content
headers and tags. A failed multipart copy is aborted: a copy has no local state to resume."""

from __future__ import annotations

import logging
import math
from typing import Any

from orbit_provider.s3.config import (
    MAX_CHUNK_SIZE,
    MAX_PARTS,
    ServerSideEncryption,
    StorageClass,
    validate_bucket_name,
    validate_key,
)
from orbit_provider.s3.errors import ConfigError, NotFound, PreconditionFailed, S3Error
from orbit_provider.s3.limits import encode_tags, validate_metadata, validate_tags
from orbit_provider.s3.models import CopyResult, ObjectMetadata, _version
from orbit_provider.s3.progress import ProgressReporter, TransferProgress
from orbit_provider.s3.session import S3Session
from orbit_provider.s3.transfer.runner import run_parallel
from orbit_provider.s3.wire import checksums

log = logging.getLogger("orbit_provider.s3.client")


def copy_object(
    session: S3Session,
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
    """Server-side copy of any size, keeping metadata, content type and tags.

    Above `config.multipart_copy_threshold` the copy runs as parallel UploadPartCopy
    requests. `metadata` replaces the user metadata, `content_type` the content type and
    `tags` the tags ({} removes them); None keeps the source's. `if_none_match`: only if no
    object has the destination key (If-None-Match: * on CopyObject or on the completion of
    a multipart copy, which AWS honours atomically; PreconditionFailed otherwise).
    """
    validate_key(src_key, "src_key")
    validate_key(dst_key, "dst_key")
    src_bucket = validate_bucket_name(src_bucket) if src_bucket else session.bucket
    dst_bucket = validate_bucket_name(dst_bucket) if dst_bucket else session.bucket
    source = {"Bucket": src_bucket, "Key": src_key}
    if src_version_id:
        source["VersionId"] = src_version_id
    in_place = src_bucket == dst_bucket and src_key == dst_key and not src_version_id
    if if_none_match and src_bucket == dst_bucket and src_key == dst_key:
        raise ConfigError("copy_object: if_none_match on a copy onto its own key always fails")
    if if_none_match:
        _refuse_taken(session, dst_bucket, dst_key)
    write = session.write_args(storage_class, sse)
    if content_type is not None:
        write["ContentType"] = content_type  # over the source's (content_args below)
    if tags is not None:
        write["Tagging"] = encode_tags(validate_tags(tags))
    if in_place and not write and metadata is None:
        raise ConfigError(
            f"copy_object: copying s3://{src_bucket}/{src_key} onto itself changes nothing; "
            "give a storage class, encryption or metadata"
        )
    head = source_metadata
    threshold = session.config.multipart_copy_threshold
    # a rewrite of the key (in place, or one of its versions back on top, as rollbacks do)
    # keeps what the object had, which needs its HEAD
    rewrite = src_bucket == dst_bucket and src_key == dst_key
    needs_head = rewrite or metadata is not None or content_type is not None or progress is not None
    if head is None and (needs_head or threshold < MAX_CHUNK_SIZE):
        head = session.get_metadata(src_key, version_id=src_version_id, bucket=src_bucket)
    if head is not None:
        write = kept_from_source(write, head, sse_given=sse is not None)
    if head is None or head.size <= threshold:
        try:
            return _copy_single(
                session, source, dst_key, dst_bucket, head, write, metadata, in_place, progress,
                if_none_match,
            )
        except S3Error as exc:
            if head is not None or exc.code not in ("InvalidRequest", "EntityTooLarge"):
                raise
            head = session.get_metadata(src_key, version_id=src_version_id, bucket=src_bucket)
            if head.size <= threshold:
                raise
    return _copy_multipart(
        session, source, dst_key, dst_bucket, head, write, metadata, progress, if_none_match
    )

def _refuse_taken(session: S3Session, bucket: str, key: str) -> None:
    """PreconditionFailed when `key` exists. Stores that ignore If-None-Match on CopyObject
    (moto, some S3-compatible ones) are caught here; only the condition itself, which AWS
    honours, is atomic against a writer racing in between."""
    try:
        session.head(key, bucket=bucket)
    except NotFound:
        return
    raise PreconditionFailed(
        f"s3://{bucket}/{key} already exists (replace=False / if_none_match)",
        bucket=bucket,
        key=key,
    )


_SSE_ARGS = ("ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled")


def kept_from_source(write: dict[str, Any], head: ObjectMetadata, *, sse_given: bool) -> dict:
    """`write` for a copy of the object `head` describes: unless the call chose an encryption,
    the source's own (SSE-S3, or SSE-KMS with its key and bucket-key setting) replaces the
    config's default, and the checksum algorithm the source keeps is kept. S3 would otherwise
    encrypt the copy with the bucket's default and drop the source's KMS key."""
    args = dict(write)
    source_sse = head.encryption_args()
    if source_sse and not sse_given:
        for name in _SSE_ARGS:
            args.pop(name, None)
        args.update(source_sse)
    if head.checksum_algorithm:
        args.setdefault("ChecksumAlgorithm", head.checksum_algorithm)
    return args


def _copy_single(
    session: S3Session,
    source: dict,
    dst_key: str,
    dst_bucket: str,
    head: ObjectMetadata | None,
    write: dict,
    metadata: dict[str, str] | None,
    in_place: bool,
    progress: ProgressReporter | None,
    if_none_match: bool = False,
) -> CopyResult:
    params = dict(write)
    if if_none_match:
        params["IfNoneMatch"] = "*"
    if metadata is not None or in_place or "ContentType" in write:
        # REPLACE re-sends metadata and content headers: S3-compatible stores (SeaweedFS)
        # refuse an in-place storage-class change with COPY.
        assert head is not None
        params.update(head.content_args())
        params.update({k: write[k] for k in ("ContentType",) if k in write})
        if metadata is not None:
            params["Metadata"] = validate_metadata(metadata)
        params["MetadataDirective"] = "REPLACE"
    if "Tagging" in write:
        params["TaggingDirective"] = "REPLACE"
    if in_place and head is not None and head.etag:
        # rewrite only the object the HEAD described, not one written since
        params["CopySourceIfMatch"] = f'"{head.etag}"'
    tracker = None
    if progress is not None and head is not None:
        tracker = TransferProgress(progress, "copy", dst_key, head.size)
        tracker.start()
    try:
        resp = session.call(
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
    session: S3Session,
    source: dict,
    dst_key: str,
    dst_bucket: str,
    head: ObjectMetadata,
    write: dict,
    metadata: dict[str, str] | None,
    progress: ProgressReporter | None,
    if_none_match: bool = False,
) -> CopyResult:
    size = head.size
    smallest = max(session.config.effective_chunk_size, math.ceil(size / MAX_PARTS))
    part_size = min(MAX_CHUNK_SIZE, smallest)
    ranges = [(start, min(start + part_size, size) - 1) for start in range(0, size, part_size)]
    create = dict(write)
    # the parts' checksums would have to be listed at completion; a multipart copy keeps the
    # store's default checksum instead (its encryption is kept all the same)
    create.pop("ChecksumAlgorithm", None)
    create.update(head.content_args())
    create.update({k: write[k] for k in ("ContentType",) if k in write})
    if metadata is not None:
        create["Metadata"] = validate_metadata(metadata)
    if "Tagging" not in write:  # the call gave no tags: the source's
        tags = session.get_tags(
            source["Key"], version_id=source.get("VersionId"), bucket=source["Bucket"]
        )
        if tags:
            create["Tagging"] = encode_tags(tags)
    elif not create["Tagging"]:
        del create["Tagging"]
    upload_id = session.call("create_multipart_upload", key=dst_key, bucket=dst_bucket, **create)[
        "UploadId"
    ]
    tracker = TransferProgress(progress, "copy", dst_key, size, len(ranges))
    tracker.start()
    copy_source_if = {"CopySourceIfMatch": f'"{head.etag}"'} if head.etag else {}

    def copy_part(index: int) -> dict:
        first, last = ranges[index]
        resp = session.call(
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
        parts = run_parallel(
            range(len(ranges)),
            copy_part,
            workers=session.config.parallel_operations,
            name="orbit-copy",
        )
        resp = session.call(
            "complete_multipart_upload",
            key=dst_key,
            bucket=dst_bucket,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            **({"IfNoneMatch": "*"} if if_none_match else {}),
        )
    except BaseException as exc:
        # A copy has no local state worth resuming: abort so nothing half-written remains.
        tracker.fail(exc)
        try:
            session.call(
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
