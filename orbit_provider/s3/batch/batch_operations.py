"""S3 Batch Operations as an engine for bulk work past one machine: the keys go into a CSV
manifest object, AWS runs the operation on every key (CreateJob), and its completion report
gives the per-key outcome. Only the manifest, the job request and the report's failures pass
through this process, so a billion-key job costs it what a thousand-key job does.

Operations: copy / storage class / metadata / SSE (S3PutObjectCopy, objects up to 5 GiB),
tags (S3PutObjectTagging), archive restores (S3InitiateRestoreObject). Deletes are not a
Batch Operations operation: a lifecycle expiration rule is S3's scalable delete
(`orbit_provider.s3.lifecycle`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_plus

from orbit_provider.s3.batch import scale
from orbit_provider.s3.batch.restore import TIERS
from orbit_provider.s3.config import StorageClass, validate_bucket_name
from orbit_provider.s3.errors import ConfigError, IntegrityError, InvalidRequest, S3Error, classify
from orbit_provider.s3.limits import validate_metadata
from orbit_provider.s3.models import ObjectSummary

MANIFEST_FORMAT = "S3BatchOperations_CSV_20180820"
INVENTORY_FORMAT = "S3InventoryReport_CSV_20161130"
REPORT_FORMAT = "Report_CSV_20180820"
#: job states after which nothing more happens
TERMINAL = frozenset({"Complete", "Failed", "Cancelled"})
#: S3PutObjectCopy copies objects up to this size; larger ones fail in the job
MAX_COPY_SIZE = 5 * 1024**3
DELETE_REFUSED = (
    "S3 Batch Operations has no delete operation: expire the keys with a lifecycle rule "
    "(OrbitLifecycleExpirationOperator / orbit_provider.s3.lifecycle.add_expiration_rule), "
    "which is S3's own scalable delete, or use engine='client'"
)
METADATA_REFUSED = (
    "engine='s3_batch_operations' cannot merge metadata nor keep each object's own content "
    "type and storage class: its S3PutObjectCopy with MetadataDirective REPLACE gives every "
    "object the same ones (and drops other content headers). Pass merge=False, content_type "
    "and storage_class to accept that, or use engine='client', which keeps each object's own"
)
_SPOOL = 8 * 1024 * 1024
_MAX_PRIORITY = 2_147_483_647


def _bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


# -- operations --------------------------------------------------------------------------


def copy_operation(
    dest_bucket: str,
    *,
    storage_class: StorageClass | str | None = None,
    metadata: dict[str, str] | None = None,
    content_type: str | None = None,
    sse: str | None = None,
    kms_key_id: str | None = None,
    bucket_key_enabled: bool | None = None,
    target_key_prefix: str | None = None,
    checksum_algorithm: str | None = None,
) -> dict[str, Any]:
    """An S3PutObjectCopy operation: every key to `dest_bucket` (the source bucket itself
    for an in-place re-tier or metadata change), under `target_key_prefix` if given.
    Metadata or a content type replace the object's (MetadataDirective REPLACE)."""
    validate_bucket_name(dest_bucket)
    spec: dict[str, Any] = {"TargetResource": _bucket_arn(dest_bucket)}
    if storage_class is not None:
        spec["StorageClass"] = StorageClass(storage_class).value
    new_metadata: dict[str, Any] = {}
    if metadata is not None:
        new_metadata["UserMetadata"] = dict(metadata)
    if content_type is not None:
        new_metadata["ContentType"] = content_type
    if new_metadata:
        spec["MetadataDirective"] = "REPLACE"
    if sse is not None:
        algorithm = {"AES256": "AES256", "aws:kms": "KMS", "KMS": "KMS"}.get(sse)
        if algorithm is None:
            raise ConfigError(f"sse: {sse!r} must be AES256 or aws:kms")
        new_metadata["SSEAlgorithm"] = algorithm
        if kms_key_id:
            spec["SSEAwsKmsKeyId"] = kms_key_id
    elif kms_key_id:
        raise ConfigError("kms_key_id: needs sse='aws:kms'")
    if new_metadata:
        spec["NewObjectMetadata"] = new_metadata
    if bucket_key_enabled is not None:
        spec["BucketKeyEnabled"] = bucket_key_enabled
    if target_key_prefix:
        spec["TargetKeyPrefix"] = target_key_prefix
    if checksum_algorithm:
        spec["ChecksumAlgorithm"] = checksum_algorithm.upper()
    return {"S3PutObjectCopy": spec}


