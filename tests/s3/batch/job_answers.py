"""DescribeJob answers as s3control gives them, for tests that stub S3 Batch Operations jobs
(moto has no jobs): the job engine's and the trigger's."""

from __future__ import annotations

from orbit_provider.s3.batch import batch_operations as bops


def describe_job_answer(
    status: str, *, job_id: str, report_bucket: str, report_prefix: str,
    succeeded: int = 0, failed: int = 0, reasons: tuple[tuple[str, str], ...] = (),
) -> dict:  # fmt: skip
    """A DescribeJob answer for a 10-task job in `status` with its completion report."""
    job: dict = {
        "JobId": job_id,
        "Status": status,
        "ProgressSummary": {
            "TotalNumberOfTasks": 10,
            "NumberOfTasksSucceeded": succeeded,
            "NumberOfTasksFailed": failed,
        },
        "Report": {
            "Bucket": f"arn:aws:s3:::{report_bucket}",
            "Prefix": report_prefix,
            "Format": bops.REPORT_FORMAT,
            "Enabled": True,
        },
    }
    if reasons:
        job["FailureReasons"] = [{"FailureCode": c, "FailureReason": r} for c, r in reasons]
    return {"Job": job}
