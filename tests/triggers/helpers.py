"""Helpers for trigger and sensor tests: run a trigger to completion, point a connection at a
local server."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from tests.airflow_env import connection_env


def use_connection(monkeypatch: Any, server: Any, conn_id: str = "orbit_s3_default",
                   **extra: Any) -> str:
    """Define `conn_id` (through AIRFLOW_CONN_<ID>) for a SeaweedServer or MotoServer."""
    name, value = connection_env(
        conn_id,
        conn_type="orbit_s3",
        login=server.access_key,
        password=server.secret_key,
        extra={
            "endpoint_url": getattr(server, "endpoint", None),
            "region_name": "us-east-1",
            "force_path_style": True,
            **extra,
        },
    )
    monkeypatch.setenv(name, value)
    return conn_id


async def collect(trigger: Any) -> list[dict]:
    """Every event payload the trigger's run() yields, until it returns."""
    return [event.payload async for event in trigger.run()]


def run_trigger(trigger: Any) -> dict:
    """Run the trigger in a fresh event loop; it must yield exactly one event."""
    payloads = asyncio.run(collect(trigger))
    assert len(payloads) == 1, payloads
    return payloads[0]


def import_string(classpath: str) -> Any:
    """The class a trigger's serialize() names (what the triggerer does with it)."""
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)
