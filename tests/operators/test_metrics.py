"""Task metrics through Airflow's Stats: names, values and tags, sent once per task end, on
success and on failure, with the core's retries and throttled answers."""

from __future__ import annotations

import datetime

import pytest
from airflow.sdk.observability import stats as airflow_stats

from orbit_provider.operators.base import OrbitTaskError
from orbit_provider.operators.metrics import TaskMetrics, metric_name, task_tags
from orbit_provider.operators.transfer import OrbitUploadOperator
from orbit_provider.s3 import metrics as core_metrics
from orbit_provider.testing.airflow_run import connection_env
from orbit_provider.testing.faultproxy import FaultProxy
from tests.operators.operator_context import (  # noqa: F401 - fixtures
    MOTO_BUCKET,
    make_context,
    moto_conn_fixture,
)


class FakeStats:
    """Records Stats calls as (kind, name, value, tags)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, object, dict]] = []

    def incr(self, stat, count=None, rate=None, *, tags=None):
        self.calls.append(("incr", stat, count, tags))

    def gauge(self, stat, value, rate=None, delta=None, *, tags=None):
        self.calls.append(("gauge", stat, value, tags))

    def timing(self, stat, dt, *, tags=None):
        self.calls.append(("timing", stat, dt, tags))

    def values(self, kind: str) -> dict[str, object]:
        return {name: value for k, name, value, _ in self.calls if k == kind}


@pytest.fixture(name="stats")
def stats_fixture(monkeypatch) -> FakeStats:
    fake = FakeStats()
    monkeypatch.setattr(airflow_stats, "Stats", fake)
    return fake


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_names_are_cleaned_to_what_every_backend_takes():
    assert metric_name("upload", "bytes") == "orbit.upload.bytes"
    assert metric_name("abort uploads/x", "retries") == "orbit.abort_uploads_x.retries"
    assert metric_name("", "bytes") == "orbit.task.bytes"


def test_recorded_calls_are_summed_per_operation_and_sent_once(stats):
    clock = Clock()
    metrics = TaskMetrics(tags={"operator": "Op", "task_id": "t"}, clock=clock)
    start = metrics.measure()
    core_metrics.COUNTERS.add("throttles", 2)
    core_metrics.COUNTERS.add("retries", 2)
    clock.now += 2.0
    metrics.record(start, {"kind": "transfer", "operation": "upload", "bytes_done": 3000,
                           "objects_done": 2, "objects_failed": 1})  # fmt: skip
    start = metrics.measure()
    clock.now += 1.0
    metrics.record(start, {"kind": "transfer", "operation": "upload", "bytes_done": 1000,
                           "objects_done": 1, "objects_failed": 0})  # fmt: skip
    start = metrics.measure()
    metrics.record(start, {"kind": "batch", "operation": "delete", "succeeded": 5, "failed": 1})
    assert metrics.totals() == {"operation": "upload", "bytes": 4000, "objects": 8}

    sent = metrics.emit()
    assert sent["upload"]["bytes"] == 4000 and sent["upload"]["throughput"] == 4000 / 3.0
    assert stats.values("incr") == {
        "orbit.upload.bytes": 4000, "orbit.upload.objects": 3, "orbit.upload.objects_failed": 1,
        "orbit.upload.retries": 2, "orbit.upload.throttles": 2, "orbit.upload.breaker_opens": 0,
        "orbit.delete.bytes": 0, "orbit.delete.objects": 5, "orbit.delete.objects_failed": 1,
        "orbit.delete.retries": 0, "orbit.delete.throttles": 0, "orbit.delete.breaker_opens": 0,
    }  # fmt: skip
    assert stats.values("gauge") == {"orbit.upload.throughput": 4000 / 3.0}  # none without bytes
    assert stats.values("timing")["orbit.upload.duration"] == datetime.timedelta(seconds=3)
    assert {str(tags) for *_, tags in stats.calls} == {str({"operator": "Op", "task_id": "t"})}
    stats.calls.clear()
    assert metrics.emit() == {} and stats.calls == []  # nothing new: nothing sent


def test_a_failing_metrics_backend_never_fails_the_task():
    class Broken(FakeStats):
        def incr(self, *args, **kwargs):
            raise OSError("statsd is gone")

    metrics = TaskMetrics()
    metrics.record(metrics.measure(), {"kind": "transfer", "operation": "upload"})
    assert metrics.emit(Broken())["upload"]["bytes"] == 0


def test_an_upload_task_sends_its_metrics_once_when_it_ends(moto_conn, stats, tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"x" * 4096)
    op = OrbitUploadOperator(task_id="up", bucket=MOTO_BUCKET, source=str(src), key="m/a.bin")
    op.execute(make_context())
    incr = stats.values("incr")
    assert incr["orbit.upload.bytes"] == 4096 and incr["orbit.upload.objects"] == 1
    assert incr["orbit.upload.retries"] == 0 and incr["orbit.upload.throttles"] == 0
    assert "orbit.upload.throughput" in stats.values("gauge")
    tags = {str(t) for *_, t in stats.calls}
    assert tags == {str(task_tags(op))} and task_tags(op)["task_id"] == "up"
    assert task_tags(op)["operator"] == "OrbitUploadOperator"
    assert len([c for c in stats.calls if c[1] == "orbit.upload.bytes"]) == 1


def test_a_failed_task_still_sends_its_retries_and_throttles(
    seaweed, seaweed_bucket, stats, monkeypatch, tmp_path
):
    src = tmp_path / "a.bin"
    src.write_bytes(b"y" * 1000)
    with FaultProxy(seaweed.endpoint, rate=1.0, faults=("slowdown",)) as proxy:
        name, value = connection_env(
            "orbit_s3_default", conn_type="orbit_s3", login=seaweed.access_key,
            password=seaweed.secret_key,
            extra={"endpoint_url": proxy.endpoint, "region_name": "us-east-1",
                   "force_path_style": True},
        )  # fmt: skip
        monkeypatch.setenv(name, value)
        op = OrbitUploadOperator(
            task_id="up", bucket=seaweed_bucket, source=str(src), key="refused.bin",
            client_options={"max_retries": 2},
        )  # fmt: skip
        with pytest.raises(OrbitTaskError, match="SlowDown|Throttled"):
            op.execute(make_context())
    incr = stats.values("incr")
    assert incr["orbit.upload.throttles"] == proxy.counts["slowdown"] >= 3
    assert incr["orbit.upload.retries"] >= 2
    assert incr["orbit.upload.objects"] == 0
