"""A throwaway Airflow environment for DAG tests: the fixtures over
orbit_provider.testing.airflow_run (shared with `make demo`).

`configure_airflow_home()` runs from the root conftest's pytest_configure, before anything
imports airflow (airflow reads its configuration at import). `migrate_db()` runs once per
session (the `airflow_db` fixture). `run_dag(dag)` syncs the DAG to the DB, runs `dag.test()`
and returns a `DagRunResult` to read task states and XComs.
"""

from __future__ import annotations

from typing import Any

import pytest

from orbit_provider.testing.airflow_run import (  # noqa: F401 - re-exported for the tests
    DagRunResult,
    configure_airflow_home,
    connection_env,
    forget_airflow_home,
    load_dags,
    migrate_db,
    remove_airflow_home,
    run_dag,
    server_connection,
    sync_dag,
)

# -- fixtures (registered for every test through `pytest_plugins` in tests/conftest.py) ----


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
