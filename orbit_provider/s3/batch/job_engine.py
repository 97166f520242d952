"""engine="s3_batch_operations" for the core batch calls: one blocking job run. Submit the
job (or plan it: dry run), wait with DescribeJob polling and backoff, read the completion
report into a JobOutcome (the summary shape of a client-engine BatchResult).

The wait is the one the operators' in-worker wait uses, with the trigger's backoff: checks
every `poke_interval` seconds while the job's counts move, x1.5 while they stand still, up
to `max_poke_interval`. An interrupt or an error while waiting cancels the job before it is
re-raised (this call owns the job); a wait timeout does not: the job keeps running and the
error names it, so the caller can wait again (`wait_for_job`) or cancel it (`cancel_job`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from typing import Any

from orbit_provider.s3.batch import batch_operations as bops
from orbit_provider.s3.batch.batch_operations import JobOutcome, JobPlan, JobSettings, JobState
from orbit_provider.s3.batch.copy import metadata_to_set
from orbit_provider.s3.config import ServerSideEncryption, StorageClass
from orbit_provider.s3.errors import ConfigError, S3Error

log = logging.getLogger(__name__)

ENGINES = ("client", "s3_batch_operations")
#: how much the wait grows each time a job's counts have not moved
BACKOFF = 1.5
COPY_STRIP_REFUSED = (
    "engine='s3_batch_operations' copies each key to dest_prefix + the whole source key: "
    "pass strip_prefix='' (and a prefix or keys, not a key list's last path segments)"
)
TAG_MERGE_REFUSED = (
    "engine='s3_batch_operations' replaces each object's whole tag set: pass merge=False "
    "(or use engine='client' to merge)"
)


class JobFailed(S3Error):
    """An S3 Batch Operations job ended Failed or Cancelled. `state` is its last
    DescribeJob, `outcome` what its completion report says (if it ran any task)."""

    code = "JobFailed"

    def __init__(self, state: JobState, outcome: JobOutcome | None = None) -> None:
        reasons = "; ".join(state.failure_reasons) or "no reason given"
        super().__init__(
            f"S3 Batch Operations job {state.job_id} ended {state.status}: {reasons}",
            code=self.code,
        )
        self.job_id = state.job_id
        self.state = state
        self.outcome = outcome


class JobWaitTimeout(S3Error):
    """The wait for a job ran out; the job itself keeps running (`job_id`)."""

    code = "JobWaitTimeout"

    def __init__(self, message: str, *, job_id: str) -> None:
        super().__init__(message, code=self.code)
        self.job_id = job_id


# -- the wait -------------------------------------------------------------------------------


def next_wait(wait: float, moved: bool, poke_interval: float, max_interval: float) -> float:
    """The pause before the next DescribeJob: back to `poke_interval` when the job's counts
    moved, else x1.5 up to `max_interval`."""
    return poke_interval if moved else min(wait * BACKOFF, max_interval)


def _counts(state: JobState) -> tuple[str, int, int]:
    return state.status, state.succeeded, state.failed


def wait_for_job(
    s3control: Any,
    account_id: str,
    job_id: str,
    *,
    poke_interval: float = 30.0,
    max_interval: float = 300.0,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> JobState:
    """Poll DescribeJob until the job ends (Complete, Failed or Cancelled) and return its
    last state. A retryable DescribeJob failure (throttling, 5xx after botocore's own
    retries) is logged and the wait goes on; any other raises. JobWaitTimeout past
    `timeout` seconds (the job keeps running). Nothing here cancels the job."""
    bops.check_wait(poke_interval, max_interval, timeout)
    started = clock()
    wait, last = poke_interval, None
    while True:
        try:
            state: JobState | None = bops.describe_job(s3control, account_id, job_id)
        except S3Error as exc:
            if not exc.retryable:
                raise
            log.warning("DescribeJob of %s failed, will try again: %s", job_id, exc)
            state = last
        if state is not None and state.done:
            return state
        if state is not None:
            moved = last is None or _counts(state) != _counts(last)
            wait = next_wait(wait, moved, poke_interval, max_interval)
            log.info(
                "job %s: %s, %d succeeded, %d failed of %s; next check in %.0fs",
                job_id, state.status, state.succeeded, state.failed,
                state.total if state.total is not None else "?", wait,
            )  # fmt: skip
            last = state
        elapsed = clock() - started
        if timeout is not None and elapsed >= timeout:
            status = last.status if last is not None else "unknown"
            raise JobWaitTimeout(
                f"S3 Batch Operations job {job_id} still {status} after {elapsed:.0f}s "
                f"(wait_timeout {timeout}s); the job keeps running: wait again or cancel it",
                job_id=job_id,
            )
        if timeout is not None:
            wait = min(wait, max(timeout - elapsed, 0.0))
        sleep(wait)


# -- one job, start to end --------------------------------------------------------------------


def run_job(
    boto: Any,
    s3control: Any,
    settings: JobSettings,
    operation_name: str,
    operation: dict[str, Any],
    items: Iterable[Any] | None,
    *,
    source_bucket: str,
    token: str | None = None,
    dry_run: bool = False,
    max_errors: int = 100,
    duplicates: int = 0,
    inventory_manifest_key: str | None = None,
    inventory_bucket: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> JobOutcome | JobPlan:
    """Run `operation` over `items` (or a CSV inventory report's manifest) as one S3 Batch
    Operations job and block until it ends -> JobOutcome (counts, capped failures, job id,
    status, report and manifest locations). `dry_run`: the JobPlan, nothing written. A job
    that ends Failed or Cancelled raises JobFailed; an interrupt or error while waiting
    cancels the job, then re-raises. `token` (default: a new one per call) makes a
    repeated call with the same token return the job the first one created."""
    token = token or bops.client_token(operation_name, source_bucket, uuid.uuid4())
    if dry_run:
        if items is None:
            raise ConfigError("dry_run: needs the keys (an inventory report is not counted)")
        return bops.plan_job(settings, operation_name, operation, items,
                             source_bucket=source_bucket, token=token)  # fmt: skip
    started = clock()
    job = bops.submit_job(
        boto, s3control, settings, operation, source_bucket=source_bucket, token=token,
        items=items, inventory_manifest_key=inventory_manifest_key,
        inventory_bucket=inventory_bucket,
    )  # fmt: skip
    log.info("submitted S3 Batch Operations job %s (%s)", job.job_id, job.to_dict()["manifest"])
    try:
        state = wait_for_job(
            s3control, settings.account_id, job.job_id, poke_interval=settings.poke_interval,
            max_interval=settings.max_poke_interval, timeout=settings.wait_timeout,
            sleep=sleep, clock=clock,
        )  # fmt: skip
    except JobWaitTimeout:
        raise  # asked for: stop waiting, the job goes on
    except BaseException as exc:
        _cancel(s3control, settings.account_id, job.job_id, f"wait stopped: {type(exc).__name__}")
        raise
    outcome = bops.read_completion_report(boto, state, operation_name, max_errors=max_errors)
    outcome.duration = clock() - started
    outcome.duplicates = duplicates
    outcome.manifest = job.to_dict()["manifest"]
    if state.status != "Complete":
        raise JobFailed(state, outcome)
    return outcome


def _cancel(s3control: Any, account_id: str, job_id: str, reason: str) -> None:
    """Cancel a job whose wait stopped; a failure to cancel is logged (the original error
    is what the caller needs), naming the job left running."""
    try:
        status = bops.cancel_job(s3control, account_id, job_id, reason)
        log.warning("cancelled S3 Batch Operations job %s (%s): %s", job_id, reason, status)
    except Exception as exc:
        log.error("could not cancel S3 Batch Operations job %s, it may still run: %s", job_id, exc)


# -- the S3Client batch methods on engine="s3_batch_operations" ---------------------------------


def check_engine(engine: Any) -> None:
    """ConfigError unless `engine` is one of ENGINES."""
    if engine not in ENGINES:
        raise ConfigError(f"engine: {engine!r} must be one of {ENGINES}")


def wants_job(engine: str, job: JobSettings | None, dry_run: bool) -> bool:
    """Whether a batch call runs as a job; ConfigError for arguments that do not go together."""
    check_engine(engine)
    if not isinstance(dry_run, bool):
        raise ConfigError(f"dry_run: {dry_run!r} must be True or False")
    if engine == "client":
        if job is not None:
            raise ConfigError("job: only with engine='s3_batch_operations'")
        if dry_run:
            raise ConfigError("dry_run: only with engine='s3_batch_operations' (see plan_batch)")
        return False
    if not isinstance(job, JobSettings):
        raise ConfigError("engine='s3_batch_operations' needs job=JobSettings(account, role, ...)")
    return True


def _refuse_client_options(config: Any, progress: Any) -> None:
    if config is not None:
        raise ConfigError(
            "config: a BatchConfig sets this process's concurrency and retries; an S3 Batch "
            "Operations job has neither (its settings are in job=JobSettings)"
        )
    if progress is not None:
        raise ConfigError("progress: an S3 Batch Operations job reports per-key progress only "
                          "in its completion report")  # fmt: skip


def _unique(keys: Any) -> tuple[Iterable[Any], int]:
    """A Collection of keys without repeats (as the client engine runs each key once), and
    how many were left out; any other iterable as it is (read once, lazily)."""
    if isinstance(keys, str):
        return [keys], 0
    if not isinstance(keys, Collection):
        return keys, 0
    seen: dict[str, Any] = {}
    for item in keys:
        key = item if isinstance(item, str) else getattr(item, "key", None)
        if not isinstance(key, str) or not key:
            raise ConfigError(f"keys: {item!r} is not a key")
        seen.setdefault(key, item)
    return list(seen.values()), len(keys) - len(seen)


def _run(client: Any, job: JobSettings, name: str, operation: dict[str, Any], keys: Any,
         dry_run: bool) -> JobOutcome | JobPlan:  # fmt: skip
    items, duplicates = _unique(keys)
    return run_job(
        client.s3, client.s3control, job, name, operation, items, source_bucket=client.bucket,
        dry_run=dry_run, duplicates=duplicates,
    )  # fmt: skip


def copy_job(
    client: Any,
    keys: Any,
    dest_prefix: str,
    job: JobSettings,
    *,
    dry_run: bool = False,
    config: Any = None,
    progress: Any = None,
    dest_bucket: str | None = None,
    strip_prefix: str | None = None,
    sse: ServerSideEncryption | str | None = None,
    storage_class: StorageClass | str | None = None,
    metadata: dict[str, str] | None = None,
    metadata_directive: str | None = None,
) -> JobOutcome | JobPlan:
    """S3Client.batch_copy as an S3PutObjectCopy job: each key to dest_prefix + the whole
    key (strip_prefix=''), objects up to 5 GiB. Every key is copied: the job cannot skip
    identical destinations, nor keep each source's own KMS key (give `sse`)."""
    _refuse_client_options(config, progress)
    if strip_prefix != "":
        raise ConfigError(COPY_STRIP_REFUSED)
    if not isinstance(dest_prefix, str):
        raise ConfigError(f"dest_prefix: {dest_prefix!r} must be a string")
    dest = dest_bucket or client.bucket
    if dest == client.bucket and not dest_prefix:
        raise ConfigError("dest_prefix: empty with the same bucket copies every key onto itself")
    encryption = ServerSideEncryption.parse(sse)
    operation = bops.copy_operation(
        dest,
        target_key_prefix=dest_prefix or None,
        storage_class=StorageClass.parse(storage_class) if storage_class else None,
        metadata=metadata_to_set(metadata, metadata_directive),
        sse=encryption.algorithm.value if encryption else None,
        kms_key_id=encryption.kms_key_id if encryption else None,
    )
    return _run(client, job, "copy", operation, keys, dry_run)


def storage_class_job(
    client: Any,
    keys: Any,
    storage_class: Any,
    job: JobSettings,
    *,
    dry_run: bool = False,
    config: Any = None,
    progress: Any = None,
) -> JobOutcome | JobPlan:
    """S3Client.batch_change_storage_class as an in-place S3PutObjectCopy job (metadata,
    content headers and tags kept)."""
    _refuse_client_options(config, progress)
    operation = bops.copy_operation(client.bucket, storage_class=StorageClass.parse(storage_class))
    return _run(client, job, "change_storage_class", operation, keys, dry_run)


def tag_job(
    client: Any,
    keys: Any,
    tags: dict,
    job: JobSettings,
    *,
    merge: bool = True,
    dry_run: bool = False,
    config: Any = None,
    progress: Any = None,
) -> JobOutcome | JobPlan:
    """S3Client.batch_tag_objects as an S3PutObjectTagging job: each key's whole tag set
    becomes `tags` (merge=False; a job cannot merge)."""
    _refuse_client_options(config, progress)
    if merge is not False:
        raise ConfigError(TAG_MERGE_REFUSED)
    return _run(client, job, "tag_objects", bops.tagging_operation(tags), keys, dry_run)


def restore_job(
    client: Any,
    keys: Any,
    days: int,
    tier: str,
    job: JobSettings,
    *,
    dry_run: bool = False,
    config: Any = None,
    progress: Any = None,
) -> JobOutcome | JobPlan:
    """S3Client.restore_archived as an S3InitiateRestoreObject job (Bulk or Standard)."""
    _refuse_client_options(config, progress)
    if not isinstance(tier, str):
        raise ConfigError(f"tier: {tier!r} must be a string")
    operation = bops.restore_operation(days, tier.strip().lower())
    return _run(client, job, "restore", operation, keys, dry_run)


def metadata_job(
    client: Any,
    keys: Any,
    metadata: dict,
    job: JobSettings,
    *,
    merge: bool = True,
    content_type: str | None = None,
    storage_class: StorageClass | str | None = None,
    dry_run: bool = False,
    config: Any = None,
    progress: Any = None,
) -> JobOutcome | JobPlan:
    """S3Client.batch_update_metadata as an in-place S3PutObjectCopy job: every object's
    user metadata becomes `metadata`, its content type `content_type` and its storage class
    `storage_class` (all three required: a job cannot keep each object's own)."""
    _refuse_client_options(config, progress)
    operation = bops.metadata_operation(
        client.bucket, metadata, merge=merge, content_type=content_type,
        storage_class=storage_class,
    )  # fmt: skip
    return _run(client, job, "update_metadata", operation, keys, dry_run)


def refuse_job(engine: str, job: JobSettings | None, refused: str) -> None:
    """For work Batch Operations cannot do (deletes, metadata merges): ConfigError(refused)
    on engine='s3_batch_operations'; otherwise the engine arguments are checked."""
    if engine == "s3_batch_operations":
        raise ConfigError(refused)
    wants_job(engine, job, False)
