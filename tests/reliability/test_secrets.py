"""Credentials never reach task logs, XComs or error messages.

The access key id is not a secret; the secret access key and the session token are. Each
test uses distinctive values and searches everything a run leaves behind for them: the task
logs (stdout/stderr under dag.test(), orbit_provider's loggers at DEBUG, Airflow's and
botocore's at their default levels), every XCom of the run, and the text and repr of the
errors (AccessDenied from a wrong secret, a ConfigError from a bad connection extra).
"""

from __future__ import annotations

import json
import logging

import pendulum
import pytest
from airflow.sdk import DAG

from orbit_provider.operators.listing import OrbitListKeysOperator
from orbit_provider.operators.transfer import OrbitDownloadOperator, OrbitUploadOperator
from orbit_provider.s3.errors import AccessDenied
from orbit_provider.testing.clients import client_for
from tests.airflow_env import connection_env

WRONG_SECRET = "WrongSecretOrbitZq81xKv0Tn3Lw5Rb"
TOKEN = "SessionTokenOrbitPx92Fj4Hc7Ym1Vd6Ae3Ug0Ws8Kl5No2Qt"


def all_xcoms(dag_id: str, run_id: str) -> str:
    """Every XCom of the run (all tasks, all keys), as one JSON text."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=dag_id, run_id=run_id).all()
        assert rows, "the run left no XComs to search"
        return json.dumps(
            [(r.task_id, r.key, XComModel.deserialize_value(r)) for r in rows], default=str
        )


def set_conn(monkeypatch, conn_id: str, seaweed, bucket: str, password: str, **extra) -> None:
    name, value = connection_env(
        conn_id, conn_type="orbit_s3", login=seaweed.access_key, password=password,
        extra={"endpoint_url": seaweed.endpoint, "region_name": "us-east-1",
               "force_path_style": True, "bucket": bucket, **extra},
    )  # fmt: skip
    monkeypatch.setenv(name, value)


@pytest.fixture
def debug_orbit_logs():
    """orbit_provider's own loggers at DEBUG for the test (everything it could ever say)."""
    logger = logging.getLogger("orbit_provider")
    old = logger.level
    logger.setLevel(logging.DEBUG)
    yield
    logger.setLevel(old)


def test_no_secret_in_task_logs_xcoms_or_errors_of_a_dag_run(
    dag_runner, orbit_conn, seaweed, monkeypatch, tmp_path, capsys, debug_orbit_logs
):
    bucket = orbit_conn
    real_secret = seaweed.secret_key
    set_conn(monkeypatch, "orbit_wrong_secret", seaweed, bucket, WRONG_SECRET,
             aws_session_token=TOKEN)  # fmt: skip
    set_conn(monkeypatch, "orbit_bad_extra", seaweed, bucket, WRONG_SECRET,
             aws_session_token=TOKEN, chunk_size="lots")  # fmt: skip
    set_conn(monkeypatch, "orbit_bad_token", seaweed, bucket, real_secret,
             aws_session_token=[TOKEN])  # fmt: skip
    (tmp_path / "f.bin").write_bytes(b"payload" * 1000)
    with DAG("orbit_secrets", schedule=None,
             start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:  # fmt: skip
        up = OrbitUploadOperator(task_id="upload", source=str(tmp_path / "f.bin"), key="s/f.bin")
        down = OrbitDownloadOperator(task_id="download", key="s/f.bin",
                                     dest=str(tmp_path / "out.bin"))  # fmt: skip
        up >> down
        OrbitListKeysOperator(task_id="denied", orbit_conn_id="orbit_wrong_secret", retries=0)
        OrbitListKeysOperator(task_id="bad_extra", orbit_conn_id="orbit_bad_extra", retries=0)
        OrbitListKeysOperator(task_id="bad_token", orbit_conn_id="orbit_bad_token", retries=0)
    result = dag_runner(dag)
    assert result.task_states() == {
        "upload": "success", "download": "success",
        "denied": "failed", "bad_extra": "failed", "bad_token": "failed",
    }  # fmt: skip
    captured = capsys.readouterr()
    logs = captured.out + captured.err
    # the failures are explained...
    assert "AccessDenied" in logs or "SignatureDoesNotMatch" in logs
    assert "chunk_size" in logs and "aws_session_token" in logs
    # ...without any secret, in the logs or in any XCom of the run
    xcoms = all_xcoms("orbit_secrets", result.run_id)
    assert result.xcom("upload")["succeeded"] == 1  # the XComs searched are the real ones
    for secret in (real_secret, WRONG_SECRET, TOKEN):
        assert secret not in logs
        assert secret not in xcoms


def test_core_errors_and_reprs_hold_no_secret(seaweed, seaweed_bucket):
    from orbit_provider.s3.client import S3Client
    from orbit_provider.s3.config import Credentials, S3Config

    config = S3Config(
        bucket=seaweed_bucket, endpoint=seaweed.endpoint, region="us-east-1",
        force_path_style=True,
        credentials=Credentials(seaweed.access_key, WRONG_SECRET, TOKEN),
    )  # fmt: skip
    client = S3Client(config)
    with pytest.raises(AccessDenied) as caught:
        client.list_objects()
    texts = [str(caught.value), repr(caught.value), repr(client), repr(config),
             repr(config.credentials), str(caught.value.__cause__)]  # fmt: skip
    for text in texts:
        assert WRONG_SECRET not in text and TOKEN not in text, text
    # a good client's errors (here: a missing key) do not carry its secret either
    good = client_for(seaweed, seaweed_bucket)
    with pytest.raises(Exception) as missing:
        good.download_bytes("no/such/key")
    assert seaweed.secret_key not in str(missing.value) + repr(missing.value)
