"""The system suite's deployment: SeaweedFS and moto's server (the root conftest's session
servers) behind the examples' connections, and one real Airflow deployment (api-server,
scheduler, dag-processor, triggerer; orbit_provider.testing.deployment) with the examples and
tests/system/dags as its dags folder, started once per session and always stopped."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orbit_provider.testing.clients import create_bucket
from orbit_provider.testing.deployment import (
    EXAMPLES,
    AirflowApi,
    AirflowDeployment,
    DeploymentError,
    example_environment,
)
from orbit_provider.testing.moto_server import MotoServer
from orbit_provider.testing.seaweedfs import SeaweedServer

SYSTEM_DAGS = Path(__file__).parent / "dags" / "system_dags.py"
SYSTEM_DAG_IDS = ("orbit_system_deferred_sensor", "orbit_system_killed_upload")


def example_dags() -> dict[str, bool]:
    """Every DAG in dags_examples/ -> whether it is scheduled on assets (then it is not
    triggered, its asset-triggered runs are checked)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES))
    assert not bag.import_errors, bag.import_errors
    return {
        dag_id: type(dag.timetable).__name__ == "AssetTriggeredTimetable"
        for dag_id, dag in bag.dags.items()
    }


@dataclass
class System:
    """The running deployment and what its DAGs work on."""

    deployment: AirflowDeployment
    seaweed: SeaweedServer
    moto: MotoServer
    examples: dict[str, bool]  # dag_id -> scheduled on assets
    bucket: str  # on SeaweedFS: ORBIT_EXAMPLES_BUCKET
    archive_bucket: str  # on moto's server: ORBIT_EXAMPLES_ARCHIVE_BUCKET
    work_dir: Path  # ORBIT_EXAMPLES_DIR

    @property
    def api(self) -> AirflowApi:
        return self.deployment.api

    def scheduler_log(self) -> str:
        assert self.deployment.home is not None
        return (self.deployment.home / "logs" / "scheduler.log").read_text(errors="replace")

    def diagnose(self, dag_id: str, run_id: str) -> str:
        """The states of a run's task instances and the log of each failed one."""
        lines = []
        for ti in self.api.task_instances(dag_id, run_id):
            name = ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else "")
            lines.append(f"{name}: {ti['state']} (try {ti['try_number']})")
            if ti["state"] in ("failed", "up_for_retry") and ti["try_number"] > 0:
                try:
                    log = self.api.task_log(
                        dag_id, run_id, ti["task_id"], ti["try_number"], ti["map_index"]
                    )
                except DeploymentError as exc:
                    log = str(exc)
                lines.append(log[-3000:])
        return "\n".join(lines)

    def assert_success(self, dag_id: str, run_id: str, timeout: float = 300) -> dict:
        run = self.api.wait_run(dag_id, run_id, timeout)
        assert run["state"] == "success", f"{dag_id} {run_id}:\n{self.diagnose(dag_id, run_id)}"
        return run


@pytest.fixture(scope="session")
def system(
    seaweed: SeaweedServer, moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    bucket = create_bucket(seaweed)
    archive_bucket = create_bucket(moto_server)
    work_dir = tmp_path_factory.mktemp("system-work")
    env = example_environment(seaweed, moto_server, work_dir, bucket, archive_bucket)
    env["ORBIT_EXAMPLES_SHARD_SIZE"] = "4"  # mapped tasks of several shards
    # the DAG files do not change during the suite: no re-parsing every 30 s on a busy machine
    env["AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL"] = "3600"
    # the home (logs, DB) stays for a look after a failure: in pytest's temporary folder, or
    # in ORBIT_SYSTEM_AIRFLOW_HOME when set (pytest keeps only its last few folders)
    home = Path(os.environ.get("ORBIT_SYSTEM_AIRFLOW_HOME") or tmp_path_factory.mktemp("home"))
    examples = example_dags()
    deployment = AirflowDeployment(dags=[EXAMPLES, SYSTEM_DAGS], env=env, home=home)
    deployment.start()
    try:
        deployment.wait_dags([*examples, *SYSTEM_DAG_IDS])
        yield System(
            deployment, seaweed, moto_server, examples, bucket, archive_bucket, work_dir
        )
    finally:
        deployment.stop(timeout=3)  # its DB is thrown away: no need for a graceful stop
