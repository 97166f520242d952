"""How an orbit task ends (OrbitBaseOperator.task_ended and the deferral hand-over): asset
events carry bytes, object count and version ids; lineage reported before a deferral is
reported again by the try that resumes, to the hook collector and to OpenLineage (on start
and on complete); metrics carry the DAG and task."""

from __future__ import annotations

from types import SimpleNamespace

import pendulum
import pytest
from airflow.sdk import DAG, Asset, lineage
from airflow.sdk.exceptions import TaskDeferred
from airflow.sdk.observability import stats as airflow_stats

from orbit_provider.operators.archive import OrbitArchiveRestoreOperator
from orbit_provider.operators.base import LINEAGE_KWARG
from orbit_provider.operators.batch import OrbitBatchCopyOperator
from orbit_provider.operators.listing import OrbitListKeysOperator
from orbit_provider.operators.sync import OrbitSyncOperator
from orbit_provider.operators.transfer import OrbitDownloadOperator, OrbitUploadOperator
from orbit_provider.operators.versioning import OrbitVersioningOperator
from tests.operators import test_archive, test_batch_engine
from tests.operators.operator_context import (  # noqa: F401 - fixtures
    MOTO_BUCKET,
    FakeTI,
    collector_fixture,
    make_context,
)
from tests.operators.test_archive import FakeTI as RestoreTI
from tests.operators.test_batch_engine import JOB, _report, _seed, _with_control
from tests.operators.test_metrics import FakeStats
from tests.triggers.helpers import import_string, run_trigger

START = pendulum.datetime(2026, 1, 1, tz="UTC")

# fixtures of the archive and batch-engine tests, used here too
archived = test_archive.archived
moto_conn = test_batch_engine.moto_conn
control = test_batch_engine.control


def asset_event_extras(dag_id: str, run_id: str) -> dict[str, dict]:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).filter_by(source_dag_id=dag_id, source_run_id=run_id)
        return {event.asset.uri: dict(event.extra or {}) for event in events}


def new_collector(monkeypatch) -> lineage.HookLineageCollector:
    """The resuming try's own collector (a new process starts with an empty one)."""
    fresh = lineage.HookLineageCollector()
    monkeypatch.setattr(lineage, "get_hook_lineage_collector", lambda: fresh)
    return fresh


class OutletEvents(dict):
    """context["outlet_events"] as the task runner gives it: an event per outlet, on demand."""

    def __missing__(self, asset):
        self[asset] = SimpleNamespace(extra={})
        return self[asset]


def datasets(found) -> list[tuple[str, str]]:
    return [(d.namespace, d.name) for d in found]


def test_an_upload_asset_event_says_bytes_objects_and_version_ids(
    dag_runner, orbit_conn, seaweed_client, tmp_path, monkeypatch
):
    stats = FakeStats()
    monkeypatch.setattr(airflow_stats, "Stats", stats)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.csv").write_bytes(b"a" * 100)
    (src / "b.csv").write_bytes(b"b" * 250)
    landed = Asset(f"s3://{orbit_conn}/landing")
    with DAG("orbit_asset_extras", schedule=None, start_date=START) as dag:
        versioned = OrbitVersioningOperator(task_id="versioned", action="enable")
        upload = OrbitUploadOperator(
            task_id="upload", source=str(src), prefix="landing/", outlets=[landed]
        )
        versioned >> upload
    result = dag_runner(dag)
    assert result.state == "success", result.task_states()
    summary = result.xcom("upload")
    expected_versions = {o["key"]: o["version_id"] for o in summary["objects"]}
    assert len(expected_versions) == 2 and all(expected_versions.values())
    extra = asset_event_extras(result.dag_id, result.run_id)[landed.uri]
    assert extra == {
        "operation": "upload", "bytes": 350, "objects": 2, "version_ids": expected_versions,
    }  # fmt: skip
    sent = [c for c in stats.calls if c[1] == "orbit.upload.bytes"]
    assert [(value, tags["dag_id"], tags["task_id"]) for _, _, value, tags in sent] == [
        (350, "orbit_asset_extras", "upload")
    ]


def test_a_resumed_restore_reports_the_lineage_of_the_try_that_deferred(
    archived, collector, monkeypatch
):
    client, keys = archived
    ti = RestoreTI()

    def operator() -> OrbitArchiveRestoreOperator:
        return OrbitArchiveRestoreOperator(
            task_id="restore", keys=keys, deferrable=True, poke_interval=0, wait_timeout=30
        )

    with pytest.raises(TaskDeferred) as info:
        operator().execute({"ti": ti})
    carried = info.value.kwargs[LINEAGE_KWARG]
    assert carried["inputs"] == [[client.bucket, k] for k in keys]
    classpath, kwargs = info.value.trigger.serialize()
    event = run_trigger(import_string(classpath)(**kwargs))

    collector = new_collector(monkeypatch)
    resumed = operator()  # the resuming try: a new process, a fresh operator
    assert datasets(resumed.get_openlineage_facets_on_start().inputs) == []
    result = resumed.resume_execution(
        "execute_complete", {**info.value.kwargs, "event": event}, {"ti": ti}
    )
    assert result["restore"]["readable"] == 3
    expected = [(f"s3://{client.bucket}", k) for k in keys]
    assert datasets(resumed.get_openlineage_facets_on_complete(None).inputs) == expected
    assert datasets(resumed.get_openlineage_facets_on_start().inputs) == expected
    assert [a.asset.uri for a in collector.collected_assets.inputs] == [
        f"s3://{client.bucket}/{k}" for k in keys
    ]


