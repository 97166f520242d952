"""OrbitArchiveRestoreSensor against moto's HTTP server (archive classes, RestoreObject)."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, TaskDeferred

from orbit_provider.s3.conditions import ArchiveRestored
from orbit_provider.s3.errors import ConfigError
from orbit_provider.sensors.archive import OrbitArchiveRestoreSensor
from orbit_provider.testing.clients import client_for
from orbit_provider.triggers.archive import OrbitArchiveRestoreTrigger
from tests.triggers.helpers import use_connection


@pytest.fixture
def archive(monkeypatch, moto_server, moto_server_bucket):
    use_connection(monkeypatch, moto_server)
    return moto_server_bucket, client_for(moto_server, moto_server_bucket)


def _restore(client, key: str) -> None:
    client.s3.restore_object(
        Bucket=client.bucket,
        Key=key,
        RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": "Bulk"}},
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bucket": "x", "keys": ["a"]}, "bucket"),
        ({"bucket": "vault", "keys": []}, "at least one key"),
        ({"bucket": "vault", "keys": None}, "at least one key"),
        ({"bucket": "vault", "keys": ["a", ""]}, "keys"),
        ({"bucket": "vault", "keys": 5}, "list of object keys"),
        ({"bucket": "vault", "keys": ["a"], "fail_if_not_requested": "no"}, "fail_if_not"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        OrbitArchiveRestoreSensor(task_id="wait", **kwargs)


def test_poke_until_restored(archive):
    bucket, client = archive
    client.upload_bytes(b"cold", "cold.csv", storage_class="GLACIER")
    client.upload_bytes(b"hot", "hot.csv")
    sensor = OrbitArchiveRestoreSensor(task_id="wait", bucket=bucket, keys=["cold.csv", "hot.csv"])
    assert not sensor.poke({})
    _restore(client, "cold.csv")
    done = sensor.poke({})
    assert done.is_done
    summary = done.xcom_value
    assert summary["bucket"] == bucket and summary["readable"] == 2 and summary["total"] == 2
    assert summary["restored"] == ["cold.csv"] and summary["not_archived"] == ["hot.csv"]


def test_single_key_as_string(archive):
    bucket, client = archive
    client.upload_bytes(b"hot", "hot.csv")
    sensor = OrbitArchiveRestoreSensor(task_id="wait", bucket=bucket, keys="hot.csv")
    assert sensor.execute({})["readable"] == 1


def test_not_requested_restore_fails_fast_when_asked(archive):
    bucket, client = archive
    client.upload_bytes(b"cold", "cold.csv", storage_class="DEEP_ARCHIVE")
    sensor = OrbitArchiveRestoreSensor(
        task_id="wait", bucket=bucket, keys=["cold.csv"], fail_if_not_requested=True
    )
    with pytest.raises(AirflowException, match="no restore was requested"):
        sensor.execute({})


def test_poke_mode_times_out_while_archived(archive):
    bucket, client = archive
    client.upload_bytes(b"cold", "cold.csv", storage_class="GLACIER")
    sensor = OrbitArchiveRestoreSensor(
        task_id="wait", bucket=bucket, keys=["cold.csv"], poke_interval=0.05, timeout=0.1
    )
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute({})


def test_deferrable_defers_with_the_matching_trigger(archive):
    bucket, client = archive
    client.upload_bytes(b"cold", "cold.csv", storage_class="GLACIER")
    sensor = OrbitArchiveRestoreSensor(
        task_id="wait", bucket=bucket, keys=["cold.csv"], deferrable=True, poke_interval=20,
        timeout=3600,
    )
    with pytest.raises(TaskDeferred) as info:
        sensor.execute({})
    trigger = info.value.trigger
    assert isinstance(trigger, OrbitArchiveRestoreTrigger)
    assert info.value.method_name == "execute_complete"
    assert trigger.serialize()[1] == {
        "bucket": bucket,
        "condition": {
            "kind": "archive_restored", "keys": ["cold.csv"], "fail_if_not_requested": False
        },
        "orbit_conn_id": "orbit_s3_default",
        "poke_interval": 20.0,
        "timeout": 3600.0,
    }
    assert trigger.condition is sensor.condition()
    assert OrbitArchiveRestoreTrigger(**trigger.serialize()[1]) == trigger


def test_the_arguments_build_one_condition():
    one = OrbitArchiveRestoreSensor(task_id="wait", bucket="vault", keys="a.csv")
    assert one.condition() == ArchiveRestored(keys=["a.csv"])
    many = OrbitArchiveRestoreSensor(
        task_id="wait", bucket="vault", keys=["a", "b", "a"], fail_if_not_requested=True
    )
    assert many.condition() == ArchiveRestored(keys=("a", "b"), fail_if_not_requested=True)


def test_execute_complete(archive):
    bucket, _ = archive
    sensor = OrbitArchiveRestoreSensor(task_id="wait", bucket=bucket, keys=["a"], deferrable=True)
    details = {"bucket": bucket, "total": 1, "readable": 1, "restored": ["a"]}
    event = {"status": "success", "message": "", "details": details}
    assert sensor.execute_complete({}, event) == {
        "bucket": bucket, "total": 1, "readable": 1, "restored": ["a"]
    }
    with pytest.raises(AirflowSensorTimeout, match="still being restored"):
        sensor.execute_complete({}, {"status": "timeout", "message": "1 still being restored"})
    with pytest.raises(AirflowException, match="ArchivedObject"):
        sensor.execute_complete({}, {"status": "error", "message": "ArchivedObject: a"})
