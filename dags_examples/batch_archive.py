"""Batch archive and clean-up: one batch spread over many workers with dynamic task mapping.

Shows:
- ``OrbitListKeysOperator`` listing a prefix into shards of keys;
- ``OrbitBatchCopyOperator.partial(...).expand(keys=...)``: one mapped task per shard, each a
  concurrent server-side copy to ``archive/`` that sets the archive's storage class and
  metadata in the copy request itself (each object is written once; a retried shard skips
  what is already copied);
- ``OrbitBatchTagOperator`` over the archived prefix (tags are not a rewrite);
- ``OrbitBatchDeleteOperator.partial(...).expand(keys=...)`` deleting the originals, only
  after everything before succeeded;
- ``aggregate_batch_summaries`` summing the mapped summaries and checking every key is
  accounted for exactly once;
- retries: a failed or killed shard is retried and redoes only what is not done yet.

``raw/x`` is archived as ``archive/raw/x``. Params: ``source_prefix`` (default ``raw/``),
``archive_prefix`` (``archive/``); keys per mapped task from ``ORBIT_EXAMPLES_SHARD_SIZE``
(default 500); the archive's storage class is ``GLACIER_IR`` (instant retrieval).

Connection: ``orbit_s3_default`` (``AIRFLOW_CONN_ORBIT_S3_DEFAULT``). Bucket (must exist):
param ``bucket``, default ``ORBIT_EXAMPLES_BUCKET`` or ``orbit-examples``.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param, task

from orbit_provider.operators.aggregate import aggregate_batch_summaries
from orbit_provider.operators.batch import (
    OrbitBatchCopyOperator,
    OrbitBatchDeleteOperator,
    OrbitBatchTagOperator,
)
from orbit_provider.operators.listing import OrbitListKeysOperator

SHARD_SIZE = int(os.environ.get("ORBIT_EXAMPLES_SHARD_SIZE", "500"))
BUCKET = "{{ params.bucket }}"
ARCHIVED = "{{ params.archive_prefix }}{{ params.source_prefix }}"
# The logical date's day, or the trigger's day for a run without a logical date (this DAG
# has no schedule: a manual or API-triggered run has no logical date unless it is given one).
RUN_DATE = "{{ (dag_run.logical_date or dag_run.run_after) | ds }}"

with DAG(
    "orbit_example_batch_archive",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "bucket": Param(os.environ.get("ORBIT_EXAMPLES_BUCKET", "orbit-examples"), type="string"),
        "source_prefix": Param("raw/", type="string", pattern="^.+/$"),
        "archive_prefix": Param("archive/", type="string", pattern="^.+/$"),
    },
    tags=["orbit", "example"],
) as dag:
    # [START howto_operator_orbit_list_keys]
    shards = OrbitListKeysOperator(
        task_id="list", bucket=BUCKET, prefix="{{ params.source_prefix }}", shard_size=SHARD_SIZE
    )
    # [END howto_operator_orbit_list_keys]

    # [START howto_operator_orbit_batch_copy]
    copy = OrbitBatchCopyOperator.partial(
        task_id="copy",
        bucket=BUCKET,
        dest_prefix="{{ params.archive_prefix }}",
        strip_prefix="",  # keep the whole key below archive/
        storage_class="GLACIER_IR",  # set by the copy itself: no second rewrite to re-tier
        metadata={"archived-by": "{{ dag.dag_id }}"},
        max_concurrent=16,
    ).expand(keys=shards.output)
    # [END howto_operator_orbit_batch_copy]

    # [START howto_operator_orbit_batch_tag]
    tag = OrbitBatchTagOperator(
        task_id="tag", bucket=BUCKET, prefix=ARCHIVED,
        tags={"archived": RUN_DATE, "by": "{{ dag.dag_id }}"},
    )
    # [END howto_operator_orbit_batch_tag]

    # [START howto_operator_orbit_batch_delete]
    delete = OrbitBatchDeleteOperator.partial(task_id="delete_originals", bucket=BUCKET).expand(
        keys=shards.output
    )
    # [END howto_operator_orbit_batch_delete]

    @task
    def report(listed: list, copies: list, tagged: dict, deletes: list) -> dict:
        """One summary per step; the mapped ones summed, every key accounted for once."""
        total = sum(len(keys) for keys in listed)
        copied = aggregate_batch_summaries(copies, expected_total=total)
        deleted = aggregate_batch_summaries(deletes, expected_total=total)
        return {
            "keys": total,
            "shards": len(listed),
            "copied": copied["succeeded"],
            "copied_already_done": copied["already_done"],
            "tagged": tagged["succeeded"],
            "bytes_archived": tagged["bytes"],  # the archived prefix, listed with sizes
            "deleted": deleted["succeeded"],
            "accounted": copied["accounted"] and deleted["accounted"],
        }

    copy >> tag >> delete
    report(shards.output, copy.output, tag.output, delete.output)
