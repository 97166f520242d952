"""The example DAGs added for the how-to pages (dags_examples/object_operations.py,
sync_and_watch.py): each runs end to end with dag.test() against SeaweedFS and leaves what
its docstring promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from orbit_provider.testing.clients import client_for
from tests.airflow_env import load_dags

EXAMPLES = Path(__file__).parents[2] / "dags_examples"


@pytest.fixture
def examples(monkeypatch, tmp_path, orbit_conn):
    monkeypatch.setenv("ORBIT_EXAMPLES_BUCKET", orbit_conn)
    monkeypatch.setenv("ORBIT_EXAMPLES_DIR", str(tmp_path / "work"))
    return lambda name: load_dags(EXAMPLES / f"{name}.py")


def test_object_operations_in_a_scratch_bucket(examples, dag_runner, orbit_conn, seaweed):
    dag = examples("object_operations")["orbit_example_object_operations"]
    result = dag_runner(dag)
    assert result.state == "success", result.task_states()
    first = result.xcom("create_object")["objects"][0]["version_id"]
    restored = result.xcom("restore_version")
    assert restored["restored_version_id"] == first and restored["changed"] is True
    assert result.xcom("copy_object")["succeeded"] == 1
    assert result.xcom("label")["succeeded"] == result.xcom("retier")["succeeded"] == 1
    assert result.xcom("create_bucket")["created"] is True
    deleted = result.xcom("delete_bucket")
    assert deleted["deleted"] is True and deleted["objects_deleted"] >= 3  # every version
    names = {b["Name"] for b in client_for(seaweed, orbit_conn).s3.list_buckets()["Buckets"]}
    assert orbit_conn in names and orbit_conn + "-ops" not in names


def test_sync_and_watch(examples, dag_runner, seaweed_client):
    dag = examples("sync_and_watch")["orbit_example_sync_and_watch"]
    result = dag_runner(dag)
    assert result.state == "success", result.task_states()
    synced = sorted(o.key for o in seaweed_client.iter_objects("synced/"))
    assert synced == [f"synced/daily/part-{i}.csv" for i in range(5)]
    assert result.xcom("settled")["count"] == 5
    assert result.xcom("abort_stale_uploads")["count"] == 0
    total = result.xcom("total")
    assert (total["tasks"], total["total"], total["succeeded"]) == (3, 5, 5)
    assert total["accounted"] is True
    assert seaweed_client.get_tags("synced/daily/part-3.csv") == {"synced": "yes"}
