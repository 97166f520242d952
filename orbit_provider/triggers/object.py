"""OrbitObjectTrigger: waits in the triggerer until objects are ready (see OrbitObjectSensor)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orbit_provider.s3.conditions import objects_ready
from orbit_provider.triggers.polling import OrbitPollingTrigger

if TYPE_CHECKING:
    from orbit_provider.s3.client import S3Client
    from orbit_provider.s3.conditions import ConditionResult


class OrbitObjectTrigger(OrbitPollingTrigger):
    """Polls until a key, every key of a list, or `min_count` objects under a prefix are ready.

    :param bucket: the bucket to watch.
    :param key: one key (exactly one of key, keys, prefix).
    :param keys: a list of keys, all of which must be ready.
    :param prefix: a prefix under which at least `min_count` objects must exist.
    :param min_count: with `prefix`, how many objects are needed.
    :param min_size: the smallest size in bytes an object must have to count.
    :param no_pending_upload: also wait until no multipart upload for the key (or under the
        prefix) is unfinished.
    :param newer_than_version: with `key`, wait for a version newer than this version id.
    :param orbit_conn_id: the Airflow connection to use.
    :param poke_interval: seconds between two checks.
    :param timeout: seconds until a "timeout" event; None for no limit of its own.
    """

    def __init__(
        self,
        *,
        bucket: str,
        key: str | None = None,
        keys: list[str] | None = None,
        prefix: str | None = None,
        min_count: int = 1,
        min_size: int | None = None,
        no_pending_upload: bool = False,
        newer_than_version: str | None = None,
        orbit_conn_id: str | None = "orbit_s3_default",
        poke_interval: float = 60.0,
        timeout: float | None = None,
    ) -> None:
        super().__init__(
            bucket=bucket, orbit_conn_id=orbit_conn_id, poke_interval=poke_interval, timeout=timeout
        )
        self.key = key
        self.keys = list(keys) if keys is not None else None
        self.prefix = prefix
        self.min_count = min_count
        self.min_size = min_size
        self.no_pending_upload = no_pending_upload
        self.newer_than_version = newer_than_version

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "bucket": self.bucket,
                "key": self.key,
                "keys": self.keys,
                "prefix": self.prefix,
                "min_count": self.min_count,
                "min_size": self.min_size,
                "no_pending_upload": self.no_pending_upload,
                "newer_than_version": self.newer_than_version,
                "orbit_conn_id": self.orbit_conn_id,
                "poke_interval": self.poke_interval,
                "timeout": self.timeout,
            },
        )

    def check(self, client: S3Client) -> ConditionResult:
        return objects_ready(
            client,
            key=self.key,
            keys=self.keys,
            prefix=self.prefix,
            min_count=self.min_count,
            min_size=self.min_size,
            no_pending_upload=self.no_pending_upload,
            newer_than_version=self.newer_than_version,
        )
