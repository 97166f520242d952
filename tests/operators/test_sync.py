"""OrbitSyncOperator: execute() against moto (each direction, dry run first, deletions only
when asked, bad locations refused at DAG parse) and a real DAG run against SeaweedFS."""

from __future__ import annotations

import os

import pendulum
import pytest
from airflow.sdk import DAG

from orbit_provider.operators.base import OrbitTaskError
from orbit_provider.operators.progress_sink import XCOM_KEY
from orbit_provider.operators.sync import OrbitSyncOperator
from tests.operators.operator_context import (  # noqa: F401 - fixtures
    MOTO_BUCKET,
    collector_fixture,
    make_context,
    moto_conn_fixture,
)

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"a" * 100)
    (src / "sub" / "b.txt").write_bytes(os.urandom(2000))
    return src


def keys(client, prefix="") -> list[str]:
    return sorted(o.key for o in client.iter_objects(prefix))


def run(**kwargs) -> dict:
    return OrbitSyncOperator(task_id="sync", **kwargs).execute(make_context())


def test_local_to_s3_then_only_changes_then_deletions_after_a_dry_run(
    moto_conn, moto_client, folder, collector
):
    url = f"s3://{MOTO_BUCKET}/s/"
    first = run(source=str(folder), dest=url)
    assert first["operation"] == "sync" and first["succeeded"] == 2 and first["bytes"] == 2100
    assert keys(moto_client) == ["s/a.txt", "s/sub/b.txt"]
    assert [a.asset.uri for a in collector.collected_assets.outputs] == [f"s3://{MOTO_BUCKET}/s"]

    (folder / "a.txt").write_bytes(b"A" * 100)
    (folder / "sub" / "b.txt").unlink()
    second = run(source=str(folder), dest=url)
    assert second["succeeded"] == 1 and second["deleted"] == 0
    assert keys(moto_client) == ["s/a.txt", "s/sub/b.txt"]

    plan = run(source=str(folder), dest=url, delete_extraneous=True, dry_run=True)
    assert plan["would_delete"] == ["s/sub/b.txt"] and plan["dry_run"] is True
    assert keys(moto_client) == ["s/a.txt", "s/sub/b.txt"]
    done = run(source=str(folder), dest=url, delete_extraneous=True)
    assert done["deleted"] == 1 and keys(moto_client) == ["s/a.txt"]


def test_s3_to_local(moto_conn, moto_client, tmp_path):
    moto_client.upload_bytes(b"x" * 10, "data/x.bin")
    moto_client.upload_bytes(b"y" * 20, "data/in/y.bin")
    summary = run(source=f"s3://{MOTO_BUCKET}/data/", dest=str(tmp_path / "d"))
    assert summary["succeeded"] == 2
    assert (tmp_path / "d" / "in" / "y.bin").read_bytes() == b"y" * 20
    paths = sorted(o["path"] for o in summary["objects"])
    assert paths == [str(tmp_path / "d" / "in" / "y.bin"), str(tmp_path / "d" / "x.bin")]
    again = run(source=f"s3://{MOTO_BUCKET}/data/", dest=str(tmp_path / "d"))
    assert again["skipped"] == 2 and sorted(again["skipped_keys"]) == ["data/in/y.bin",
                                                                       "data/x.bin"]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "/a", "dest": "/b"}, "both local"),
        ({"source": "gs://x/y", "dest": "/b"}, "only local paths and s3://"),
        ({"source": "s3://ab/y", "dest": "/b"}, "bucket"),
        ({"source": "/a", "dest": "s3://bkt/p/", "delete_extraneous": "yes"}, "True or False"),
        ({"source": "/a", "dest": "s3://bkt/p/", "include": [""]}, "include"),
        ({"source": "/a", "dest": "s3://bkt/p/", "storage_class": "PLATINUM"}, "storage class"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(kwargs, message):
    with pytest.raises(OrbitTaskError, match=message):
        OrbitSyncOperator(task_id="s", **kwargs)


def test_dag_sync_up_and_down_with_progress(dag_runner, orbit_conn, seaweed_client, tmp_path,
                                            capsys):  # fmt: skip
    src = tmp_path / "src"
    src.mkdir()
    for i in range(30):
        (src / f"part-{i:02d}.parquet").write_bytes(os.urandom(5000))
    back = tmp_path / "back"
    with DAG("orbit_sync", schedule=None, start_date=START) as dag:
        up = OrbitSyncOperator(task_id="up", source=str(src), progress_xcom=True,
                               dest=f"s3://{orbit_conn}/daily/{{{{ ds }}}}/")  # fmt: skip
        down = OrbitSyncOperator(task_id="down", source=f"s3://{orbit_conn}/daily/",
                                 dest=str(back), max_concurrent_files=4)  # fmt: skip
        up >> down
    result = dag_runner(dag)
    assert result.state == "success", result.task_states()
    assert result.xcom("up")["succeeded"] == 30
    assert result.xcom("down")["succeeded"] == 30
    day = next(back.iterdir())
    assert sorted(p.name for p in day.iterdir()) == sorted(p.name for p in src.iterdir())
    assert (day / "part-07.parquet").read_bytes() == (src / "part-07.parquet").read_bytes()
    final = result.xcom("up", key=XCOM_KEY)
    assert final["final"] and final["objects_done"] == 30
    assert result.xcom("down", key=XCOM_KEY) is None  # not asked for
    assert "objects 30/30" in capsys.readouterr().out