def tagging_operation(tags: dict[str, str]) -> dict[str, Any]:
    """An S3PutObjectTagging operation: every key's tag set becomes `tags`."""
    if not isinstance(tags, dict) or not tags:
        raise ConfigError("tags: a non-empty dict of tag names to values is required")
    if len(tags) > 10:
        raise ConfigError(f"tags: S3 allows at most 10 tags per object, got {len(tags)}")
    return {"S3PutObjectTagging": {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}}


def restore_operation(days: int, tier: str = "bulk") -> dict[str, Any]:
    """An S3InitiateRestoreObject operation (Batch Operations offers the Bulk and Standard
    tiers only)."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigError(f"days: {days!r} must be a positive integer")
    if tier.lower() not in ("bulk", "standard"):
        raise ConfigError(f"tier: S3 Batch Operations restores with bulk or standard, not {tier!r}")
    return {
        "S3InitiateRestoreObject": {
            "ExpirationInDays": days,
            "GlacierJobTier": TIERS[tier.lower()].upper(),
        }
    }


def delete_operation() -> dict[str, Any]:
    """Always refused (see DELETE_REFUSED)."""
    raise ConfigError(DELETE_REFUSED)


def metadata_operation(
    bucket: str,
    metadata: dict[str, str],
    *,
    merge: bool,
    content_type: str | None,
    storage_class: StorageClass | str | None,
) -> dict[str, Any]:
    """An in-place S3PutObjectCopy that replaces every object's user metadata with
    `metadata`. A job cannot merge, and REPLACE sets one content type and one storage class
    for all (other content headers are dropped), so it is refused (METADATA_REFUSED) unless
    the caller replaces (merge=False) and names both."""
    if merge is not False or not content_type or storage_class is None:
        raise ConfigError(METADATA_REFUSED)
    if not isinstance(content_type, str):
        raise ConfigError(f"content_type: {content_type!r} must be a string")
    return copy_operation(
        bucket, metadata=validate_metadata(metadata), content_type=content_type,
        storage_class=StorageClass.parse(storage_class),
    )  # fmt: skip


# -- the manifest -------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestInfo:
    """A written manifest: where it is, its ETag (CreateJob needs it), how many keys."""

    bucket: str
    key: str
    etag: str
    count: int
    fields: tuple[str, ...]
    format: str = MANIFEST_FORMAT

    def location(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"Format": self.format}
        if self.format == MANIFEST_FORMAT:
            spec["Fields"] = list(self.fields)
        return {
            "Spec": spec,
            "Location": {"ObjectArn": f"{_bucket_arn(self.bucket)}/{self.key}", "ETag": self.etag},
        }


def _rows(items: Iterable[Any], bucket: str, with_versions: bool) -> Iterator[list[str]]:
    for item in items:
        key = item if isinstance(item, str) else getattr(item, "key", None)
        if not isinstance(key, str) or not key:
            raise ConfigError(f"manifest: {item!r} is not a key")
        row = [bucket, quote(key, safe="/")]
        if with_versions:
            version = getattr(item, "version_id", None)
            if not version:
                raise ConfigError(f"manifest: {key!r} has no version id (with_versions=True)")
            row.append(version)
        yield row


def write_manifest(
    boto: Any,
    items: Iterable[str | ObjectSummary],
    *,
    source_bucket: str,
    manifest_bucket: str,
    manifest_key: str,
    with_versions: bool = False,
) -> ManifestInfo:
    """Write the CSV manifest of `items` (keys, listing entries or inventory rows; with
    `with_versions`, each must carry a version id) as one object and return its location.
    Rows are spooled to a temporary file past 8 MiB, so memory stays flat for any count."""
    validate_bucket_name(source_bucket)
    validate_bucket_name(manifest_bucket)
    count = 0
    line = io.StringIO()
    writer = csv.writer(line, lineterminator="\n")
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL, mode="w+b") as spool:
        for row in _rows(items, source_bucket, with_versions):
            writer.writerow(row)
            count += 1
            if line.tell() >= 64 * 1024:
                spool.write(line.getvalue().encode("utf-8"))
                line.seek(0)
                line.truncate()
        spool.write(line.getvalue().encode("utf-8"))
        if count == 0:
            raise ConfigError("manifest: no keys to process")
        spool.seek(0)
        # S3 verifies the CRC32 s3transfer sends with every part: the job reads what we wrote
        boto.upload_fileobj(
            spool, manifest_bucket, manifest_key, ExtraArgs={"ChecksumAlgorithm": "CRC32"}
        )
    etag = boto.head_object(Bucket=manifest_bucket, Key=manifest_key)["ETag"]
    fields = ("Bucket", "Key", "VersionId") if with_versions else ("Bucket", "Key")
    return ManifestInfo(manifest_bucket, manifest_key, etag, count, fields)


def inventory_manifest(boto: Any, bucket: str, manifest_key: str) -> ManifestInfo:
    """Use a CSV S3 Inventory report's manifest.json directly as the job's manifest (every
    object of the report; write_manifest with iter_inventory when filters are needed)."""
    body = boto.get_object(Bucket=bucket, Key=manifest_key)
    data = json.loads(body["Body"].read())
    if str(data.get("fileFormat", "")).upper() != "CSV":
        raise ConfigError("an inventory report used as a job manifest must be CSV")
    return ManifestInfo(bucket, manifest_key, body["ETag"], -1, (), INVENTORY_FORMAT)


# -- the job ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSettings:
    """Who runs the job and where it reports: the account, the IAM role S3 assumes, the
    report's bucket and prefix, its priority, and whether it waits for a confirmation.
    A blocking run (`job_engine.run_job`) waits with DescribeJob every `poke_interval`
    seconds, growing while the job's counts stand still up to `max_poke_interval`, for at
    most `wait_timeout` seconds (None: no limit; the job keeps running past it)."""

    account_id: str
    role_arn: str
    report_bucket: str
    report_prefix: str = "orbit-batch-reports"
    priority: int = 10
    confirmation_required: bool = False
    description: str = "orbit_provider batch job"
    poke_interval: float = 30.0
    max_poke_interval: float = 300.0
    wait_timeout: float | None = None

    def __post_init__(self) -> None:
        if not (
            isinstance(self.account_id, str)
            and self.account_id.isdigit()
            and len(self.account_id) == 12
        ):
            raise ConfigError(f"account_id: {self.account_id!r} must be a 12-digit AWS account id")
        if not (
            isinstance(self.role_arn, str)
            and self.role_arn.startswith("arn:")
            and ":role/" in self.role_arn
        ):
            raise ConfigError(f"role_arn: {self.role_arn!r} is not an IAM role ARN")
        validate_bucket_name(self.report_bucket)
        if (
            isinstance(self.priority, bool)
            or not isinstance(self.priority, int)
            or not (0 <= self.priority <= _MAX_PRIORITY)
        ):
            raise ConfigError(f"priority: {self.priority!r} must be an integer >= 0")
        if not 1 <= len(self.description) <= 256:
            raise ConfigError("description: 1 to 256 characters")
        check_wait(self.poke_interval, self.max_poke_interval, self.wait_timeout)


def _seconds(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigError(f"{name}: {value!r} must be a non-negative number of seconds")


def check_wait(poke_interval: float, max_poke_interval: float, timeout: float | None) -> None:
    """The job wait's intervals: non-negative seconds, the longest at least the first."""
    _seconds("poke_interval", poke_interval)
    _seconds("max_poke_interval", max_poke_interval)
    if max_poke_interval < poke_interval:
        raise ConfigError(
            f"max_poke_interval: {max_poke_interval!r} must be at least poke_interval "
            f"({poke_interval!r})"
        )
    if timeout is not None:
        _seconds("wait_timeout", timeout)


