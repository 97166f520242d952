"""`make demo`: two example DAGs run with dag.test() against SeaweedFS on loopback.

Starts SeaweedFS, makes a throwaway AIRFLOW_HOME with a migrated SQLite DB (no Airflow
services), runs dags_examples/lake_ingestion.py (upload, sensor, tags) and
dags_examples/batch_archive.py (list into shards, mapped copy, tag, storage class, mapped
delete), prints the task-log progress lines and the returned summaries, stops the server.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from orbit_provider.testing.airflow_run import (
    configure_airflow_home,
    migrate_db,
    remove_airflow_home,
    server_connection,
)
from orbit_provider.testing.clients import create_bucket
from orbit_provider.testing.seaweedfs import SeaweedServer

EXAMPLES = Path(__file__).resolve().parents[1] / "dags_examples"
BUCKET = "orbit-examples"
SHOWN = ("[DAG TEST] starting", "orbit progress:", "Condition met", "listed ", "uploading ")
_TASK = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)")


class TaskLogFilter(io.TextIOBase):
    """Passes on only the task-log lines worth showing (progress, task starts), trimmed."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if any(marker in line for marker in SHOWN):
                self.out.write("    " + _trim(line) + "\n")
        self.out.flush()
        return len(text)


def _trim(line: str) -> str:
    """A structlog line without its timestamp, level and source location."""
    task = _TASK.search(line)
    if task:
        name, index = task.groups()
        return f"task {name}" + (f"[{index}]" if index != "-1" else "")
    if "] " in line:
        line = line.split("] ", 1)[1]
    line = line.split(" [airflow.", 1)[0].split(" [orbit_provider", 1)[0]
    return "  " + line.split(" loc=", 1)[0].strip()


def run(dag: Any, **kwargs: Any) -> Any:
    from orbit_provider.testing.airflow_run import run_dag

    started = time.monotonic()
    shown = TaskLogFilter(sys.stdout)
    # dag.test()'s own log lines (task starts) go through logging, the task logs to stdout
    dag_log = logging.getLogger("airflow.sdk.definitions.dag")
    handler = logging.StreamHandler(shown)
    dag_log.addHandler(handler)
    dag_log.propagate = False
    try:
        with contextlib.redirect_stdout(shown):
            result = run_dag(dag, **kwargs)
    finally:
        dag_log.removeHandler(handler)
        dag_log.propagate = True
    print(f"  -> {result.dag_id}: {result.state} in {time.monotonic() - started:.1f}s")
    if result.state != "success":
        raise SystemExit(f"demo: {result.dag_id} did not succeed: {result.task_states()}")
    return result


def main() -> int:
    if not (EXAMPLES / "lake_ingestion.py").exists():
        print(f"demo: needs the example DAGs in {EXAMPLES} (run it from a source checkout)")
        return 1
    configure_airflow_home(prefix="orbit-demo-airflow-")  # before airflow is imported
    work = Path(tempfile.mkdtemp(prefix="orbit-demo-data-"))
    t0 = time.monotonic()
    try:
        with SeaweedServer() as server:
            print(f"SeaweedFS S3 on {server.endpoint} (loopback only, telemetry off)")
            create_bucket(server, BUCKET)
            name, value = server_connection(server)
            os.environ.update({
                name: value, "ORBIT_EXAMPLES_BUCKET": BUCKET,
                "ORBIT_EXAMPLES_DIR": str(work), "ORBIT_EXAMPLES_SHARD_SIZE": "2",
            })  # fmt: skip
            print("airflow db migrate (throwaway AIRFLOW_HOME, SQLite) ...")
            migrate_db()
            from orbit_provider.testing.airflow_run import load_dags

            print("\n1) dags_examples/lake_ingestion.py: generate, upload, sense, tag")
            lake = load_dags(EXAMPLES / "lake_ingestion.py")["orbit_example_lake_ingestion"]
            ingest = run(lake, run_conf={"files": 5, "large_mib": 32})
            up, tag = ingest.xcom("upload"), ingest.xcom("tag")
            partition = f"raw/dt={ingest.dag_run.logical_date:%Y-%m-%d}/"
            print(
                f"  upload summary: {up['succeeded']} objects, {up['bytes'] / 2**20:.1f} MiB, "
                f"{up['throughput_mib_s']:.0f} MiB/s, {up['duration_seconds']:.2f}s; "
                f"sensor saw {ingest.xcom('landed')['count']} objects; "
                f"tagged {tag['succeeded']}"
            )

            print("\n2) dags_examples/batch_archive.py: list into shards, mapped copy to "
                  "archive/ (storage class set in the copy), tag, mapped delete")  # fmt: skip
            archive = load_dags(EXAMPLES / "batch_archive.py")["orbit_example_batch_archive"]
            report = run(archive).xcom("report")
            print(
                f"  report: {report['keys']} keys in {report['shards']} shards: copied "
                f"{report['copied']} (re-tiered in the same request), tagged "
                f"{report['tagged']}, {report['bytes_archived'] / 2**20:.1f} MiB archived, "
                f"deleted {report['deleted']}; every key accounted for once: "
                f"{report['accounted']}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        remove_airflow_home()
    print(
        f"\nDone in {time.monotonic() - t0:.0f}s: {up['bytes'] / 2**20:.1f} MiB went to "
        f"s3://{BUCKET}/{partition} at {up['throughput_mib_s']:.0f} MiB/s, then to "
        f"archive/{partition} on SeaweedFS {server.endpoint} (now stopped)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
