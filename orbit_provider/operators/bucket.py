"""Bucket create and delete operators (like the amazon provider's ``S3CreateBucketOperator``
and ``S3DeleteBucketOperator``); delete with ``force_delete`` empties every version first
through the batch engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orbit_provider.operators.base import OrbitBaseOperator, is_unrendered
from orbit_provider.s3.batch.models import BatchConfig
from orbit_provider.s3.buckets import create_bucket, delete_bucket
from orbit_provider.s3.config import validate_bucket_name
from orbit_provider.s3.errors import ConfigError


class OrbitCreateBucketOperator(OrbitBaseOperator):
    """Create a bucket; one this account already owns is left as it is.

    :param bucket_name: the bucket (templated); S3's rules for new bucket names apply.
    :param region_name: its region (default: the connection's).
    :return: ``{"bucket", "created"}`` (created False when it existed).
    """

    template_fields: Sequence[str] = (*OrbitBaseOperator.template_fields, "region_name")
    ui_color = "#e8f5dc"

    def __init__(self, *, bucket_name: str, region_name: str | None = None, **kwargs: Any):
        super().__init__(bucket=None, **kwargs)
        self.bucket = bucket_name  # checked with the rules for new buckets, not existing ones
        self.region_name = region_name
        if not is_unrendered(bucket_name):
            self.run_checked(lambda: validate_bucket_name(bucket_name, new=True))

    def execute(self, context: Any) -> dict[str, Any]:
        created = self.run_checked(lambda: create_bucket(self.client, region=self.region_name))
        self.log.info("bucket s3://%s %s", self.client.bucket,
                      "created" if created else "already exists")  # fmt: skip
        return {"bucket": self.client.bucket, "created": created}


class OrbitDeleteBucketOperator(OrbitBaseOperator):
    """Delete a bucket. S3 deletes only empty buckets: ``force_delete`` first deletes every
    object version and delete marker (DeleteObjects, 1,000 a request, in parallel) and aborts
    unfinished uploads. A bucket already gone counts as done.

    :param bucket_name: the bucket (templated).
    :param force_delete: empty it first (every version: this cannot be undone).
    :param max_concurrent: DeleteObjects requests in flight while emptying.
    :return: ``{"bucket", "deleted", "objects_deleted", "uploads_aborted"}``.
    """

    ui_color = "#f5dcdc"

    def __init__(
        self,
        *,
        bucket_name: str,
        force_delete: bool = False,
        max_concurrent: int = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(bucket=bucket_name, **kwargs)
        if not isinstance(force_delete, bool):
            self.run_checked(lambda: _refuse(f"force_delete: {force_delete!r} must be a bool"))
        self.force_delete = force_delete
        self.max_concurrent = max_concurrent

    def execute(self, context: Any) -> dict[str, Any]:
        config = self.run_checked(lambda: BatchConfig(max_concurrent=self.max_concurrent))
        done = self.run_checked(
            lambda: delete_bucket(self.client, force_delete=self.force_delete, config=config)
        )
        self.log.info("bucket s3://%s %s (%d versions, %d uploads removed)", done.bucket,
                      "deleted" if done.deleted else "was already gone", done.objects_deleted,
                      done.uploads_aborted)  # fmt: skip
        return done.to_dict()


def _refuse(message: str) -> None:
    raise ConfigError(message)