def job_request(
    settings: JobSettings,
    operation: dict[str, Any],
    manifest: ManifestInfo,
    *,
    client_token: str | None = None,
) -> dict[str, Any]:
    """The CreateJob request (also what a dry run shows): the completion report covers
    every task, so the outcome of each key is on record."""
    return {
        "AccountId": settings.account_id,
        "ConfirmationRequired": settings.confirmation_required,
        "Operation": operation,
        "Report": {
            "Bucket": _bucket_arn(settings.report_bucket),
            "Format": REPORT_FORMAT,
            "Enabled": True,
            "Prefix": settings.report_prefix,
            "ReportScope": "AllTasks",
        },
        "ClientRequestToken": client_token or str(uuid.uuid4()),
        "Manifest": manifest.location(),
        "Priority": settings.priority,
        "RoleArn": settings.role_arn,
        "Description": settings.description,
    }


def _control(operation: str, s3control: Any, **params: Any) -> dict[str, Any]:
    """One s3control call (botocore retries throttles itself); a failure is raised as the
    matching S3Error, credentials masked."""
    try:
        return getattr(s3control, operation)(**params)
    except S3Error:
        raise
    except Exception as exc:
        raise classify(exc) from exc


def create_job(s3control: Any, request: dict[str, Any]) -> str:
    """Submit a job (CreateJob) and return its id. A retried call with the same
    ClientRequestToken returns the same job instead of starting a second one."""
    return _control("create_job", s3control, **request)["JobId"]


