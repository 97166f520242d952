"""Run a one-task upload DAG with dag.test() in this process, for the kill-and-resume test.

Usage: python upload_dag_child.py SOURCE KEY MAX_BANDWIDTH|none RESULT_JSON
The Airflow home, DB and AIRFLOW_CONN_ORBIT_S3_DEFAULT come from the environment (the test's).
Writes {"state", "summary", "progress"} to RESULT_JSON when the run ends.
"""

from __future__ import annotations

import json
import sys

import pendulum
from airflow.sdk import DAG

from orbit_provider.operators.progress_sink import XCOM_KEY
from orbit_provider.operators.transfer import OrbitUploadOperator
from orbit_provider.s3.config import MIB
from tests.airflow_env import run_dag

DAG_ID = "orbit_upload_resume"


def build(source: str, key: str, bandwidth: int | None) -> DAG:
    with DAG(DAG_ID, schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as dag:
        OrbitUploadOperator(
            task_id="upload", source=source, key=key, retries=0, max_bandwidth=bandwidth,
            client_options={"chunk_size": 5 * MIB, "parallel_operations": 2},
            progress_xcom=True,
        )  # fmt: skip
    return dag


def main() -> None:
    source, key, bandwidth, out = sys.argv[1:5]
    limit = None if bandwidth == "none" else int(bandwidth)
    result = run_dag(build(source, key, limit))
    with open(out, "w") as fh:
        json.dump(
            {"state": result.state, "summary": result.xcom("upload"),
             "progress": result.xcom("upload", key=XCOM_KEY)},
            fh,
        )  # fmt: skip


if __name__ == "__main__":
    main()
