"""engine="s3_batch_operations" for the bulk operators: the same keys, the same summary, but
AWS runs the work. The task writes the manifest, submits the job, defers (or waits) until it
ends, then reads the completion report into the summary a client-engine run returns.

The job is identified by a token made of the task's dag, run, task, map index and try, so a
repeated submit within one try returns the same job; a task killed while it holds a worker
slot cancels its job (on_kill). A deferred job whose task is cleared keeps running: cancel it
with UpdateJobStatus (its id is in the task log and the ``orbit_batch_job`` XCom).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from orbit_provider.operators.base import OrbitTaskError, is_unrendered
from orbit_provider.s3.batch import batch_operations as bops
from orbit_provider.s3.batch import job_engine
from orbit_provider.s3.errors import ConfigError
from orbit_provider.triggers.batch_operations import OrbitBatchOperationsJobTrigger
from orbit_provider.triggers.polling import validate_interval

#: a valid stand-in for a bucket known only at run time (parse-time checks)
PLACEHOLDER_BUCKET = "bucket-known-at-run-time"
#: XCom key of the submitted job (id, manifest), pushed before the task defers.
JOB_XCOM_KEY = "orbit_batch_job"


class BatchOperationsEngine:
    """What a bulk operator needs to run on S3 Batch Operations (mixed into OrbitBulkOperator).

    :param engine: ``"client"`` (this task sends the requests, the default) or
        ``"s3_batch_operations"`` (AWS runs a job; AWS only).
    :param account_id: the AWS account that runs the job (engine s3_batch_operations).
    :param role_arn: the IAM role S3 assumes to run it.
    :param job_report_bucket: where the manifest and the completion report go (default: the
        task's bucket).
    :param job_report_prefix: their prefix.
    :param job_priority: the job's priority (higher runs first).
    :param confirmation_required: create the job suspended until confirmed in the console
        (or by UpdateJobStatus); the task waits through it.
    :param deferrable: wait for the job in the triggerer (default) instead of a worker slot.
    :param poke_interval: seconds between DescribeJob calls at first.
    :param max_poke_interval: the longest wait between two, as the job's counts stand still.
    :param job_timeout: seconds to wait for the job at most (None: no limit); the job itself
        keeps running.
    """

    #: the method a finished job's trigger resumes (an operator with its own
    #: execute_complete for a later wait names another)
    job_method = "execute_complete"
    engine_args = (
        "engine", "account_id", "role_arn", "job_report_bucket", "job_report_prefix",
        "job_priority", "confirmation_required", "deferrable", "poke_interval",
        "max_poke_interval", "job_timeout",
    )  # fmt: skip

    def init_engine(
        self,
        engine: str = "client",
        account_id: str | None = None,
        role_arn: str | None = None,
        job_report_bucket: str | None = None,
        job_report_prefix: str = "orbit-batch-jobs",
        job_priority: int = 10,
        confirmation_required: bool = False,
        deferrable: bool = True,
        poke_interval: float = 30.0,
        max_poke_interval: float = 300.0,
        job_timeout: float | None = None,
    ) -> None:
        self.engine = engine
        self.account_id = account_id
        self.role_arn = role_arn
        self.job_report_bucket = job_report_bucket
        self.job_report_prefix = job_report_prefix
        self.job_priority = job_priority
        self.confirmation_required = confirmation_required
        self.deferrable = deferrable
        self.poke_interval = poke_interval
        self.max_poke_interval = max_poke_interval
        self.job_timeout = job_timeout
        self._job_id: str | None = None
        self._job_account: str | None = None

    def validate_engine(self, *, rendered: bool) -> None:
        job_engine.check_engine(self.engine)
        if self.engine != "s3_batch_operations":
            return
        validate_interval(self.poke_interval, self.job_timeout)
        validate_interval(self.max_poke_interval, None)
        # the trigger and the core wait refuse a longest wait below the first: say so now
        bops.check_wait(self.poke_interval, self.max_poke_interval, self.job_timeout)
        if rendered:
            bucket = self.client.bucket
        elif isinstance(self.bucket, str) and not is_unrendered(self.bucket):
            bucket = self.bucket
        else:
            bucket = PLACEHOLDER_BUCKET  # known at run time: checked again then
        if rendered:
            self.job_settings(bucket)
        elif not is_unrendered([self.account_id, self.role_arn]):
            # the account may come from the connection (aws_account_id), known at run time
            self.job_settings(bucket, account_id=self.account_id or "000000000000")
        self.batch_operation(bucket)  # refuses what Batch Operations cannot do, before requests

    def job_account(self) -> str | None:
        """account_id, else the connection's aws_account_id extra."""
        if self.account_id is not None:
            return str(self.account_id)
        return self.hook.settings.account_id

    def job_settings(self, report_bucket: str, account_id: str | None = None) -> bops.JobSettings:
        account = account_id or self.job_account()
        if account is None or self.role_arn is None:
            raise ConfigError(
                "engine='s3_batch_operations' needs role_arn and account_id (or the "
                "connection's aws_account_id extra)"
            )
        return bops.JobSettings(
            account_id=str(account),
            role_arn=self.role_arn,
            report_bucket=self.job_report_bucket or report_bucket,
            report_prefix=self.job_report_prefix,
            priority=self.job_priority,
            confirmation_required=self.confirmation_required,
            description=f"orbit_provider {getattr(self, 'operation', 'batch')}"[:256],
        )

    def batch_operation(self, bucket: str) -> dict[str, Any]:
        """The job's Operation (S3PutObjectCopy, ...) on keys of `bucket`; ConfigError when
        the operator's arguments cannot be expressed as one."""
        raise ConfigError(
            f"{type(self).__name__} cannot run on S3 Batch Operations: use engine='client'"
        )

    # -- running ----------------------------------------------------------------------------

    def _token(self, context: Any) -> str:
        ti = (context or {}).get("ti")
        parts = [getattr(ti, name, None) for name in
                 ("dag_id", "run_id", "task_id", "map_index", "try_number")]  # fmt: skip
        return bops.client_token(*parts, self.client.bucket, self.operation)

    def run_job(
        self, context: Any, items: Any, *, inventory: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        """Dry run, or submit the job and wait for it (deferring by default)."""
        settings = self.run_checked(lambda: self.job_settings(self.client.bucket))
        operation = self.run_checked(lambda: self.batch_operation(self.client.bucket))
        token = self._token(context)
        if vars(self).get("dry_run") is True:  # BaseOperator has a dry_run() method
            plan = self.run_checked(
                lambda: bops.plan_job(settings, self.operation, operation, items,
                                      source_bucket=self.client.bucket, token=token)
            )  # fmt: skip
            summary = plan.to_dict()
            self.log.info(
                "dry run, nothing is changed: an S3 Batch Operations %s job over %d key(s), "
                "estimated %s",
                self.operation,
                plan.keys,
                f"${plan.estimate['cost_usd']:,.2f}",
            )
            return summary
        job = self.run_checked(
            lambda: bops.submit_job(
                self.client.s3,
                self.client.s3control,
                settings,
                operation,
                source_bucket=self.client.bucket,
                token=token,
                items=None if inventory else items,
                inventory_bucket=inventory[0] if inventory else None,
                inventory_manifest_key=inventory[1] if inventory else None,
            )
        )
        self._job_id = job.job_id
        # reported now: a deferral carries it to the try that resumes (OrbitBaseOperator.defer)
        self.report_task_lineage()
        info = {**job.to_dict(), "account_id": settings.account_id}
        ti = (context or {}).get("ti")
        if ti is not None:
            ti.xcom_push(key=JOB_XCOM_KEY, value=info)
        self.log.info(
            "submitted S3 Batch Operations job %s (%s key(s) in %s)",
            job.job_id,
            job.manifest.count if job.manifest.count >= 0 else "inventory",
            info["manifest"],
        )
        if self.deferrable:
            self.defer(
                trigger=OrbitBatchOperationsJobTrigger(
                    job_id=job.job_id, account_id=settings.account_id,
                    orbit_conn_id=self.orbit_conn_id, poke_interval=self.poke_interval,
                    max_interval=self.max_poke_interval, timeout=self.job_timeout,
                ),
                method_name=self.job_method,
                timeout=(timedelta(seconds=self.job_timeout) + timedelta(minutes=5)
                         if self.job_timeout is not None else None),
            )  # fmt: skip
        state = self.run_checked(lambda: self._wait_for_job(settings.account_id, job.job_id))
        return self._complete(context, state)

    def _wait_for_job(self, account_id: str, job_id: str) -> bops.JobState:
        """Wait in the worker (deferrable=False): the core's wait, with the trigger's backoff.
        It never cancels the job (on_kill does); past job_timeout it raises JobWaitTimeout
        and the job keeps running."""
        return job_engine.wait_for_job(
            self.client.s3control, account_id, job_id, poke_interval=self.poke_interval,
            max_interval=self.max_poke_interval, timeout=self.job_timeout,
        )  # fmt: skip

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict:
        """Resumed from the job trigger (see job_complete)."""
        return self.job_complete(context, event)

    def job_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict:
        """Resumed from the trigger: read the report and finish like a client-engine run."""
        event = event or {}
        job = event.get("job") or {}
        self._job_id = job.get("job_id")
        if event.get("status") != "success":
            raise OrbitTaskError(
                f"S3 Batch Operations job {job.get('job_id')}: {event.get('message')}",
                code="JobWait",
            )
        state = bops.JobState(
            job_id=job["job_id"], status=job["status"], total=job.get("total"),
            succeeded=job.get("succeeded", 0), failed=job.get("failed", 0),
            report_bucket=job.get("report_bucket"), report_prefix=job.get("report_prefix"),
            failure_reasons=tuple(job.get("failure_reasons", ())),
        )  # fmt: skip
        return self._complete(context, state)

    def _complete(self, context: Any, state: bops.JobState) -> dict[str, Any]:
        self._job_id = None  # ended: nothing to cancel any more
        outcome = self.run_checked(
            lambda: bops.read_completion_report(
                self.client.s3, state, self.operation, max_errors=max(self.max_items, 1)
            )
        )
        summary = self.summarize(
            context, outcome, operation=self.operation, engine="s3_batch_operations",
            job_id=state.job_id, job_status=state.status, job_report=outcome.report,
            **self.summary_fields(),
        )  # fmt: skip
        summary["bytes_transferred"], summary["throughput_mib_s"] = 0, 0.0
        if state.status != "Complete":
            reasons = "; ".join(state.failure_reasons) or "no reason given"
            raise OrbitTaskError(
                f"S3 Batch Operations job {state.job_id} ended {state.status}: {reasons}",
                code="JobFailed",
            )
        return self.after_job(context, self.finish(context, summary))

    def after_job(self, context: Any, summary: dict[str, Any]) -> dict[str, Any]:
        """What follows a finished job (a restore waits for readability); the summary."""
        return summary

    def on_kill(self) -> None:
        """Cancel the job this task submitted and still waits for in its worker."""
        account = self.account_id or (self._job_account if self._job_id else None)
        if self._job_id and account:
            try:
                status = bops.cancel_job(
                    self.client.s3control, str(account), self._job_id, "task killed"
                )
                self.log.info("cancelled S3 Batch Operations job %s: %s", self._job_id, status)
            except Exception as exc:  # the kill goes on; say what is left running
                self.log.error("could not cancel job %s: %s", self._job_id, exc)
        super().on_kill()  # type: ignore[misc]
