"""OrbitArchiveRestoreSensor: waits until archived keys are restored and readable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orbit_provider.s3.conditions import restored, validate_keys
from orbit_provider.s3.errors import ConfigError
from orbit_provider.sensors.base import OrbitBaseSensor, is_templated
from orbit_provider.triggers.archive import OrbitArchiveRestoreTrigger

if TYPE_CHECKING:
    from orbit_provider.s3.client import S3Client
    from orbit_provider.s3.conditions import ConditionResult


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

    def _key_list(self) -> list[str]:
        return [self.keys] if isinstance(self.keys, str) else list(self.keys)

    def validate(self, *, rendered: bool) -> None:
        super().validate(rendered=rendered)
        if not isinstance(self.fail_if_not_requested, bool):
            raise ConfigError(
                f"fail_if_not_requested: {self.fail_if_not_requested!r} must be True/False"
            )
        if self.keys is None:
            raise ConfigError("keys: at least one key is required")
        if rendered or not is_templated(self.keys):
            if not isinstance(self.keys, str | list | tuple):
                raise ConfigError(f"keys: expected a list of object keys, got {self.keys!r}")
            validate_keys(self._key_list())

    def check(self, client: S3Client) -> ConditionResult:
        return restored(client, self._key_list(), fail_if_not_requested=self.fail_if_not_requested)

    def make_trigger(self) -> OrbitArchiveRestoreTrigger:
        return OrbitArchiveRestoreTrigger(
            bucket=self.bucket,
            keys=self._key_list(),
            fail_if_not_requested=self.fail_if_not_requested,
            orbit_conn_id=self.orbit_conn_id,
            poke_interval=self.poke_interval,
            timeout=self.timeout,
        )
