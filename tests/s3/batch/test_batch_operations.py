"""S3 Batch Operations: manifests and completion reports on moto, the s3control calls through
botocore's Stubber (moto has no s3control jobs; the Stubber validates every request against
the service model)."""

from __future__ import annotations

import csv
import hashlib
import io
import json

import boto3
import pytest
from botocore.stub import Stubber

from orbit_provider.s3.batch import batch_operations as bops
from orbit_provider.s3.batch.inventory import InventoryObject
from orbit_provider.s3.errors import ConfigError, IntegrityError, InvalidRequest, S3Error

BUCKET = "test-bucket"  # made by the moto_client fixture
ACCOUNT = "123456789012"
ROLE = "arn:aws:iam::123456789012:role/batch"


@pytest.fixture
def boto(moto_client):
    return moto_client.s3


@pytest.fixture
def s3control():
    client = boto3.client(
        "s3control",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


SETTINGS = bops.JobSettings(ACCOUNT, ROLE, BUCKET, report_prefix="reports")


def test_manifest_holds_every_key_url_encoded_and_its_etag(boto):
    keys = (f"data/file {i}+ü.csv" for i in range(2500))  # lazy: never a list in memory
    info = bops.write_manifest(
        boto, keys, source_bucket="src", manifest_bucket=BUCKET, manifest_key="m/manifest.csv"
    )
    assert info.count == 2500
    body = boto.get_object(Bucket=BUCKET, Key="m/manifest.csv")["Body"].read().decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert len(rows) == 2500
    assert rows[0] == ["src", "data/file%200%2B%C3%BC.csv"]
    assert info.etag == boto.head_object(Bucket=BUCKET, Key="m/manifest.csv")["ETag"]
    location = info.location()
    assert location["Spec"] == {"Format": bops.MANIFEST_FORMAT, "Fields": ["Bucket", "Key"]}
    assert location["Location"]["ObjectArn"] == f"arn:aws:s3:::{BUCKET}/m/manifest.csv"


def test_versioned_manifest_needs_every_version_id(boto):
    rows = [InventoryObject("a", 1, None, None, version_id="v1")]
    info = bops.write_manifest(
        boto,
        rows,
        source_bucket="src",
        manifest_bucket=BUCKET,
        manifest_key="m.csv",
        with_versions=True,
    )
    assert info.fields == ("Bucket", "Key", "VersionId")
    assert boto.get_object(Bucket=BUCKET, Key="m.csv")["Body"].read() == b"src,a,v1\n"
    with pytest.raises(ConfigError, match="no version id"):
        bops.write_manifest(
            boto,
            ["b"],
            source_bucket="src",
            manifest_bucket=BUCKET,
            manifest_key="n.csv",
            with_versions=True,
        )
    with pytest.raises(ConfigError, match="no keys"):
        bops.write_manifest(
            boto, [], source_bucket="src", manifest_bucket=BUCKET, manifest_key="o.csv"
        )


def test_operations_are_built_as_s3control_expects(s3control):
    client, stub = s3control
    manifest = bops.ManifestInfo(BUCKET, "m.csv", '"etag"', 3, ("Bucket", "Key"))
    operations = [
        bops.copy_operation(
            "dest",
            storage_class="GLACIER",
            metadata={"a": "b"},
            content_type="text/csv",
            sse="aws:kms",
            kms_key_id="k1",
            bucket_key_enabled=True,
            target_key_prefix="copied/",
            checksum_algorithm="crc32c",
        ),
        bops.copy_operation("src", storage_class="DEEP_ARCHIVE"),
        bops.tagging_operation({"team": "lake"}),
        bops.restore_operation(7, "standard"),
    ]
    for number, operation in enumerate(operations):
        request = bops.job_request(SETTINGS, operation, manifest, client_token=f"token-{number}")
        # the Stubber refuses any request the s3control model does not accept
        stub.add_response("create_job", {"JobId": f"job-{number}"}, request)
        assert bops.create_job(client, request) == f"job-{number}"
    copy = operations[0]["S3PutObjectCopy"]
    assert copy["MetadataDirective"] == "REPLACE"
    assert copy["NewObjectMetadata"]["SSEAlgorithm"] == "KMS"
    assert operations[3]["S3InitiateRestoreObject"]["GlacierJobTier"] == "STANDARD"


def test_bad_operations_and_settings_are_refused_before_any_request():
    with pytest.raises(ConfigError, match="lifecycle"):
        bops.delete_operation()
    with pytest.raises(ConfigError, match="bulk or standard"):
        bops.restore_operation(1, "expedited")
    with pytest.raises(ConfigError, match="at most 10"):
        bops.tagging_operation({str(i): "v" for i in range(11)})
    with pytest.raises(ConfigError, match="needs sse"):
        bops.copy_operation("dest", kms_key_id="k")
    with pytest.raises(ConfigError, match="12-digit"):
        bops.JobSettings("12", ROLE, BUCKET)
    with pytest.raises(ConfigError, match="IAM role"):
        bops.JobSettings(ACCOUNT, "role", BUCKET)


def test_describe_cancel_and_confirm(s3control):
    client, stub = s3control
    stub.add_response(
        "describe_job",
        {
            "Job": {
                "JobId": "job-1",
                "Status": "Active",
                "ProgressSummary": {
                    "TotalNumberOfTasks": 10,
                    "NumberOfTasksSucceeded": 4,
                    "NumberOfTasksFailed": 1,
                },
                "Report": {
                    "Bucket": f"arn:aws:s3:::{BUCKET}",
                    "Prefix": "reports",
                    "Format": bops.REPORT_FORMAT,
                    "Enabled": True,
                },
            }
        },
        {"AccountId": ACCOUNT, "JobId": "job-1"},
    )
    state = bops.describe_job(client, ACCOUNT, "job-1")
    assert (state.status, state.total, state.succeeded, state.failed) == ("Active", 10, 4, 1)
    assert not state.done and state.report_bucket == BUCKET
    stub.add_response(
        "update_job_status",
        {"JobId": "job-1", "Status": "Cancelling"},
        {
            "AccountId": ACCOUNT,
            "JobId": "job-1",
            "RequestedJobStatus": "Cancelled",
            "StatusUpdateReason": "task killed",
        },
    )
    assert bops.cancel_job(client, ACCOUNT, "job-1", "task killed") == "Cancelling"
    stub.add_response(
        "update_job_status",
        {"JobId": "job-1", "Status": "Ready"},
        {"AccountId": ACCOUNT, "JobId": "job-1", "RequestedJobStatus": "Ready"},
    )
    assert bops.confirm_job(client, ACCOUNT, "job-1") == "Ready"


def _put_report(boto, job_id: str, results: list[str], *, md5: str | None = None) -> None:
    entries = []
    for number, text in enumerate(results):
        key = f"reports/job-{job_id}/results/{number}.csv"
        data = text.encode()
        boto.put_object(Bucket=BUCKET, Key=key, Body=data)
        entries.append(
            {
                "TaskExecutionStatus": "x",
                "Bucket": BUCKET,
                "Key": key,
                "MD5Checksum": md5 or hashlib.md5(data).hexdigest(),
            }
        )
    boto.put_object(
        Bucket=BUCKET,
        Key=f"reports/job-{job_id}/manifest.json",
        Body=json.dumps({"Format": bops.REPORT_FORMAT, "Results": entries}),
    )


def _done(job_id: str, status: str = "Complete") -> bops.JobState:
    return bops.JobState(job_id, status, 3, report_bucket=BUCKET, report_prefix="reports")


def test_completion_report_gives_counts_and_capped_failures(boto):
    ok_rows = "".join(f"src,ok/{i},,succeeded,200,,Successful\n" for i in range(250))
    failed = (
        'src,bad%20one,,failed,400,InvalidRequest,"Object too large, over 5 GB"\n'
        "src,v/k,ver1,failed,403,AccessDenied,Access Denied\n"
        "src,v/k2,,failed,404,NoSuchKey,gone\n"
    )
    _put_report(boto, "job-1", [ok_rows, failed])
    outcome = bops.read_completion_report(boto, _done("job-1"), "copy", max_errors=2)
    assert (outcome.total, outcome.successful, outcome.failed) == (253, 250, 3)
    assert outcome.errors == [
        ("bad one", "InvalidRequest", "Object too large, over 5 GB"),
        ("v/k?versionId=ver1", "AccessDenied", "Access Denied"),
    ]
    summary = outcome.to_dict()
    assert summary["engine"] == "s3_batch_operations" and summary["failed"] == 3
    assert summary["report"] == f"s3://{BUCKET}/reports/job-job-1/manifest.json"
    assert not outcome.ok


def test_a_report_file_that_differs_from_its_md5_raises(boto):
    _put_report(boto, "j2", ["src,a,,succeeded,200,,ok\n"], md5="0" * 32)
    with pytest.raises(IntegrityError, match="MD5"):
        bops.read_completion_report(boto, _done("j2"), "tag")


def test_no_report_before_the_job_ends_and_none_for_a_job_that_never_ran(boto):
    with pytest.raises(InvalidRequest, match="no report yet"):
        bops.read_completion_report(boto, bops.JobState("j3", "Active"), "tag")
    outcome = bops.read_completion_report(boto, _done("j4", "Failed"), "tag")
    assert (outcome.status, outcome.total, outcome.ok) == ("Failed", 0, False)


def test_an_inventory_report_is_used_directly_as_a_manifest(boto):
    boto.put_object(
        Bucket=BUCKET, Key="inv/manifest.json", Body=json.dumps({"fileFormat": "CSV", "files": []})
    )
    info = bops.inventory_manifest(boto, BUCKET, "inv/manifest.json")
    assert info.location()["Spec"] == {"Format": bops.INVENTORY_FORMAT}
    boto.put_object(
        Bucket=BUCKET, Key="inv2/manifest.json", Body=json.dumps({"fileFormat": "Parquet"})
    )
    with pytest.raises(ConfigError, match="must be CSV"):
        bops.inventory_manifest(boto, BUCKET, "inv2/manifest.json")


def test_dry_run_counts_the_keys_and_shows_the_request_without_writing(boto):
    plan = bops.plan_job(
        SETTINGS,
        "storage_class",
        bops.copy_operation(BUCKET, storage_class="GLACIER"),
        (f"k{i}" for i in range(1500)),
        source_bucket=BUCKET,
        token="tok",
    )
    summary = plan.to_dict()
    assert summary["manifest_keys"] == 1500 and summary["dry_run"]
    assert summary["request"]["Operation"]["S3PutObjectCopy"]["StorageClass"] == "GLACIER"
    assert summary["request"]["ClientRequestToken"] == "tok"
    assert summary["estimate"]["keys"] == 1500
    assert "Contents" not in boto.list_objects_v2(Bucket=BUCKET)  # nothing written


def test_submit_writes_the_manifest_and_creates_the_job_with_its_etag(boto, s3control):
    client, stub = s3control
    token = bops.client_token("dag", "task", "run", -1, 1)
    assert token == bops.client_token("dag", "task", "run", -1, 1) != bops.client_token("x")
    manifest_key = bops.manifest_key_for(SETTINGS, token)
    operation = bops.tagging_operation({"a": "b"})

    # the manifest's ETag is only known once it is written: the Stubber checks the request
    # against the s3control model
    stub.add_response("create_job", {"JobId": "job-123"}, None)
    job = bops.submit_job(
        boto, client, SETTINGS, operation, source_bucket=BUCKET, token=token, items=["a", "b", "c"]
    )
    assert job.job_id == "job-123" and job.manifest.count == 3
    assert job.manifest.key == manifest_key
    assert job.to_dict()["manifest"] == f"s3://{BUCKET}/{manifest_key}"
    body = boto.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read()
    assert body == f"{BUCKET},a\n{BUCKET},b\n{BUCKET},c\n".encode()
    assert job.manifest.etag == boto.head_object(Bucket=BUCKET, Key=manifest_key)["ETag"]
    with pytest.raises(ConfigError, match="not both"):
        bops.submit_job(boto, client, SETTINGS, operation, source_bucket=BUCKET, token=token)


def test_s3control_failures_are_s3_errors(s3control):
    client, stub = s3control
    stub.add_client_error("describe_job", "AccessDenied", "no", http_status_code=403)
    with pytest.raises(S3Error) as failure:
        bops.describe_job(client, ACCOUNT, "job-1")
    assert failure.value.code == "AccessDenied" and not failure.value.retryable
    stub.add_client_error("describe_job", "TooManyRequestsException", "slow", http_status_code=429)
    with pytest.raises(S3Error) as failure:
        bops.describe_job(client, ACCOUNT, "job-1")
    assert failure.value.retryable
