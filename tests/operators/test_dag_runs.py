"""The operators inside real DAG runs (dag.test()) against SeaweedFS: objects, return XComs,
`orbit_progress` XComs, progress lines in the task log, Asset outlets queueing a downstream DAG.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Asset, task

from orbit_provider.operators.listing import OrbitListKeysOperator
from orbit_provider.operators.progress_sink import XCOM_KEY
from orbit_provider.operators.transfer import OrbitDownloadOperator, OrbitUploadOperator
from orbit_provider.operators.uploads import OrbitAbortIncompleteUploadsOperator
from orbit_provider.s3.config import MIB
from tests.airflow_env import sync_dag

START = pendulum.datetime(2026, 1, 1, tz="UTC")


def asset_events(dag_id: str, run_id: str) -> list[str]:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).filter_by(source_dag_id=dag_id, source_run_id=run_id)
        return [event.asset.uri for event in events]


def unpause(dag_id: str) -> None:
    """Airflow queues runs only for unpaused DAGs (new DAGs start paused)."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagModel).filter_by(dag_id=dag_id).update({"is_paused": False})


def queued_for(dag_id: str) -> list[str]:
    """Asset URIs whose events queued a run of `dag_id` (AssetDagRunQueue)."""
    from airflow.models.asset import AssetDagRunQueue, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetModel.uri)
            .join(AssetDagRunQueue, AssetDagRunQueue.asset_id == AssetModel.id)
            .filter(AssetDagRunQueue.target_dag_id == dag_id)
            .all()
        )
        return [uri for (uri,) in rows]


def test_the_operators_in_one_dag_run(
    dag_runner, orbit_conn, seaweed_client, tmp_path, capsys, monkeypatch
):
    bucket = orbit_conn
    # the orbit_progress XCom is opt-in: here by Airflow's config for every task but one
    monkeypatch.setenv("AIRFLOW__ORBIT__PROGRESS_XCOM", "True")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "small.csv").write_bytes(b"id,v\n1,2\n")
    (src / "sub" / "big.bin").write_bytes(os.urandom(12 * MIB))  # 3 parts of 5 MiB
    (src / "sub" / "c.csv").write_bytes(b"c" * 10)
    out = tmp_path / "out"
    landed = Asset(f"s3://{bucket}/landing")

    with DAG("orbit_ops_downstream", schedule=[landed], start_date=START) as downstream:

        @task
        def read_landing():
            return "read"

        read_landing()

    with DAG("orbit_ops", schedule=None, start_date=START) as dag:
        upload = OrbitUploadOperator(
            task_id="upload", source=str(src), prefix="landing/{{ ds }}/",
            storage_class="STANDARD", metadata={"run": "{{ run_id }}"},
            client_options={"chunk_size": 5 * MIB, "parallel_operations": 2},
            outlets=[landed],
        )  # fmt: skip
        listed = OrbitListKeysOperator(
            task_id="list", prefix="landing/", suffix=".csv", shard_size=1,
            modified_after="{{ macros.datetime(2020, 1, 1).isoformat() }}Z",
        )  # fmt: skip

        @task
        def count(keys: list[str]) -> int:
            return len(keys)

        counted = count.expand(keys=listed.output)
        download = OrbitDownloadOperator(task_id="download", prefix="landing/", dest=str(out))
        cleanup = OrbitAbortIncompleteUploadsOperator(
            task_id="abort", prefix="landing/", older_than=0, dry_run=True,
            progress_xcom=False,
        )
        upload >> listed >> counted
        upload >> download >> cleanup

    sync_dag(downstream)
    unpause("orbit_ops_downstream")
    result = dag_runner(dag)
    assert result.state == "success", result.task_states()
    ds = result.dag_run.logical_date.strftime("%Y-%m-%d")
    prefix = f"landing/{ds}/"

    # objects in the bucket, byte-identical on the way back
    keys = sorted(o.key for o in seaweed_client.iter_objects("landing/"))
    assert keys == [f"{prefix}small.csv", f"{prefix}sub/big.bin", f"{prefix}sub/c.csv"]
    assert seaweed_client.get_metadata(f"{prefix}small.csv").metadata["run"] == result.run_id
    for name in ("small.csv", "sub/big.bin", "sub/c.csv"):
        assert (out / ds / name).read_bytes() == (src / name).read_bytes()

    # return XComs
    up = result.xcom("upload")
    assert up["succeeded"] == 3 and up["bytes"] == 12 * MIB + 19
    assert {o["key"]: o.get("parts") for o in up["objects"]}[f"{prefix}sub/big.bin"] == 3
    assert result.xcom("list") == [[f"{prefix}small.csv"], [f"{prefix}sub/c.csv"]]
    assert result.xcoms("count") == {0: 1, 1: 1}
    down = result.xcom("download")
    assert down["succeeded"] == 3 and down["bytes"] == 12 * MIB + 19
    assert result.xcom("abort") | {"uploads": []} == {
        "bucket": bucket, "prefix": "landing/", "older_than_seconds": 0.0, "dry_run": True,
        "count": 0, "uploads": [], "uploads_truncated": False,
    }  # fmt: skip

    # the orbit_progress XCom of each operator that did not opt out
    assert result.xcom("upload", key=XCOM_KEY)["percent"] == 100.0
    assert result.xcom("upload", key=XCOM_KEY)["objects_done"] == 3
    assert result.xcom("download", key=XCOM_KEY)["final"] is True
    assert result.xcom("list", key=XCOM_KEY)["operation"] == "list"
    assert result.xcom("abort", key=XCOM_KEY) is None

    # progress lines in the task logs (stdout under dag.test())
    log = capsys.readouterr().out
    assert "orbit progress: upload 100.0% (12.0/12.0 MiB)" in log
    assert "objects 3/3" in log
    assert "orbit progress: download 100.0%" in log
    assert "orbit progress: list 3/3" in log

    # the Asset outlet: an event for this run, and the downstream DAG is queued
    assert asset_events("orbit_ops", result.run_id) == [landed.uri]
    assert queued_for("orbit_ops_downstream") == [landed.uri]


