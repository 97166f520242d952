"""OrbitArchiveRestoreTrigger: waits in the triggerer until archived keys are readable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orbit_provider.hooks.orbit_s3 import NOTSET
from orbit_provider.s3.conditions import ArchivePrefixRestored, ArchiveRestored
from orbit_provider.triggers.polling import OrbitPollingTrigger


class OrbitArchiveRestoreTrigger(OrbitPollingTrigger):
    """Polls until every key is restored from its archive class (or was never archived).

    :param bucket: the bucket holding the keys.
    :param condition: the ArchiveRestored (keys) or ArchivePrefixRestored (prefix) condition,
        or its `to_dict()`.
    :param orbit_conn_id: the Airflow connection to use (None: the standard AWS chain).
    :param aws_conn_id: alias of `orbit_conn_id`.
    :param poke_interval: seconds between two checks.
    :param timeout: seconds until a "timeout" event; None for no limit of its own.
    """

    condition_types = (ArchiveRestored, ArchivePrefixRestored)

    def __init__(
        self,
        *,
        bucket: str,
        condition: ArchiveRestored | ArchivePrefixRestored | Mapping[str, Any],
        orbit_conn_id: str | None = NOTSET,
        poke_interval: float = 60.0,
        timeout: float | None = None,
        aws_conn_id: str | None = NOTSET,
    ) -> None:
        super().__init__(
            bucket=bucket,
            condition=condition,
            orbit_conn_id=orbit_conn_id,
            poke_interval=poke_interval,
            timeout=timeout,
            aws_conn_id=aws_conn_id,
        )
