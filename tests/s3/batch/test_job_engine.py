"""engine="s3_batch_operations" on the core batch calls (S3Client methods and job_engine):
manifests and completion reports on moto, s3control through botocore's Stubber (moto has
no s3control jobs; the Stubber validates every request against the service model)."""

from __future__ import annotations

import csv
import io
import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from orbit_provider.s3.batch import batch_operations as bops
from orbit_provider.s3.batch import job_engine
from orbit_provider.s3.batch.models import BatchConfig, BatchResult
from orbit_provider.s3.errors import ConfigError, S3Error
from tests.s3.batch.job_answers import describe_job_answer

BUCKET = "test-bucket"  # made by the moto_client fixture
ACCOUNT = "123456789012"
ROLE = "arn:aws:iam::123456789012:role/batch"
JOB = bops.JobSettings(ACCOUNT, ROLE, BUCKET, report_prefix="reports")
ENGINE = {"engine": "s3_batch_operations", "job": JOB}


class Control:
    """A stubbed s3control client that also records the UpdateJobStatus calls it was asked
    for (a cancel the code under test swallowed would otherwise go unseen)."""

    def __init__(self) -> None:
        self.client = boto3.client(
            "s3control", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        self.stub = Stubber(self.client)
        self.status_updates: list[dict] = []
        self.client.meta.events.register(
            "before-parameter-build.s3-control.UpdateJobStatus",
            lambda params, **_: self.status_updates.append(dict(params)),
        )


@pytest.fixture
def control():
    control = Control()
    with control.stub:
        yield control
        control.stub.assert_no_pending_responses()


@pytest.fixture
def client(moto_client, control):
    moto_client._control = control.client  # the client's s3control, stubbed
    return moto_client


class FakeClock:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _describe(status: str, job_id: str = "job-1", succeeded: int = 0, failed: int = 0,
              reasons: tuple[tuple[str, str], ...] = ()) -> dict:  # fmt: skip
    return describe_job_answer(status, job_id=job_id, report_bucket=BUCKET,
                               report_prefix="reports", succeeded=succeeded, failed=failed,
                               reasons=reasons)  # fmt: skip


def _put_report(boto, job_id: str, rows: str) -> None:
    key = f"reports/job-{job_id}/results/0.csv"
    boto.put_object(Bucket=BUCKET, Key=key, Body=rows.encode())
    boto.put_object(
        Bucket=BUCKET,
        Key=f"reports/job-{job_id}/manifest.json",
        Body=json.dumps({"Results": [{"Bucket": BUCKET, "Key": key}]}),
    )


def _manifest_rows(boto, url: str) -> list[list[str]]:
    key = url.split("/", 3)[3]
    body = boto.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    return list(csv.reader(io.StringIO(body)))


def _create_job(control: Control, operation: dict, job_id: str = "job-1") -> None:
    """CreateJob is expected with this Operation and the settings' report, priority and role
    (the manifest's ETag and the token are only known when the call runs)."""
    control.stub.add_response(
        "create_job",
        {"JobId": job_id},
        {
            "AccountId": ACCOUNT,
            "ConfirmationRequired": False,
            "Operation": operation,
            "Report": {
                "Bucket": f"arn:aws:s3:::{BUCKET}",
                "Format": bops.REPORT_FORMAT,
                "Enabled": True,
                "Prefix": "reports",
                "ReportScope": "AllTasks",
            },
            "ClientRequestToken": ANY,
            "Manifest": ANY,
            "Priority": 10,
            "RoleArn": ROLE,
            "Description": JOB.description,
        },
    )


ARN = f"arn:aws:s3:::{BUCKET}"
METHODS = {
    "copy": (
        lambda c, keys: c.batch_copy(keys, "copies/", strip_prefix="", storage_class="GLACIER",
                                     **ENGINE),  # fmt: skip
        {"S3PutObjectCopy": {"TargetResource": ARN, "StorageClass": "GLACIER",
                             "TargetKeyPrefix": "copies/"}},  # fmt: skip
    ),
    "change_storage_class": (
        lambda c, keys: c.batch_change_storage_class(keys, "standard_ia", **ENGINE),
        {"S3PutObjectCopy": {"TargetResource": ARN, "StorageClass": "STANDARD_IA"}},
    ),
    "tag_objects": (
        lambda c, keys: c.batch_tag_objects(keys, {"team": "lake"}, merge=False, **ENGINE),
        {"S3PutObjectTagging": {"TagSet": [{"Key": "team", "Value": "lake"}]}},
    ),
    "update_metadata": (
        lambda c, keys: c.batch_update_metadata(keys, {"team": "lake"}, merge=False,
                                                content_type="text/csv",
                                                storage_class="standard", **ENGINE),
        {"S3PutObjectCopy": {"TargetResource": ARN, "StorageClass": "STANDARD",
                             "MetadataDirective": "REPLACE",
                             "NewObjectMetadata": {"UserMetadata": {"team": "lake"},
                                                   "ContentType": "text/csv"}}},
    ),  # fmt: skip
    "restore": (
        lambda c, keys: c.restore_archived(keys, days=2, tier="Bulk", **ENGINE),
        {"S3InitiateRestoreObject": {"ExpirationInDays": 2, "GlacierJobTier": "BULK"}},
    ),
}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_each_batch_method_submits_its_operation_over_the_keys(client, control, name):
    call, operation = METHODS[name]
    _create_job(control, operation)
    control.stub.add_response("describe_job", _describe("Complete", succeeded=2),
                              {"AccountId": ACCOUNT, "JobId": "job-1"})  # fmt: skip
    _put_report(client.s3, "job-1", "".join(f"{BUCKET},d/{k},,succeeded,200,,ok\n" for k in "ab"))

    outcome = call(client, ["d/a", "d/b", "d/a"])

    assert isinstance(outcome, bops.JobOutcome)
    assert (outcome.operation, outcome.job_id, outcome.status) == (name, "job-1", "Complete")
    assert (outcome.total, outcome.successful, outcome.failed, outcome.ok) == (2, 2, 0, True)
    assert outcome.duplicates == 1  # a repeated key of a list goes into the manifest once
    assert _manifest_rows(client.s3, outcome.manifest) == [[BUCKET, "d/a"], [BUCKET, "d/b"]]
    assert outcome.report == f"s3://{BUCKET}/reports/job-job-1/manifest.json"
    assert control.status_updates == []


def test_a_lazy_key_source_is_read_once_into_the_manifest(client, control):
    read = []

    def keys():
        for number in range(3):
            read.append(number)
            yield f"lazy/{number} ü"

    _create_job(control, bops.tagging_operation({"a": "b"}))
    control.stub.add_response("describe_job", _describe("Complete", succeeded=3), None)
    _put_report(client.s3, "job-1", "".join(f"{BUCKET},lazy/{n}%20%C3%BC,,succeeded,200,,\n"
                                            for n in range(3)))  # fmt: skip
    outcome = client.batch_tag_objects(keys(), {"a": "b"}, merge=False, **ENGINE)
    assert read == [0, 1, 2] and outcome.successful == 3
    assert [row[1] for row in _manifest_rows(client.s3, outcome.manifest)] == [
        "lazy/0%20%C3%BC", "lazy/1%20%C3%BC", "lazy/2%20%C3%BC"]  # fmt: skip


def test_the_completion_report_becomes_the_result_with_capped_failures(client, control):
    _create_job(control, bops.copy_operation(BUCKET, storage_class="GLACIER"))
    control.stub.add_response("describe_job", _describe("Complete", succeeded=1, failed=2), None)
    _put_report(
        client.s3,
        "job-1",
        f"{BUCKET},k/1,,succeeded,200,,ok\n"
        f"{BUCKET},k/2,,failed,403,AccessDenied,Access Denied\n"
        f"{BUCKET},k/3,,failed,400,InvalidRequest,too large\n",
    )
    outcome = client.batch_change_storage_class(["k/1", "k/2", "k/3"], "GLACIER", **ENGINE)
    assert (outcome.total, outcome.successful, outcome.failed, outcome.ok) == (3, 1, 2, False)
    assert outcome.errors == [
        ("k/2", "AccessDenied", "Access Denied"),
        ("k/3", "InvalidRequest", "too large"),
    ]
    summary = outcome.to_dict(max_keys=1)
    assert summary["errors"] == [["k/2", "AccessDenied", "Access Denied"]]
    # the summary shape of a client-engine BatchResult, plus the job's fields
    shared = BatchResult(0, 0, 0, {}, [], 0.0).to_dict().keys() - {"report_path"}
    assert shared <= summary.keys()
    assert summary["job_id"] == "job-1" and summary["results_complete"] is False


def test_the_wait_backs_off_while_counts_stand_still_and_resets_when_they_move(control):
    clock = FakeClock()
    for status, succeeded in [("Active", 0), ("Active", 0), ("Active", 0), ("Active", 5),
                              ("Active", 5), ("Complete", 10)]:  # fmt: skip
        control.stub.add_response("describe_job", _describe(status, succeeded=succeeded),
                                  {"AccountId": ACCOUNT, "JobId": "job-1"})  # fmt: skip
    state = job_engine.wait_for_job(
        control.client, ACCOUNT, "job-1", poke_interval=10, max_interval=20,
        sleep=clock.sleep, clock=clock,
    )  # fmt: skip
    assert (state.status, state.succeeded) == ("Complete", 10)
    assert clock.sleeps == [10, 15, 20, 10, 15]  # x1.5 up to the max, back when counts move


def test_the_wait_goes_on_through_a_throttled_describe_and_stops_at_another_error(control):
    clock = FakeClock()
    control.stub.add_response("describe_job", _describe("Active"), None)
    control.stub.add_client_error("describe_job", "TooManyRequestsException", "slow",
                                  http_status_code=429)  # fmt: skip
    control.stub.add_response("describe_job", _describe("Complete"), None)
    state = job_engine.wait_for_job(control.client, ACCOUNT, "job-1", poke_interval=4,
                                    max_interval=100, sleep=clock.sleep, clock=clock)  # fmt: skip
    assert state.done and clock.sleeps == [4, 6]
    control.stub.add_client_error("describe_job", "AccessDenied", "no", http_status_code=403)
    with pytest.raises(S3Error) as failure:
        job_engine.wait_for_job(control.client, ACCOUNT, "job-1", sleep=clock.sleep, clock=clock)
    assert failure.value.code == "AccessDenied"


def test_a_wait_timeout_names_the_job_and_leaves_it_running(client, control):
    clock = FakeClock()
    settings = bops.JobSettings(
        ACCOUNT, ROLE, BUCKET, report_prefix="reports", poke_interval=10,
        max_poke_interval=100, wait_timeout=25,
    )  # fmt: skip
    _create_job(control, bops.tagging_operation({"a": "b"}))
    for _ in range(3):
        control.stub.add_response("describe_job", _describe("Active"), None)
    with pytest.raises(job_engine.JobWaitTimeout, match="job-1 still Active") as failure:
        job_engine.run_job(
            client.s3, client.s3control, settings, "tag_objects",
            bops.tagging_operation({"a": "b"}), ["k"], source_bucket=BUCKET,
            sleep=clock.sleep, clock=clock,
        )  # fmt: skip
    assert failure.value.job_id == "job-1"
    assert clock.sleeps == [10, 15]  # the last pause ends at the timeout
    assert control.status_updates == []  # not cancelled


def test_a_failed_job_raises_naming_the_job_and_its_reasons(client, control):
    _create_job(control, bops.restore_operation(1, "bulk"), job_id="job-2")
    control.stub.add_response(
        "describe_job",
        _describe("Failed", "job-2", reasons=(("ManifestNotFound", "no manifest"),)),
        None,
    )
    with pytest.raises(job_engine.JobFailed, match="job-2 ended Failed: ManifestNotFound") as err:
        client.restore_archived(["k"], tier="bulk", **ENGINE)
    assert err.value.job_id == "job-2" and err.value.outcome.total == 0
    assert err.value.code == "JobFailed" and not err.value.retryable


@pytest.mark.parametrize("stop", ["interrupt", "error"])
def test_a_wait_stopped_by_an_interrupt_or_an_error_cancels_the_job(client, control, stop):
    clock = FakeClock()
    _create_job(control, bops.tagging_operation({"a": "b"}))
    control.stub.add_response("describe_job", _describe("Active"), None)
    if stop == "error":
        control.stub.add_client_error("describe_job", "AccessDenied", "no", http_status_code=403)
    reason = "wait stopped: " + ("KeyboardInterrupt" if stop == "interrupt" else "AccessDenied")
    control.stub.add_response(
        "update_job_status",
        {"JobId": "job-1", "Status": "Cancelling"},
        {"AccountId": ACCOUNT, "JobId": "job-1", "RequestedJobStatus": "Cancelled",
         "StatusUpdateReason": reason},  # fmt: skip
    )

    def sleep(seconds: float) -> None:
        if stop == "interrupt":
            raise KeyboardInterrupt
        clock.sleep(seconds)

    expected = KeyboardInterrupt if stop == "interrupt" else S3Error
    with pytest.raises(expected):
        job_engine.run_job(
            client.s3, client.s3control, JOB, "tag_objects", bops.tagging_operation({"a": "b"}),
            ["k"], source_bucket=BUCKET, sleep=sleep, clock=clock,
        )  # fmt: skip
    assert [u["RequestedJobStatus"] for u in control.status_updates] == ["Cancelled"]


@pytest.mark.parametrize(
    "call,error",
    [
        (lambda c: c.batch_delete(["k"], **ENGINE), "lifecycle"),
        (lambda c: c.batch_delete(["k"], engine="s3_batch_operations"), "lifecycle"),
        (lambda c: c.batch_update_metadata(["k"], {"a": "b"}, merge=False, **ENGINE),
         "content type"),
        (lambda c: c.batch_update_metadata(["k"], {"a": "b"}, content_type="text/csv",
                                           storage_class="STANDARD", **ENGINE), "merge=False"),
        (lambda c: c.batch_update_metadata(["k"], {"a": "b"}, merge=False,
                                           content_type="text/csv", **ENGINE), "storage_class"),
        (lambda c: c.batch_update_metadata(["k"], {"bad name": "b"}, merge=False,
                                           content_type="text/csv", storage_class="STANDARD",
                                           **ENGINE), "metadata"),
        (lambda c: c.batch_update_metadata(["k"], {"a": "b"}, content_type="text/csv"),
         "only with engine"),
        (lambda c: c.batch_copy(["k"], "x/", **ENGINE), "strip_prefix=''"),
        (lambda c: c.batch_copy(["k"], "", strip_prefix="", **ENGINE), "onto itself"),
        (lambda c: c.batch_copy(["k"], "x/", strip_prefix="", metadata={"a": "b"},
                                metadata_directive="COPY", **ENGINE), "metadata"),
        (lambda c: c.batch_copy(["k"], "x/", strip_prefix="", sse="rot13", **ENGINE),
         "server_side_encryption"),
        (lambda c: c.batch_tag_objects(["k"], {"a": "b"}, **ENGINE), "merge=False"),
        (lambda c: c.batch_tag_objects(["k"], {}, merge=False, **ENGINE), "tags"),
        (lambda c: c.restore_archived(["k"], tier="Expedited", **ENGINE), "bulk or standard"),
        (lambda c: c.restore_archived(["k"], days=0, **ENGINE), "days"),
        (lambda c: c.batch_change_storage_class(["k"], "PAPER", **ENGINE), "PAPER"),
        (lambda c: c.batch_change_storage_class(["k"], "GLACIER", BatchConfig(), **ENGINE),
         "config"),
        (lambda c: c.batch_change_storage_class(["k"], "GLACIER", progress=object(), **ENGINE),
         "progress"),
        (lambda c: c.batch_change_storage_class(["k", ("k", "v1")], "GLACIER", **ENGINE),
         "not a key"),
        (lambda c: c.batch_change_storage_class(iter(["k", ""]), "GLACIER", **ENGINE),
         "not a key"),
        (lambda c: c.batch_change_storage_class(["k"], "GLACIER", engine="spark"), "engine"),
        (lambda c: c.batch_change_storage_class(["k"], "GLACIER", engine="s3_batch_operations"),
         "needs job"),
        (lambda c: c.batch_change_storage_class(["k"], "GLACIER", job=JOB), "only with"),
        (lambda c: c.batch_change_storage_class(["k"], "GLACIER", dry_run=True), "dry_run"),
    ],
)
def test_what_a_job_cannot_do_is_refused_before_any_request(client, control, call, error):
    # no response is stubbed: any s3control call would fail with a StubResponseError
    with pytest.raises(ConfigError, match=error):
        call(client)
    assert "Contents" not in client.s3.list_objects_v2(Bucket=BUCKET)  # nothing written


def test_job_settings_refuse_a_wait_that_cannot_run():
    with pytest.raises(ConfigError, match="at least poke_interval"):
        bops.JobSettings(ACCOUNT, ROLE, BUCKET, poke_interval=60, max_poke_interval=10)
    with pytest.raises(ConfigError, match="wait_timeout"):
        bops.JobSettings(ACCOUNT, ROLE, BUCKET, wait_timeout=-1)
    with pytest.raises(ConfigError, match="poke_interval"):
        job_engine.wait_for_job(None, ACCOUNT, "job-1", poke_interval=True)


def test_dry_run_returns_the_plan_and_writes_nothing(client, control):
    plan = client.batch_copy(
        (f"d/{n}" for n in range(5)), "copies/", strip_prefix="", dest_bucket="other-bucket",
        dry_run=True, **ENGINE,
    )  # fmt: skip
    assert isinstance(plan, bops.JobPlan) and plan.keys == 5
    request = plan.to_dict()["request"]
    assert request["Operation"] == {
        "S3PutObjectCopy": {"TargetResource": "arn:aws:s3:::other-bucket",
                            "TargetKeyPrefix": "copies/"}}  # fmt: skip
    assert request["RoleArn"] == ROLE and plan.estimate["keys"] == 5
    assert "Contents" not in client.s3.list_objects_v2(Bucket=BUCKET)
