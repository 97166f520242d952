"""Buckets: create one (idempotently), and delete one, emptied first when asked: every
version and delete marker through the batch engine (DeleteObjects, 1,000 a request, in
parallel) and every unfinished multipart upload aborted, since S3 deletes only empty buckets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from orbit_provider.s3.batch.delete import batch_delete
from orbit_provider.s3.batch.models import BatchConfig
from orbit_provider.s3.config import validate_bucket_name
from orbit_provider.s3.errors import ConfigError, NotFound, S3Error
from orbit_provider.s3.session import S3Session
from orbit_provider.s3.transfer.incomplete_uploads import abort_incomplete_uploads
from orbit_provider.s3.versions.listing import iter_version_entries

log = logging.getLogger("orbit_provider.s3.buckets")


def create_bucket(session: S3Session, *, region: str | None = None) -> bool:
    """Create the session's bucket (in `region`, default the config's); False when this
    account already owns it. A name S3 would refuse for a new bucket fails before any
    request."""
    bucket = validate_bucket_name(session.bucket, new=True)
    region = region or session.config.region
    try:  # us-east-1 answers 200 to re-creating a bucket one owns: ask first
        session.call("head_bucket")
        return False
    except NotFound:
        pass
    params: dict[str, Any] = {}
    if region and region != "us-east-1":  # us-east-1 takes no LocationConstraint
        params["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        session.call("create_bucket", **params)
    except S3Error as exc:
        if exc.code in ("BucketAlreadyOwnedByYou",):
            return False
        if exc.code == "BucketAlreadyExists":
            raise ConfigError(
                f"bucket: {bucket!r} already exists and belongs to another account"
            ) from exc
        raise
    log.info("created bucket s3://%s%s", bucket, f" in {region}" if region else "")
    return True


@dataclass(frozen=True)
class BucketDeletion:
    """What delete_bucket removed: versions and delete markers, aborted uploads."""

    bucket: str
    deleted: bool
    objects_deleted: int = 0
    uploads_aborted: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "deleted": self.deleted,
            "objects_deleted": self.objects_deleted,
            "uploads_aborted": self.uploads_aborted,
        }


def empty_bucket(session: S3Session, config: BatchConfig | None = None) -> tuple[int, int]:
    """Delete every version and delete marker and abort every unfinished upload of the
    session's bucket; (objects deleted, uploads aborted). Raises when any delete failed."""
    entries = ((e.key, e.version_id) for e in iter_version_entries(session))
    result = batch_delete(session, entries, config)
    if not result.ok:
        first = "; ".join(f"{k} ({c}): {m}" for k, c, m in result.errors[:3])
        raise S3Error(
            f"s3://{session.bucket}: {result.failed} of {result.total} versions could not be "
            f"deleted, the bucket is not empty: {first}",
            bucket=session.bucket,
        )
    aborted = abort_incomplete_uploads(session)
    return result.total, len(aborted)


def delete_bucket(
    session: S3Session, *, force_delete: bool = False, config: BatchConfig | None = None
) -> BucketDeletion:
    """Delete the session's bucket; with `force_delete`, empty it first (every version).
    A bucket already gone counts as deleted (deleted=False says it was not this call)."""
    bucket = session.bucket
    objects = uploads = 0
    try:
        if force_delete:
            objects, uploads = empty_bucket(session, config)
        session.call("delete_bucket")
    except NotFound as exc:
        if exc.key is None and exc.code in ("NoSuchBucket", "NotFound"):
            return BucketDeletion(bucket, False, objects, uploads)
        raise
    except S3Error as exc:
        if exc.code == "BucketNotEmpty":
            raise ConfigError(
                f"bucket: s3://{bucket} is not empty; pass force_delete=True to delete every "
                "object version in it first"
            ) from exc
        raise
    log.info("deleted bucket s3://%s (%d versions, %d uploads removed)", bucket, objects, uploads)
    return BucketDeletion(bucket, True, objects, uploads)
