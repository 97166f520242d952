"""Object versioning: bucket status, and list / download / restore / delete / compare the
versions of one key, or find the version that was current at a moment.

Every version id is checked against the key's listing before anything is written: S3
accepts a DeleteObject for a version that does not exist (204), and HEAD of a delete marker
fails differently on every store, so the listing is the one reliable answer.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pendulum

from orbit_provider.s3.batch.listing import as_datetime
from orbit_provider.s3.errors import ConfigError, NotFound
from orbit_provider.s3.models import DeleteResult
from orbit_provider.s3.transfer.copy import copy_object
from orbit_provider.s3.transfer.download import download_file
from orbit_provider.s3.versions.listing import (
    NULL_VERSION,
    DeleteMarker,
    Entry,
    ObjectVersion,
    VersionListing,
    entry_at,
    iter_key_entries,
    list_key_versions,
)
from orbit_provider.s3.wire import checksums

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session
    from orbit_provider.s3.transfer.download import DownloadResult

_STREAM_CHUNK = 1024 * 1024
# Full-object checksums S3 may return, strongest-and-cheapest first.
_CHECKSUM_FIELDS = (
    "ChecksumSHA256",
    "ChecksumCRC64NVME",
    "ChecksumCRC32C",
    "ChecksumCRC32",
    "ChecksumSHA1",
)


@dataclass(frozen=True)
class VersioningStatus:
    """A bucket's versioning state; `status` is None when versioning was never enabled."""

    status: str | None
    enabled: bool
    suspended: bool

    @property
    def ever_enabled(self) -> bool:
        return self.status is not None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "enabled": self.enabled, "suspended": self.suspended}


@dataclass(frozen=True)
class VersionComparison:
    """How version `b` differs from version `a` (differences are b minus a).

    `method` says what decided `content_differs`: "size" (lengths differ), "checksum"
    (full-object checksums), "etag" (plain MD5 ETags, or identical ETags) or "stream"
    (both versions read and hashed, when checksums and ETags could not decide).
    """

    key: str
    version_a: str
    version_b: str
    size_difference: int
    time_difference: pendulum.Duration
    content_differs: bool
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "version_a": self.version_a,
            "version_b": self.version_b,
            "size_difference": self.size_difference,
            "time_difference_seconds": self.time_difference.total_seconds(),
            "content_differs": self.content_differs,
            "method": self.method,
        }


@dataclass(frozen=True)
class TimeRestore:
    """What `restore_at` did: which version was current then, and the version current now."""

    key: str
    restored_version_id: str
    current_version_id: str
    changed: bool  # False when that version already was the current one


# -- bucket status -----------------------------------------------------------------------


def get_versioning_status(client: S3Session) -> VersioningStatus:
    """GetBucketVersioning: Enabled, Suspended, or None for a bucket never versioned."""
    status = client.call("get_bucket_versioning").get("Status") or None
    return VersioningStatus(
        status=status, enabled=status == "Enabled", suspended=status == "Suspended"
    )


def enable_versioning(client: S3Session) -> VersioningStatus:
    """Turn versioning on; returns the status read back from the bucket."""
    return _set_versioning(client, "Enabled")


def suspend_versioning(client: S3Session) -> VersioningStatus:
    """Stop creating new versions (existing ones stay); returns the status read back."""
    return _set_versioning(client, "Suspended")


def _set_versioning(client: S3Session, status: str) -> VersioningStatus:
    client.call("put_bucket_versioning", VersioningConfiguration={"Status": status})
    return get_versioning_status(client)


# -- one key -----------------------------------------------------------------------------


def list_object_versions(client: S3Session, key: str, *, page_size: int = 1000) -> VersionListing:
    """Every version and delete marker of exactly `key`, all pages, newest first."""
    return list_key_versions(client, key, page_size=page_size)


def latest_version_id(client: S3Session, key: str) -> str | None:
    """The id of the key's current version ("null" if written unversioned); None when the
    key does not exist or its latest entry is a delete marker."""
    for entry in iter_key_entries(client, key):
        return None if isinstance(entry, DeleteMarker) else entry.version_id
    return None


def is_newer_version(client: S3Session, key: str, version_id: str) -> bool:
    """Whether a version newer than `version_id` exists (delete markers do not count).

    NotFound when `version_id` is not a version of the key: a typo must not read as "yes".
    """
    newer = False
    for entry in iter_key_entries(client, key):
        if entry.version_id == version_id:
            return newer
        newer = newer or isinstance(entry, ObjectVersion)
    raise NotFound(client.bucket, key, version_id=version_id)


