"""OrbitPrefixUnchangedSensor and its trigger against SeaweedFS, the clock faked."""

from __future__ import annotations

import pytest

from orbit_provider.s3 import conditions
from orbit_provider.s3.conditions import PrefixUnchanged
from orbit_provider.s3.errors import ConfigError
from orbit_provider.sensors.unchanged import OrbitPrefixUnchangedSensor
from orbit_provider.testing.clients import client_for
from orbit_provider.triggers.unchanged import OrbitPrefixUnchangedTrigger
from tests.triggers.helpers import import_string, use_connection


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(conditions, "time", fake)
    return fake


@pytest.fixture
def conn(monkeypatch, seaweed, seaweed_bucket):
    use_connection(monkeypatch, seaweed)
    return seaweed_bucket


def test_poke_succeeds_once_the_prefix_stopped_changing(conn, seaweed, clock):
    client = client_for(seaweed, conn)
    sensor = OrbitPrefixUnchangedSensor(
        task_id="w", bucket=conn, prefix="batch/", inactivity_period=300, min_objects=2
    )
    client.upload_bytes(b"1", "batch/1")
    assert not sensor.poke({})
    clock.now += 200
    client.upload_bytes(b"2", "batch/2")
    assert not sensor.poke({})  # changed: the period starts again
    clock.now += 299
    assert not sensor.poke({})
    clock.now += 2
    done = sensor.poke({})
    assert done and done.xcom_value["count"] == 2 and done.xcom_value["bucket"] == conn


def test_the_trigger_carries_the_condition_and_rebuilds_from_serialize(conn):
    sensor = OrbitPrefixUnchangedSensor(
        task_id="w", bucket=conn, prefix="p/", inactivity_period=60, deferrable=True
    )
    trigger = sensor.make_trigger()
    assert isinstance(trigger, OrbitPrefixUnchangedTrigger)
    classpath, kwargs = trigger.serialize()
    rebuilt = import_string(classpath)(**kwargs)
    assert rebuilt.condition == PrefixUnchanged(prefix="p/", inactivity_period=60)


def test_bad_arguments_and_reschedule_mode_are_refused():
    with pytest.raises(ConfigError, match="reschedule"):
        OrbitPrefixUnchangedSensor(task_id="w", bucket="ok-bucket", prefix="p/", mode="reschedule")
    with pytest.raises(ConfigError, match="inactivity_period"):
        OrbitPrefixUnchangedSensor(
            task_id="w", bucket="ok-bucket", prefix="p/", inactivity_period=-5
        )
