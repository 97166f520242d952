"""The example DAGs in dags_examples/: they import cleanly, and each runs end to end with
dag.test() against the real SeaweedFS server (moto's server for the archive-restore DAG),
leaving the bucket in the state its docstring promises."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from orbit_provider.operators.progress_sink import XCOM_KEY
from orbit_provider.s3.config import MIB
from orbit_provider.testing.clients import client_for
from tests.airflow_env import load_dags, server_connection, sync_dag
from tests.operators.test_dag_runs import asset_events, queued_for, unpause

EXAMPLES = Path(__file__).parents[2] / "dags_examples"
DAG_IDS = {
    "orbit_example_lake_ingestion",
    "orbit_example_lake_reader",
    "orbit_example_backup_archive",
    "orbit_example_batch_archive",
    "orbit_example_version_rollback",
    "orbit_example_migration",
    "orbit_example_object_operations",
    "orbit_example_sync_and_watch",
}


def test_every_example_dag_imports_without_errors():
    bag = DagBag(dag_folder=str(EXAMPLES))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == DAG_IDS
    for dag in bag.dags.values():
        assert "example" in dag.tags
    assert all(Path(p).read_text().startswith('"""') for p in EXAMPLES.glob("*.py"))


@pytest.fixture
def examples(monkeypatch, tmp_path, orbit_conn):
    """Load an example file with the bucket and scratch folder of this test: name -> DAGs."""
    monkeypatch.setenv("ORBIT_EXAMPLES_BUCKET", orbit_conn)
    monkeypatch.setenv("ORBIT_EXAMPLES_DIR", str(tmp_path / "work"))

    def load(name: str) -> dict:
        return load_dags(EXAMPLES / f"{name}.py")

    return load


def _ds(result) -> str:
    return result.dag_run.logical_date.strftime("%Y-%m-%d")


def test_lake_ingestion_and_the_asset_scheduled_reader(
    examples, dag_runner, orbit_conn, seaweed_client, capsys
):
    dags = examples("lake_ingestion")
    reader = dags["orbit_example_lake_reader"]
    sync_dag(reader)
    unpause(reader.dag_id)
    result = dag_runner(dags["orbit_example_lake_ingestion"], run_conf={"files": 3})
    assert result.state == "success", result.task_states()
    prefix = f"raw/dt={_ds(result)}/"
    names = ["_manifest.json", "blob.bin", "events-000.jsonl", "events-001.jsonl",
             "events-002.jsonl"]  # fmt: skip
    assert sorted(o.key for o in seaweed_client.iter_objects("raw/")) == [prefix + n for n in names]
    blob = seaweed_client.get_metadata(prefix + "blob.bin")
    assert blob.size == 12 * MIB and blob.storage_class == "INTELLIGENT_TIERING"
    assert blob.metadata["run"] == result.run_id
    assert seaweed_client.get_tags(prefix + "events-000.jsonl") == {
        "layer": "raw", "dt": _ds(result)
    }
    assert seaweed_client.get_tags(prefix + "_manifest.json")["dt"] == _ds(result)

    generated = result.xcom("generate")
    upload = result.xcom("upload")
    assert generated["files"] == 4  # the data files; the manifest is published after them
    assert upload["succeeded"] == 4 and upload["bytes"] == generated["bytes"]
    assert {o["key"]: o.get("parts") for o in upload["objects"]}[prefix + "blob.bin"] == 3
    assert result.xcom("upload", key=XCOM_KEY) is None  # opt-in, and the examples do not
    assert result.xcom("landed")["count"] == 4
    assert result.xcom("publish_manifest")["succeeded"] == 1
    assert result.xcom("tag")["succeeded"] == 5
    assert "orbit progress: upload 100.0%" in capsys.readouterr().out

    bucket_asset = f"s3://{orbit_conn}/raw"  # Airflow normalizes away the trailing slash
    assert asset_events(result.dag_id, result.run_id) == [bucket_asset]
    assert queued_for(reader.dag_id) == [bucket_asset]

    read = dag_runner(reader)
    assert read.state == "success", read.task_states()
    assert read.xcom("check") == {
        "partitions": 1, "files_checked": 4, "bytes_downloaded": upload["bytes"] + len(
            seaweed_client.download_bytes(prefix + "_manifest.json")
        )
    }


def test_examples_need_no_logical_date(examples, dag_runner, orbit_conn, seaweed_client):
    """A run triggered by hand or through the API has no logical date: the examples key their
    data by the day the run was triggered instead (`dag_run.run_after`)."""
    dag = examples("batch_archive")["orbit_example_batch_archive"]
    seaweed_client.upload_bytes(b"a,b\n", "raw/one.csv")
    result = dag_runner(dag, logical_date=None)
    assert result.state == "success", result.task_states()
    assert result.dag_run.logical_date is None
    day = result.dag_run.run_after.strftime("%Y-%m-%d")
    assert seaweed_client.get_tags("archive/raw/one.csv")["archived"] == day