def get_version(client: S3Session, key: str, version_id: str) -> ObjectVersion:
    """The version (not delete marker) `version_id` of `key`; NotFound naming both."""
    _check_version_id(version_id)
    entry = list_key_versions(client, key).find(version_id)
    if isinstance(entry, DeleteMarker):
        raise ConfigError(
            f"version {version_id!r} of s3://{client.bucket}/{key} is a delete marker, "
            "not an object version (use undelete to remove it)"
        )
    return entry


def download_version(
    client: S3Session, key: str, version_id: str, path: str | Path
) -> DownloadResult:
    """Download one version to `path` (verified, atomic) through the download path."""
    get_version(client, key, version_id)
    try:
        return download_file(client, key, path, version_id=version_id)
    except NotFound as exc:
        if exc.key is None or exc.version_id is not None:
            raise
        raise NotFound(client.bucket, key, version_id=version_id) from exc


def restore_version(client: S3Session, key: str, version_id: str) -> str:
    """Make `version_id` the current version again by copying it onto the key, server-side.

    Any size (multipart copy above `multipart_copy_threshold`); user metadata, content type
    and tags of that version are kept. Returns the new version's id.
    """
    get_version(client, key, version_id)
    head = client.get_metadata(key, version_id=version_id)
    result = copy_object(client, key, key, src_version_id=version_id, source_metadata=head)
    return result.version_id or NULL_VERSION


def delete_version(client: S3Session, key: str, version_id: str) -> DeleteResult:
    """Permanently delete one version or delete marker (S3 itself would answer 204 for an
    id that never existed: this raises NotFound instead)."""
    _check_version_id(version_id)
    entry = list_key_versions(client, key).find(version_id)
    client.delete(key, version_id=entry.version_id)
    return DeleteResult(
        key=key, version_id=entry.version_id, delete_marker=isinstance(entry, DeleteMarker)
    )


def undelete(client: S3Session, key: str) -> str:
    """Bring a deleted key back: remove the delete marker(s) on top of its newest version.

    Returns the latest (first removed) marker's id. ConfigError when the key is not deleted;
    NotFound when it has no version under its markers to bring back.
    """
    listing = list_key_versions(client, key)
    if not listing.history:
        raise NotFound(client.bucket, key)
    if not listing.is_deleted:
        raise ConfigError(
            f"s3://{client.bucket}/{key} is not deleted: its latest entry is version "
            f"{listing.latest.version_id!r}, not a delete marker"
        )
    if not listing.versions:
        raise NotFound(
            client.bucket,
            key,
            message=f"s3://{client.bucket}/{key} has only delete markers: no version to bring back",
        )
    removed = listing.latest.version_id
    # One marker at a time, always the current one (IsLatest is exact, while the order of
    # entries written within one second is not, on every store): stacked markers all go.
    while isinstance(listing.latest, DeleteMarker):
        client.delete(key, version_id=listing.latest.version_id)
        listing = list_key_versions(client, key)
    return removed


def version_at(client: S3Session, key: str, timestamp: datetime | str) -> ObjectVersion | None:
    """The version that was current at `timestamp`, or None when the key did not exist yet
    or was deleted then. `timestamp`: aware datetime/pendulum or ISO string (UTC if no zone).
    """
    when = parse_timestamp(timestamp)
    entry = entry_at(list_key_versions(client, key).history, when)
    return entry if isinstance(entry, ObjectVersion) else None


def restore_at(client: S3Session, key: str, timestamp: datetime | str) -> TimeRestore:
    """Make the version current at `timestamp` current again (no copy if it already is).

    NotFound when the key had no version then: before its first version, or deleted.
    """
    when = parse_timestamp(timestamp)
    listing = list_key_versions(client, key)
    if not listing.history:
        raise NotFound(client.bucket, key)
    entry = entry_at(listing.history, when)
    if entry is None:
        first = listing.history[-1].last_modified.isoformat()
        raise NotFound(
            client.bucket,
            key,
            message=f"s3://{client.bucket}/{key} did not exist at {when.isoformat()}: "
            f"its first version is from {first}",
        )
    if isinstance(entry, DeleteMarker):
        raise NotFound(
            client.bucket,
            key,
            message=f"s3://{client.bucket}/{key} was deleted at {when.isoformat()} "
            f"(delete marker {entry.version_id!r})",
        )
    if listing.latest is entry:
        return TimeRestore(key, entry.version_id, entry.version_id, changed=False)
    new_id = restore_version(client, key, entry.version_id)
    return TimeRestore(key, entry.version_id, new_id, changed=True)


# -- comparing ----------------------------------------------------------------------------


