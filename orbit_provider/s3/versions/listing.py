"""Object versions and delete markers, listed lazily page after page, in true history order.

ListObjectVersions returns one XML list where versions and delete markers of a key are
interleaved newest first, but boto3 parses them into two separate lists. Timestamps cannot
restore the interleaving: S3 reports LastModified to the second, so a PUT and a DELETE in
the same second tie. A `before-parse` hook records the document order of each page, and the
two lists are merged back along it when that order is plausible (AWS, SeaweedFS); otherwise
(moto writes all versions, then all markers) they are merged by time.
"""

from __future__ import annotations

import itertools
import threading
import weakref
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pendulum

from orbit_provider.s3.config import validate_key
from orbit_provider.s3.errors import ConfigError, NotFound, S3Error
from orbit_provider.s3.models import to_datetime
from orbit_provider.s3.wire.checksums import plain_etag

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session

NULL_VERSION = "null"
"""S3's version id of an object written while versioning was off: a real, addressable id."""

_ORDER_FIELD = "OrbitEntryOrder"
_hooked: weakref.WeakSet = weakref.WeakSet()
_hook_lock = threading.Lock()


@dataclass(frozen=True)
class ObjectVersion:
    """One stored version of a key."""

    key: str
    version_id: str
    size: int
    last_modified: pendulum.DateTime
    etag: str | None
    is_latest: bool
    storage_class: str = "STANDARD"
    is_delete_marker = False

    @classmethod
    def from_listing(cls, item: dict) -> ObjectVersion:
        return cls(
            key=item["Key"],
            version_id=item.get("VersionId") or NULL_VERSION,
            size=int(item.get("Size", 0)),
            last_modified=to_datetime(item["LastModified"]),
            etag=plain_etag(item.get("ETag")),
            is_latest=bool(item.get("IsLatest")),
            storage_class=item.get("StorageClass") or "STANDARD",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "version_id": self.version_id,
            "size": self.size,
            "last_modified": self.last_modified.isoformat(),
            "etag": self.etag,
            "is_latest": self.is_latest,
            "storage_class": self.storage_class,
            "delete_marker": False,
        }


@dataclass(frozen=True)
class DeleteMarker:
    """A delete marker: while it is the latest entry, the key reads as deleted."""

    key: str
    version_id: str
    last_modified: pendulum.DateTime
    is_latest: bool
    is_delete_marker = True

    @classmethod
    def from_listing(cls, item: dict) -> DeleteMarker:
        return cls(
            key=item["Key"],
            version_id=item.get("VersionId") or NULL_VERSION,
            last_modified=to_datetime(item["LastModified"]),
            is_latest=bool(item.get("IsLatest")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "version_id": self.version_id,
            "last_modified": self.last_modified.isoformat(),
            "is_latest": self.is_latest,
            "delete_marker": True,
        }


Entry = ObjectVersion | DeleteMarker


@dataclass(frozen=True)
class VersionListing:
    """Every version and delete marker of one key; `history` holds both, newest first."""

    key: str
    versions: list[ObjectVersion] = field(default_factory=list)
    delete_markers: list[DeleteMarker] = field(default_factory=list)
    history: list[Entry] = field(default_factory=list)
    bucket: str | None = None

    @classmethod
    def from_history(
        cls, key: str, history: Sequence[Entry], bucket: str | None = None
    ) -> VersionListing:
        history = list(history)
        return cls(
            key=key,
            versions=[e for e in history if isinstance(e, ObjectVersion)],
            delete_markers=[e for e in history if isinstance(e, DeleteMarker)],
            history=history,
            bucket=bucket,
        )

    @property
    def latest(self) -> Entry | None:
        """The current entry (a version, or a delete marker when the key is deleted)."""
        return self.history[0] if self.history else None

    @property
    def is_deleted(self) -> bool:
        return isinstance(self.latest, DeleteMarker)

    def find(self, version_id: str) -> Entry:
        """The version or delete marker with this id; NotFound naming key and version."""
        for entry in self.history:
            if entry.version_id == version_id:
                return entry
        raise NotFound(self.bucket, self.key, version_id=version_id)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "history": [e.to_dict() for e in self.history]}


def entry_at(history: Sequence[Entry], timestamp: pendulum.DateTime) -> Entry | None:
    """The entry that was current at `timestamp` (history newest first), or None before any.

    S3 reports LastModified to the second on most stores, so a write within the same second
    as `timestamp` but after it counts as current: callers pick timestamps between writes.
    """
    for entry in history:
        if entry.last_modified <= timestamp:
            return entry
    return None


# -- paging ------------------------------------------------------------------------------


