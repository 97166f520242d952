"""Helpers for calling an operator's execute() directly: a fake task instance, a moto-backed
connection, and a real hook lineage collector."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import lineage

MOTO_BUCKET = "test-bucket"


class FakeTI:
    """Records xcom_push calls like the task SDK's RuntimeTaskInstance would store them."""

    dag_id = "dag"
    run_id = "run"
    task_id = "task"
    map_index = -1
    try_number = 1

    def __init__(self) -> None:
        self.pushed: list[tuple[str, object]] = []

    def xcom_push(self, key: str, value: object) -> None:
        json.dumps(value)  # what a real XCom needs
        self.pushed.append((key, value))

    def values(self, key: str) -> list[object]:
        return [v for k, v in self.pushed if k == key]


def make_context() -> dict:
    return {"ti": FakeTI()}


@pytest.fixture(name="moto_conn")
def moto_conn_fixture(moto_s3, monkeypatch) -> str:
    """AIRFLOW_CONN_ORBIT_S3_DEFAULT for the in-process moto bucket; returns the bucket."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_ORBIT_S3_DEFAULT",
        json.dumps({"conn_type": "orbit_s3", "extra": {"region_name": "us-east-1"}}),
    )
    return MOTO_BUCKET


@pytest.fixture(name="collector")
def collector_fixture(monkeypatch):
    """A real HookLineageCollector in place of the no-op one."""
    real = lineage.HookLineageCollector()
    monkeypatch.setattr(lineage, "get_hook_lineage_collector", lambda: real)
    return real
