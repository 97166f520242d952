"""Unfinished multipart uploads: list them (every page) and abort the stale ones.

A failed upload is kept on purpose so that it can be resumed; these functions clean up the
ones nobody is going to resume.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pendulum

from orbit_provider.s3.errors import ConfigError, NotFound
from orbit_provider.s3.models import to_datetime

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session

log = logging.getLogger("orbit_provider.s3.transfer.incomplete_uploads")


@dataclass(frozen=True)
class IncompleteUpload:
    """A multipart upload that was started and neither completed nor aborted."""

    key: str
    upload_id: str
    initiated: pendulum.DateTime
    checksum_algorithm: str | None = None
    storage_class: str | None = None  # None where the store does not say
    checksum_type: str | None = None  # COMPOSITE / FULL_OBJECT, where the store says


def iter_incomplete_uploads(
    client: S3Session, prefix: str = "", *, page_size: int = 1000
) -> Iterator[IncompleteUpload]:
    """Every unfinished upload under `prefix`, following ListMultipartUploads page by page."""
    if not isinstance(prefix, str):
        raise ConfigError("prefix: must be a string")
    if not 1 <= page_size <= 1000:
        raise ConfigError(f"page_size: {page_size} must be between 1 and 1000")
    markers: dict[str, Any] = {}
    while True:
        resp = client.call("list_multipart_uploads", Prefix=prefix, MaxUploads=page_size, **markers)
        for item in resp.get("Uploads", []):
            yield IncompleteUpload(
                key=item["Key"],
                upload_id=item["UploadId"],
                initiated=to_datetime(item.get("Initiated")) or pendulum.now("UTC"),
                checksum_algorithm=item.get("ChecksumAlgorithm"),
                storage_class=item.get("StorageClass"),
                checksum_type=item.get("ChecksumType"),
            )
        if not resp.get("IsTruncated"):
            return
        nxt = {
            "KeyMarker": resp.get("NextKeyMarker"),
            "UploadIdMarker": resp.get("NextUploadIdMarker"),
        }
        nxt = {k: v for k, v in nxt.items() if v}
        if not nxt or nxt == markers:  # a store that says "truncated" but gives no way on
            log.warning("ListMultipartUploads is truncated but gave no next marker; stopping")
            return
        markers = nxt


def list_incomplete_uploads(client: S3Session, prefix: str = "") -> list[IncompleteUpload]:
    """All unfinished uploads under `prefix`, oldest first."""
    return sorted(iter_incomplete_uploads(client, prefix), key=lambda u: u.initiated)


def _seconds(older_than: float | dt.timedelta) -> float:
    if isinstance(older_than, dt.timedelta):  # pendulum.Duration is a timedelta too
        seconds = older_than.total_seconds()
    elif isinstance(older_than, int | float) and not isinstance(older_than, bool):
        seconds = float(older_than)
    else:
        raise ConfigError(
            f"older_than: {older_than!r} must be seconds, a timedelta or a pendulum Duration"
        )
    if seconds < 0:
        raise ConfigError(f"older_than: {older_than!r} must not be negative")
    return seconds


def abort_incomplete_uploads(
    client: S3Session,
    prefix: str = "",
    older_than: float | dt.timedelta = 0,
    dry_run: bool = False,
) -> list[IncompleteUpload]:
    """Abort the unfinished uploads under `prefix` started at least `older_than` ago.

    Returns those aborted (with `dry_run`: those that would be). An upload that vanished
    meanwhile (completed or aborted by someone else) is left out.
    """
    cutoff = pendulum.now("UTC").subtract(seconds=_seconds(older_than))
    stale = [u for u in list_incomplete_uploads(client, prefix) if u.initiated <= cutoff]
    if dry_run:
        return stale
    aborted = []
    for upload in stale:
        try:
            client.call("abort_multipart_upload", key=upload.key, UploadId=upload.upload_id)
        except NotFound:
            continue
        log.info("aborted multipart upload %s of s3://%s/%s", upload.upload_id, client.bucket,
                 upload.key)
        aborted.append(upload)
    return aborted
