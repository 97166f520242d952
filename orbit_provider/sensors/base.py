"""What orbit_provider's sensors share: the hook, one client per bucket, poke and deferral.

A subclass names its core condition (`check`), its trigger (`make_trigger`) and its argument
checks (`validate`); this base turns a met condition into the task's return value, defers
to the trigger when `deferrable=True`, and turns the trigger's event back into a result or
a task error. `mode="reschedule"` is BaseSensorOperator's own.
"""

from __future__ import annotations

import abc
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.configuration import conf
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

from orbit_provider.operators.base import is_template
from orbit_provider.s3.config import validate_bucket_name
from orbit_provider.s3.errors import S3Error

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.triggers.base import BaseTrigger

    from orbit_provider.hooks.orbit_s3 import OrbitS3Hook
    from orbit_provider.s3.client import S3Client
    from orbit_provider.s3.conditions import ConditionResult

# Extra time the deferral's own timeout allows beyond the trigger's, so the trigger's clearer
# "timeout" event normally arrives first.
DEFERRAL_GRACE = timedelta(minutes=5)


def is_templated(value: Any) -> bool:
    """A string (or a list holding one) still holding Jinja: checked again after rendering."""
    if isinstance(value, list | tuple):
        return any(is_templated(v) for v in value)
    return is_template(value)


class OrbitBaseSensor(BaseSensorOperator):
    """Base of the orbit sensors.

    :param bucket: the bucket to watch (templated).
    :param orbit_conn_id: the Airflow connection to use (type ``orbit_s3`` or ``aws``).
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    def __init__(
        self,
        *,
        bucket: str,
        orbit_conn_id: str | None = "orbit_s3_default",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.orbit_conn_id = orbit_conn_id
        self.deferrable = deferrable
        self._clients: dict[str, S3Client] = {}

    # -- what a subclass provides --------------------------------------------------------

    def validate(self, *, rendered: bool) -> None:
        """Check the arguments; before rendering, templated values are left for later."""
        if rendered or not is_templated(self.bucket):
            validate_bucket_name(self.bucket)

    @abc.abstractmethod
    def check(self, client: S3Client) -> ConditionResult:
        """Evaluate the condition once with `client` (a poke)."""

    @abc.abstractmethod
    def make_trigger(self) -> BaseTrigger:
        """The trigger that waits for the same condition in the triggerer (deferrable=True)."""

    def summarize(self, details: dict[str, Any]) -> dict[str, Any]:
        """The task's return value (XCom) from a met condition's details."""
        return {"bucket": self.bucket, **details}

    # -- Airflow's side ------------------------------------------------------------------

    @cached_property
    def hook(self) -> OrbitS3Hook:
        from orbit_provider.hooks.orbit_s3 import OrbitS3Hook

        return OrbitS3Hook(orbit_conn_id=self.orbit_conn_id)

    def client(self) -> S3Client:
        """One client per bucket for the life of this task try (pokes reuse it)."""
        if self.bucket not in self._clients:
            self._clients[self.bucket] = self.hook.get_client(self.bucket)
        return self._clients[self.bucket]

    def poke(self, context: Context) -> bool | PokeReturnValue:
        self.validate(rendered=True)
        try:
            result = self.check(self.client())
        except S3Error as exc:
            if not exc.retryable:
                raise AirflowException(str(exc)) from exc
            # The client already retried; a flaky store is no reason to fail a long wait.
            self.log.warning("Check failed, will try again at the next poke: %s", exc)
            return False
        if not result.met:
            self.log.info("Not yet: %s", result.reason)
            return False
        self.log.info("Condition met: %s", result.reason)
        return PokeReturnValue(is_done=True, xcom_value=self.summarize(result.details))

    def execute(self, context: Context) -> Any:
        self.validate(rendered=True)
        if not self.deferrable:
            return super().execute(context)
        done = self.poke(context)
        if done:
            return done.xcom_value
        self.defer(
            trigger=self.make_trigger(),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) + DEFERRAL_GRACE,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired: return the summary, or fail with its message."""
        if not isinstance(event, dict) or "status" not in event:
            raise AirflowException(f"{self.task_id}: trigger sent no usable event: {event!r}")
        status, message = event["status"], event.get("message", "")
        if status == "success":
            self.log.info("Condition met: %s", message)
            details = dict(event.get("details") or {})
            details.pop("bucket", None)
            return self.summarize(details)
        if status == "timeout":
            raise AirflowSensorTimeout(f"{self.task_id}: {message}")
        raise AirflowException(f"{self.task_id}: {message}")
