"""What batch-style operators share: BatchConfig options as arguments, the summary, failure
reports, and "fail unless allow_partial" (bulk, rollback and archive-restore operators)."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orbit_provider.operators.base import OrbitBaseOperator, OrbitTaskError
from orbit_provider.operators.summary import (
    DEFAULT_MAX_ITEMS,
    ReportTarget,
    batch_summary,
    report_name,
)
from orbit_provider.s3.batch import BatchConfig
from orbit_provider.s3.errors import ConfigError

#: How many failures the error message of a failed task names.
FAILURES_IN_MESSAGE = 5


class OrbitBatchBaseOperator(OrbitBaseOperator):
    """Base of the operators that run one core batch.

    :param max_concurrent: requests in flight at once.
    :param rate_limit: requests per second over the whole batch (None: no limit).
    :param operation_timeout: seconds one key may take, retries included (None: no limit).
    :param fail_fast: stop at the first failed key; the rest are reported ``not_run``.
    :param max_retries: retries of a key's retryable failures (throttling, 5xx, timeouts).
    :param batch_retry_delay: seconds before a key's first retry (exponential after); named
        so because ``retry_delay`` is Airflow's delay between task tries.
    :param allow_partial: let the task succeed when some keys failed (they are still listed
        in the summary). By default any failed or not-run key fails the task.
    :param max_items: how many failures the returned summary lists.
    :param report_dir: a local folder for the full per-key report: every key's outcome as a
        JSON line, written as the batch runs (memory stays flat however many keys).
    :param report_prefix: an S3 prefix (in the task's bucket) the report is uploaded to.
    """

    def __init__(
        self,
        *,
        max_concurrent: int = 10,
        rate_limit: float | None = None,
        operation_timeout: float | None = 120.0,
        fail_fast: bool = False,
        max_retries: int = 3,
        batch_retry_delay: float = 0.5,
        allow_partial: bool = False,
        max_items: int = DEFAULT_MAX_ITEMS,
        report_dir: str | None = None,
        report_prefix: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_concurrent = max_concurrent
        self.rate_limit = rate_limit
        self.operation_timeout = operation_timeout
        self.fail_fast = fail_fast
        self.max_retries = max_retries
        self.batch_retry_delay = batch_retry_delay
        self.allow_partial = allow_partial
        self.max_items = max_items
        self.report_dir = report_dir
        self.report_prefix = report_prefix
        self.run_checked(self._check_batch_options)

    def _check_batch_options(self) -> None:
        self.batch_config()
        _check_bool("allow_partial", self.allow_partial)
        limit = self.max_items
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ConfigError(f"max_items: {limit!r} must be an integer >= 0")

    def batch_config(self, context: Any = None, operation: str = "batch") -> BatchConfig:
        """The BatchConfig the arguments describe (ConfigError naming a bad one); given the
        task's context, with the per-key report file when a report was asked for."""
        return BatchConfig(
            max_concurrent=self.max_concurrent,
            rate_limit=self.rate_limit,
            operation_timeout=self.operation_timeout,
            fail_fast=self.fail_fast,
            max_retries=self.max_retries,
            retry_delay=self.batch_retry_delay,
            report_path=self._report_file(context, operation) if context is not None else None,
        )

    def _report_file(self, context: Any, operation: str) -> str | None:
        """Where the engine writes the per-key report: in report_dir, or a temporary file
        that is uploaded under report_prefix."""
        target = self.report_target(context, operation)
        if target is None:
            return None
        if target.directory is not None:
            path = Path(target.directory) / f"{target.name}.jsonl"
        else:
            path = Path(tempfile.mkdtemp(prefix="orbit-report-")) / "report.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    def report_target(self, context: Any, operation: str) -> ReportTarget | None:
        """Where the full failure list goes when it is longer than the summary's."""
        if self.report_dir is None and self.report_prefix is None:
            return None
        return ReportTarget(
            directory=self.report_dir,
            client=self.client if self.report_prefix is not None else None,
            prefix=self.report_prefix or "orbit-reports/",
            name=report_name(context, operation),
        )

    def summarize(
        self, context: Any, result: Any, *, operation: str, bytes_total: int = 0,
        **extra: Any,
    ) -> dict[str, Any]:
        """The task's summary of a BatchResult (failures capped), with `extra` fields."""
        summary = batch_summary(
            result,
            bucket=self.client.bucket,
            operation=operation,
            bytes_total=bytes_total,
            max_items=self.max_items,
            report=self.report_target(context, operation),
        )
        summary["dry_run"] = False
        summary["duplicates"] = int(getattr(result, "duplicates", 0))
        summary.update(extra)
        if summary["already_done"]:
            summary["note"] = (
                f"{summary['already_done']} key(s) needed no work (already done, e.g. by an "
                "earlier try of this task) and were not redone"
            )
            self.log.info("%s", summary["note"])
        return summary

    def finish(self, context: Any, summary: dict[str, Any]) -> dict[str, Any]:
        """Log the outcome; fail the task when keys failed or did not run, unless allowed.

        A failing task still leaves its summary as its return-value XCom, so a downstream
        aggregation (``trigger_rule="all_done"``) accounts for its keys.
        """
        failed, not_run = summary.get("failed", 0), summary.get("not_run", 0)
        self.log.info(
            "%s: %s of %s key(s) succeeded (%s already done), %s failed, %s not run",
            summary.get("operation"), summary.get("succeeded"), summary.get("total"),
            summary.get("already_done"), failed, not_run,
        )
        if not failed and not not_run:
            return summary
        for failure in summary.get("failures", [])[:FAILURES_IN_MESSAGE]:
            self.log.warning("failed: %s (%s): %s", failure["key"], failure["code"],
                             failure["error"])  # fmt: skip
        if self.allow_partial:
            self.log.warning("allow_partial=True: the task succeeds with %s failed key(s)", failed)
            return summary
        _push_summary(context, summary)
        raise OrbitTaskError(failure_message(summary), code="PartialFailure")


def failure_message(summary: Mapping[str, Any]) -> str:
    """The error of a batch task with failed keys: counts and the first failures."""
    failed, not_run = summary.get("failed", 0), summary.get("not_run", 0)
    text = f"{summary.get('operation')}: {failed} of {summary.get('total')} key(s) failed"
    if not_run:
        text += f", {not_run} not run (fail_fast)"
    first = [
        f"{f['key']} ({f['code']}): {f['error']}"
        for f in summary.get("failures", [])[:FAILURES_IN_MESSAGE]
    ]
    if first:
        text += "; first: " + "; ".join(first)
    return text + (
        ". Pass allow_partial=True to let the task succeed; the summary with every failure "
        "(capped) is the task's return value."
    )


def _push_summary(context: Any, summary: dict[str, Any]) -> None:
    ti = context.get("ti") if context else None
    if ti is not None:
        ti.xcom_push(key="return_value", value=summary)


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name}: {value!r} must be True or False")