def compare_versions(client: S3Session, key: str, a: str, b: str) -> VersionComparison:
    """Compare versions `a` and `b` of `key`: size and time differences, and whether the
    bytes differ, decided by the cheapest conclusive means (see VersionComparison.method)."""
    _check_version_id(a)
    _check_version_id(b)
    listing = list_key_versions(client, key)
    va, vb = (_as_version(client, listing.find(v)) for v in (a, b))
    size_difference = vb.size - va.size
    time_difference = pendulum.duration(
        seconds=(vb.last_modified - va.last_modified).total_seconds()
    )

    def result(differs: bool, method: str) -> VersionComparison:
        return VersionComparison(
            key, va.version_id, vb.version_id, size_difference, time_difference, differs, method
        )

    if size_difference:
        return result(True, "size")
    head_a, head_b = (_head(client, key, v.version_id) for v in (va, vb))
    decided = _by_checksum(head_a, head_b)
    if decided is not None:
        return result(decided, "checksum")
    decided = _by_etag(head_a, head_b)
    if decided is not None:
        return result(decided, "etag")
    with ThreadPoolExecutor(max_workers=2) as pool:
        digest_a, digest_b = pool.map(
            lambda v: _stream_digest(client, key, v.version_id), (va, vb)
        )
    return result(digest_a != digest_b, "stream")


def _by_checksum(head_a: dict, head_b: dict) -> bool | None:
    """True/False when both heads carry the same kind of full-object checksum."""
    for name in _CHECKSUM_FIELDS:
        ca, cb = head_a.get(name), head_b.get(name)
        if not ca or not cb:
            continue
        if ca == cb:  # equal checksums (composite ones too) mean equal bytes
            return False
        if _full_object(ca, head_a) and _full_object(cb, head_b):
            return True
    return None


def _full_object(value: str, head: dict) -> bool:
    return "-" not in value and head.get("ChecksumType") != "COMPOSITE"


def _by_etag(head_a: dict, head_b: dict) -> bool | None:
    """True/False when both ETags can decide: plain MD5s, or identical multipart ETags."""
    if _encrypted_etag(head_a) or _encrypted_etag(head_b):
        return None
    ea, eb = head_a.get("ETag"), head_b.get("ETag")
    if checksums.is_md5_etag(ea) and checksums.is_md5_etag(eb):
        return checksums.plain_etag(ea) != checksums.plain_etag(eb)
    if ea and ea == eb:
        return False
    return None


def _encrypted_etag(head: dict) -> bool:
    """SSE-KMS and SSE-C ETags are not derived from the plaintext alone."""
    return head.get("ServerSideEncryption") == "aws:kms" or bool(head.get("SSECustomerAlgorithm"))


def _head(client: S3Session, key: str, version_id: str) -> dict:
    return client.head(key, version_id=version_id)


def _stream_digest(client: S3Session, key: str, version_id: str) -> str:
    """SHA-256 of one version, read in 1 MiB chunks (bounded memory, retried as a whole)."""

    def read() -> str:
        resp = client.s3.get_object(Bucket=client.bucket, Key=key, VersionId=version_id)
        digest = hashlib.sha256()
        body = resp["Body"]
        try:
            for chunk in body.iter_chunks(_STREAM_CHUNK):
                digest.update(chunk)
        finally:
            body.close()
        return digest.hexdigest()

    return client.retry(read, key=key)


# -- helpers -----------------------------------------------------------------------------


def parse_timestamp(value: datetime | str, field_name: str = "timestamp") -> pendulum.DateTime:
    """An aware datetime, pendulum DateTime or ISO string, as UTC; naive datetimes refused."""
    if value is None:
        raise ConfigError(f"{field_name}: a timestamp is required")
    parsed = as_datetime(value, field_name)
    assert parsed is not None
    return parsed


def _check_version_id(version_id: str) -> str:
    if not isinstance(version_id, str) or not version_id:
        raise ConfigError(f"version_id: {version_id!r} must be a non-empty string")
    return version_id



def _as_version(client: S3Session, entry: Entry) -> ObjectVersion:
    if isinstance(entry, DeleteMarker):
        raise ConfigError(
            f"version {entry.version_id!r} of s3://{client.bucket}/{entry.key} is a delete "
            "marker: it has no content to compare"
        )
    return entry


__all__ = [
    "DeleteMarker",
    "ObjectVersion",
    "TimeRestore",
    "VersionComparison",
    "VersionListing",
    "VersioningStatus",
    "compare_versions",
    "delete_version",
    "download_version",
    "enable_versioning",
    "get_versioning_status",
    "get_version",
    "is_newer_version",
    "latest_version_id",
    "list_object_versions",
    "restore_at",
    "restore_version",
    "suspend_versioning",
    "undelete",
    "version_at",
]
