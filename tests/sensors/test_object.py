"""OrbitObjectSensor: arguments, poke(), deferral and execute_complete, against SeaweedFS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)

from orbit_provider.s3.conditions import KeysReady, ObjectReady, PrefixReady
from orbit_provider.s3.errors import ConfigError
from orbit_provider.sensors.base import DEFERRAL_GRACE
from orbit_provider.sensors.object import OrbitObjectSensor
from orbit_provider.testing.clients import client_for
from orbit_provider.triggers.object import OrbitObjectTrigger
from tests.triggers.helpers import use_connection


@pytest.fixture
def conn(monkeypatch, seaweed, seaweed_bucket) -> str:
    use_connection(monkeypatch, seaweed)
    return seaweed_bucket


@pytest.fixture
def client(seaweed, seaweed_bucket):
    return client_for(seaweed, seaweed_bucket)


# -- arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bucket": "Bad Bucket", "key": "k"}, "bucket: 'Bad Bucket'"),
        ({"bucket": "ok-bucket", "key": "k", "prefix": "p/"}, "key and prefix"),
        ({"bucket": "ok-bucket", "key": "k", "keys": ["a"]}, "key and keys"),
        ({"bucket": "ok-bucket"}, "none of them"),
        ({"bucket": "ok-bucket", "key": "k", "min_size": -1}, "min_size"),
        ({"bucket": "ok-bucket", "key": "k", "min_size": "big"}, "min_size"),
        ({"bucket": "ok-bucket", "prefix": "p/", "min_count": 0}, "min_count"),
        ({"bucket": "ok-bucket", "key": "k", "min_count": 2}, "min_count: only applies"),
        ({"bucket": "ok-bucket", "prefix": "p/", "newer_than_version": "v"}, "single key"),
        ({"bucket": "ok-bucket", "keys": []}, "at least one key"),
        ({"bucket": "ok-bucket", "key": ""}, "key"),
        ({"bucket": "ok-bucket", "key": "k", "no_pending_upload": "yes"}, "no_pending_upload"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        OrbitObjectSensor(task_id="wait", **kwargs)


def test_templated_values_are_checked_after_rendering(conn):
    sensor = OrbitObjectSensor(task_id="wait", bucket="{{ params.bucket }}", key="k")
    sensor.bucket = "Not A Bucket"  # what rendering produced
    with pytest.raises(AirflowFailException, match="bucket"):  # no retry can fix it
        sensor.poke({})


def test_template_fields():
    assert set(OrbitObjectSensor.template_fields) == {
        "bucket",
        "key",
        "keys",
        "prefix",
        "newer_than_version",
    }


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"key": "k", "min_size": 3}, ObjectReady(key="k", min_size=3)),
        (
            {"keys": ["a", "b"], "no_pending_upload": True},
            KeysReady(keys=["a", "b"], no_pending_upload=True),
        ),
        ({"prefix": "p/", "min_count": 2}, PrefixReady(prefix="p/", min_count=2)),
    ],
)
def test_the_arguments_build_one_condition(kwargs, expected):
    assert OrbitObjectSensor(task_id="wait", bucket="ok-bucket", **kwargs).condition() == expected


def test_the_condition_is_built_once_from_the_rendered_fields(conn, client, monkeypatch):
    sensor = OrbitObjectSensor(task_id="wait", bucket=conn, key="in/{{ ds }}.csv")
    sensor.key = "in/2026-01-01.csv"  # what rendering produced
    built = []
    build = sensor.build_condition
    monkeypatch.setattr(sensor, "build_condition", lambda **kw: built.append(kw) or build(**kw))
    assert not sensor.poke({})
    client.upload_bytes(b"x", "in/2026-01-01.csv")
    assert sensor.poke({})
    assert sensor.condition() == ObjectReady(key="in/2026-01-01.csv")
    assert built == [{"rendered": True}]


def test_keys_as_a_template_wait_for_rendering():
    # e.g. "{{ ti.xcom_pull(...) }}" rendered as a native list: not refused as a lone string
    sensor = OrbitObjectSensor(task_id="wait", bucket="ok-bucket", keys="{{ params.keys }}")
    sensor.keys = ["a.csv", "b.csv"]
    assert sensor.condition() == KeysReady(keys=["a.csv", "b.csv"])
    with pytest.raises(ConfigError, match="list of object keys"):
        OrbitObjectSensor(task_id="wait", bucket="ok-bucket", keys="a.csv")


# -- poke -------------------------------------------------------------------------------------


def test_poke_false_then_true_with_summary(conn, client):
    sensor = OrbitObjectSensor(task_id="wait", bucket=conn, key="in/data.csv", min_size=10)
    assert not sensor.poke({})
    client.upload_bytes(b"x" * 5, "in/data.csv")
    assert not sensor.poke({})  # too small
    put = client.upload_bytes(b"x" * 50, "in/data.csv")
    done = sensor.poke({})
    assert isinstance(done, PokeReturnValue) and done.is_done
    summary = done.xcom_value
    assert summary["bucket"] == conn and summary["count"] == 1 and summary["total_size"] == 50
    assert summary["keys"][0]["key"] == "in/data.csv"
    assert summary["keys"][0]["etag"] == put.etag


def test_poke_prefix_count(conn, client):
    sensor = OrbitObjectSensor(task_id="wait", bucket=conn, prefix="day/", min_count=2)
    client.upload_bytes(b"1", "day/a")
    assert not sensor.poke({})
    client.upload_bytes(b"22", "day/b")
    done = sensor.poke({})
    assert done.xcom_value["count"] == 2 and done.xcom_value["total_size"] == 3


def test_poke_pending_multipart_upload(conn, client):
    client.upload_bytes(b"v1", "big.bin")
    upload_id = client.s3.create_multipart_upload(Bucket=conn, Key="big.bin")["UploadId"]
    sensor = OrbitObjectSensor(task_id="wait", bucket=conn, key="big.bin", no_pending_upload=True)
    assert not sensor.poke({})
    client.s3.abort_multipart_upload(Bucket=conn, Key="big.bin", UploadId=upload_id)
    assert sensor.poke({})


def test_poke_missing_bucket_fails_the_task(conn):
    sensor = OrbitObjectSensor(task_id="wait", bucket="no-such-bucket-here", key="k")
    with pytest.raises(AirflowException, match="no-such-bucket-here"):
        sensor.poke({})


def test_execute_in_poke_mode_returns_the_summary(conn, client):
    client.upload_bytes(b"abc", "k1")
    client.upload_bytes(b"defg", "k2")
    sensor = OrbitObjectSensor(task_id="wait", bucket=conn, keys=["k1", "k2"], poke_interval=0.1)
    summary = sensor.execute({})
    assert summary["count"] == 2 and summary["total_size"] == 7
    assert [k["key"] for k in summary["keys"]] == ["k1", "k2"]
    assert summary["waiting_for"] == []


def test_execute_in_poke_mode_times_out(conn):
    sensor = OrbitObjectSensor(
        task_id="wait", bucket=conn, key="never", poke_interval=0.05, timeout=0.1
    )
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute({})


# -- deferral ---------------------------------------------------------------------------------


def test_deferrable_defers_with_the_matching_trigger(conn):
    sensor = OrbitObjectSensor(
        task_id="wait",
        bucket=conn,
        key="later.csv",
        min_size=3,
        no_pending_upload=True,
        orbit_conn_id="orbit_s3_default",
        deferrable=True,
        poke_interval=15,
        timeout=600,
    )
    with pytest.raises(TaskDeferred) as info:
        sensor.execute({})
    deferred = info.value
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout == timedelta(seconds=600) + DEFERRAL_GRACE
    assert isinstance(deferred.trigger, OrbitObjectTrigger)
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath == "orbit_provider.triggers.object.OrbitObjectTrigger"
    assert kwargs == {
        "bucket": conn,
        "condition": {
            "kind": "object_ready",
            "key": "later.csv",
            "min_size": 3,
            "no_pending_upload": True,
            "newer_than_version": None,
            "max_size": None,
            "min_age": None,
            "max_age": None,
        },
        "orbit_conn_id": "orbit_s3_default",
        "poke_interval": 15.0,
        "timeout": 600.0,
    }
    assert deferred.trigger.condition is sensor.condition()  # the very condition it polled
    assert OrbitObjectTrigger(**kwargs) == deferred.trigger


def test_deferrable_does_not_defer_when_already_met(conn, client):
    client.upload_bytes(b"here", "now.csv")
    sensor = OrbitObjectSensor(task_id="wait", bucket=conn, key="now.csv", deferrable=True)
    summary = sensor.execute({})
    assert summary["keys"][0]["size"] == 4


def test_execute_complete_success_returns_the_summary():
    sensor = OrbitObjectSensor(task_id="wait", bucket="landing", prefix="p/", deferrable=True)
    event = {
        "status": "success",
        "message": "ready",
        "details": {"bucket": "landing", "count": 1, "total_size": 5, "keys": [{"key": "p/a"}]},
        "polls": 3,
    }
    assert sensor.execute_complete({}, event) == {
        "bucket": "landing",
        "count": 1,
        "total_size": 5,
        "keys": [{"key": "p/a"}],
    }


def test_execute_complete_single_key_summary_shape():
    sensor = OrbitObjectSensor(task_id="wait", bucket="landing", key="a", deferrable=True)
    details = {"bucket": "landing", "key": "a", "size": 9, "etag": "e", "version_id": "v1"}
    summary = sensor.execute_complete({}, {"status": "success", "message": "", "details": details})
    assert summary == {
        "bucket": "landing",
        "count": 1,
        "total_size": 9,
        "keys": [{"key": "a", "size": 9, "etag": "e", "version_id": "v1"}],
    }


def test_execute_complete_timeout_and_error():
    sensor = OrbitObjectSensor(task_id="wait", bucket="landing", key="a", deferrable=True)
    with pytest.raises(AirflowSensorTimeout, match="timed out after 60s: s3://landing/a"):
        sensor.execute_complete(
            {}, {"status": "timeout", "message": "timed out after 60s: s3://landing/a"}
        )
    with pytest.raises(AirflowException, match="AccessDenied"):
        sensor.execute_complete({}, {"status": "error", "message": "HeadObject: AccessDenied"})
    with pytest.raises(AirflowException, match="no usable event"):
        sensor.execute_complete({}, None)


def test_an_error_event_no_retry_can_fix_fails_without_retries():
    """The trigger says whether the failure is retryable; the task follows it."""
    sensor = OrbitObjectSensor(task_id="wait", bucket="landing", key="a", deferrable=True)
    event = {"status": "error", "message": "HeadObject: AccessDenied",
             "details": {"error_type": "AccessDenied", "retryable": False}}  # fmt: skip
    with pytest.raises(AirflowFailException, match="AccessDenied"):
        sensor.execute_complete({}, event)
    event["details"] = {"error_type": "Network", "retryable": True}
    with pytest.raises(AirflowException) as info:
        sensor.execute_complete({}, event)
    assert not isinstance(info.value, AirflowFailException)


def test_soft_fail_turns_a_trigger_timeout_into_a_skip():
    sensor = OrbitObjectSensor(
        task_id="wait", bucket="landing", key="a", deferrable=True, soft_fail=True
    )
    with pytest.raises(AirflowSkipException):
        sensor.resume_execution(
            "execute_complete", {"event": {"status": "timeout", "message": "late"}}, {}
        )


# -- patterns, size and age ------------------------------------------------------------------


def test_a_glob_key_waits_for_matching_objects_in_poke_and_deferred_mode(conn, client):
    sensor = OrbitObjectSensor(
        task_id="wait",
        bucket=conn,
        key="drop/*/part-*.parquet",
        wildcard_match=True,
        min_count=2,
        max_size=100,
    )
    condition = sensor.condition()
    assert isinstance(condition, PrefixReady) and condition.prefix == "drop/"
    client.upload_bytes(b"x", "drop/a/part-1.parquet")
    client.upload_bytes(b"x" * 500, "drop/a/part-2.parquet")  # larger than max_size
    client.upload_bytes(b"x", "drop/a/other.csv")
    assert not sensor.poke({})
    client.upload_bytes(b"x", "drop/b/part-3.parquet")
    done = sensor.poke({})
    assert done and {k["key"] for k in done.xcom_value["keys"]} == {
        "drop/a/part-1.parquet",
        "drop/b/part-3.parquet",
    }
    trigger = sensor.make_trigger()  # the same condition goes to the triggerer
    assert trigger.condition == condition


def test_a_regex_key_and_the_age_rules(conn, client):
    client.upload_bytes(b"x", "events/2026-11-30.json")
    fresh = OrbitObjectSensor(
        task_id="wait",
        bucket=conn,
        key=r"events/\d{4}-\d\d-\d\d\.json",
        use_regex=True,
        max_age=3600,
    )
    assert fresh.poke({})
    settled = OrbitObjectSensor(
        task_id="wait", bucket=conn, key="events/2026-11-30.json", min_age=3600
    )
    assert not settled.poke({})  # written just now
    with pytest.raises(ConfigError, match="choose one"):
        OrbitObjectSensor(
            task_id="w", bucket="ok-bucket", key="a*", wildcard_match=True, use_regex=True
        )


def test_s3_urls_name_the_sensors_bucket(conn, client):
    sensor = OrbitObjectSensor(task_id="w", bucket=conn, key=f"s3://{conn}/url/k.csv")
    assert sensor.condition() == ObjectReady(key="url/k.csv")
    client.upload_bytes(b"x", "url/k.csv")
    assert sensor.poke({})
    keys = OrbitObjectSensor(task_id="w", bucket=conn, keys=[f"s3://{conn}/a", "b"])
    assert keys.condition() == KeysReady(keys=["a", "b"])
    with pytest.raises(ConfigError, match="give the bucket once"):
        OrbitObjectSensor(task_id="w", bucket=conn, prefix="s3://another-bucket/p/")