@dataclass(frozen=True)
class JobState:
    """Where a job stands (DescribeJob): status, task counts, and its report's location."""

    job_id: str
    status: str
    total: int | None = None
    succeeded: int = 0
    failed: int = 0
    report_bucket: str | None = None
    report_prefix: str | None = None
    failure_reasons: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "total": self.total,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "report_bucket": self.report_bucket,
            "report_prefix": self.report_prefix,
            "failure_reasons": list(self.failure_reasons),
        }


def describe_job(s3control: Any, account_id: str, job_id: str) -> JobState:
    """One DescribeJob, as a JobState."""
    job = _control("describe_job", s3control, AccountId=account_id, JobId=job_id)["Job"]
    progress = job.get("ProgressSummary", {})
    report = job.get("Report", {})
    reasons = tuple(
        f"{r.get('FailureCode', '')}: {r.get('FailureReason', '')}"
        for r in job.get("FailureReasons", [])
    )
    return JobState(
        job_id=job_id,
        status=job["Status"],
        total=progress.get("TotalNumberOfTasks"),
        succeeded=progress.get("NumberOfTasksSucceeded", 0),
        failed=progress.get("NumberOfTasksFailed", 0),
        report_bucket=report.get("Bucket", "").rsplit(":", 1)[-1] or None,
        report_prefix=report.get("Prefix"),
        failure_reasons=reasons,
    )


def cancel_job(s3control: Any, account_id: str, job_id: str, reason: str) -> str:
    """Ask S3 to cancel a job (UpdateJobStatus); returns the status S3 answers with."""
    answer = _control(
        "update_job_status",
        s3control,
        AccountId=account_id,
        JobId=job_id,
        RequestedJobStatus="Cancelled",
        StatusUpdateReason=reason[:256],
    )
    return answer["Status"]


def confirm_job(s3control: Any, account_id: str, job_id: str) -> str:
    """Let a job created with confirmation_required run (UpdateJobStatus to Ready)."""
    return _control(
        "update_job_status",
        s3control,
        AccountId=account_id,
        JobId=job_id,
        RequestedJobStatus="Ready",
    )["Status"]


# -- the completion report ------------------------------------------------------------------


