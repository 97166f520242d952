"""Version rollback: a bad release overwrites good data; roll the prefix back to a moment.

Shows:
- ``OrbitVersioningOperator`` enabling versioning on the bucket;
- good files uploaded, the time captured, then a bad run: two files overwritten, one new
  file added, one file deleted (``OrbitBatchDeleteOperator`` leaves a delete marker);
- ``OrbitRollbackPrefixOperator`` bringing every key under the prefix back to the captured
  moment: old versions restored, the delete marker removed, the new key deleted (nothing is
  destroyed: each change adds history);
- a download of the prefix compared with the good files.

In production the timestamp would be a known-good moment, e.g. a Param, or
``"{{ data_interval_start }}"`` in a scheduled DAG (a run triggered without a logical date has
no data interval). The run's local files go under its ``run_id``, which every run has.
Failed tasks are retried (``retries``); each step is safe to repeat.
Params: ``prefix`` (default ``config/``), ``work_dir``. Connection:
``orbit_s3_default``; bucket (must exist): param ``bucket``, default ``ORBIT_EXAMPLES_BUCKET``
or ``orbit-examples``.
"""

from __future__ import annotations

import filecmp
import os
import time
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param, task

from orbit_provider.operators.batch import OrbitBatchDeleteOperator
from orbit_provider.operators.transfer import OrbitDownloadOperator, OrbitUploadOperator
from orbit_provider.operators.versioning import (
    OrbitRollbackPrefixOperator,
    OrbitVersioningOperator,
)

BUCKET = "{{ params.bucket }}"
PREFIX = "{{ params.prefix }}"
LOCAL = "{{ params.work_dir }}/rollback/{{ run_id }}"

GOOD = {"settings.json": '{"threshold": 10}\n', "rules.csv": "id,rule\n1,allow\n",
        "users.csv": "id,name\n1,ada\n"}  # fmt: skip
BAD = {"settings.json": '{"threshold": -1}\n', "rules.csv": "garbage", "extra.tmp": "oops"}

with DAG(
    "orbit_example_version_rollback",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "bucket": Param(os.environ.get("ORBIT_EXAMPLES_BUCKET", "orbit-examples"), type="string"),
        "prefix": Param("config/", type="string", pattern="^.+/$"),
        "work_dir": Param(os.environ.get("ORBIT_EXAMPLES_DIR", "/tmp/orbit-examples"),
                          type="string"),  # fmt: skip
    },
    tags=["orbit", "example"],
) as dag:
    versioning = OrbitVersioningOperator(
        task_id="enable_versioning", bucket=BUCKET, action="enable"
    )

    @task
    def write_files(folder: str, kind: str) -> str:
        # the contents come from the module, not as task arguments: arguments are Jinja
        # templates, and rendering drops a string's trailing newline
        Path(folder).mkdir(parents=True, exist_ok=True)
        for name, text in {"good": GOOD, "bad": BAD}[kind].items():
            (Path(folder) / name).write_text(text)
        return folder

    good = write_files.override(task_id="write_good")(LOCAL + "/good", "good")
    bad = write_files.override(task_id="write_bad")(LOCAL + "/bad", "bad")
    upload_good = OrbitUploadOperator(
        task_id="upload_good", bucket=BUCKET, source=LOCAL + "/good", prefix=PREFIX
    )

    @task
    def capture_time() -> str:
        """The known-good moment. S3 timestamps have one-second resolution: wait past it."""
        now = pendulum.now("UTC")
        time.sleep(1.5)
        return now.isoformat()

    good_time = capture_time()
    upload_bad = OrbitUploadOperator(
        task_id="upload_bad", bucket=BUCKET, source=LOCAL + "/bad", prefix=PREFIX
    )
    delete = OrbitBatchDeleteOperator(task_id="delete_users", bucket=BUCKET,
                                      keys=[PREFIX + "users.csv"])  # fmt: skip
    # [START howto_operator_orbit_rollback_prefix]
    rollback = OrbitRollbackPrefixOperator(
        task_id="rollback", bucket=BUCKET, prefix=PREFIX, timestamp=good_time
    )
    # [END howto_operator_orbit_rollback_prefix]
    download = OrbitDownloadOperator(
        task_id="download", bucket=BUCKET, prefix=PREFIX, dest=LOCAL + "/after"
    )

    @task
    def verify(good_dir: str, after_dir: str) -> dict:
        """After the rollback the prefix holds exactly the good files, byte for byte."""
        names = sorted(p.name for p in Path(after_dir).iterdir())
        same = filecmp.cmpfiles(good_dir, after_dir, sorted(GOOD), shallow=False)[0]
        if names != sorted(GOOD) or len(same) != len(GOOD):
            raise ValueError(f"after rollback: {names}, identical: {same}")
        return {"files": names, "identical": True}

    checked = verify(good, LOCAL + "/after")
    versioning >> good >> upload_good >> good_time >> bad >> upload_bad >> delete >> rollback
    rollback >> download >> checked
