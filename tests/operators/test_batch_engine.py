"""engine="s3_batch_operations" on the bulk operators, and the range and inventory key sources.

Manifests and completion reports live on moto; s3control (which moto lacks) goes through
botocore's Stubber, which validates every request against the service model."""

from __future__ import annotations

import json

import boto3
import pytest
from airflow.sdk.exceptions import TaskDeferred
from botocore.stub import ANY, Stubber

from orbit_provider.operators.base import OrbitTaskError
from orbit_provider.operators.batch import (
    OrbitBatchCopyOperator,
    OrbitBatchDeleteOperator,
    OrbitBatchMetadataOperator,
    OrbitBatchTagOperator,
    OrbitStorageClassOperator,
)
from orbit_provider.operators.batch_engine import JOB_XCOM_KEY
from orbit_provider.s3.batch.listing import plan_ranges
from orbit_provider.triggers.batch_operations import OrbitBatchOperationsJobTrigger
from tests.airflow_env import connection_env
from tests.operators.operator_context import FakeTI

ACCOUNT = "123456789012"
ROLE = "arn:aws:iam::123456789012:role/batch"
JOB = {"account_id": ACCOUNT, "role_arn": ROLE, "engine": "s3_batch_operations"}


@pytest.fixture
def moto_conn(monkeypatch, moto_client):
    name, value = connection_env(
        "orbit_s3_default",
        conn_type="orbit_s3",
        login="testing",
        password="testing",
        extra={"region_name": "us-east-1", "bucket": moto_client.bucket},
    )
    monkeypatch.setenv(name, value)
    return moto_client


