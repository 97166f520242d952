"""OrbitArchiveRestoreOperator: RestoreObject for archived keys (a list, or every GLACIER /
DEEP_ARCHIVE object under a prefix), optionally waiting (or deferring) until they are readable."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from orbit_provider.operators.base import OrbitBaseOperator, OrbitTaskError, is_unrendered
from orbit_provider.operators.batch import key_list
from orbit_provider.operators.batch_base import OrbitBatchBaseOperator
from orbit_provider.operators.batch_engine import BatchOperationsEngine
from orbit_provider.s3.batch import batch_operations as bops
from orbit_provider.s3.batch.restore import ARCHIVE_CLASSES, TIERS
from orbit_provider.s3.conditions import ArchivePrefixRestored, ArchiveRestored, Condition
from orbit_provider.s3.errors import ConfigError
from orbit_provider.triggers.archive import OrbitArchiveRestoreTrigger
from orbit_provider.triggers.polling import validate_interval

#: XCom key of the restore request's summary, read back when the task resumes from deferral.
REQUEST_XCOM_KEY = "orbit_restore_request"
#: Extra time the deferral's own timeout allows beyond the trigger's.
DEFERRAL_GRACE = timedelta(minutes=5)


class OrbitArchiveRestoreOperator(BatchOperationsEngine, OrbitBatchBaseOperator):
    """Request the restore of archived (GLACIER / DEEP_ARCHIVE) keys, and optionally wait
    until every one of them is readable.

    Keys already restored or with a restore in progress count as done (``already_done``), so
    a retried task does not fail on what the failed try requested.

    With ``prefix`` the prefix is listed lazily and only its GLACIER / DEEP_ARCHIVE objects
    are restored (the others are counted as ``skipped_not_archived``); the wait then checks
    the prefix (ArchivePrefixRestored), so a deferral carries the prefix, not the keys.

    Asset ``outlets`` need waiting (``wait_for_completion`` or ``deferrable``): the task's
    asset event then means every key is readable, not only that restores were requested.

    :param keys: the archived keys (templated; a list, or one key).
    :param prefix: instead of ``keys``: every archived object under this prefix (templated).
    :param days: how many days the restored copies stay readable.
    :param tier: retrieval tier: ``"Standard"``, ``"Bulk"`` or ``"Expedited"``.
    :param wait_for_completion: after requesting, wait until the keys are readable.
    :param deferrable: wait in the triggerer (OrbitArchiveRestoreTrigger) instead of a
        worker slot; implies waiting.
    :param poke_interval: seconds between two checks while waiting.
    :param wait_timeout: seconds to wait at most (None: no limit of our own).
    :param engine: ``"client"`` (this task sends RestoreObject, the default) or
        ``"s3_batch_operations"`` (an S3InitiateRestoreObject job, tiers Bulk and Standard;
        ``account_id`` / ``role_arn`` and the job options: see BatchOperationsEngine). The
        wait for readability, when asked, follows the job.
    :return: the batch summary of the requests plus ``tier``, ``days`` and, when waited,
        ``restore`` (the restore state per key: readable count, restored keys, expiry).
    Batch options (max_concurrent, rate_limit, allow_partial, ...): see OrbitBatchBaseOperator.
    """

    template_fields: Sequence[str] = (*OrbitBaseOperator.template_fields, "keys", "prefix")
    lineage_arguments = {"prefix": "outputs"}
    operation = "restore"
    job_method = "job_complete"  # execute_complete is the readability wait's
    ui_color = "#e3dcf5"

    def __init__(
        self,
        *,
        keys: list[str] | str | None = None,
        prefix: str | None = None,
        days: int = 1,
        tier: str = "Standard",
        wait_for_completion: bool = False,
        deferrable: bool = False,
        poke_interval: float = 60.0,
        wait_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        engine = {name: kwargs.pop(name) for name in self.engine_args if name in kwargs}
        super().__init__(**kwargs)
        # one deferral switch and one polling interval for the job and the readability wait
        self.init_engine(**engine, deferrable=deferrable, poke_interval=poke_interval)
        self.keys = keys
        self.prefix = prefix
        self.days = days
        self.tier = tier
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poke_interval = poke_interval
        self.wait_timeout = wait_timeout
        self.run_checked(lambda: self.validate(rendered=False))

    def validate(self, *, rendered: bool) -> None:
        if (self.keys is None) == (self.prefix is None):
            raise ConfigError("keys or prefix: give one of them (at least one key is required)")
        if self.prefix is not None:
            if (rendered or not is_unrendered(self.prefix)) and not isinstance(self.prefix, str):
                raise ConfigError(f"prefix: {self.prefix!r} must be a string")
        elif rendered or not is_unrendered(self.keys):
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
        if self.outlets and not (self.wait_for_completion or self.deferrable):
            raise ConfigError(
                "outlets: an asset event of a restore means its keys are readable: set "
                "wait_for_completion=True or deferrable=True"
            )
        self.validate_engine(rendered=rendered)

    def batch_operation(self, bucket: str) -> dict[str, Any]:
        return bops.restore_operation(self.days, self.tier.strip().lower())

    def report_task_lineage(self) -> None:
        """What a restore job works on (reported when it is submitted)."""
        bucket = self.client.bucket
        if self.prefix is not None:
            self.add_lineage(inputs=[(bucket, self.prefix)])
        else:
            self.add_lineage(inputs=[(bucket, k) for k in key_list(self.keys)[:100]])

    def summary_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"tier": TIERS[self.tier.strip().lower()], "days": self.days}
        if self.prefix is not None:
            fields["prefix"] = self.prefix
        return fields

    def _archived_under(self, prefix: str, skipped: list[int]) -> Iterator[Any]:
        """The GLACIER / DEEP_ARCHIVE objects under `prefix`, listed lazily; `skipped[0]`
        counts the others."""
        for obj in self.client.iter_objects(prefix):
            if obj.storage_class in ARCHIVE_CLASSES:
                yield obj
            else:
                skipped[0] += 1

    def execute(self, context: Any) -> dict[str, Any]:
        self.take_urls("keys", "prefix")
        self.run_checked(lambda: self.validate(rendered=True))
        client = self.client
        skipped = [0]
        items: Any
        if self.prefix is not None:
            items = self._archived_under(self.prefix, skipped)
        else:
            items = key_list(self.keys)
        if self.engine == "s3_batch_operations":
            return self.run_job(context, items)
        config = self.batch_config(context, "restore")
        result = self.run_core(
            context,
            lambda reporter: client.restore_archived(
                items, self.days, self.tier, config, progress=reporter
            ),
            operation="restore",
        )
        extra: dict[str, Any] = {"tier": TIERS[self.tier.strip().lower()], "days": self.days}
        if self.prefix is not None:
            extra.update(prefix=self.prefix, skipped_not_archived=skipped[0])
        summary = self.summarize(context, result, operation="restore", **extra)
        if self.prefix is not None:
            self.add_lineage(inputs=[(client.bucket, self.prefix)])
        else:
            self.add_lineage(inputs=[(client.bucket, k) for k in items[:100]])
        summary = self.finish(context, summary)
        done = [] if self.prefix is not None else [
            k for k in items if k in result.results and result.results[k].succeeded
        ]
        # with a prefix the per-key outcomes of millions of keys may be capped: count them
        requested = result.successful if self.prefix is not None else len(done)
        partial = bool(result.failed or result.not_run)
        return self._wait_or_defer(context, summary, done, requested, partial)

    def after_job(self, context: Any, summary: dict[str, Any]) -> dict[str, Any]:
        """A finished restore job: wait for readability when asked, as the client engine."""
        failed = {f["key"] for f in summary.get("failures", [])}
        if summary.get("failures_truncated") and self.prefix is None:
            raise OrbitTaskError(
                "restore: more failed keys than the summary lists; cannot tell which to wait "
                "for (raise max_items)", code="ConfigError",
            )
        done = [] if self.prefix is not None else [
            k for k in key_list(self.keys) if k not in failed
        ]  # fmt: skip
        requested = summary.get("succeeded", 0) if self.prefix is not None else len(done)
        partial = bool(summary.get("failed"))
        return self._wait_or_defer(context, summary, done, requested, partial)

    def _wait_or_defer(
        self, context: Any, summary: dict[str, Any], done: list[str], requested: int,
        partial: bool,
    ) -> dict[str, Any]:
        """Return the summary, or wait (in this worker or deferred) until the requested keys
        are readable."""
        if not (self.wait_for_completion or self.deferrable) or not requested:
            return summary
        client = self.client
        condition: Condition
        if self.prefix is not None:
            # keys whose request failed or was not run (allow_partial) are left out rather
            # than waited for
            condition = ArchivePrefixRestored(
                prefix=self.prefix, fail_if_not_requested=not partial,
                ignore_not_requested=partial,
            )  # fmt: skip
        else:
            condition = ArchiveRestored(keys=done, fail_if_not_requested=True)
        if self.deferrable:
            context["ti"].xcom_push(key=REQUEST_XCOM_KEY, value=summary)
            self.log.info("deferring until %d key(s) are readable", requested)
            self.defer(
                trigger=OrbitArchiveRestoreTrigger(
                    bucket=client.bucket,
                    condition=condition,
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
        return {**summary, "restore": self._wait(condition)}

    def _wait(self, condition: Condition) -> dict[str, Any]:
        """Poll (in this worker) until every key is readable; the restore state."""
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