def iter_version_entries(
    client: S3Session, prefix: str = "", *, page_size: int = 1000
) -> Iterator[Entry]:
    """Every version and delete marker under `prefix`, by key, each key's newest first."""
    _check_page_size(page_size)
    _install_order_hook(client.s3)
    params: dict[str, Any] = {"Prefix": prefix, "MaxKeys": page_size}
    while True:
        resp = client.call("list_object_versions", **params)
        yield from _page_entries(resp)
        if not resp.get("IsTruncated"):
            return
        marker = (resp.get("NextKeyMarker"), resp.get("NextVersionIdMarker"))
        if not marker[0] or marker == (params.get("KeyMarker"), params.get("VersionIdMarker")):
            raise S3Error(
                f"s3://{client.bucket}: ListObjectVersions under {prefix!r} was truncated "
                "without a new marker to continue from",
                bucket=client.bucket,
            )
        params["KeyMarker"] = marker[0]
        if marker[1]:
            params["VersionIdMarker"] = marker[1]
        else:
            params.pop("VersionIdMarker", None)


def iter_key_histories(
    client: S3Session, prefix: str = "", *, page_size: int = 1000
) -> Iterator[VersionListing]:
    """One VersionListing per key under `prefix`, lazily (the listing is ordered by key)."""
    entries = iter_version_entries(client, prefix, page_size=page_size)
    for key, group in itertools.groupby(entries, key=lambda e: e.key):
        yield VersionListing.from_history(key, _newest_first(group), client.bucket)


def iter_key_entries(client: S3Session, key: str, *, page_size: int = 1000) -> Iterator[Entry]:
    """The entries of exactly `key`, newest first; keys that merely share the prefix are not
    listed past (they sort after `key`, so the listing stops at the first of them)."""
    validate_key(key)
    for entry in iter_version_entries(client, key, page_size=page_size):
        if entry.key != key:
            return
        yield entry


def list_key_versions(client: S3Session, key: str, *, page_size: int = 1000) -> VersionListing:
    """Every version and delete marker of exactly `key` (all pages)."""
    return VersionListing.from_history(
        key, _newest_first(iter_key_entries(client, key, page_size=page_size)), client.bucket
    )


def _newest_first(entries: Iterator[Entry] | Sequence[Entry]) -> list[Entry]:
    # Listing order already is newest first; a stable sort only repairs a store that is not.
    return sorted(entries, key=lambda e: e.last_modified, reverse=True)


def _check_page_size(page_size: int) -> None:
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not (
        1 <= page_size <= 1000
    ):
        raise ConfigError(f"page_size: {page_size!r} must be between 1 and 1000")


def _page_entries(resp: dict) -> list[Entry]:
    """This page's versions and delete markers merged back into document order."""
    versions = [ObjectVersion.from_listing(v) for v in resp.get("Versions", [])]
    markers = [DeleteMarker.from_listing(m) for m in resp.get("DeleteMarkers", [])]
    order = resp.get(_ORDER_FIELD)
    if order is not None and len(order) == len(versions) + len(markers) and sum(order) == len(
        markers
    ):
        v, m = iter(versions), iter(markers)
        merged = [next(m) if is_marker else next(v) for is_marker in order]
        if _plausible(merged):
            return merged
    # No usable document order (hook missing, or a store such as moto that writes all
    # versions before all markers): by key, newest first, the current entry first. Entries
    # of one key within one second then keep the order versions-before-markers.
    return sorted(
        versions + markers,
        key=lambda e: (e.key, -e.last_modified.timestamp(), not e.is_latest),
    )


def _plausible(entries: list[Entry]) -> bool:
    """Whether entries are ordered as S3 orders them: by key, each key newest first, its
    current (IsLatest) entry first."""
    previous: Entry | None = None
    for entry in entries:
        if previous is None or entry.key != previous.key:
            if previous is not None and entry.key < previous.key:
                return False
        elif entry.is_latest or entry.last_modified > previous.last_modified:
            return False
        previous = entry
    return True


def _record_order(response_dict: dict, customized_response_dict: dict, **_: Any) -> None:
    """before-parse hook: remember whether each entry of the page is a delete marker."""
    body = response_dict.get("body")
    if not body or (response_dict.get("status_code") or 200) >= 300:
        return
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return
    order = []
    for child in root:
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "Version":
            order.append(False)
        elif tag == "DeleteMarker":
            order.append(True)
    customized_response_dict[_ORDER_FIELD] = order


def _install_order_hook(boto_client: Any) -> None:
    with _hook_lock:
        if boto_client in _hooked:
            return
        boto_client.meta.events.register(
            "before-parse.s3.ListObjectVersions", _record_order, unique_id="orbit-version-order"
        )
        _hooked.add(boto_client)
