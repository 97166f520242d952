"""Run DAGs with `dag.test()` in a throwaway Airflow environment: no Airflow services needed.

Shared by the DAG tests (tests/airflow_env.py) and `make demo`. `configure_airflow_home()`
must run before anything imports airflow (airflow reads its configuration at import);
`migrate_db()` runs `airflow db migrate` once; `run_dag(dag)` syncs the DAG to the DB, runs
`dag.test()` and returns a `DagRunResult` to read task states and XComs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_OWN_HOME_VAR = "_ORBIT_TEST_AIRFLOW_HOME"


def configure_airflow_home(prefix: str = "orbit-airflow-home-") -> Path:
    """Point AIRFLOW_HOME (and the dags folder) at a fresh temporary folder, once per process
    tree (children inherit it through the environment)."""
    existing = os.environ.get(_OWN_HOME_VAR)
    if existing:
        return Path(existing)
    home = Path(tempfile.mkdtemp(prefix=prefix))
    (home / "dags").mkdir()
    os.environ[_OWN_HOME_VAR] = str(home)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(home / "dags")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    os.environ.pop("AIRFLOW_CONFIG", None)
    return home


def forget_airflow_home() -> None:
    """Forget an AIRFLOW_HOME inherited from a parent process (without deleting it), so that
    the next `configure_airflow_home` makes one of this process's own."""
    os.environ.pop(_OWN_HOME_VAR, None)


def remove_airflow_home() -> None:
    """Delete the folder `configure_airflow_home` made (and forget it)."""
    home = os.environ.pop(_OWN_HOME_VAR, None)
    if home:
        shutil.rmtree(home, ignore_errors=True)


def migrate_db() -> None:
    """`airflow db migrate` in the configured AIRFLOW_HOME (a subprocess: about 3 s, SQLite)."""
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


def server_connection(
    server: Any, conn_id: str = "orbit_s3_default", **extra: Any
) -> tuple[str, str]:
    """`connection_env` for a local SeaweedServer or MotoServer (path-style, us-east-1)."""
    return connection_env(
        conn_id,
        conn_type="orbit_s3",
        login=server.access_key,
        password=server.secret_key,
        extra={
            "endpoint_url": server.endpoint,
            "region_name": "us-east-1",
            "force_path_style": True,
            **extra,
        },
    )


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


def load_dags(path: str | os.PathLike) -> dict[str, Any]:
    """Import a DAG file as a fresh module (it re-reads the environment) -> {dag_id: DAG}."""
    from airflow.sdk import DAG

    name = f"orbit_dag_file_{Path(path).stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import DAG file {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {v.dag_id: v for v in vars(module).values() if isinstance(v, DAG)}
