"""The DAG-test harness: a real dag.test() run against SeaweedFS, XComs and task logs read back."""

from __future__ import annotations

import time

import pendulum
from airflow.sdk import DAG, BaseOperator

from orbit_provider.hooks.orbit_s3 import OrbitS3Hook
from orbit_provider.operators.progress_sink import XCOM_KEY, ProgressSettings, run_with_progress
from orbit_provider.operators.summary import transfer_summary


class PutAndCopyOperator(BaseOperator):
    """A minimal operator built the way ours are: hook -> core call with progress -> summary."""

    template_fields = ("key",)

    def __init__(self, *, key: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.key = key

    def execute(self, context):
        client = OrbitS3Hook().get_client()
        client.upload_bytes(b"x" * 1024, self.key)
        result = run_with_progress(
            context,
            lambda reporter: client.copy_object(self.key, self.key + ".copy", progress=reporter),
            log=self.log,
            settings=ProgressSettings(xcom=True),
        )
        return transfer_summary([result], operation="copy", bucket=client.bucket)


class FailingOperator(BaseOperator):
    def execute(self, context):
        OrbitS3Hook().get_client().get_metadata("does/not/exist")


def test_dag_run_writes_objects_and_xcoms(dag_runner, orbit_conn, seaweed_client, capsys):
    with DAG("orbit_harness", schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as dag:
        PutAndCopyOperator(task_id="put", key="harness/{{ ds }}.bin")
    started = time.monotonic()
    result = dag_runner(dag)
    elapsed = time.monotonic() - started
    print(f"harness DAG run took {elapsed:.1f}s")  # informative only, never asserted
    assert result.state == "success", result.task_states()
    assert result.task_states() == {"put": "success"}
    summary = result.xcom("put")
    ds = result.dag_run.logical_date.strftime("%Y-%m-%d")
    assert summary["objects"][0]["key"] == f"harness/{ds}.bin.copy"
    assert summary["succeeded"] == 1 and summary["bytes"] == 1024
    progress = result.xcom("put", key=XCOM_KEY)
    assert progress["final"] is True and progress["percent"] == 100.0
    assert seaweed_client.download_bytes(f"harness/{ds}.bin.copy") == b"x" * 1024
    log = capsys.readouterr().out
    assert "orbit progress: copy 100.0%" in log


def test_a_failing_task_fails_the_run_without_raising(dag_runner, orbit_conn):
    with DAG("orbit_harness_fail", schedule=None, start_date=pendulum.datetime(2026, 1, 1)) as dag:
        FailingOperator(task_id="boom", retries=0)
    result = dag_runner(dag)
    assert result.state == "failed"
    assert result.task_states() == {"boom": "failed"}
    assert result.xcom("boom") is None
