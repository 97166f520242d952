"""OrbitArchiveRestoreTrigger: waits in the triggerer until archived keys are readable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orbit_provider.s3.conditions import restored
from orbit_provider.triggers.polling import OrbitPollingTrigger

if TYPE_CHECKING:
    from orbit_provider.s3.client import S3Client
    from orbit_provider.s3.conditions import ConditionResult


class OrbitArchiveRestoreTrigger(OrbitPollingTrigger):
    """Polls until every key is restored from its archive class (or was never archived).

    :param bucket: the bucket holding the keys.
    :param keys: the keys to wait for.
    :param fail_if_not_requested: send an "error" event when a key is archived and no
        restore was requested for it (it would never become readable), instead of waiting.
    :param orbit_conn_id: the Airflow connection to use.
    :param poke_interval: seconds between two checks.
    :param timeout: seconds until a "timeout" event; None for no limit of its own.
    """

    def __init__(
        self,
        *,
        bucket: str,
        keys: list[str],
        fail_if_not_requested: bool = False,
        orbit_conn_id: str | None = "orbit_s3_default",
        poke_interval: float = 60.0,
        timeout: float | None = None,
    ) -> None:
        super().__init__(
            bucket=bucket, orbit_conn_id=orbit_conn_id, poke_interval=poke_interval, timeout=timeout
        )
        self.keys = list(keys)
        self.fail_if_not_requested = fail_if_not_requested

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "bucket": self.bucket,
                "keys": self.keys,
                "fail_if_not_requested": self.fail_if_not_requested,
                "orbit_conn_id": self.orbit_conn_id,
                "poke_interval": self.poke_interval,
                "timeout": self.timeout,
            },
        )

    def check(self, client: S3Client) -> ConditionResult:
        return restored(client, self.keys, fail_if_not_requested=self.fail_if_not_requested)
