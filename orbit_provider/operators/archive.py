"""OrbitArchiveRestoreOperator: RestoreObject for archived keys, optionally waiting (or
deferring) until they are readable."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from orbit_provider.operators.base import OrbitBaseOperator, OrbitTaskError, is_unrendered
from orbit_provider.operators.batch import key_list
from orbit_provider.operators.batch_base import OrbitBatchBaseOperator
from orbit_provider.s3.batch.restore import TIERS
from orbit_provider.s3.conditions import ArchiveRestored
from orbit_provider.s3.errors import ConfigError
from orbit_provider.triggers.archive import OrbitArchiveRestoreTrigger
from orbit_provider.triggers.polling import validate_interval

#: XCom key of the restore request's summary, read back when the task resumes from deferral.
REQUEST_XCOM_KEY = "orbit_restore_request"
#: Extra time the deferral's own timeout allows beyond the trigger's.
DEFERRAL_GRACE = timedelta(minutes=5)


class OrbitArchiveRestoreOperator(OrbitBatchBaseOperator):
    """Request the restore of archived (GLACIER / DEEP_ARCHIVE) keys, and optionally wait
    until every one of them is readable.

    Keys already restored or with a restore in progress count as done (``already_done``), so
    a retried task does not fail on what the failed try requested.

    :param keys: the archived keys (templated; a list, or one key).
    :param days: how many days the restored copies stay readable.
    :param tier: retrieval tier: ``"Standard"``, ``"Bulk"`` or ``"Expedited"``.
    :param wait_for_completion: after requesting, wait until the keys are readable.
    :param deferrable: wait in the triggerer (OrbitArchiveRestoreTrigger) instead of a
        worker slot; implies waiting.
    :param poke_interval: seconds between two checks while waiting.
    :param wait_timeout: seconds to wait at most (None: no limit of our own).
    :return: the batch summary of the requests plus ``tier``, ``days`` and, when waited,
        ``restore`` (the restore state per key: readable count, restored keys, expiry).
    Batch options (max_concurrent, rate_limit, allow_partial, ...): see OrbitBatchBaseOperator.
    """

    template_fields: Sequence[str] = (*OrbitBaseOperator.template_fields, "keys")
    ui_color = "#e3dcf5"

    def __init__(
        self,
        *,
        keys: list[str] | str,
        days: int = 1,
        tier: str = "Standard",
        wait_for_completion: bool = False,
        deferrable: bool = False,
        poke_interval: float = 60.0,
        wait_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.keys = keys
        self.days = days
        self.tier = tier
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poke_interval = poke_interval
        self.wait_timeout = wait_timeout
        self.run_checked(lambda: self.validate(rendered=False))

    def validate(self, *, rendered: bool) -> None:
        if self.keys is None:
            raise ConfigError("keys: at least one key is required")
        if rendered or not is_unrendered(self.keys):
            if not key_list(self.keys):
                raise ConfigError("keys: at least one key is required")
        if isinstance(self.days, bool) or not isinstance(self.days, int) or self.days < 1:
            raise ConfigError(f"days: {self.days!r} must be a whole number of days >= 1")
        if not isinstance(self.tier, str) or self.tier.strip().lower() not in TIERS:
            raise ConfigError(f"tier: {self.tier!r} must be one of Standard, Bulk, Expedited")
        for name in ("wait_for_completion", "deferrable"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}: {getattr(self, name)!r} must be True or False")
        try:
            validate_interval(self.poke_interval, self.wait_timeout)
        except ValueError as exc:
            raise ConfigError(str(exc).replace("timeout:", "wait_timeout:", 1)) from exc

    def execute(self, context: Any) -> dict[str, Any]:
        self.run_checked(lambda: self.validate(rendered=True))
        keys = key_list(self.keys)
        client = self.client
        config = self.batch_config()
        result = self.run_core(
            context,
            lambda reporter: client.restore_archived(
                keys, self.days, self.tier, config, progress=reporter
            ),
            operation="restore",
        )
        summary = self.summarize(
            context, result, operation="restore", tier=TIERS[self.tier.strip().lower()],
            days=self.days,
        )
        self.add_lineage(inputs=[(client.bucket, k) for k in keys[:100]])
        summary = self.finish(context, summary)
        requested = [k for k in keys if result.results.get(k) and result.results[k].succeeded]
        if not (self.wait_for_completion or self.deferrable) or not requested:
            return summary
        if self.deferrable:
            context["ti"].xcom_push(key=REQUEST_XCOM_KEY, value=summary)
            self.log.info("deferring until %d key(s) are readable", len(requested))
            self.defer(
                trigger=OrbitArchiveRestoreTrigger(
                    bucket=client.bucket,
                    condition=ArchiveRestored(keys=requested, fail_if_not_requested=True),
                    orbit_conn_id=self.orbit_conn_id,
                    poke_interval=self.poke_interval,
                    timeout=self.wait_timeout,
                ),
                method_name="execute_complete",
                timeout=(
                    timedelta(seconds=self.wait_timeout) + DEFERRAL_GRACE
                    if self.wait_timeout is not None else None
                ),
            )
        return {**summary, "restore": self._wait(requested)}

    def _wait(self, keys: list[str]) -> dict[str, Any]:
        """Poll (in this worker) until every key is readable; the restore state."""
        condition = ArchiveRestored(keys=keys, fail_if_not_requested=True)
        started = time.monotonic()
        while True:
            state = self.run_checked(lambda: condition.evaluate(self.client))
            if state.met:
                self.log.info("restored and readable: %s", state.reason)
                return state.details
            elapsed = time.monotonic() - started
            if self.wait_timeout is not None and elapsed >= self.wait_timeout:
                raise OrbitTaskError(
                    f"restore: not readable after {elapsed:.0f}s (wait_timeout "
                    f"{self.wait_timeout}s): {state.reason}",
                    code="Timeout",
                )
            self.log.info("waiting for the restore: %s", state.reason)
            time.sleep(self.poke_interval)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict:
        """Resume after the trigger fired: the request's summary plus the restore state."""
        if not isinstance(event, dict) or "status" not in event:
            raise OrbitTaskError(f"{self.task_id}: the trigger sent no usable event: {event!r}")
        if event["status"] != "success":
            raise OrbitTaskError(
                f"restore: waiting ended with {event['status']}: {event.get('message', '')}",
                code="Timeout" if event["status"] == "timeout" else None,
                retryable=(event.get("details") or {}).get("retryable", True),
            )
        self.log.info("restored and readable: %s", event.get("message", ""))
        summary = context["ti"].xcom_pull(task_ids=self.task_id, key=REQUEST_XCOM_KEY)
        details = dict(event.get("details") or {})
        details.pop("bucket", None)
        return {**(summary or {}), "restore": details}

