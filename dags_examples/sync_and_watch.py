"""Sync a folder, wait until the prefix settles, then work on it in mapped shards.

Shows:
- ``OrbitSyncOperator``: a local folder mirrored to ``s3://bucket/synced/`` (identical files
  skipped, so a re-run sends only what changed);
- ``OrbitPrefixUnchangedSensor``: waits until nothing under the prefix has changed for an
  inactivity period (like ``S3KeysUnchangedSensor``);
- ``OrbitAbortIncompleteUploadsOperator``: multipart uploads left behind under the prefix
  (older than an hour) are aborted, so they stop costing storage;
- ``OrbitAggregateSummariesOperator``: the summaries of a mapped ``OrbitBatchTagOperator``
  summed into one, every key accounted for once.

Params: ``bucket`` (must exist; default ``ORBIT_EXAMPLES_BUCKET`` or ``orbit-examples``),
``source_dir`` (default ``ORBIT_EXAMPLES_DIR``/sync-source, filled with a few sample files
when empty). Connection: ``orbit_s3_default`` (``AIRFLOW_CONN_ORBIT_S3_DEFAULT``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param, task

from orbit_provider.operators.aggregate import OrbitAggregateSummariesOperator
from orbit_provider.operators.batch import OrbitBatchTagOperator
from orbit_provider.operators.listing import OrbitListKeysOperator
from orbit_provider.operators.sync import OrbitSyncOperator
from orbit_provider.operators.uploads import OrbitAbortIncompleteUploadsOperator
from orbit_provider.sensors.unchanged import OrbitPrefixUnchangedSensor

WORK_DIR = os.environ.get("ORBIT_EXAMPLES_DIR", "/tmp/orbit-examples")
BUCKET = "{{ params.bucket }}"

with DAG(
    "orbit_example_sync_and_watch",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "bucket": Param(os.environ.get("ORBIT_EXAMPLES_BUCKET", "orbit-examples"), type="string"),
        "source_dir": Param(f"{WORK_DIR}/sync-source", type="string"),
    },
    tags=["orbit", "example"],
) as dag:

    @task
    def sample_files_if_empty(source_dir: str) -> int:
        """A few sample files when the source folder is missing or empty."""
        root = Path(source_dir)
        if not (root.is_dir() and any(root.iterdir())):
            for i in range(5):
                (root / "daily").mkdir(parents=True, exist_ok=True)
                (root / "daily" / f"part-{i}.csv").write_text(f"id,value\n{i},{i * i}\n")
        return sum(1 for p in root.rglob("*") if p.is_file())

    files = sample_files_if_empty("{{ params.source_dir }}")

    # [START howto_operator_orbit_sync]
    sync = OrbitSyncOperator(
        task_id="sync",
        source="{{ params.source_dir }}",
        dest="s3://{{ params.bucket }}/synced/",
        delete_extraneous=False,  # True also deletes what the folder no longer has
    )
    # [END howto_operator_orbit_sync]

    # [START howto_sensor_orbit_prefix_unchanged]
    settled = OrbitPrefixUnchangedSensor(
        task_id="settled",
        bucket=BUCKET,
        prefix="synced/",
        inactivity_period=5,  # seconds without a new, changed or deleted object
        min_objects=1,
        poke_interval=1,
        timeout=600,
    )
    # [END howto_sensor_orbit_prefix_unchanged]

    # [START howto_operator_orbit_abort_incomplete_uploads]
    abort_stale = OrbitAbortIncompleteUploadsOperator(
        task_id="abort_stale_uploads", bucket=BUCKET, prefix="synced/", older_than="PT1H"
    )
    # [END howto_operator_orbit_abort_incomplete_uploads]

    shards = OrbitListKeysOperator(task_id="list", bucket=BUCKET, prefix="synced/", shard_size=2)
    tag = OrbitBatchTagOperator.partial(
        task_id="tag", bucket=BUCKET, tags={"synced": "yes"}
    ).expand(keys=shards.output)

    # [START howto_operator_orbit_aggregate_summaries]
    total = OrbitAggregateSummariesOperator(
        task_id="total",
        summaries=tag.output,
        expected_total="{{ ti.xcom_pull(task_ids='list') | map('length') | sum }}",
        fail_on_failures=True,
    )
    # [END howto_operator_orbit_aggregate_summaries]

    files >> sync >> settled >> abort_stale >> shards