def test_a_deferred_batch_operations_job_reports_its_lineage_before_and_after(
    moto_conn, control, collector, monkeypatch
):
    client, stub = control
    _seed(moto_conn, ["src/x"])
    stub.add_response("create_job", {"JobId": "job-00007"}, None)

    copied = Asset("s3://other-bucket/copied")

    def operator() -> OrbitBatchCopyOperator:
        return _with_control(
            OrbitBatchCopyOperator(task_id="copy", prefix="src/", dest_prefix="copied/",
                                   dest_bucket="other-bucket", strip_prefix="",
                                   outlets=[copied], **JOB),
            client,
        )  # fmt: skip

    ti = FakeTI()
    with pytest.raises(TaskDeferred) as deferred:
        operator().execute({"ti": ti})
    assert deferred.value.kwargs[LINEAGE_KWARG]["outputs"] == [["other-bucket", "copied/"]]
    _report(moto_conn, "job-00007", "test-bucket,src/x,,succeeded,200,,ok\n")
    event = {"status": "success", "message": "ended", "job": {
        "job_id": "job-00007", "status": "Complete", "total": 1, "succeeded": 1, "failed": 0,
        "report_bucket": "test-bucket", "report_prefix": "orbit-batch-jobs"}}  # fmt: skip
    assert [a.asset.uri for a in collector.collected_assets.outputs] == [
        "s3://other-bucket/copied"
    ]
    collector = new_collector(monkeypatch)
    resumed = operator()
    events = OutletEvents()
    summary = resumed.resume_execution(
        "execute_complete", {**deferred.value.kwargs, "event": event},
        {"ti": ti, "outlet_events": events},
    )  # fmt: skip
    assert summary["succeeded"] == 1
    assert events[copied].extra == {"operation": "copy", "bytes": 0, "objects": 1}
    lineage = resumed.get_openlineage_facets_on_complete(None)
    assert datasets(lineage.inputs) == [("s3://test-bucket", "src/")]
    assert datasets(lineage.outputs) == [("s3://other-bucket", "copied/")]
    assert [a.asset.uri for a in collector.collected_assets.outputs] == [
        "s3://other-bucket/copied"
    ]


def test_a_deferral_with_nothing_reported_carries_nothing(archived):
    _, keys = archived
    op = OrbitArchiveRestoreOperator(task_id="restore", keys=keys)
    with pytest.raises(TaskDeferred) as info:
        op.defer(trigger=None, method_name="execute_complete", kwargs={"a": 1})
    assert info.value.kwargs == {"a": 1}


def test_openlineage_start_names_what_the_arguments_name(moto_conn, tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"z" * 10)
    upload = OrbitUploadOperator(task_id="up", bucket=MOTO_BUCKET, source=str(src), key="m/a.bin")
    start = upload.get_openlineage_facets_on_start()
    assert datasets(start.inputs) == [("file", str(src))]
    assert datasets(start.outputs) == [(f"s3://{MOTO_BUCKET}", "m/a.bin")]
    upload.execute(make_context())
    complete = upload.get_openlineage_facets_on_complete(None)
    assert (datasets(complete.inputs), datasets(complete.outputs)) == (
        datasets(start.inputs), datasets(start.outputs)
    )

    download = OrbitDownloadOperator(task_id="down", bucket="{{ params.b }}", prefix="m/",
                                     dest=str(tmp_path / "out"))  # fmt: skip
    start = download.get_openlineage_facets_on_start()  # the bucket is not rendered yet
    assert datasets(start.inputs) == [] and datasets(start.outputs) == [
        ("file", str(tmp_path / "out"))
    ]
    sync = OrbitSyncOperator(task_id="sync", source=str(tmp_path), dest="s3://lake/in/")
    start = sync.get_openlineage_facets_on_start()
    assert datasets(start.inputs) == [("file", str(tmp_path))]
    assert datasets(start.outputs) == [("s3://lake", "in/")]
    listed = OrbitListKeysOperator(task_id="list", prefix="raw/")  # the connection's bucket
    assert datasets(listed.get_openlineage_facets_on_start().inputs) == []


def test_openlineage_start_of_bulk_object_version_and_lifecycle_operators():
    from orbit_provider.operators.batch import OrbitBatchDeleteOperator
    from orbit_provider.operators.lifecycle import OrbitLifecycleExpirationOperator
    from orbit_provider.operators.objects import (
        OrbitCopyObjectOperator,
        OrbitCreateObjectOperator,
    )
    from orbit_provider.operators.versioning import OrbitRollbackPrefixOperator

    def start(op):
        facets = op.get_openlineage_facets_on_start()
        return datasets(facets.inputs), datasets(facets.outputs)

    assert start(OrbitBatchDeleteOperator(task_id="d", bucket="lake", prefix="old/")) == (
        [], [("s3://lake", "old/")])
    assert start(OrbitBatchCopyOperator(task_id="c", bucket="lake", prefix="raw/",
                                        dest_prefix="archive/")) == ([("s3://lake", "raw/")], [])
    assert start(OrbitCopyObjectOperator(task_id="o", source_bucket_key="s3://lake/a",
                                         dest_bucket_key="b")) == ([("s3://lake", "a")], [])
    assert start(OrbitCreateObjectOperator(task_id="w", s3_key="s3://lake/n.txt", data="x")) == (
        [], [("s3://lake", "n.txt")])
    assert start(OrbitRollbackPrefixOperator(task_id="r", bucket="lake", prefix="t/",
                                             timestamp="2026-01-01T00:00:00Z")) == (
        [], [("s3://lake", "t/")])
    assert start(OrbitLifecycleExpirationOperator(task_id="x", bucket="lake", prefix="tmp/",
                                                  days=1)) == ([], [("s3://lake", "tmp/")])
