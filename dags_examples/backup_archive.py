"""Backup and archive: a database dump to GLACIER, restored, downloaded and verified.

Shows:
- ``OrbitUploadOperator`` with ``storage_class="GLACIER"`` and ``sse="AES256"``;
- ``OrbitArchiveRestoreOperator`` requesting a restore (RestoreObject, days and tier);
- ``OrbitArchiveRestoreSensor(deferrable=True)`` waiting in the triggerer, not in a worker
  slot (on AWS a Standard restore takes hours);
- ``OrbitDownloadOperator`` bringing the restored copy back and a SHA-256 comparison;
- retries: a killed upload or download is retried and resumes from what is already done.

The dump is keyed by the run's date: the logical date, or the trigger's day for a run
triggered without one (``RUN_DATE`` works for both).

Connection: ``orbit_s3_archive`` (``AIRFLOW_CONN_ORBIT_S3_ARCHIVE``), or the id in
``ORBIT_EXAMPLES_ARCHIVE_CONN_ID``. It is a separate id because a store must support archive
classes and RestoreObject: AWS S3 does, SeaweedFS does not (the tests use moto's server).
On AWS it can name the same account as ``orbit_s3_default``. Bucket (must exist):
``ORBIT_EXAMPLES_ARCHIVE_BUCKET``, else ``ORBIT_EXAMPLES_BUCKET``, else ``orbit-examples``.
Local files go under ``ORBIT_EXAMPLES_DIR`` (default ``/tmp/orbit-examples``).
"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param, task

from orbit_provider.operators.archive import OrbitArchiveRestoreOperator
from orbit_provider.operators.transfer import OrbitDownloadOperator, OrbitUploadOperator
from orbit_provider.sensors.archive import OrbitArchiveRestoreSensor

CONN_ID = os.environ.get("ORBIT_EXAMPLES_ARCHIVE_CONN_ID", "orbit_s3_archive")
BUCKET = os.environ.get(
    "ORBIT_EXAMPLES_ARCHIVE_BUCKET", os.environ.get("ORBIT_EXAMPLES_BUCKET", "orbit-examples")
)
WORK_DIR = os.environ.get("ORBIT_EXAMPLES_DIR", "/tmp/orbit-examples")
RUN_DATE = "{{ (dag_run.logical_date or dag_run.run_after) | ds }}"
KEY = f"backups/db/{RUN_DATE}/dump.sql"
LOCAL = "{{ params.work_dir }}/backup/" + RUN_DATE


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


with DAG(
    "orbit_example_backup_archive",
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "work_dir": Param(WORK_DIR, type="string", description="local scratch folder"),
        "rows": Param(100_000, type="integer", minimum=1, description="rows in the dump"),
    },
    tags=["orbit", "example"],
) as dag:

    @task
    def dump_database(folder: str, rows: str) -> dict:
        """Stand-in for pg_dump: a SQL file of INSERTs; returns its path, size and SHA-256."""
        path = Path(folder) / "dump.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as f:
            f.write("CREATE TABLE orders (id bigint, customer text, amount numeric);\n")
            for i in range(int(rows)):
                f.write(f"INSERT INTO orders VALUES ({i}, 'customer-{i % 977}', {i * 3.07:.2f});\n")
        return {"path": str(path), "size": path.stat().st_size, "sha256": sha256(path)}

    dump = dump_database(LOCAL, "{{ params.rows }}")

    upload = OrbitUploadOperator(
        task_id="upload",
        orbit_conn_id=CONN_ID,
        bucket=BUCKET,
        source=LOCAL + "/dump.sql",
        key=KEY,
        storage_class="GLACIER",
        sse="AES256",
        metadata={"sha256": "{{ ti.xcom_pull(task_ids='dump_database')['sha256'] }}"},
    )

    # [START howto_operator_orbit_archive_restore]
    request_restore = OrbitArchiveRestoreOperator(
        task_id="request_restore",
        orbit_conn_id=CONN_ID,
        bucket=BUCKET,
        keys=[KEY],
        days=1,
        tier="Standard",
    )
    # [END howto_operator_orbit_archive_restore]

    # [START howto_sensor_orbit_archive_restore]
    restored = OrbitArchiveRestoreSensor(
        task_id="restored",
        orbit_conn_id=CONN_ID,
        bucket=BUCKET,
        keys=[KEY],
        fail_if_not_requested=True,
        deferrable=True,
        poke_interval=600,  # the first check is immediate; then every 10 minutes
        timeout=2 * 24 * 3600,
    )
    # [END howto_sensor_orbit_archive_restore]

    # [START howto_operator_orbit_download]
    download = OrbitDownloadOperator(
        task_id="download",
        orbit_conn_id=CONN_ID,
        bucket=BUCKET,
        key=KEY,
        dest=LOCAL + "/restored/dump.sql",
    )
    # [END howto_operator_orbit_download]

    @task
    def verify(dumped: dict, downloaded: dict) -> dict:
        """The restored file is byte-identical to the dump (SHA-256)."""
        path = downloaded["objects"][0]["path"]
        restored_sha = sha256(path)
        if restored_sha != dumped["sha256"]:
            raise ValueError(f"{path}: SHA-256 {restored_sha} != {dumped['sha256']}")
        return {"key": downloaded["objects"][0]["key"], "size": dumped["size"],
                "sha256": restored_sha, "verified": True}  # fmt: skip

    dump >> upload >> request_restore >> restored >> download
    verify(dump, download.output)
