"""Run a one-task download DAG with dag.test() in this process, for the kill-and-resume test.

Usage: python download_dag_child.py KEY DEST MAX_BANDWIDTH|none RESULT_JSON
The Airflow home, DB and AIRFLOW_CONN_ORBIT_S3_DEFAULT come from the environment (the test's).
Writes {"state", "summary"} to RESULT_JSON when the run ends.
"""

from __future__ import annotations

import json
import sys

import pendulum
from airflow.sdk import DAG

from orbit_provider.operators.transfer import OrbitDownloadOperator
from orbit_provider.s3.config import MIB
from tests.airflow_env import run_dag

DAG_ID = "orbit_download_resume"
PARALLEL = 2
CHUNK = 8 * MIB  # also the download's range size (its minimum is 8 MiB)


def build(key: str, dest: str, bandwidth: int | None) -> DAG:
    with DAG(DAG_ID, schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as dag:
        OrbitDownloadOperator(
            task_id="download", key=key, dest=dest, retries=0, max_bandwidth=bandwidth,
            client_options={"chunk_size": CHUNK, "parallel_operations": PARALLEL},
        )  # fmt: skip
    return dag


def main() -> None:
    key, dest, bandwidth, out = sys.argv[1:5]
    limit = None if bandwidth == "none" else int(bandwidth)
    result = run_dag(build(key, dest, limit))
    with open(out, "w") as fh:
        json.dump({"state": result.state, "summary": result.xcom("download")}, fh)


if __name__ == "__main__":
    main()
