"""What orbit_provider's sensors share: the hook, one client per bucket, poke and deferral.

A subclass builds its core condition (s3/conditions.py) from its arguments
(`build_condition`) and names its trigger class; this base builds that condition once from the
rendered arguments, evaluates it at each poke, hands the same condition to the trigger when
`deferrable=True`, and turns a met condition (or the trigger's event) into the task's return
value or a task error. `mode="reschedule"` is BaseSensorOperator's own.
"""

from __future__ import annotations

import abc
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.configuration import conf
from airflow.sdk.exceptions import AirflowSensorTimeout

from orbit_provider.hooks.lineage import openlineage, report_lineage, s3_uri, watched
from orbit_provider.hooks.orbit_s3 import NOTSET, resolve_conn_id
from orbit_provider.operators.base import OrbitTaskError, is_unrendered, task_error
from orbit_provider.s3.config import validate_bucket_name
from orbit_provider.s3.errors import S3Error

if TYPE_CHECKING:
    from airflow.sdk import Context

    from orbit_provider.hooks.orbit_s3 import OrbitS3Hook
    from orbit_provider.s3.client import S3Client
    from orbit_provider.s3.conditions import Condition
    from orbit_provider.triggers.polling import OrbitPollingTrigger

# Extra time the deferral's own timeout allows beyond the trigger's, so the trigger's clearer
# "timeout" event normally arrives first.
DEFERRAL_GRACE = timedelta(minutes=5)


def is_templated(value: Any) -> bool:
    """Not a plain value yet: a string holding Jinja, an XComArg or mapped argument, or a list
    holding one. Checked again after rendering."""
    return is_unrendered(value)


def stand_in(value: Any, placeholder: Any) -> Any:
    """Before rendering: `placeholder` for a value not known yet (an XComArg, a mapped
    argument), a list with each unknown item replaced, or the value itself. A Jinja string is
    kept: it is a valid key or prefix as it stands."""
    if isinstance(value, list | tuple):
        return [stand_in(v, placeholder) for v in value]
    if isinstance(value, str) or not is_unrendered(value):
        return value
    return placeholder


class OrbitBaseSensor(BaseSensorOperator):
    """Base of the orbit sensors.

    :param bucket: the bucket to watch (templated).
    :param orbit_conn_id: the Airflow connection to use (type ``orbit_s3`` or ``aws``); None,
        or an id that names no connection, uses boto3's standard credential chain.
    :param aws_conn_id: alias of `orbit_conn_id` (the amazon provider's name).
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    trigger_class: ClassVar[type[OrbitPollingTrigger]]

    def __init__(
        self,
        *,
        bucket: str,
        orbit_conn_id: str | None = NOTSET,
        aws_conn_id: str | None = NOTSET,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.orbit_conn_id = resolve_conn_id(orbit_conn_id, aws_conn_id)
        self.deferrable = deferrable
        self._clients: dict[str, S3Client] = {}
        self._condition: Condition | None = None

    # -- what a subclass provides --------------------------------------------------------

    @abc.abstractmethod
    def build_condition(self, *, rendered: bool) -> Condition:
        """The condition the arguments describe (it checks them). Before rendering, a value
        still holding Jinja stands in as it is, or as the shape it will render to."""

    def validate(self, *, rendered: bool) -> Condition:
        """Check the arguments (the bucket, then the condition's); the condition built."""
        if rendered or not is_templated(self.bucket):
            validate_bucket_name(self.bucket)
        return self.build_condition(rendered=rendered)

    def condition(self) -> Condition:
        """The condition from the rendered arguments, built and checked once per task try;
        bad arguments fail the task without retries."""
        if self._condition is None:
            try:
                self._condition = self.validate(rendered=True)
            except S3Error as exc:
                raise task_error(exc) from exc
            except (TypeError, ValueError) as exc:  # a rendered value of the wrong shape
                raise OrbitTaskError(f"invalid input: {exc}", retryable=False) from exc
        return self._condition

    def make_trigger(self) -> OrbitPollingTrigger:
        """The trigger that waits for this same condition in the triggerer."""
        return self.trigger_class(
            bucket=self.bucket,
            condition=self.condition(),
            orbit_conn_id=self.orbit_conn_id,
            poke_interval=self.poke_interval,
            timeout=self.timeout,
        )

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
            try:
                self._clients[self.bucket] = self.hook.get_client(self.bucket)
            except S3Error as exc:  # the connection or its settings: no retry fixes them
                raise task_error(exc) from exc
        return self._clients[self.bucket]

    def poke(self, context: Context) -> bool | PokeReturnValue:
        condition = self.condition()
        try:
            result = condition.evaluate(self.client())
        except S3Error as exc:
            if not exc.retryable:
                raise task_error(exc) from exc
            # The client already retried; a flaky store is no reason to fail a long wait.
            self.log.warning("Check failed, will try again at the next poke: %s", exc)
            return False
        if not result.met:
            self.log.info("Not yet: %s", result.reason)
            return False
        self.log.info("Condition met: %s", result.reason)
        self.report_watched()
        return PokeReturnValue(is_done=True, xcom_value=self.summarize(result.details))

    def execute(self, context: Context) -> Any:
        self.condition()  # built from the rendered arguments: bad ones fail before any wait
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
            raise OrbitTaskError(f"{self.task_id}: trigger sent no usable event: {event!r}")
        status, message = event["status"], event.get("message", "")
        if status == "success":
            self.log.info("Condition met: %s", message)
            self.report_watched()  # the resumed try's own report: lineage after a deferral
            details = dict(event.get("details") or {})
            details.pop("bucket", None)
            return self.summarize(details)
        if status == "timeout":
            raise AirflowSensorTimeout(f"{self.task_id}: {message}")
        details = event.get("details") or {}
        raise OrbitTaskError(
            f"{self.task_id}: {message}",
            code=details.get("error_type"),
            retryable=details.get("retryable", True),
        )

    # -- lineage -------------------------------------------------------------------------

    def report_watched(self) -> None:
        """Report what the sensor watched (`hooks.lineage.watched`) as inputs of the task."""
        report_lineage(self.hook, inputs=[s3_uri(b, k) for b, k in watched(self)])

    def get_openlineage_facets_on_start(self) -> Any:
        """OpenLineage input datasets: what the sensor watches (None without the provider)."""
        return openlineage(watched(self), [])

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return openlineage(watched(self), [])
