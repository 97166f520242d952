"""Version operators: unit tests against moto, one DAG run against SeaweedFS."""

from __future__ import annotations

import time

import pendulum
import pytest
from airflow.sdk import DAG

from orbit_provider.operators.base import OrbitTaskError
from orbit_provider.operators.versioning import (
    OrbitRestoreVersionOperator,
    OrbitRollbackPrefixOperator,
    OrbitVersioningOperator,
)
from tests.airflow_env import connection_env


@pytest.fixture
def moto_conn(monkeypatch, moto_client):
    name, value = connection_env(
        "orbit_s3_default", conn_type="orbit_s3", login="testing", password="testing",
        extra={"region_name": "us-east-1", "bucket": moto_client.bucket},
    )
    monkeypatch.setenv(name, value)
    return moto_client


def tick() -> pendulum.DateTime:
    """A moment strictly between writes (S3's LastModified has whole seconds)."""
    time.sleep(1.1)
    now = pendulum.now("UTC")
    time.sleep(1.1)
    return now


def history(client, key):
    listing = client.list_object_versions(key)
    return len(listing.versions), len(listing.delete_markers)


def test_versioning_operator_enables_suspends_and_reports(moto_conn):
    status = OrbitVersioningOperator(task_id="v", action="status").execute({})
    assert (status["status"], status["changed"]) == (None, False)
    enabled = OrbitVersioningOperator(task_id="v").execute({})
    assert (enabled["status"], enabled["enabled"], enabled["changed"]) == ("Enabled", True, True)
    suspended = OrbitVersioningOperator(task_id="v", action="suspend").execute({})
    assert (suspended["status"], suspended["previous_status"]) == ("Suspended", "Enabled")
    assert moto_conn.get_versioning_status().suspended
    with pytest.raises(OrbitTaskError, match="action: 'delete'"):
        OrbitVersioningOperator(task_id="v", action="delete")


def test_restore_by_version_id_and_by_timestamp(moto_conn):
    moto_conn.enable_versioning()
    v1 = moto_conn.upload_bytes(b"good", "doc.txt").version_id
    between = tick()
    moto_conn.upload_bytes(b"bad", "doc.txt")
    out = OrbitRestoreVersionOperator(task_id="r", key="doc.txt", version_id=v1).execute({})
    assert (out["restored_version_id"], out["changed"]) == (v1, True)
    assert moto_conn.download_bytes("doc.txt") == b"good"
    assert out["current_version_id"] == moto_conn.latest_version_id("doc.txt")
    assert history(moto_conn, "doc.txt") == (3, 0)  # history kept: the restore is a new version
    moto_conn.upload_bytes(b"worse", "doc.txt")
    by_time = OrbitRestoreVersionOperator(
        task_id="r", key="doc.txt", timestamp=between.isoformat()
    ).execute({})
    assert by_time["restored_version_id"] == v1 and by_time["changed"] is True
    assert moto_conn.download_bytes("doc.txt") == b"good"


def test_restore_refuses_unknown_versions_and_moments_before_the_first(moto_conn):
    moto_conn.enable_versioning()
    before_first = tick()
    moto_conn.upload_bytes(b"v1", "k")
    moto_conn.upload_bytes(b"v2", "k")
    with pytest.raises(OrbitTaskError, match="version 'nope' of s3://test-bucket/k not found"):
        OrbitRestoreVersionOperator(task_id="r", key="k", version_id="nope").execute({})
    with pytest.raises(OrbitTaskError, match="did not exist at .* first version is from"):
        OrbitRestoreVersionOperator(task_id="r", key="k", timestamp=before_first).execute({})
    assert history(moto_conn, "k") == (2, 0) and moto_conn.download_bytes("k") == b"v2"


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"key": "k"}, "exactly one"),
        ({"key": "k", "version_id": "a", "timestamp": "2026-01-01T00:00:00Z"}, "exactly one"),
        ({"key": "k", "timestamp": "not a time"}, "timestamp"),
        ({"key": "k", "timestamp": pendulum.naive(2026, 1, 1)}, "no time zone"),
        ({"key": "", "version_id": "a"}, "key"),
        ({"key": "k", "version_id": " "}, "version_id"),
        ({"key": "k", "version_id": "a", "bucket": "x"}, "bucket"),
    ],
)
def test_restore_bad_input_is_refused_when_built(kwargs, named):
    with pytest.raises(OrbitTaskError, match=named):
        OrbitRestoreVersionOperator(task_id="r", **kwargs)


