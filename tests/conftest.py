"""Shared fixtures: moto in-process, a real SeaweedFS S3 server, moto's HTTP server."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from itertools import islice

import boto3
import pytest
from moto import mock_aws

from orbit_provider.s3 import S3Client, S3Config
from orbit_provider.s3.recovery import reset_shared_breakers
from orbit_provider.s3.wire.botocore_data import share_data
from orbit_provider.testing.clients import client_for, create_bucket
from orbit_provider.testing.moto_server import MotoServer
from orbit_provider.testing.seaweedfs import SeaweedServer

MOTO_BUCKET = "test-bucket"

pytest_plugins = ["tests.airflow_env"]  # Airflow DB / connection / run_dag fixtures


@pytest.fixture(autouse=True)
def _isolated_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> None:
    """No test ever reads the developer's real AWS credentials or config."""
    home = tmp_path_factory.getbasetemp() / "aws-home"
    home.mkdir(exist_ok=True)
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(autouse=True)
def _fresh_breakers() -> Iterator[None]:
    """Clients of one endpoint share a circuit breaker per process: no test inherits the
    state another test's faults left in it."""
    reset_shared_breakers()
    yield
    reset_shared_breakers()


@pytest.fixture
def moto_s3() -> Iterator[None]:
    """moto in-process with bucket MOTO_BUCKET created (through a session on the process's
    one botocore loader: mock_aws drops boto3's default session, and a fresh one parses the
    S3 model again, about 100 ms of CPU per test)."""
    with mock_aws():
        session = share_data(boto3.session.Session(region_name="us-east-1"))
        session.client("s3").create_bucket(Bucket=MOTO_BUCKET)
        yield


@pytest.fixture
def moto_client(moto_s3) -> S3Client:
    """An S3Client on the in-process moto bucket."""
    return S3Client(S3Config(bucket=MOTO_BUCKET, region="us-east-1"))


@pytest.fixture
def make_moto_client(moto_s3) -> Callable[..., S3Client]:
    def make(**overrides) -> S3Client:
        fields = {"bucket": MOTO_BUCKET, "region": "us-east-1"}
        fields.update(overrides)
        return S3Client(S3Config(**fields))

    return make


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedServer]:
    """One real SeaweedFS S3 server on loopback for the whole session."""
    server = SeaweedServer().start()
    try:
        yield server
    finally:
        # its data is thrown away: SIGKILL instead of waiting 2-4 s for a graceful SIGTERM
        # exit at the end of every worker (stop() then reaps it and removes its data dir)
        if server.process is not None and server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGKILL)
        server.stop()


@pytest.fixture
def seaweed_bucket(seaweed: SeaweedServer) -> str:
    """A fresh, empty bucket on the SeaweedFS server."""
    return create_bucket(seaweed)


@pytest.fixture
def seaweed_client(seaweed: SeaweedServer, seaweed_bucket: str) -> S3Client:
    return client_for(seaweed, seaweed_bucket)


@pytest.fixture
def make_seaweed_client(seaweed: SeaweedServer, seaweed_bucket: str) -> Callable[..., S3Client]:
    """Build a client for the fresh bucket with config overrides."""

    def make(**overrides) -> S3Client:
        return client_for(seaweed, overrides.pop("bucket", seaweed_bucket), **overrides)

    return make


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto's HTTP server on loopback: archive classes and RestoreObject."""
    with MotoServer() as server:
        yield server


@pytest.fixture
def moto_server_bucket(moto_server: MotoServer) -> str:
    return create_bucket(moto_server)


@pytest.fixture
def moto_server_client(moto_server: MotoServer, moto_server_bucket: str) -> S3Client:
    return client_for(moto_server, moto_server_bucket)


#: Tests that take tens of seconds in the parallel suite (seconds under `make test` here,
#: 2026-11-30). xdist's worksteal hands each worker a contiguous chunk of the collection and
#: steals from the chunks' ends, so a long test late in the order (the demo was 97% down it)
#: starts in the last minute and the run waits for it: these start the chunks instead, spread
#: over them longest first. A name no longer collected is ignored. Not here: the 5,000-key
#: throttling test (tests/s3/batch/test_engine.py, about 25 s), which sets the store's rate
#: from its own pace in its first second and fails if the machine then gets much busier, as it
#: does while every worker starts its long tests together.
LONG_TESTS = {
    "tests/test_demo.py::test_the_demo_moves_real_data_and_accounts_for_every_key": 51,
    "tests/reliability/test_faults.py::"
    "test_a_2000_key_batch_copy_accounts_for_every_key_once_at_20_percent_faults": 35,
    "tests/reliability/test_kill_resume.py::"
    "test_a_killed_download_task_resumes_in_a_new_process": 31,
    "tests/reliability/test_faults.py::"
    "test_a_256_mib_upload_and_its_download_complete_exactly_at_20_percent_faults": 28,
    "tests/operators/test_dag_runs.py::test_a_killed_upload_task_resumes_in_the_next_try": 27,
    "tests/dags/test_examples.py::test_version_rollback": 18,
    "tests/dags/test_more_examples.py::test_sync_and_watch": 18,
    "tests/dags/test_examples.py::test_lake_ingestion_and_the_asset_scheduled_reader": 18,
    "tests/s3/batch/test_engine.py::"
    "test_20_percent_faults_at_32_way_concurrency_never_fail_a_key": 17,
    "tests/reliability/test_faults.py::"
    "test_a_dag_upload_task_fails_fast_with_circuit_open_at_full_faults": 16,
    "tests/reliability/test_faults.py::"
    "test_at_full_faults_the_breaker_stops_a_download_fast_and_it_resumes": 15,
}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items: list[pytest.Item]) -> None:
    """Under xdist, LONG_TESTS first in the chunks worksteal will hand out (every worker
    collects, and orders, the same way)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if workers < 2:
        return
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for item in sorted((i for i in items if i.nodeid in LONG_TESTS),
                       key=lambda i: -LONG_TESTS[i.nodeid]):  # fmt: skip
        least = load.index(min(load))
        heads[least].append(item)
        load[least] += LONG_TESTS[item.nodeid]
    rest = iter([i for i in items if i.nodeid not in LONG_TESTS])
    ordered: list[pytest.Item] = []
    left = len(items)
    for worker in range(workers):
        size = left // (workers - worker)  # the split of WorkStealingScheduling.check_schedule
        ordered += heads[worker] + list(islice(rest, max(0, size - len(heads[worker]))))
        left -= size
    ordered += rest
    items[:] = ordered


def pytest_configure(config) -> None:
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    # Before anything imports airflow: a throwaway AIRFLOW_HOME (see tests/airflow_env.py).
    from tests.airflow_env import configure_airflow_home, forget_airflow_home

    if os.environ.get("PYTEST_XDIST_WORKER"):
        forget_airflow_home()  # a parallel worker gets a home (and DB) of its own
    configure_airflow_home()


def pytest_unconfigure(config) -> None:
    from tests.airflow_env import remove_airflow_home

    remove_airflow_home()
