"""OrbitArchiveRestoreSensor: waits until archived keys are restored and readable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orbit_provider.s3.conditions import ArchiveRestored
from orbit_provider.sensors.base import OrbitBaseSensor, is_templated, stand_in
from orbit_provider.triggers.archive import OrbitArchiveRestoreTrigger


class OrbitArchiveRestoreSensor(OrbitBaseSensor):
    """Waits until every key is readable: restored from GLACIER / DEEP_ARCHIVE, or never archived.

    Returns a summary: how many keys are readable, which were restored and until when the
    restored copies stay (the first 100 keys of each).

    :param bucket: the bucket holding the keys (templated).
    :param keys: the keys to wait for (templated; one key may be given as a string).
    :param fail_if_not_requested: fail at once when a key is archived and no restore was
        requested for it, since it would never become readable (default: keep waiting).
    :param orbit_conn_id: the Airflow connection to use.
    :param deferrable: wait in the triggerer (see OrbitArchiveRestoreTrigger).
    Other arguments (poke_interval, timeout, mode="poke"|"reschedule", ...) are
    BaseSensorOperator's.
    """

    template_fields: Sequence[str] = ("bucket", "keys")
    ui_color = "#e3dcf5"
    trigger_class = OrbitArchiveRestoreTrigger

    def __init__(
        self,
        *,
        bucket: str,
        keys: list[str] | str,
        fail_if_not_requested: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(bucket=bucket, **kwargs)
        self.keys = keys
        self.fail_if_not_requested = fail_if_not_requested
        self.validate(rendered=False)

    def build_condition(self, *, rendered: bool) -> ArchiveRestored:
        """ArchiveRestored for the keys (a lone string is one key; None is no key at all)."""
        keys = [self.keys] if isinstance(self.keys, str) else self.keys
        if not rendered and keys is not None:  # an XComArg or mapped value: known at execute
            keys = stand_in(keys, "stand-in-key") if isinstance(keys, list | tuple) else (
                ["stand-in-key"] if is_templated(keys) else keys
            )
        return ArchiveRestored(
            keys=[] if keys is None else keys, fail_if_not_requested=self.fail_if_not_requested
        )
