"""Archive restores: RestoreObject for many keys, and where one key's restore stands.

S3 answers RestoreObject with 202 (restore started), 200 (already restored: the expiry is
extended) or 409 RestoreAlreadyInProgress; the last two count as success with a detail.
HEAD reports the state in its `Restore` header:
`ongoing-request="true"` or `ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import pendulum

from orbit_provider.s3.batch.engine import checked_key, result_key_of, run_batch
from orbit_provider.s3.batch.models import (
    ALREADY_IN_PROGRESS,
    ALREADY_RESTORED,
    BatchConfig,
    BatchResult,
    RestoreStatus,
    resolve_config,
)
from orbit_provider.s3.config import StorageClass
from orbit_provider.s3.errors import ArchivedObject, ConfigError, S3Error
from orbit_provider.s3.models import ObjectMetadata
from orbit_provider.s3.progress import ProgressReporter

TIERS = {"standard": "Standard", "bulk": "Bulk", "expedited": "Expedited"}
ARCHIVE_CLASSES = frozenset({StorageClass.GLACIER.value, StorageClass.DEEP_ARCHIVE.value})

_ONGOING = re.compile(r'ongoing-request\s*=\s*"(true|false)"', re.IGNORECASE)
_EXPIRY = re.compile(r'expiry-date\s*=\s*"([^"]+)"', re.IGNORECASE)


def parse_restore(header: str | None) -> tuple[bool | None, pendulum.DateTime | None]:
    """(ongoing, expires) from a `Restore` header; (None, None) when there is none."""
    if not header:
        return None, None
    ongoing = _ONGOING.search(header)
    expiry = _EXPIRY.search(header)
    expires = None
    if expiry:
        try:
            expires = pendulum.from_format(
                expiry.group(1).strip(), "ddd, DD MMM YYYY HH:mm:ss z"
            ).in_timezone("UTC")
        except ValueError:
            expires = pendulum.parse(expiry.group(1), strict=False).in_timezone("UTC")
    return (ongoing.group(1).lower() == "true") if ongoing else None, expires


def status_of(head: ObjectMetadata) -> RestoreStatus:
    """The restore status a HEAD response describes."""
    if head.storage_class not in ARCHIVE_CLASSES:
        return RestoreStatus("not_archived", None, head.storage_class)
    ongoing, expires = parse_restore(head.restore)
    if ongoing is None:
        return RestoreStatus("archived", None, head.storage_class)
    if ongoing:
        return RestoreStatus("in_progress", None, head.storage_class)
    return RestoreStatus("restored", expires, head.storage_class)


def ensure_readable(head: ObjectMetadata, bucket: str, doing: str) -> None:
    """Raise ArchivedObject (code "ArchivedObject") unless the object can be read."""
    status = status_of(head)
    if status.readable:
        return
    where = "a restore is in progress" if status.state == "in_progress" else "not restored"
    raise ArchivedObject(
        f"s3://{bucket}/{head.key} is in {head.storage_class} ({where}): restore it "
        f"(restore_archived) before {doing}",
        bucket=bucket,
        key=head.key,
        code="ArchivedObject",
    )


def restore_status(client: Any, key: str) -> RestoreStatus:
    """Whether `key` is not archived, archived, being restored, or restored (until when)."""
    return status_of(client.get_metadata(key))


def _validate(days: int, tier: str) -> str:
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigError(f"days: {days!r} must be a whole number of days >= 1")
    name = TIERS.get(str(tier).strip().lower()) if isinstance(tier, str) else None
    if name is None:
        raise ConfigError(f"tier: {tier!r} must be one of Standard, Bulk, Expedited")
    return name


def restore_archived(
    client: Any,
    keys: Iterable[Any],
    days: int = 1,
    tier: str = "Standard",
    config: BatchConfig | None = None,
    *,
    progress: ProgressReporter | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchResult:
    """RestoreObject for every key (archived for `days` days, retrieval `tier`)."""
    config = resolve_config(config)
    tier = _validate(days, tier)
    request = {"Days": days, "GlacierJobParameters": {"Tier": tier}}

    def restore(bc: Any, key: str, _: str) -> str | None:
        try:
            resp = bc.call("restore_object", key=key, RestoreRequest=request)
        except S3Error as exc:
            if exc.code == "RestoreAlreadyInProgress":
                return ALREADY_IN_PROGRESS
            if exc.code in ("InvalidObjectState", "ObjectAlreadyInActiveTierError"):
                raise S3Error(
                    f"s3://{bc.bucket}/{key} cannot be restored: it is not in an archive "
                    f"storage class ({exc.code})",
                    bucket=bc.bucket,
                    key=key,
                    code=exc.code,
                    status=exc.status,
                ) from exc
            raise
        status = resp.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return ALREADY_RESTORED if status == 200 else None

    return run_batch(
        client,
        "restore",
        keys,
        restore,
        config,
        prepare=checked_key,
        key_of=result_key_of,
        progress=progress,
        sleep=sleep,
    )