@dataclass
class JobOutcome:
    """What a finished job did, from its completion report: counts, a capped list of
    failures (key, code, message), and where the full report is. The same summary shape as
    a client-engine BatchResult.to_dict()."""

    operation: str
    job_id: str
    status: str
    total: int = 0
    successful: int = 0
    failed: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    report: str | None = None
    max_errors: int = 100
    duration: float = 0.0
    not_run: int = 0  # what a client-engine BatchResult also has, always 0 here
    already_done: int = 0
    duplicates: int = 0  # repeated keys of a list, left out of the manifest
    manifest: str | None = None  # s3:// URL of the job's manifest
    #: per-key outcomes are in the report, not in memory (a BatchResult's `results`)
    results_complete: bool = False

    def add(self, key: str, succeeded: bool, code: str, message: str) -> None:
        self.total += 1
        if succeeded:
            self.successful += 1
            return
        self.failed += 1
        if len(self.errors) < self.max_errors:
            self.errors.append((key, code, message))

    @property
    def ok(self) -> bool:
        return self.status == "Complete" and self.failed == 0

    def to_dict(self, max_keys: int | None = None) -> dict[str, Any]:
        errors = self.errors if max_keys is None else self.errors[:max_keys]
        return {
            "engine": "s3_batch_operations",
            "operation": self.operation,
            "job_id": self.job_id,
            "status": self.status,
            "total": self.total,
            "successful": self.successful,
            "failed": self.failed,
            "not_run": 0,
            "already_done": 0,
            "duplicates": self.duplicates,
            "duration": self.duration,
            "errors": [list(e) for e in errors],
            "results": {},
            "results_complete": False,
            "report": self.report,
            "manifest": self.manifest,
        }


def _report_row(row: list[str]) -> tuple[str, bool, str, str]:
    """(key, succeeded, code, message) of one report row: Bucket, Key, VersionId,
    TaskStatus, then the HTTP status and the error code (in either order), ResultMessage."""
    if len(row) < 4:
        raise IntegrityError(f"completion report row has {len(row)} fields: {row!r}")
    key, status = unquote_plus(row[1]), row[3].strip().lower()
    rest = row[4:]
    http = next((v for v in rest[:2] if v.isdigit()), "")
    code = next((v for v in rest[:2] if v and not v.isdigit()), "") or http
    message = rest[2] if len(rest) > 2 else ""
    if row[2]:
        key = f"{key}?versionId={row[2]}"
    return key, status == "succeeded", code, message


def read_completion_report(
    boto: Any, state: JobState, operation: str, *, max_errors: int = 100
) -> JobOutcome:
    """Read a finished job's completion report (its manifest.json, then each result CSV,
    streamed) into a JobOutcome. A result file whose MD5 differs from the report's
    manifest raises IntegrityError."""
    if not state.done:
        raise InvalidRequest(f"job {state.job_id} is {state.status}: it has no report yet")
    outcome = JobOutcome(operation, state.job_id, state.status, max_errors=max_errors)
    if not state.report_bucket:
        return outcome
    prefix = f"{state.report_prefix.rstrip('/')}/" if state.report_prefix else ""
    manifest_key = f"{prefix}job-{state.job_id}/manifest.json"
    outcome.report = f"s3://{state.report_bucket}/{manifest_key}"
    try:
        body = boto.get_object(Bucket=state.report_bucket, Key=manifest_key)["Body"].read()
    except boto.exceptions.NoSuchKey:
        if state.status == "Complete":
            raise
        return outcome  # a job that failed before running any task writes no report
    for result in json.loads(body).get("Results", []):
        _read_result_file(boto, result, outcome)
    return outcome


