"""Test-only DAGs of the system suite (linked into the deployment's dags folder beside the
examples): a deferrable sensor the test resolves, and a throttled upload the test kills."""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param

from orbit_provider.operators.transfer import OrbitUploadOperator
from orbit_provider.sensors.object import OrbitObjectSensor

BUCKET = os.environ.get("ORBIT_EXAMPLES_BUCKET", "orbit-examples")
MIB = 1024 * 1024

with DAG(
    "orbit_system_deferred_sensor",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"key": Param("system/deferred/ready.txt", type="string")},
    tags=["orbit", "system-test"],
):
    # The key is absent when the task starts: the sensor defers to the triggerer, which
    # polls every second and resumes the task once the test has written the key.
    OrbitObjectSensor(
        task_id="wait_for_key",
        bucket=BUCKET,
        key="{{ params.key }}",
        deferrable=True,
        poke_interval=1,
        timeout=300,
    )

with DAG(
    "orbit_system_killed_upload",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={
        "source": Param("/nonexistent", type="string"),
        "key": Param("system/killed/file.bin", type="string"),
    },
    # the test kills the first try's process: the scheduler retries it a second later
    default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
    tags=["orbit", "system-test"],
):
    # One part in flight at a time, throttled, so parts finish one after another and the
    # test can kill the task between them.
    OrbitUploadOperator(
        task_id="upload",
        bucket=BUCKET,
        source="{{ params.source }}",
        key="{{ params.key }}",
        chunk_size=5 * MIB,
        parallel_operations=1,
        max_bandwidth=int(os.environ.get("ORBIT_SYSTEM_MAX_BANDWIDTH", str(2 * MIB))),
    )
