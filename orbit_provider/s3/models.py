"""Result values of single-object operations: plain frozen dataclasses, JSON-friendly."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pendulum

from orbit_provider.s3.wire.checksums import plain_etag

#: The flexible checksums S3 keeps for an object, as named in its headers (ChecksumCRC64NVME...).
CHECKSUM_ALGORITHMS = ("CRC64NVME", "CRC32C", "CRC32", "SHA256", "SHA1")


def to_datetime(value: Any) -> pendulum.DateTime | None:
    """A boto3 datetime (or ISO string) as a pendulum DateTime in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        return pendulum.parse(value).in_timezone("UTC")
    return pendulum.instance(value).in_timezone("UTC")


@dataclass(frozen=True)
class PutResult:
    """What a single write produced."""

    key: str
    etag: str | None
    version_id: str | None
    size: int
    checksum_crc32: str | None = None


@dataclass(frozen=True)
class ObjectMetadata:
    """HeadObject, in Python terms."""

    key: str
    size: int
    last_modified: pendulum.DateTime | None
    etag: str | None
    content_type: str | None
    storage_class: str
    version_id: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    checksum_crc32: str | None = None
    parts_count: int | None = None
    restore: str | None = None
    server_side_encryption: str | None = None
    content_encoding: str | None = None
    content_disposition: str | None = None
    content_language: str | None = None
    cache_control: str | None = None
    sse_kms_key_id: str | None = None
    bucket_key_enabled: bool | None = None
    checksum_algorithm: str | None = None  # the algorithm of the checksum the store keeps

    @classmethod
    def from_head(cls, key: str, head: dict) -> ObjectMetadata:
        return cls(
            key=key,
            size=int(head.get("ContentLength", 0)),
            last_modified=to_datetime(head.get("LastModified")),
            etag=plain_etag(head.get("ETag")),
            content_type=head.get("ContentType"),
            storage_class=head.get("StorageClass") or "STANDARD",
            version_id=_version(head.get("VersionId")),
            metadata=dict(head.get("Metadata") or {}),
            checksum_crc32=head.get("ChecksumCRC32"),
            parts_count=head.get("PartsCount"),
            restore=head.get("Restore"),
            server_side_encryption=head.get("ServerSideEncryption"),
            content_encoding=head.get("ContentEncoding"),
            content_disposition=head.get("ContentDisposition"),
            content_language=head.get("ContentLanguage"),
            cache_control=head.get("CacheControl"),
            sse_kms_key_id=head.get("SSEKMSKeyId"),
            bucket_key_enabled=head.get("BucketKeyEnabled"),
            checksum_algorithm=next(
                (name for name in CHECKSUM_ALGORITHMS if head.get(f"Checksum{name}")), None
            ),
        )

    def content_args(self) -> dict[str, Any]:
        """The headers a rewrite must re-send to keep this object's metadata and content type."""
        args: dict[str, Any] = {"Metadata": dict(self.metadata)}
        for name, value in (
            ("ContentType", self.content_type),
            ("ContentEncoding", self.content_encoding),
            ("ContentDisposition", self.content_disposition),
            ("ContentLanguage", self.content_language),
            ("CacheControl", self.cache_control),
        ):
            if value:
                args[name] = value
        return args

    def encryption_args(self) -> dict[str, Any]:
        """The headers that give a rewrite of this object the same server-side encryption:
        SSE-S3, or SSE-KMS with its key and bucket-key setting. {} when it has none we can
        re-send (unencrypted as far as HEAD says, or SSE-C, whose key only its owner holds)."""
        if not self.server_side_encryption:
            return {}
        args: dict[str, Any] = {"ServerSideEncryption": self.server_side_encryption}
        if self.sse_kms_key_id:
            args["SSEKMSKeyId"] = self.sse_kms_key_id
        kms = self.server_side_encryption.startswith("aws:kms")
        if kms and self.bucket_key_enabled is not None:
            args["BucketKeyEnabled"] = self.bucket_key_enabled
        return args

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["last_modified"] = self.last_modified.isoformat() if self.last_modified else None
        return d


@dataclass(frozen=True)
class ObjectSummary:
    """One entry of a listing."""

    key: str
    size: int
    last_modified: pendulum.DateTime | None
    etag: str | None
    storage_class: str = "STANDARD"

    @classmethod
    def from_listing(cls, item: dict) -> ObjectSummary:
        return cls(
            key=item["Key"],
            size=int(item.get("Size", 0)),
            last_modified=to_datetime(item.get("LastModified")),
            etag=plain_etag(item.get("ETag")),
            storage_class=item.get("StorageClass") or "STANDARD",
        )


@dataclass(frozen=True)
class ListPage:
    """One page of ListObjectsV2."""

    objects: list[ObjectSummary]
    is_truncated: bool
    continuation_token: str | None
    common_prefixes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CopyResult:
    src_key: str
    dst_key: str
    etag: str | None
    version_id: str | None
    size: int
    parts: int = 1
    src_bucket: str | None = None
    dst_bucket: str | None = None


@dataclass(frozen=True)
class DeleteResult:
    key: str
    version_id: str | None
    delete_marker: bool


def _version(value: str | None) -> str | None:
    """S3 says "null" for objects written while versioning was off; keep that as None."""
    return None if value in (None, "", "null") else value