def _read_result_file(boto: Any, result: dict[str, Any], outcome: JobOutcome) -> None:
    obj = boto.get_object(Bucket=result["Bucket"], Key=result["Key"])
    md5 = hashlib.md5()
    pending = b""
    for chunk in obj["Body"].iter_chunks(1024 * 1024):
        md5.update(chunk)
        pending += chunk
        lines, _, pending = pending.rpartition(b"\n")
        if lines:
            _add_rows(lines, outcome)
    if pending:
        _add_rows(pending, outcome)
    expected = result.get("MD5Checksum")
    if expected and expected != md5.hexdigest():
        raise IntegrityError(f"completion report file {result['Key']}: MD5 differs")


def _add_rows(data: bytes, outcome: JobOutcome) -> None:
    for row in csv.reader(io.StringIO(data.decode("utf-8"), newline="")):
        if row:
            outcome.add(*_report_row(row))


# -- one job, start to end ------------------------------------------------------------------


def client_token(*parts: Any) -> str:
    """A ClientRequestToken from what identifies the work (e.g. dag, task, run, map index,
    try): the same call made twice submits one job, another try submits its own."""
    joined = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:64]


@dataclass(frozen=True)
class JobPlan:
    """What a dry run shows: how many keys the manifest would hold, the CreateJob request
    (with a placeholder manifest ETag), and the cost and time estimate."""

    operation: str
    keys: int
    request: dict[str, Any]
    estimate: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": "s3_batch_operations",
            "dry_run": True,
            "operation": self.operation,
            "manifest_keys": self.keys,
            "request": self.request,
            "estimate": self.estimate,
        }


def manifest_key_for(settings: JobSettings, token: str) -> str:
    """Where a job's manifest is written: beside its reports, named by its token."""
    prefix = settings.report_prefix.rstrip("/")
    return f"{prefix}/manifests/{token}.csv" if prefix else f"manifests/{token}.csv"


def plan_job(
    settings: JobSettings,
    operation_name: str,
    operation: dict[str, Any],
    items: Iterable[Any],
    *,
    source_bucket: str,
    token: str,
) -> JobPlan:
    """The dry run of a job: reads the key source once (counting, nothing kept) and writes
    nothing."""
    validate_bucket_name(source_bucket)
    count = sum(1 for _ in _rows(items, source_bucket, with_versions=False))
    placeholder = ManifestInfo(
        settings.report_bucket,
        manifest_key_for(settings, token),
        "<etag>",
        count,
        ("Bucket", "Key"),
    )
    request = job_request(settings, operation, placeholder, client_token=token)
    kind = {"S3PutObjectTagging": "tag", "S3InitiateRestoreObject": "restore"}.get(
        next(iter(operation)), "copy"
    )
    estimate = scale.estimate(count, kind, "s3_batch_operations", listed=True)
    return JobPlan(operation_name, count, request, estimate.to_dict())


@dataclass(frozen=True)
class SubmittedJob:
    """A job S3 has accepted, and the manifest it runs on."""

    job_id: str
    manifest: ManifestInfo

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "manifest": f"s3://{self.manifest.bucket}/{self.manifest.key}",
            "manifest_keys": self.manifest.count,
        }


def submit_job(
    boto: Any,
    s3control: Any,
    settings: JobSettings,
    operation: dict[str, Any],
    *,
    source_bucket: str,
    token: str,
    items: Iterable[Any] | None = None,
    inventory_manifest_key: str | None = None,
    inventory_bucket: str | None = None,
    with_versions: bool = False,
) -> SubmittedJob:
    """Write the manifest (or take an inventory report's as is) and create the job. The
    token makes a repeated call return the job the first one created."""
    if (items is None) == (inventory_manifest_key is None):
        raise ConfigError("give the keys or an inventory report's manifest.json, not both")
    if inventory_manifest_key is not None:
        manifest = inventory_manifest(
            boto, inventory_bucket or source_bucket, inventory_manifest_key
        )
    else:
        manifest = write_manifest(
            boto,
            items,
            source_bucket=source_bucket,
            manifest_bucket=settings.report_bucket,
            manifest_key=manifest_key_for(settings, token),
            with_versions=with_versions,
        )
    request = job_request(settings, operation, manifest, client_token=token)
    return SubmittedJob(create_job(s3control, request), manifest)