@pytest.fixture
def control():
    client = boto3.client(
        "s3control", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def _with_control(op, client):
    op.client._control = client  # the task's client, with the stubbed s3control
    return op


def _job(status: str, job_id: str = "job-00001") -> dict:
    return {
        "Job": {
            "JobId": job_id,
            "Status": status,
            "ProgressSummary": {
                "TotalNumberOfTasks": 3,
                "NumberOfTasksSucceeded": 2,
                "NumberOfTasksFailed": 1,
            },
            "Report": {
                "Bucket": "arn:aws:s3:::test-bucket",
                "Prefix": "orbit-batch-jobs",
                "Format": "Report_CSV_20180820",
                "Enabled": True,
            },
        }
    }


def _report(moto_client, job_id: str, rows: str) -> None:
    key = f"orbit-batch-jobs/job-{job_id}/results/r.csv"
    moto_client.s3.put_object(Bucket="test-bucket", Key=key, Body=rows.encode())
    moto_client.s3.put_object(
        Bucket="test-bucket",
        Key=f"orbit-batch-jobs/job-{job_id}/manifest.json",
        Body=json.dumps({"Results": [{"Bucket": "test-bucket", "Key": key}]}),
    )


def _seed(client, keys):
    for key in keys:
        client.upload_bytes(b"x", key)


def test_storage_class_job_waits_in_the_worker_and_summarizes_the_report(moto_conn, control):
    client, stub = control
    _seed(moto_conn, ["data/a", "data/b", "data/c"])
    stub.add_response("create_job", {"JobId": "job-00001"}, None)
    stub.add_response("describe_job", _job("Active"), {"AccountId": ACCOUNT, "JobId": "job-00001"})
    stub.add_response(
        "describe_job", _job("Complete"), {"AccountId": ACCOUNT, "JobId": "job-00001"}
    )
    _report(
        moto_conn,
        "job-00001",
        "test-bucket,data/a,,succeeded,200,,ok\n"
        "test-bucket,data/b,,succeeded,200,,ok\n"
        "test-bucket,data/c,,failed,403,AccessDenied,denied\n",
    )
    op = _with_control(
        OrbitStorageClassOperator(
            task_id="retier",
            prefix="data/",
            storage_class="GLACIER",
            deferrable=False,
            poke_interval=0,
            allow_partial=True,
            **JOB,
        ),
        client,
    )
    ti = FakeTI()
    summary = op.execute({"ti": ti})
    assert (summary["total"], summary["succeeded"], summary["failed"]) == (3, 2, 1)
    assert summary["failures"] == [{"key": "data/c", "code": "AccessDenied", "error": "denied"}]
    assert summary["engine"] == "s3_batch_operations" and summary["job_id"] == "job-00001"
    assert summary["storage_class"] == "GLACIER"
    job = ti.values(JOB_XCOM_KEY)[0]
    manifest_key = job["manifest"].split("/", 3)[3]
    body = moto_conn.s3.get_object(Bucket="test-bucket", Key=manifest_key)["Body"].read()
    assert body == b"test-bucket,data/a\ntest-bucket,data/b\ntest-bucket,data/c\n"


def test_failed_keys_fail_the_task_unless_allowed(moto_conn, control):
    client, stub = control
    _seed(moto_conn, ["k"])
    stub.add_response("create_job", {"JobId": "job-00002"}, None)
    stub.add_response("describe_job", _job("Complete", "job-00002"), None)
    _report(moto_conn, "job-00002", "test-bucket,k,,failed,400,InvalidRequest,too big\n")
    op = _with_control(
        OrbitBatchTagOperator(
            task_id="tag", keys=["k"], tags={"a": "b"}, merge=False, deferrable=False, **JOB
        ),
        client,
    )
    with pytest.raises(OrbitTaskError, match="1 of 1 key"):
        op.execute({"ti": FakeTI()})


def test_deferrable_job_defers_on_the_job_id_and_resumes_from_the_event(moto_conn, control):
    client, stub = control
    _seed(moto_conn, ["src/x"])
    stub.add_response("create_job", {"JobId": "job-00003"}, None)
    op = _with_control(
        OrbitBatchCopyOperator(
            task_id="copy",
            prefix="src/",
            dest_prefix="copied/",
            dest_bucket="other-bucket",
            strip_prefix="",
            poke_interval=5,
            max_poke_interval=60,
            **JOB,
        ),
        client,
    )
    ti = FakeTI()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    trigger = deferred.value.trigger
    assert isinstance(trigger, OrbitBatchOperationsJobTrigger)
    assert (trigger.job_id, trigger.account_id, trigger.max_interval) == ("job-00003", ACCOUNT, 60)
    _report(moto_conn, "job-00003", "test-bucket,src/x,,succeeded,200,,ok\n")
    event = {
        "status": "success",
        "message": "ended",
        "job": {
            "job_id": "job-00003",
            "status": "Complete",
            "total": 1,
            "succeeded": 1,
            "failed": 0,
            "report_bucket": "test-bucket",
            "report_prefix": "orbit-batch-jobs",
        },
    }
    summary = op.execute_complete({"ti": ti}, event=event)
    assert summary["succeeded"] == 1 and summary["dest_bucket"] == "other-bucket"
    with pytest.raises(OrbitTaskError, match="still running"):
        op.execute_complete(
            {"ti": ti},
            event={"status": "timeout", "message": "still running", "job": {"job_id": "job-00003"}},
        )


def test_a_job_that_failed_fails_the_task_with_its_reasons(moto_conn, control):
    client, stub = control
    _seed(moto_conn, ["k"])
    stub.add_response("create_job", {"JobId": "job-00004"}, None)
    failed = _job("Failed", "job-00004")
    failed["Job"]["FailureReasons"] = [
        {"FailureCode": "ManifestError", "FailureReason": "cannot read"}
    ]
    stub.add_response("describe_job", failed, None)
    op = _with_control(
        OrbitStorageClassOperator(
            task_id="retier", keys=["k"], storage_class="GLACIER", deferrable=False, **JOB
        ),
        client,
    )
    with pytest.raises(OrbitTaskError, match="ended Failed: ManifestError: cannot read"):
        op.execute({"ti": FakeTI()})


def test_the_in_worker_wait_stops_at_job_timeout_and_leaves_the_job_running(moto_conn, control):
    client, stub = control
    _seed(moto_conn, ["k"])
    stub.add_response("create_job", {"JobId": "job-00006"}, None)
    stub.add_response("describe_job", _job("Active", "job-00006"), None)
    op = _with_control(
        OrbitStorageClassOperator(
            task_id="retier", keys=["k"], storage_class="GLACIER", deferrable=False,
            job_timeout=0, **JOB,
        ),
        client,
    )  # fmt: skip
    # no UpdateJobStatus is stubbed: a cancel would raise the Stubber's error instead
    with pytest.raises(OrbitTaskError, match="job-00006 still Active") as failure:
        op.execute({"ti": FakeTI()})
    assert failure.value.code == "JobWaitTimeout"


def test_dry_run_shows_the_job_and_its_cost_and_writes_nothing(moto_conn):
    _seed(moto_conn, ["d/1", "d/2"])
    op = OrbitStorageClassOperator(
        task_id="retier", prefix="d/", storage_class="DEEP_ARCHIVE", dry_run=True, **JOB
    )
    summary = op.execute({"ti": FakeTI()})
    assert summary["manifest_keys"] == 2 and summary["dry_run"]
    copy = summary["request"]["Operation"]["S3PutObjectCopy"]
    assert copy["StorageClass"] == "DEEP_ARCHIVE" and copy["TargetResource"].endswith("test-bucket")
    assert summary["estimate"]["cost_usd"] >= 0.25
    assert [o.key for o in moto_conn.iter_objects("")] == ["d/1", "d/2"]


def test_a_metadata_job_replaces_metadata_content_type_and_class_when_all_are_named(moto_conn):
    _seed(moto_conn, ["m/1", "m/2"])
    op = OrbitBatchMetadataOperator(
        task_id="meta", prefix="m/", metadata={"team": "lake"}, merge=False,
        content_type="text/csv", storage_class="STANDARD_IA", dry_run=True, **JOB,
    )  # fmt: skip
    summary = op.execute({"ti": FakeTI()})
    copy = summary["request"]["Operation"]["S3PutObjectCopy"]
    assert summary["manifest_keys"] == 2 and copy["MetadataDirective"] == "REPLACE"
    assert copy["NewObjectMetadata"] == {"UserMetadata": {"team": "lake"},
                                         "ContentType": "text/csv"}  # fmt: skip
    assert copy["StorageClass"] == "STANDARD_IA"
    with pytest.raises(OrbitTaskError, match="only with engine"):
        OrbitBatchMetadataOperator(task_id="m", bucket="some-bucket", prefix="m/",
                                   metadata={"a": "b"},
                                   content_type="text/csv")  # fmt: skip


def test_on_kill_cancels_the_job_the_task_waits_for(moto_conn, control):
    client, stub = control
    op = _with_control(
        OrbitBatchTagOperator(task_id="tag", keys=["k"], tags={"a": "b"}, merge=False, **JOB),
        client,
    )
    op._job_id = "job-00005"
    stub.add_response(
        "update_job_status",
        {"JobId": "job-00005", "Status": "Cancelling"},
        {
            "AccountId": ACCOUNT,
            "JobId": "job-00005",
            "RequestedJobStatus": "Cancelled",
            "StatusUpdateReason": ANY,
        },
    )
    op.on_kill()


@pytest.mark.parametrize(
    "cls,kwargs,error",
    [
        (OrbitBatchDeleteOperator, {}, "lifecycle"),
        (OrbitBatchTagOperator, {"tags": {"a": "b"}}, "merge=False"),
        (OrbitBatchMetadataOperator, {"metadata": {"a": "b"}, "merge": False}, "content type"),
        (OrbitBatchMetadataOperator,
         {"metadata": {"a": "b"}, "content_type": "text/csv", "storage_class": "STANDARD"},
         "merge=False"),  # fmt: skip
        (OrbitBatchCopyOperator, {"dest_prefix": "x/"}, "strip_prefix=''"),
        (OrbitStorageClassOperator, {"storage_class": "GLACIER", "role_arn": "nope"}, "IAM role"),
        (OrbitStorageClassOperator, {"storage_class": "GLACIER", "engine": "spark"}, "engine"),
        (OrbitStorageClassOperator,
         {"storage_class": "GLACIER", "poke_interval": 600, "max_poke_interval": 60},
         "at least poke_interval"),  # fmt: skip
    ],
)
def test_what_batch_operations_cannot_do_is_refused_when_the_dag_is_parsed(cls, kwargs, error):
    args = {**JOB, **kwargs}
    with pytest.raises(OrbitTaskError, match=error):
        cls(task_id="t", bucket="some-bucket", prefix="p/", **args)


def test_range_shards_each_work_on_their_own_keys(moto_conn):
    keys = [f"r/{i:03d}" for i in range(60)]
    _seed(moto_conn, keys)
    ranges, _ = plan_ranges(moto_conn.iter_objects("r/"), 4, prefix="r/")
    tagged = []
    for number, key_range in enumerate(ranges):
        op = OrbitBatchTagOperator(
            task_id=f"t{number}", key_range=key_range.to_dict(), tags={"shard": str(number)}
        )
        tagged.append(op.execute({"ti": FakeTI()})["succeeded"])
    assert sum(tagged) == 60 and all(n > 0 for n in tagged)
    assert {moto_conn.get_tags(k)["shard"] for k in keys} == {"0", "1", "2", "3"}


def test_an_inventory_report_is_a_key_source_with_filters(moto_conn):
    import csv
    import gzip
    import io

    _seed(moto_conn, ["inv/a", "inv/b", "other/c"])
    text = io.StringIO()
    writer = csv.writer(text)
    for key, storage in (("inv/a", "STANDARD"), ("inv/b", "GLACIER"), ("other/c", "STANDARD")):
        writer.writerow(["test-bucket", key, "1", storage])
    moto_conn.s3.put_object(
        Bucket="test-bucket",
        Key="reports/cfg/2026-01-01T00-00Z/d.csv.gz",
        Body=gzip.compress(text.getvalue().encode()),
    )
    moto_conn.s3.put_object(
        Bucket="test-bucket",
        Key="reports/cfg/2026-01-01T00-00Z/manifest.json",
        Body=json.dumps(
            {
                "sourceBucket": "test-bucket",
                "destinationBucket": "arn:aws:s3:::test-bucket",
                "fileFormat": "CSV",
                "fileSchema": "Bucket, Key, Size, StorageClass",
                "files": [{"key": "reports/cfg/2026-01-01T00-00Z/d.csv.gz"}],
            }
        ),
    )
    op = OrbitBatchTagOperator(
        task_id="tag",
        inventory_manifest="reports/cfg",
        tags={"seen": "yes"},
        inventory_filters={"prefix": "inv/", "storage_classes": ["STANDARD"]},
    )
    summary = op.execute({"ti": FakeTI()})
    assert summary["succeeded"] == 1
    assert moto_conn.get_tags("inv/a") == {"seen": "yes"}
    assert moto_conn.get_tags("inv/b") == {} and moto_conn.get_tags("other/c") == {}
    with pytest.raises(OrbitTaskError, match="need inventory_manifest"):
        OrbitBatchTagOperator(
            task_id="t", prefix="p/", tags={"a": "b"}, inventory_filters={"prefix": "x"}
        )
    with pytest.raises(OrbitTaskError, match="not both"):
        OrbitBatchTagOperator(task_id="t", prefix="p/", inventory_manifest="m", tags={"a": "b"})


def test_the_account_comes_from_the_connection_when_not_given(monkeypatch, moto_client):
    name, value = connection_env(
        "orbit_s3_default", conn_type="orbit_s3", login="testing", password="testing",
        extra={"region_name": "us-east-1", "bucket": moto_client.bucket,
               "aws_account_id": ACCOUNT},
    )
    monkeypatch.setenv(name, value)
    _seed(moto_client, ["a"])
    op = OrbitStorageClassOperator(task_id="t", keys=["a"], storage_class="GLACIER",
                                   engine="s3_batch_operations", role_arn=ROLE, dry_run=True)
    assert op.execute({"ti": FakeTI()})["request"]["AccountId"] == ACCOUNT


def test_no_account_anywhere_fails_before_any_request(moto_conn):
    op = OrbitStorageClassOperator(task_id="t", keys=["a"], storage_class="GLACIER",
                                   engine="s3_batch_operations", role_arn=ROLE, dry_run=True)
    with pytest.raises(OrbitTaskError, match="aws_account_id"):
        op.execute({"ti": FakeTI()})


def test_a_restore_job_then_the_readability_wait_in_the_triggerer(moto_conn, control):
    from orbit_provider.operators.archive import OrbitArchiveRestoreOperator
    from orbit_provider.triggers.archive import OrbitArchiveRestoreTrigger

    client, stub = control
    stub.add_response("create_job", {"JobId": "job-00009"}, None)
    op = _with_control(OrbitArchiveRestoreOperator(
        task_id="restore", keys=["cold/a", "cold/b"], days=3, tier="Bulk", deferrable=True,
        poke_interval=5, **JOB,
    ), client)
    ti = FakeTI()
    with pytest.raises(TaskDeferred) as job:
        op.execute({"ti": ti})
    assert isinstance(job.value.trigger, OrbitBatchOperationsJobTrigger)
    assert job.value.method_name == "job_complete"
    manifest = ti.values(JOB_XCOM_KEY)[0]["manifest"].split("/", 3)[3]
    assert moto_conn.s3.get_object(Bucket="test-bucket", Key=manifest)["Body"].read() == (
        b"test-bucket,cold/a\ntest-bucket,cold/b\n")
    _report(moto_conn, "job-00009", "test-bucket,cold/a,,succeeded,200,,ok\n"
            "test-bucket,cold/b,,succeeded,200,,ok\n")
    event = {"status": "success", "message": "ended", "job": {
        "job_id": "job-00009", "status": "Complete", "total": 2, "succeeded": 2, "failed": 0,
        "report_bucket": "test-bucket", "report_prefix": "orbit-batch-jobs"}}
    ti.xcoms = {}
    with pytest.raises(TaskDeferred) as wait:  # then the readability wait, in the triggerer
        op.job_complete({"ti": ti}, event=event)
    assert isinstance(wait.value.trigger, OrbitArchiveRestoreTrigger)
    assert list(wait.value.trigger.condition.keys) == ["cold/a", "cold/b"]
    assert wait.value.method_name == "execute_complete"


def test_expedited_restores_are_refused_on_batch_operations():
    from orbit_provider.operators.archive import OrbitArchiveRestoreOperator

    with pytest.raises(OrbitTaskError, match="bulk or standard"):
        OrbitArchiveRestoreOperator(task_id="r", bucket="b-k-t", keys=["a"], tier="Expedited",
                                    **JOB)
