"""A resumed upload ends with the settings of the call that finishes it (issue 12).

ListMultipartUploads lists an unfinished upload's storage class and checksum (matched before
resuming, upload_resume.py), but no store lists its encryption, metadata, tags or content
type, so a resumed upload completes with the first try's. After Complete of a *resumed*
upload, the object's HEAD (the one the integrity check made) and, where they can differ, its
tags are compared with what this call asked for; on any difference the object is rewritten
in place with the call's settings (transfer/copy.copy_object: CopySourceIfMatch on the ETag
just completed, a multipart copy above multipart_copy_threshold), and on a versioned bucket
the version just completed with the old settings is deleted. A fresh upload skips all this:
the store applied the call's settings itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orbit_provider.s3.config import ServerSideEncryption, SseAlgorithm
from orbit_provider.s3.errors import NotFound
from orbit_provider.s3.models import ObjectMetadata, _version
from orbit_provider.s3.transfer.copy import copy_object
from orbit_provider.s3.transfer.upload_plan import FINGERPRINT_METADATA_KEY

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session

log = logging.getLogger("orbit_provider.s3.transfer.upload")


@dataclass(frozen=True)
class WantedSettings:
    """What a call asked the object to have (user metadata without our fingerprint)."""

    storage_class: str
    sse: ServerSideEncryption | None  # None: the bucket's default (not compared)
    metadata: dict[str, str]
    content_type: str | None  # None: the store's default (not compared)
    tags: dict[str, str]

    @classmethod
    def from_write_args(cls, args: dict[str, Any], tags: dict[str, str] | None) -> WantedSettings:
        """From session.write_args' request parameters and the call's tags."""
        sse = None
        if args.get("ServerSideEncryption"):
            sse = ServerSideEncryption(args["ServerSideEncryption"], args.get("SSEKMSKeyId"))
        metadata = {
            k.lower(): v
            for k, v in (args.get("Metadata") or {}).items()
            if k.lower() != FINGERPRINT_METADATA_KEY
        }
        return cls(
            storage_class=args.get("StorageClass") or "STANDARD",
            sse=sse,
            metadata=metadata,
            content_type=args.get("ContentType"),
            tags=dict(tags or {}),
        )


def differences(client: S3Session, key: str, want: WantedSettings, head: dict) -> list[str]:
    """How the object `head` describes differs from `want` (empty: it has the settings)."""
    found: list[str] = []
    storage_class = head.get("StorageClass") or "STANDARD"
    if storage_class != want.storage_class:
        found.append(f"storage class {storage_class}, not {want.storage_class}")
    if want.sse is not None:
        problem = _sse_difference(want.sse, head)
        if problem:
            found.append(problem)
    metadata = {
        k.lower(): v
        for k, v in (head.get("Metadata") or {}).items()
        if k.lower() != FINGERPRINT_METADATA_KEY
    }
    if metadata != want.metadata:
        found.append(f"metadata {sorted(metadata)}, not {sorted(want.metadata)}")
    if want.content_type and head.get("ContentType") != want.content_type:
        found.append(f"content type {head.get('ContentType')!r}, not {want.content_type!r}")
    count = head.get("TagCount")
    if want.tags or count is None or int(count) > 0:  # only then can the tags differ
        tags = client.get_tags(key, version_id=_version(head.get("VersionId")))
        if tags != want.tags:
            found.append(f"tags {sorted(tags)}, not {sorted(want.tags)}")
    return found


def _sse_difference(want: ServerSideEncryption, head: dict) -> str | None:
    algorithm = head.get("ServerSideEncryption")
    if algorithm != want.algorithm.value:
        return f"encryption {algorithm}, not {want.algorithm.value}"
    if want.algorithm is SseAlgorithm.KMS and want.kms_key_id:
        key_id = head.get("SSEKMSKeyId") or ""
        # S3 answers with the key's ARN; the call may have named the key by id or ARN
        if key_id != want.kms_key_id and not key_id.endswith("/" + want.kms_key_id):
            return "another KMS key"
    return None


def settle(
    client: S3Session, key: str, want: WantedSettings, head: dict, fingerprint: str
) -> dict | None:
    """Rewrite the completed object `head` describes with `want` when it differs.

    Returns the rewritten object's HEAD, or None when nothing differed. `fingerprint` is
    the `orbit-fingerprint` the object is to keep.
    """
    found = differences(client, key, want, head)
    if not found:
        return None
    log.info(
        "s3://%s/%s: the resumed upload completed with the first try's settings (%s); "
        "rewriting it with this call's",
        client.bucket, key, "; ".join(found),
    )
    metadata = {**want.metadata, FINGERPRINT_METADATA_KEY: fingerprint}
    result = copy_object(
        client,
        key,
        key,
        storage_class=want.storage_class,
        sse=want.sse,
        metadata=metadata,
        content_type=want.content_type,
        tags=want.tags,
        source_metadata=ObjectMetadata.from_head(key, head),
    )
    old_version = _version(head.get("VersionId"))
    if old_version and old_version != result.version_id:
        try:  # the version just completed with the old settings: ours, and superseded
            client.call("delete_object", key=key, VersionId=old_version)
        except NotFound:
            pass
    return client.head(key, version_id=result.version_id)
