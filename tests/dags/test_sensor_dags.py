"""The sensors inside real DAG runs (dag.test()): poke, reschedule and deferrable modes, against
SeaweedFS (objects) and moto's server (archive restore). Return XComs and task logs checked."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pendulum
import pytest
from airflow.sdk import DAG

from orbit_provider.sensors.archive import OrbitArchiveRestoreSensor
from orbit_provider.sensors.object import OrbitObjectSensor
from orbit_provider.testing.clients import client_for
from tests.triggers.helpers import use_connection

START = pendulum.datetime(2026, 1, 1, tz="UTC")


def _dag(name: str) -> DAG:
    return DAG(f"orbit_{name}_{uuid.uuid4().hex[:8]}", schedule=None, start_date=START)


class WhenThen(threading.Thread):
    """Runs `action` once `condition` (a DB query) holds, while dag.test() runs in the test."""

    def __init__(self, condition: Callable[[], bool], action: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.condition, self.action = condition, action
        self.fired = False
        self.error: BaseException | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_event.wait(0.1):
                if self.condition():
                    self.fired = True
                    self.action()
                    return
        except BaseException as exc:  # reported by the test
            self.error = exc

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)


def _rescheduled(dag_id: str) -> Callable[[], bool]:
    def check() -> bool:
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.taskreschedule import TaskReschedule
        from airflow.utils.session import create_session

        with create_session() as session:
            return (
                session.query(TaskReschedule)
                .join(TaskInstance, TaskInstance.id == TaskReschedule.ti_id)
                .filter(TaskInstance.dag_id == dag_id)
                .count()
                > 0
            )

    return check


def _deferred_to(classpath: str) -> Callable[[], bool]:
    def check() -> bool:
        from airflow.models.trigger import Trigger
        from airflow.utils.session import create_session

        with create_session() as session:
            return session.query(Trigger).filter(Trigger.classpath == classpath).count() > 0

    return check


def _run_with(dag_runner, dag: DAG, helper: WhenThen):
    helper.start()
    try:
        result = dag_runner(dag)
    finally:
        helper.stop()
    if helper.error:
        raise helper.error
    return result


def test_object_sensor_poke_mode_with_templated_key(dag_runner, orbit_conn, seaweed_client, capsys):
    with _dag("sensor_poke") as dag:
        OrbitObjectSensor(
            task_id="wait", bucket=orbit_conn, key="in/{{ ds }}.csv", min_size=4, poke_interval=1
        )
    ds = START.strftime("%Y-%m-%d")
    put = seaweed_client.upload_bytes(b"a,b\n1,2\n", f"in/{ds}.csv")
    result = dag_runner(dag, logical_date=START)
    assert result.task_states() == {"wait": "success"}
    summary = result.xcom("wait")
    assert summary["bucket"] == orbit_conn and summary["count"] == 1
    assert summary["keys"][0] == {
        **summary["keys"][0], "key": f"in/{ds}.csv", "size": 8, "etag": put.etag
    }
    assert f"Condition met: s3://{orbit_conn}/in/{ds}.csv is ready" in capsys.readouterr().out


def test_object_sensor_reschedule_mode(dag_runner, orbit_conn, seaweed_client, capsys):
    with _dag("sensor_reschedule") as dag:
        OrbitObjectSensor(
            task_id="wait", bucket=orbit_conn, prefix="batch/", min_count=2, mode="reschedule",
            poke_interval=1, timeout=300,
        )
    seaweed_client.upload_bytes(b"1", "batch/one")

    def second_file() -> None:
        seaweed_client.upload_bytes(b"22", "batch/two")

    result = _run_with(dag_runner, dag, WhenThen(_rescheduled(dag.dag_id), second_file))
    assert result.task_states() == {"wait": "success"}
    assert _rescheduled(dag.dag_id)()  # the first poke freed the slot and was rescheduled
    summary = result.xcom("wait")
    assert summary["count"] == 2 and summary["total_size"] == 3
    log = capsys.readouterr().out
    assert "1 object(s), waiting for 2" in log and "2 object(s) ready" in log


def test_object_sensor_deferrable(dag_runner, orbit_conn, seaweed_client, capsys):
    with _dag("sensor_deferred") as dag:
        OrbitObjectSensor(
            task_id="wait", bucket=orbit_conn, key="late/result.parquet", deferrable=True,
            poke_interval=0.5, timeout=300,
        )

    def write() -> None:
        seaweed_client.upload_bytes(b"P" * 300, "late/result.parquet")

    helper = WhenThen(_deferred_to("orbit_provider.triggers.object.OrbitObjectTrigger"), write)
    result = _run_with(dag_runner, dag, helper)
    assert helper.fired  # it deferred to our trigger, and only then did the object appear
    assert result.task_states() == {"wait": "success"}
    summary = result.xcom("wait")
    assert summary["keys"][0]["key"] == "late/result.parquet"
    assert summary["total_size"] == 300
    assert "Condition met" in capsys.readouterr().out


def test_object_sensor_deferrable_timeout_fails_the_task(dag_runner, orbit_conn, capsys):
    with _dag("sensor_deferred_timeout") as dag:
        OrbitObjectSensor(
            task_id="wait", bucket=orbit_conn, key="never.csv", deferrable=True,
            poke_interval=0.2, timeout=1, retries=0,
        )
    result = dag_runner(dag)
    assert result.state == "failed"
    assert result.task_states() == {"wait": "failed"}
    assert result.xcom("wait") is None
    log = capsys.readouterr().out
    assert "AirflowSensorTimeout" in log and "never.csv does not exist yet" in log


@pytest.fixture
def moto_conn(monkeypatch, moto_server, moto_server_bucket, airflow_db):
    use_connection(monkeypatch, moto_server)
    return moto_server_bucket, client_for(moto_server, moto_server_bucket)


def test_archive_restore_sensor_deferrable(dag_runner, moto_conn):
    bucket, client = moto_conn
    client.upload_bytes(b"frozen", "vault/a.csv", storage_class="GLACIER")
    client.upload_bytes(b"warm", "vault/b.csv")
    with _dag("archive_deferred") as dag:
        OrbitArchiveRestoreSensor(
            task_id="restored", bucket=bucket, keys=["vault/a.csv", "vault/b.csv"],
            deferrable=True, poke_interval=0.5, timeout=300,
        )

    def restore() -> None:
        client.s3.restore_object(
            Bucket=bucket, Key="vault/a.csv",
            RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": "Standard"}},
        )

    helper = WhenThen(
        _deferred_to("orbit_provider.triggers.archive.OrbitArchiveRestoreTrigger"), restore
    )
    result = _run_with(dag_runner, dag, helper)
    assert helper.fired
    assert result.task_states() == {"restored": "success"}
    summary = result.xcom("restored")
    assert summary["readable"] == 2 and summary["restored"] == ["vault/a.csv"]
    assert client.download_bytes("vault/a.csv") == b"frozen"


def test_archive_restore_sensor_not_requested_fails(dag_runner, moto_conn, capsys):
    bucket, client = moto_conn
    client.upload_bytes(b"frozen", "vault/a.csv", storage_class="DEEP_ARCHIVE")
    with _dag("archive_not_requested") as dag:
        OrbitArchiveRestoreSensor(
            task_id="restored", bucket=bucket, keys=["vault/a.csv"], fail_if_not_requested=True,
            retries=0,
        )
    result = dag_runner(dag)
    assert result.task_states() == {"restored": "failed"}
    assert "no restore was requested: vault/a.csv" in capsys.readouterr().out
