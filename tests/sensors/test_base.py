"""OrbitBaseSensor's lineage: what a sensor watched is reported when its condition is met, in
poke mode and by the try resumed after a deferral (a fresh sensor, as in a new process), to
the hook lineage collector and to OpenLineage (start and complete). Against SeaweedFS."""

from __future__ import annotations

import pytest
from airflow.sdk import lineage
from airflow.sdk.exceptions import TaskDeferred

from orbit_provider.sensors.object import OrbitObjectSensor
from orbit_provider.testing.clients import client_for
from tests.triggers.helpers import import_string, run_trigger, use_connection


@pytest.fixture(name="collector")
def collector_fixture(monkeypatch) -> lineage.HookLineageCollector:
    real = lineage.HookLineageCollector()
    monkeypatch.setattr(lineage, "get_hook_lineage_collector", lambda: real)
    return real


@pytest.fixture
def bucket(monkeypatch, seaweed, seaweed_bucket) -> str:
    use_connection(monkeypatch, seaweed)
    return seaweed_bucket


def uris(found) -> list[str]:
    return [a.asset.uri for a in found]


def test_a_met_poke_reports_the_watched_keys(bucket, seaweed, collector):
    client_for(seaweed, bucket).upload_bytes(b"x", "in/a.csv")
    sensor = OrbitObjectSensor(task_id="wait", bucket=bucket, keys=["in/a.csv"])
    lineage_at_start = sensor.get_openlineage_facets_on_start()
    assert [(d.namespace, d.name) for d in lineage_at_start.inputs] == [
        (f"s3://{bucket}", "in/a.csv")
    ]
    assert uris(collector.collected_assets.inputs) == []
    assert sensor.poke({}).is_done
    assert uris(collector.collected_assets.inputs) == [f"s3://{bucket}/in/a.csv"]


def test_a_poke_not_met_reports_nothing(bucket, collector):
    sensor = OrbitObjectSensor(task_id="wait", bucket=bucket, prefix="nothing/")
    assert sensor.poke({}) is False
    assert uris(collector.collected_assets.inputs) == []


def test_the_try_resumed_after_a_deferral_reports_the_lineage(bucket, seaweed, collector):
    def sensor() -> OrbitObjectSensor:
        return OrbitObjectSensor(task_id="wait", bucket=bucket, prefix="late/", deferrable=True,
                                 poke_interval=0.1, timeout=30)  # fmt: skip

    with pytest.raises(TaskDeferred) as info:
        sensor().execute({})
    assert uris(collector.collected_assets.inputs) == []  # not met yet: nothing read
    client_for(seaweed, bucket).upload_bytes(b"x", "late/one")
    classpath, kwargs = info.value.trigger.serialize()
    event = run_trigger(import_string(classpath)(**kwargs))
    resumed = sensor()
    resumed.resume_execution("execute_complete", {**(info.value.kwargs or {}), "event": event},
                             {})  # fmt: skip
    assert uris(collector.collected_assets.inputs) == [f"s3://{bucket}/late"]
    complete = resumed.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in complete.inputs] == [(f"s3://{bucket}", "late/")]
