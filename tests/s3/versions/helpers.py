"""Helpers shared by the versioning, version-listing and rollback tests."""

from __future__ import annotations

import time

import pendulum


def moment_after_write() -> pendulum.DateTime:
    """A timestamp after every write so far and before the LastModified of any later write.

    S3 reports LastModified to the second, so after taking the moment we wait until the next
    whole second has begun: the next write's truncated LastModified is then later than it.
    """
    moment = pendulum.now("UTC")
    time.sleep(1.05 - moment.microsecond / 1_000_000)
    return moment


def history_of(client, key: str) -> list[tuple[str, str]]:
    """(kind, version id) of every entry of `key`, newest first: "V" version, "D" marker."""
    listing = client.list_object_versions(key)
    return [("D" if e.is_delete_marker else "V", e.version_id) for e in listing.history]


def snapshot(client, prefix: str = "") -> list[tuple[str, str, bool]]:
    """Every version and delete marker under `prefix` (key, version id, is latest)."""
    resp_pages = client.s3.get_paginator("list_object_versions").paginate(
        Bucket=client.bucket, Prefix=prefix
    )
    entries = []
    for page in resp_pages:
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            entries.append((item["Key"], item["VersionId"], item["IsLatest"]))
    return sorted(entries)