def test_rollback_dry_run_plans_per_key_then_rollback_applies(moto_conn, capsys):
    moto_conn.enable_versioning()
    moto_conn.upload_bytes(b"a1", "p/a")
    moto_conn.upload_bytes(b"b1", "p/b")
    moto_conn.upload_bytes(b"c1", "p/c")
    moment = tick()
    moto_conn.upload_bytes(b"a2", "p/a")  # changed -> restore
    moto_conn.delete("p/b")  # deleted -> remove the marker
    moto_conn.upload_bytes(b"n", "p/new")  # created later -> delete
    before = {k: history(moto_conn, k) for k in ("p/a", "p/b", "p/c", "p/new")}
    plan = OrbitRollbackPrefixOperator(
        task_id="rb", prefix="p/", timestamp=moment, dry_run=True, plan_limit=2
    ).execute({})
    assert plan["dry_run"] is True and plan["keys"] == 4
    assert plan["counts"] == {"restore": 1, "remove_delete_markers": 1, "delete": 1, "keep": 1}
    assert len(plan["changes"]) == 2 and plan["changes"][0]["key"] == "p/a"
    assert {k: history(moto_conn, k) for k in before} == before
    out = capsys.readouterr().out
    assert "dry run, nothing is changed" in out and "p/a: restore version" in out
    assert "... and 1 more change(s)" in out

    done = OrbitRollbackPrefixOperator(task_id="rb", prefix="p/", timestamp=moment).execute({})
    assert (done["changed"], done["failed"], done["total"]) == (3, 0, 3)
    assert moto_conn.download_bytes("p/a") == b"a1"
    assert moto_conn.download_bytes("p/b") == b"b1"
    assert not moto_conn.exists("p/new")
    rerun = OrbitRollbackPrefixOperator(task_id="rb", prefix="p/", timestamp=moment).execute({})
    assert rerun["counts"]["keep"] == 4 and rerun["changed"] == 0


def test_rollback_refuses_a_bucket_without_versioning(moto_conn):
    moto_conn.upload_bytes(b"x", "p/a")
    op = OrbitRollbackPrefixOperator(task_id="rb", prefix="p/", timestamp="2026-01-01T00:00:00Z")
    with pytest.raises(OrbitTaskError, match="versioning was never enabled"):
        op.execute({})
    assert moto_conn.download_bytes("p/a") == b"x"
    with pytest.raises(OrbitTaskError, match="timestamp"):
        OrbitRollbackPrefixOperator(task_id="rb", prefix="p/", timestamp="soon")


def test_dag_rollback_to_data_interval_start(dag_runner, orbit_conn, seaweed_client, capsys):
    client = seaweed_client
    client.enable_versioning()
    good = {f"v/{i}.csv": f"good {i}".encode() for i in range(3)}
    for key, data in good.items():
        client.upload_bytes(data, key)
    moment = tick()
    client.upload_bytes(b"bad 0", "v/0.csv")
    client.upload_bytes(b"bad 1", "v/1.csv")
    client.upload_bytes(b"stray", "v/stray.csv")
    first_v0 = client.list_object_versions("v/0.csv").versions[-1].version_id
    ts = "{{ data_interval_start }}"
    with DAG("orbit_rollback", schedule=None, start_date=moment.subtract(days=1)) as dag:
        status = OrbitVersioningOperator(task_id="status", action="status")
        dry = OrbitRollbackPrefixOperator(task_id="dry", prefix="v/", timestamp=ts, dry_run=True)
        roll = OrbitRollbackPrefixOperator(task_id="roll", prefix="v/", timestamp=ts)
        one = OrbitRestoreVersionOperator(task_id="one", key="v/0.csv", version_id=first_v0)
        bad = OrbitRestoreVersionOperator(task_id="bad", key="v/0.csv", version_id="no-such-id")
        status >> dry >> roll >> one >> bad
    result = dag_runner(dag, logical_date=moment)
    states = result.task_states()
    assert {k: states[k] for k in ("status", "dry", "roll", "one")} == dict.fromkeys(
        ("status", "dry", "roll", "one"), "success"
    )
    assert states["bad"] == "failed"
    assert result.xcom("status")["status"] == "Enabled"
    dry_plan = result.xcom("dry")
    assert dry_plan["counts"] == {"restore": 2, "remove_delete_markers": 0, "delete": 1,
                                  "keep": 1}  # fmt: skip
    assert pendulum.parse(dry_plan["timestamp"]) == moment
    rolled = result.xcom("roll")
    assert (rolled["changed"], rolled["failed"]) == (3, 0)
    assert {k: client.download_bytes(k) for k in good} == good
    assert not client.exists("v/stray.csv")
    assert result.xcom("one")["restored_version_id"] == first_v0
    log = capsys.readouterr().out
    assert "v/0.csv: restore version" in log
    assert "orbit progress: rollback 3/3" in log
    assert "version 'no-such-id' of s3://" in log