def test_a_bad_input_fails_the_task_with_a_clear_error(dag_runner, orbit_conn, seaweed_client,
                                                       capsys):  # fmt: skip
    with DAG("orbit_ops_bad", schedule=None, start_date=START) as dag:
        OrbitUploadOperator(
            task_id="upload", source="/no/such/folder/{{ ds }}", prefix="x/", retries=0
        )
    result = dag_runner(dag)
    assert result.task_states() == {"upload": "failed"}
    assert result.xcom("upload") is None
    assert "source: '/no/such/folder/" in capsys.readouterr().out
    assert list(seaweed_client.iter_objects("")) == []


def test_a_killed_upload_task_resumes_in_the_next_try(dag_runner, orbit_conn, seaweed_client,
                                                      tmp_path):  # fmt: skip
    """SIGKILL the task process mid-upload; a new process running the task again continues
    the multipart upload: only the parts S3 does not hold are sent, and the object is exact.
    Bytes sent twice are at most the parts in flight at the kill (parallel_operations = 2
    parts of chunk_size)."""
    size = 27 * MIB  # 6 parts of 5 MiB (the last ragged)
    source = tmp_path / "dump.bin"
    source.write_bytes(os.urandom(size))
    key = "backups/dump.bin"
    script = Path(__file__).with_name("upload_dag_child.py")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2]))

    def child(bandwidth: str, out: Path) -> subprocess.Popen:
        with open(out.with_suffix(".log"), "wb") as log:  # a file: a full pipe would block it
            return subprocess.Popen(
                [sys.executable, str(script), str(source), key, bandwidth, str(out)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed by its id below
            )  # fmt: skip

    def tail(out: Path) -> str:
        return out.with_suffix(".log").read_text(errors="replace")[-3000:]

    first = child(str(3 * MIB), tmp_path / "first.json")
    try:
        deadline = time.monotonic() + 180
        stored: dict[int, int] = {}
        while len(stored) < 2:
            assert first.poll() is None, tail(tmp_path / "first.json")
            assert time.monotonic() < deadline, "the task never stored two parts"
            uploads = seaweed_client.list_incomplete_uploads("backups/")
            if uploads:
                stored = parts_of(seaweed_client, key, uploads[0].upload_id)
            time.sleep(0.1)
        os.killpg(first.pid, signal.SIGKILL)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.communicate()
    assert first.returncode == -signal.SIGKILL
    assert not (tmp_path / "first.json").exists()  # the first try never finished
    time.sleep(0.5)  # let the store drop a part whose body was cut off
    (upload,) = seaweed_client.list_incomplete_uploads("backups/")
    stored = parts_of(seaweed_client, key, upload.upload_id)
    assert 2 <= len(stored) < 6

    second = child("none", tmp_path / "second.json")
    second.communicate(timeout=300)
    assert second.returncode == 0, tail(tmp_path / "second.json")
    outcome = json.loads((tmp_path / "second.json").read_text())
    assert outcome["state"] == "success"
    (result,) = outcome["summary"]["objects"]
    assert result["parts"] == 6
    assert result["parts_resumed"] == len(stored)
    assert outcome["summary"]["bytes_transferred"] == size - sum(stored.values())
    assert outcome["progress"]["percent"] == 100.0
    log = (tmp_path / "second.log").read_text(errors="replace")
    assert "orbit progress: upload 100.0% (27.0/27.0 MiB)" in log
    assert seaweed_client.download_bytes(key) == source.read_bytes()
    assert seaweed_client.list_incomplete_uploads() == []


def parts_of(client, key: str, upload_id: str) -> dict[int, int]:
    """part number -> size of the parts S3 holds for an unfinished upload."""
    resp = client.call("list_parts", key=key, UploadId=upload_id)
    return {p["PartNumber"]: p["Size"] for p in resp.get("Parts", [])}
