"""OrbitBatchOperationsJobTrigger: waits in the triggerer until an S3 Batch Operations job
ends. The job id is all it carries, so a restarted triggerer picks the wait up where it was.

It polls DescribeJob with backoff: `poke_interval` at first, growing by half each time the
job's counts have not moved, up to `max_interval`, back to `poke_interval` when they move.
One event: ``{"status": "success" | "error" | "timeout", "message": str, "job": {...}}``;
"success" means the job ended (Complete, Failed or Cancelled: the operator reads the report).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from orbit_provider.hooks.orbit_s3 import NOTSET, resolve_conn_id
from orbit_provider.s3.batch.batch_operations import JobState, describe_job
from orbit_provider.s3.batch.job_engine import next_wait
from orbit_provider.s3.errors import S3Error
from orbit_provider.triggers.polling import validate_interval


class OrbitBatchOperationsJobTrigger(BaseTrigger):
    """Waits for an S3 Batch Operations job to end.

    :param job_id: the job (CreateJob's answer).
    :param account_id: the AWS account that owns it.
    :param orbit_conn_id: the connection whose credentials and region reach s3control (None:
        boto3's standard chain).
    :param aws_conn_id: alias of `orbit_conn_id`.
    :param poke_interval: seconds to the first check, and between checks while counts move.
    :param max_interval: the longest wait between two checks.
    :param timeout: seconds until a "timeout" event (the job keeps running); None: no limit.
    """

    def __init__(
        self,
        *,
        job_id: str,
        account_id: str,
        orbit_conn_id: str | None = NOTSET,
        poke_interval: float = 30.0,
        max_interval: float = 300.0,
        timeout: float | None = None,
        aws_conn_id: str | None = NOTSET,
    ) -> None:
        super().__init__()
        validate_interval(poke_interval, timeout)
        validate_interval(max_interval, None)
        if max_interval < poke_interval:
            raise ValueError("max_interval: must be at least poke_interval")
        self.job_id = job_id
        self.account_id = account_id
        self.orbit_conn_id = resolve_conn_id(orbit_conn_id, aws_conn_id)
        self.poke_interval = poke_interval
        self.max_interval = max_interval
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "account_id": self.account_id,
                "orbit_conn_id": self.orbit_conn_id,
                "poke_interval": self.poke_interval,
                "max_interval": self.max_interval,
                "timeout": self.timeout,
            },
        )

    def make_control_client(self) -> Any:
        """The s3control client from the connection (blocking: runs in a worker thread)."""
        from orbit_provider.hooks.orbit_s3 import OrbitS3Hook

        return OrbitS3Hook(orbit_conn_id=self.orbit_conn_id).get_client().s3control

    def describe(self, control: Any) -> JobState:
        return describe_job(control, self.account_id, self.job_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.monotonic()
        wait, last = self.poke_interval, None
        try:
            control = await asyncio.to_thread(self.make_control_client)
            while True:
                try:
                    state = await asyncio.to_thread(self.describe, control)
                except S3Error as exc:
                    if not exc.retryable:
                        raise
                    self.log.warning("DescribeJob failed, will try again: %s", exc)
                    state = last
                if state is not None and state.done:
                    yield self._event("success", f"job {self.job_id} ended: {state.status}", state)
                    return
                if state is not None:
                    counts = (state.status, state.succeeded, state.failed)
                    moved = last is None or counts != (last.status, last.succeeded, last.failed)
                    wait = next_wait(wait, moved, self.poke_interval, self.max_interval)
                    self.log.info(
                        "job %s: %s, %d succeeded, %d failed of %s; next check in %.0fs",
                        self.job_id,
                        state.status,
                        state.succeeded,
                        state.failed,
                        state.total if state.total is not None else "?",
                        wait,
                    )
                    last = state
                elapsed = time.monotonic() - started
                if self.timeout is not None and elapsed >= self.timeout:
                    message = f"job {self.job_id} still running after {elapsed:.0f}s"
                    yield self._event("timeout", message, last)
                    return
                if self.timeout is not None:
                    wait = min(wait, max(self.timeout - elapsed, 0))
                await asyncio.sleep(wait)
        except Exception as exc:  # every failure becomes an event the task can report
            self.log.error("stopped by an error: %s", exc)
            yield self._event("error", str(exc) or type(exc).__name__, last)

    def _event(self, status: str, message: str, state: JobState | None) -> TriggerEvent:
        job = state.to_dict() if state else {"job_id": self.job_id, "status": None}
        return TriggerEvent({"status": status, "message": message, "job": job})