def test_backup_archive_on_the_moto_server(
    examples, dag_runner, monkeypatch, moto_server, moto_server_bucket
):
    name, value = server_connection(moto_server, "orbit_s3_archive")
    monkeypatch.setenv(name, value)
    monkeypatch.setenv("ORBIT_EXAMPLES_ARCHIVE_BUCKET", moto_server_bucket)
    dag = examples("backup_archive")["orbit_example_backup_archive"]
    result = dag_runner(dag, run_conf={"rows": 20_000})
    assert result.state == "success", result.task_states()

    key = f"backups/db/{_ds(result)}/dump.sql"
    dump = result.xcom("dump_database")
    client = client_for(moto_server, moto_server_bucket)
    head = client.get_metadata(key)
    assert head.storage_class == "GLACIER" and head.server_side_encryption == "AES256"
    assert head.metadata["sha256"] == dump["sha256"]
    assert client.restore_status(key).state == "restored"
    assert hashlib.sha256(client.download_bytes(key)).hexdigest() == dump["sha256"]
    assert result.xcom("request_restore")["succeeded"] == 1
    assert result.xcom("restored")["restored"] == [key]
    assert result.xcom("verify") == {
        "key": key, "size": dump["size"], "sha256": dump["sha256"], "verified": True
    }


def test_batch_archive_across_mapped_shards(examples, dag_runner, monkeypatch, seaweed_client):
    monkeypatch.setenv("ORBIT_EXAMPLES_SHARD_SIZE", "15")
    originals = {f"raw/dt=2026-01-0{d}/part-{i:02d}.csv": f"{d},{i}\n".encode() * (i + 1)
                 for d in (1, 2) for i in range(20)}  # fmt: skip
    for key, body in originals.items():
        seaweed_client.upload_bytes(body, key)
    result = dag_runner(examples("batch_archive")["orbit_example_batch_archive"])
    assert result.state == "success", result.task_states()

    states = result.task_states()
    assert {t for t in states if t.startswith("copy[")} == {"copy[0]", "copy[1]", "copy[2]"}
    assert {t for t in states if t.startswith("delete_originals[")} == {
        "delete_originals[0]", "delete_originals[1]", "delete_originals[2]"
    }
    assert list(seaweed_client.iter_objects("raw/")) == []
    archived = {o.key: o for o in seaweed_client.iter_objects("archive/")}
    assert sorted(archived) == sorted("archive/" + k for k in originals)
    sample = "archive/raw/dt=2026-01-02/part-07.csv"
    assert seaweed_client.download_bytes(sample) == originals["raw/dt=2026-01-02/part-07.csv"]
    head = seaweed_client.get_metadata(sample)
    assert head.storage_class == "GLACIER_IR"
    assert head.metadata == {"archived-by": "orbit_example_batch_archive"}
    assert seaweed_client.get_tags(sample) == {
        "archived": _ds(result), "by": "orbit_example_batch_archive"
    }
    assert result.xcom("report") == {
        "keys": 40, "shards": 3, "copied": 40, "copied_already_done": 0, "tagged": 40,
        "bytes_archived": sum(len(b) for b in originals.values()), "deleted": 40,
        "accounted": True,
    }  # fmt: skip


def test_version_rollback(examples, dag_runner, seaweed_client):
    mod = examples("version_rollback")
    result = dag_runner(mod["orbit_example_version_rollback"])
    assert result.state == "success", result.task_states()

    rollback = result.xcom("rollback")
    assert rollback["counts"] == {
        "restore": 2, "remove_delete_markers": 1, "delete": 1, "keep": 0
    }
    good = {"settings.json": b'{"threshold": 10}\n', "rules.csv": b"id,rule\n1,allow\n",
            "users.csv": b"id,name\n1,ada\n"}  # fmt: skip
    current = {o.key: seaweed_client.download_bytes(o.key)
               for o in seaweed_client.iter_objects("config/")}  # fmt: skip
    assert current == {"config/" + k: v for k, v in good.items()}
    history = seaweed_client.list_object_versions("config/settings.json")
    assert len(history.versions) == 3  # good, bad, and the good one restored on top
    assert len(seaweed_client.list_object_versions("config/extra.tmp").delete_markers) == 1
    assert result.xcom("verify") == {"files": sorted(good), "identical": True}


def test_migration_reruns_skip_unchanged_files(examples, dag_runner, seaweed_client, tmp_path):
    dag = examples("migration")["orbit_example_migration"]
    first = dag_runner(dag)
    assert first.state == "success", first.task_states()
    source = tmp_path / "work" / "migration-source"
    files = sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    assert first.xcom("sample_tree_if_empty") == len(files) == 5
    assert first.xcom("mirror")["succeeded"] == 5 and first.xcom("mirror")["skipped"] == 0
    assert sorted(o.key for o in seaweed_client.iter_objects("migrated/")) == [
        "migrated/" + f for f in files
    ]

    second = dag_runner(dag)
    assert second.state == "success", second.task_states()
    mirror = second.xcom("mirror")
    assert mirror["succeeded"] == 0 and mirror["skipped"] == 5
    assert mirror["bytes_transferred"] == 0

    (source / "ops" / "2025-12" / "report.csv").write_text("changed\n")
    third = dag_runner(dag, run_conf={"dest_prefix": "migrated/"})
    mirror = third.xcom("mirror")
    assert mirror["succeeded"] == 1 and mirror["skipped"] == 4
    assert seaweed_client.download_bytes("migrated/ops/2025-12/report.csv") == b"changed\n"
