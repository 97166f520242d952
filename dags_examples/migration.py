"""Cloud migration: mirror a local tree to a prefix; re-runs upload only what changed.

Shows ``OrbitUploadOperator(skip_if_identical=True)``: each file is compared with its object
(size, then CRC32 / composite CRC32 of the parts / MD5 ETag) and identical ones are skipped,
so the DAG can run again and again (or be backfilled) while a migration is in progress. It
copies new and changed files; it deletes nothing on either side. A failed or killed run is
retried, and a large file's upload resumes from the parts already uploaded.

Params: ``source_dir`` (default ``ORBIT_EXAMPLES_DIR``/migration-source, filled with a small
sample tree when empty so the DAG runs as is), ``dest_prefix`` (default ``migrated/``),
``bucket`` (must exist; default ``ORBIT_EXAMPLES_BUCKET`` or ``orbit-examples``).
Connection: ``orbit_s3_default`` (``AIRFLOW_CONN_ORBIT_S3_DEFAULT``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Param, task

from orbit_provider.operators.transfer import OrbitUploadOperator

WORK_DIR = os.environ.get("ORBIT_EXAMPLES_DIR", "/tmp/orbit-examples")

with DAG(
    "orbit_example_migration",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "bucket": Param(os.environ.get("ORBIT_EXAMPLES_BUCKET", "orbit-examples"), type="string"),
        "source_dir": Param(f"{WORK_DIR}/migration-source", type="string"),
        "dest_prefix": Param("migrated/", type="string", pattern="^.+/$"),
    },
    tags=["orbit", "example"],
) as dag:

    @task
    def sample_tree_if_empty(source_dir: str) -> int:
        """Create a small sample tree when the source folder is missing or empty."""
        root = Path(source_dir)
        if root.is_dir() and any(root.iterdir()):
            return 0
        for team in ("finance", "ops"):
            for month in ("2025-11", "2025-12"):
                folder = root / team / month
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "report.csv").write_text(f"team,month\n{team},{month}\n" * 200)
        (root / "finance" / "ledger.bin").write_bytes(os.urandom(6 * 1024 * 1024))
        return sum(1 for p in root.rglob("*") if p.is_file())

    mirror = OrbitUploadOperator(
        task_id="mirror",
        bucket="{{ params.bucket }}",
        source="{{ params.source_dir }}",
        prefix="{{ params.dest_prefix }}",
        skip_if_identical=True,
        metadata={"migrated-by": "{{ dag.dag_id }}"},
    )

    sample_tree_if_empty("{{ params.source_dir }}") >> mirror
