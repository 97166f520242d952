"""OrbitPrefixUnchangedSensor: waits until a writer dropping many files under a prefix is
done, i.e. nothing under it changed for a while (like the amazon provider's
S3KeysUnchangedSensor), in poke or deferred mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orbit_provider.s3.conditions import PrefixUnchanged
from orbit_provider.s3.errors import ConfigError
from orbit_provider.sensors.base import OrbitBaseSensor, is_templated
from orbit_provider.triggers.unchanged import OrbitPrefixUnchangedTrigger


class OrbitPrefixUnchangedSensor(OrbitBaseSensor):
    """Waits until no object under `prefix` was added, removed or rewritten for
    `inactivity_period` seconds and at least `min_objects` are there.

    The period is counted from this task's own first listing: it needs to watch the prefix
    (and so keeps its state in the worker, or in the triggerer when deferred); ``mode=
    "reschedule"`` is refused because each reschedule would start the period again.

    :param bucket: the bucket to watch (templated).
    :param prefix: the prefix (templated).
    :param inactivity_period: seconds without change.
    :param min_objects: how many objects must be there at the end.
    :param allow_delete: whether objects may disappear while waiting (else the task fails).
    :param deferrable: wait in the triggerer instead of a worker slot.
    :return: ``{"bucket", "prefix", "count", "total_size", "unchanged_seconds"}``.
    """

    template_fields: Sequence[str] = ("bucket", "prefix")
    ui_color = "#d9ecf7"
    trigger_class = OrbitPrefixUnchangedTrigger

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str,
        inactivity_period: float = 3600.0,
        min_objects: int = 1,
        allow_delete: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(bucket=bucket, **kwargs)
        self.prefix = prefix
        self.inactivity_period = inactivity_period
        self.min_objects = min_objects
        self.allow_delete = allow_delete
        if self.mode == "reschedule":
            raise ConfigError(
                "mode='reschedule': each reschedule would start the inactivity period again; "
                "use mode='poke' or deferrable=True"
            )
        self.validate(rendered=False)

    def build_condition(self, *, rendered: bool) -> PrefixUnchanged:
        prefix = self.prefix
        if not rendered and is_templated(prefix) and not isinstance(prefix, str):
            prefix = "stand-in/"
        return PrefixUnchanged(
            prefix=prefix,
            inactivity_period=self.inactivity_period,
            min_objects=self.min_objects,
            allow_delete=self.allow_delete,
        )
