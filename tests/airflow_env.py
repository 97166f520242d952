"""A throwaway Airflow environment for DAG tests: AIRFLOW_HOME, migrated DB, run_dag().

`configure_airflow_home()` runs from the root conftest's pytest_configure, before anything
imports airflow (airflow reads its configuration at import). `migrate_db()` runs once per
session (the `airflow_db` fixture). `run_dag(dag)` syncs the DAG to the DB, runs `dag.test()`
and returns a `DagRunResult` to read task states and XComs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_OWN_HOME_VAR = "_ORBIT_TEST_AIRFLOW_HOME"


def configure_airflow_home() -> Path:
    """Point AIRFLOW_HOME (and the dags folder) at a fresh temporary folder, once."""
    existing = os.environ.get(_OWN_HOME_VAR)
    if existing:
        return Path(existing)
    home = Path(tempfile.mkdtemp(prefix="orbit-airflow-home-"))
    (home / "dags").mkdir()
    os.environ[_OWN_HOME_VAR] = str(home)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(home / "dags")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    os.environ.pop("AIRFLOW_CONFIG", None)
    return home


def remove_airflow_home() -> None:
    home = os.environ.get(_OWN_HOME_VAR)
    if home:
        shutil.rmtree(home, ignore_errors=True)


def migrate_db() -> None:
    """`airflow db migrate` in the test AIRFLOW_HOME (a subprocess: about 3 s on SQLite)."""
    home = configure_airflow_home()
    if (home / ".migrated").exists():
        return
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=dict(os.environ),
        timeout=300,
    )
    (home / ".migrated").touch()


def connection_env(conn_id: str, **fields: Any) -> tuple[str, str]:
    """(env var name, JSON value) defining an Airflow connection, e.g. for monkeypatch.setenv."""
    return f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields)


@dataclass
class DagRunResult:
    """A finished test run: its state, each task's state, and its XComs."""

    dag_run: Any

    @property
    def state(self) -> str:
        return str(self.dag_run.state)

    @property
    def dag_id(self) -> str:
        return self.dag_run.dag_id

    @property
    def run_id(self) -> str:
        return self.dag_run.run_id

    def task_states(self) -> dict[str, str]:
        """task_id (with `[map_index]` for mapped tasks) -> state."""
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        with create_session() as session:
            tis = (
                session.query(TaskInstance)
                .filter_by(dag_id=self.dag_id, run_id=self.run_id)
                .all()
            )
            return {
                ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): str(ti.state)
                for ti in tis
            }

    def xcom(self, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        """The deserialized XCom value (None when absent)."""
        values = self.xcoms(task_id, key)
        return values.get(map_index)

    def xcoms(self, task_id: str, key: str = "return_value") -> dict[int, Any]:
        """map_index -> deserialized XCom value for every instance of `task_id`."""
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = (
                session.query(XComModel)
                .filter_by(dag_id=self.dag_id, run_id=self.run_id, task_id=task_id, key=key)
                .all()
            )
            return {row.map_index: XComModel.deserialize_value(row) for row in rows}


def sync_dag(dag: Any) -> None:
    """Serialize `dag` into the DB so dag.test() finds it without a file in the dags folder."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)


def run_dag(dag: Any, **test_kwargs: Any) -> DagRunResult:
    """Sync `dag` to the DB and run it once with dag.test(); never raises on task failure."""
    migrate_db()
    sync_dag(dag)
    dag_run = dag.test(**test_kwargs)
    return DagRunResult(dag_run)


# -- fixtures (registered for every test through `pytest_plugins` in tests/conftest.py) ----

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated Airflow metadata DB in the test AIRFLOW_HOME (once per session)."""
    migrate_db()


@pytest.fixture
def orbit_conn(monkeypatch: pytest.MonkeyPatch, seaweed, seaweed_bucket: str) -> str:
    """AIRFLOW_CONN_ORBIT_S3_DEFAULT (JSON) for the SeaweedFS server; returns its bucket."""
    name, value = connection_env(
        "orbit_s3_default",
        conn_type="orbit_s3",
        login=seaweed.access_key,
        password=seaweed.secret_key,
        extra={
            "endpoint_url": seaweed.endpoint,
            "region_name": "us-east-1",
            "force_path_style": True,
            "bucket": seaweed_bucket,
        },
    )
    monkeypatch.setenv(name, value)
    return seaweed_bucket


@pytest.fixture
def dag_runner(airflow_db) -> Any:
    """`run_dag` with the DB ready: `result = dag_runner(dag)`."""
    return run_dag
