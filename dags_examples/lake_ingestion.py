"""Data-lake ingestion: land a folder of files in a date-partitioned prefix, then read it.

Shows:
- ``OrbitUploadOperator`` uploading a folder to ``raw/dt=<run date>/`` in INTELLIGENT_TIERING,
  with parallel multipart for the large file (5 MiB parts). The run date is the logical date,
  or for a run triggered without one (the UI, ``airflow dags trigger``, the REST API) the
  day it was triggered: ``RUN_DATE`` works for both;
- retries: a task killed mid-upload is retried, and the retry resumes the multipart upload
  from the parts S3 already holds (each checked against the file) instead of starting over;
- ``OrbitObjectSensor`` checking that the partition's data landed (no pending multipart
  upload), then the ``_manifest.json`` published last, with an ``Asset("s3://<bucket>/raw/")``
  outlet: Airflow then queues ``orbit_example_lake_reader`` (below, scheduled on that asset),
  and a reader never sees a manifest before the files it lists;
- ``OrbitBatchTagOperator`` tagging the partition.

The reader DAG downloads ``raw/`` and checks every partition that has a ``_manifest.json``
(sizes and SHA-256).

Configuration: the connection ``orbit_s3_default`` (e.g. ``AIRFLOW_CONN_ORBIT_S3_DEFAULT``
as JSON with ``login``, ``password`` and extras ``endpoint_url``, ``region_name``); the bucket
(which must exist) from ``ORBIT_EXAMPLES_BUCKET`` (default ``orbit-examples``); local files
under ``ORBIT_EXAMPLES_DIR`` (default ``/tmp/orbit-examples``). Local paths are shared between
tasks: run it on one machine (LocalExecutor) or point the folder at shared storage.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Asset, Param, task

from orbit_provider.operators.batch import OrbitBatchTagOperator
from orbit_provider.operators.transfer import OrbitDownloadOperator, OrbitUploadOperator
from orbit_provider.sensors.object import OrbitObjectSensor

BUCKET = os.environ.get("ORBIT_EXAMPLES_BUCKET", "orbit-examples")
WORK_DIR = os.environ.get("ORBIT_EXAMPLES_DIR", "/tmp/orbit-examples")
MIB = 1024 * 1024
RAW = Asset(f"s3://{BUCKET}/raw/")
# The logical date's day, or the trigger's day for a run without a logical date.
RUN_DATE = "{{ (dag_run.logical_date or dag_run.run_after) | ds }}"
PARTITION = f"raw/dt={RUN_DATE}/"
LOCAL = "{{ params.work_dir }}/lake/" + RUN_DATE
# A failed or killed task is retried; a retried upload resumes where the killed one stopped.
RETRIES = {"retries": 2, "retry_delay": timedelta(seconds=30)}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


with DAG(
    "orbit_example_lake_ingestion",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    # Two runs of one day (the scheduled one and a manual one, say) would write the same
    # local folder and partition at once: one run at a time.
    max_active_runs=1,
    default_args=RETRIES,
    params={
        "work_dir": Param(WORK_DIR, type="string", description="local scratch folder"),
        "files": Param(5, type="integer", minimum=1, description="small event files"),
        "large_mib": Param(12, type="integer", minimum=0, description="size of the large file"),
    },
    tags=["orbit", "example"],
) as ingestion:

    @task
    def generate(folder: str, files: str, large_mib: str) -> dict:
        """Write small JSON-lines files and one large binary file under data/, and a manifest
        of them beside it."""
        files, large_mib = int(files), int(large_mib)  # rendered templates are strings
        out = Path(folder) / "data"
        out.mkdir(parents=True, exist_ok=True)
        for i in range(files):
            rows = (json.dumps({"event": i * 1000 + n, "value": n * n}) for n in range(1000))
            (out / f"events-{i:03d}.jsonl").write_text("\n".join(rows) + "\n")
        if large_mib:
            (out / "blob.bin").write_bytes(os.urandom(large_mib * MIB))
        manifest = {p.name: {"size": p.stat().st_size, "sha256": sha256(p)}
                    for p in sorted(out.iterdir())}  # fmt: skip
        (Path(folder) / "_manifest.json").write_text(json.dumps(manifest, indent=1))
        return {"files": len(manifest), "bytes": sum(m["size"] for m in manifest.values())}

    generated = generate(LOCAL, "{{ params.files }}", "{{ params.large_mib }}")

    # [START howto_operator_orbit_upload]
    upload = OrbitUploadOperator(
        task_id="upload",
        bucket=BUCKET,
        source=LOCAL + "/data",
        prefix=PARTITION,
        storage_class="INTELLIGENT_TIERING",
        metadata={"source": "orbit-example", "run": "{{ run_id }}"},
        chunk_size=5 * MIB,
        parallel_operations=4,
    )
    # [END howto_operator_orbit_upload]

    # [START howto_sensor_orbit_object]
    landed = OrbitObjectSensor(
        task_id="landed",
        bucket=BUCKET,
        prefix=PARTITION,
        min_count=1,  # at least one data file
        no_pending_upload=True,  # and no multipart upload still open under the prefix
        poke_interval=5,
        timeout=600,
    )
    # [END howto_sensor_orbit_object]

    publish = OrbitUploadOperator(
        task_id="publish_manifest",
        bucket=BUCKET,
        source=LOCAL + "/_manifest.json",
        key=PARTITION + "_manifest.json",
        outlets=[RAW],  # the reader runs once the partition is complete
    )

    tag = OrbitBatchTagOperator(
        task_id="tag",
        bucket=BUCKET,
        prefix=PARTITION,
        tags={"layer": "raw", "dt": RUN_DATE},
    )

    generated >> upload >> landed >> publish >> tag


with DAG(
    "orbit_example_lake_reader",
    schedule=[RAW],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    default_args=RETRIES,
    params={"work_dir": Param(WORK_DIR, type="string")},
    tags=["orbit", "example"],
) as reader:
    # Reads the whole raw/ prefix; to read only the new partition, take it from
    # `triggering_asset_events` (the upstream run) in a template.
    download = OrbitDownloadOperator(
        task_id="download",
        bucket=BUCKET,
        prefix="raw/",
        dest="{{ params.work_dir }}/lake-reader/{{ run_id }}",
    )

    @task
    def check(summary: dict, folder: str) -> dict:
        """Every partition's files match its manifest (size and SHA-256)."""
        checked = 0
        partitions = sorted(Path(folder).glob("dt=*/_manifest.json"))
        for manifest_path in partitions:
            for name, want in json.loads(manifest_path.read_text()).items():
                path = manifest_path.parent / name
                if path.stat().st_size != want["size"] or sha256(path) != want["sha256"]:
                    raise ValueError(f"{path} does not match its manifest")
                checked += 1
        if not partitions:
            raise ValueError(f"no partition with a manifest under {folder}")
        return {"partitions": len(partitions), "files_checked": checked,
                "bytes_downloaded": summary["bytes"]}  # fmt: skip

    check(download.output, "{{ params.work_dir }}/lake-reader/{{ run_id }}")
