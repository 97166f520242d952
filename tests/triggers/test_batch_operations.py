"""OrbitBatchOperationsJobTrigger: DescribeJob polled with backoff (s3control through botocore's
Stubber: moto has no jobs), serialized as just the job id and its polling settings."""

from __future__ import annotations

import json

import boto3
import pytest
from airflow.serialization.serialized_objects import BaseSerialization
from botocore.stub import Stubber

from orbit_provider.triggers.batch_operations import OrbitBatchOperationsJobTrigger
from tests.s3.batch.job_answers import describe_job_answer
from tests.triggers.helpers import import_string, run_trigger

ACCOUNT = "123456789012"


def _job(status: str, succeeded: int = 0, failed: int = 0) -> dict:
    return describe_job_answer(status, job_id="job-42", report_bucket="reports",
                               report_prefix="r", succeeded=succeeded, failed=failed)  # fmt: skip


class StubbedTrigger(OrbitBatchOperationsJobTrigger):
    """The trigger with a stubbed s3control client."""

    control = None

    def make_control_client(self):
        return self.control


@pytest.fixture
def stubbed(monkeypatch):
    client = boto3.client(
        "s3control", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    waits: list[float] = []

    async def no_sleep(seconds):
        waits.append(seconds)

    monkeypatch.setattr("orbit_provider.triggers.batch_operations.asyncio.sleep", no_sleep)
    StubbedTrigger.control = client
    with Stubber(client) as stub:
        yield stub, waits
        stub.assert_no_pending_responses()


def test_serialize_round_trips_through_airflow():
    trigger = OrbitBatchOperationsJobTrigger(
        job_id="job-42",
        account_id=ACCOUNT,
        orbit_conn_id="c",
        poke_interval=10,
        max_interval=60,
        timeout=3600,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "orbit_provider.triggers.batch_operations.OrbitBatchOperationsJobTrigger"
    stored = json.loads(json.dumps(BaseSerialization.serialize(kwargs)))
    rebuilt = import_string(classpath)(**BaseSerialization.deserialize(stored))
    assert rebuilt.serialize() == (classpath, kwargs)


def test_waits_with_backoff_while_nothing_moves_and_reports_the_end(stubbed):
    stub, waits = stubbed
    for answer in [
        _job("Preparing"),
        _job("Active", 2),
        _job("Active", 2),
        _job("Active", 2),
        _job("Active", 5, 1),
        _job("Complete", 9, 1),
    ]:
        stub.add_response("describe_job", answer, {"AccountId": ACCOUNT, "JobId": "job-42"})
    trigger = StubbedTrigger(
        job_id="job-42", account_id=ACCOUNT, orbit_conn_id=None, poke_interval=10, max_interval=20
    )
    event = run_trigger(trigger)
    assert event["status"] == "success"
    assert event["job"]["status"] == "Complete" and event["job"]["failed"] == 1
    assert event["job"]["report_bucket"] == "reports"
    # moved, moved, still (x1.5), still (capped at 20), moved again
    assert waits == [10, 10, 15, 20, 10]


def test_a_transient_error_is_waited_out_and_a_permanent_one_ends_the_wait(stubbed):
    stub, _ = stubbed
    stub.add_client_error("describe_job", "ServiceUnavailable", "busy", http_status_code=503)
    stub.add_response("describe_job", _job("Cancelled"))
    trigger = StubbedTrigger(
        job_id="job-42", account_id=ACCOUNT, orbit_conn_id=None, poke_interval=1, max_interval=1
    )
    assert run_trigger(trigger)["job"]["status"] == "Cancelled"
    stub.add_client_error("describe_job", "AccessDenied", "no", http_status_code=403)
    event = run_trigger(trigger)
    assert event["status"] == "error" and "no" in event["message"]


def test_timeout_leaves_the_job_running(stubbed):
    stub, _ = stubbed
    stub.add_response("describe_job", _job("Active", 1))
    trigger = StubbedTrigger(
        job_id="job-42",
        account_id=ACCOUNT,
        orbit_conn_id=None,
        poke_interval=1,
        max_interval=1,
        timeout=0,
    )
    event = run_trigger(trigger)
    assert event["status"] == "timeout" and event["job"]["status"] == "Active"


def test_bad_intervals_are_refused():
    with pytest.raises(ValueError, match="max_interval"):
        OrbitBatchOperationsJobTrigger(
            job_id="j", account_id=ACCOUNT, poke_interval=10, max_interval=5
        )
