"""OrbitBaseOperator: bucket validation, client building, core errors as task errors, lineage."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from orbit_provider.operators.base import (
    OrbitBaseOperator,
    OrbitTaskError,
    OrbitTaskFailure,
    task_error,
)
from orbit_provider.s3.config import MIB
from orbit_provider.s3.errors import (
    AccessDenied,
    CircuitOpen,
    ConfigError,
    Network,
    NotFound,
    Throttled,
    UploadInterrupted,
)
from orbit_provider.s3.progress import BatchProgress
from tests.operators.operator_context import (  # noqa: F401 - fixtures
    MOTO_BUCKET,
    collector_fixture,
    make_context,
    moto_conn_fixture,
)


class HeadOperator(OrbitBaseOperator):
    """A minimal subclass: HEAD one key through run_core."""

    template_fields = (*OrbitBaseOperator.template_fields, "key")

    def __init__(self, *, key: str, **kwargs):
        super().__init__(**kwargs)
        self.key = key

    def execute(self, context):
        def run(reporter):
            reporter.emit(BatchProgress("head", 1, 1, 0, total=1))
            return self.client.get_metadata(self.key).size

        size = self.run_core(context, run)
        self.add_lineage(inputs=[(self.client.bucket, self.key)])
        return size


def test_a_bad_bucket_name_fails_when_the_dag_is_parsed():
    with pytest.raises(OrbitTaskError, match="bucket: 'Bad Bucket!'") as info:
        HeadOperator(task_id="t", bucket="Bad Bucket!", key="k")
    assert isinstance(info.value, AirflowFailException)  # no retry can fix it
    assert info.value.code == "ConfigError"


def test_a_templated_bucket_is_validated_after_rendering(moto_conn):
    op = HeadOperator(task_id="t", bucket="{{ params.bucket }}", key="k")
    op.bucket = "no"  # what rendering produced
    with pytest.raises(OrbitTaskError, match="bucket: 'no' is not a bucket name"):
        op.execute(make_context())


def test_client_options_reach_the_client(moto_conn):
    op = HeadOperator(
        task_id="t", bucket=MOTO_BUCKET, key="k",
        client_options={"chunk_size": 16 * MIB, "parallel_operations": 7},
    )  # fmt: skip
    assert op.client.config.chunk_size == 16 * MIB
    assert op.client.config.parallel_operations == 7
    assert op.client.bucket == MOTO_BUCKET
    assert op.client is op.client  # one client per execute


def test_bad_client_options_name_the_field(moto_conn):
    op = HeadOperator(task_id="t", bucket=MOTO_BUCKET, key="k", client_options={"chunk_size": 1})
    with pytest.raises(OrbitTaskError, match="chunk_size: 1 must be between 5 MiB"):
        op.execute(make_context())


def test_the_connections_bucket_is_the_default(moto_s3, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_ORBIT_S3_DEFAULT",
        json.dumps({"conn_type": "orbit_s3",
                    "extra": {"region_name": "us-east-1", "bucket": MOTO_BUCKET}}),
    )  # fmt: skip
    op = HeadOperator(task_id="t", key="k")
    assert op.client.bucket == MOTO_BUCKET


def test_a_core_error_becomes_a_task_error_naming_the_object(moto_conn):
    op = HeadOperator(task_id="t", bucket=MOTO_BUCKET, key="missing/key")
    with pytest.raises(OrbitTaskError, match=f"NotFound: .*s3://{MOTO_BUCKET}/missing/key") as info:
        op.execute(make_context())
    assert isinstance(info.value.__cause__, NotFound)
    assert info.value.code == "NotFound"


def test_run_core_returns_the_result_pushes_progress_and_reports_lineage(
    moto_conn, moto_client, collector
):
    moto_client.upload_bytes(b"12345", "a/b.txt")
    op = HeadOperator(task_id="t", bucket=MOTO_BUCKET, key="a/b.txt", progress_xcom=True)
    context = make_context()
    assert op.execute(context) == 5
    progress = context["ti"].values("orbit_progress")
    assert progress[-1]["final"] is True and progress[-1]["operation"] == "head"
    assert [a.asset.uri for a in collector.collected_assets.inputs] == [
        f"s3://{MOTO_BUCKET}/a/b.txt"
    ]
    facets = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in facets.inputs] == [(f"s3://{MOTO_BUCKET}", "a/b.txt")]
    assert facets.outputs == []


def test_the_progress_xcom_is_off_by_default_and_the_log_line_stays(moto_conn, moto_client):
    moto_client.upload_bytes(b"12345", "a/b.txt")
    op = HeadOperator(task_id="t", bucket=MOTO_BUCKET, key="a/b.txt")
    lines = []
    op.log.info = lambda fmt, *args: lines.append(fmt % args)
    context = make_context()
    assert op.execute(context) == 5
    assert context["ti"].values("orbit_progress") == []
    assert lines[-1].startswith("orbit progress: head 1/1") and lines[-1].endswith("[final]")


def test_the_orbit_config_turns_the_progress_xcom_on_and_an_operator_off(
    moto_conn, moto_client, monkeypatch
):
    moto_client.upload_bytes(b"12345", "a/b.txt")
    monkeypatch.setenv("AIRFLOW__ORBIT__PROGRESS_XCOM", "True")
    context = make_context()
    HeadOperator(task_id="t", bucket=MOTO_BUCKET, key="a/b.txt").execute(context)
    assert context["ti"].values("orbit_progress")[-1]["final"] is True
    context = make_context()
    HeadOperator(task_id="t", bucket=MOTO_BUCKET, key="a/b.txt", progress_xcom=False).execute(
        context
    )
    assert context["ti"].values("orbit_progress") == []


def test_bad_progress_settings_fail_without_retries(moto_conn, monkeypatch):
    with pytest.raises(OrbitTaskFailure, match="progress_log_interval"):
        HeadOperator(task_id="t", bucket=MOTO_BUCKET, key="k", progress_log_interval=-1)
    with pytest.raises(OrbitTaskFailure, match="progress_xcom"):
        HeadOperator(task_id="t", bucket=MOTO_BUCKET, key="k", progress_xcom="yes")
    monkeypatch.setenv("AIRFLOW__ORBIT__PROGRESS_XCOM", "maybe")
    with pytest.raises(OrbitTaskFailure, match=r"\[orbit\] progress_xcom"):
        HeadOperator(task_id="t", bucket=MOTO_BUCKET, key="k").execute(make_context())


def test_credentials_never_reach_the_error(moto_s3, monkeypatch):
    secret = "VerySecretValue-42"
    monkeypatch.setenv(
        "AIRFLOW_CONN_ORBIT_S3_DEFAULT",
        json.dumps({"conn_type": "orbit_s3", "login": "AKIAEXAMPLE", "password": secret,
                    "extra": {"region_name": "us-east-1", "chunk_size": "tiny"}}),
    )  # fmt: skip
    op = HeadOperator(task_id="t", bucket=MOTO_BUCKET, key="k")
    with pytest.raises(OrbitTaskError) as info:
        op.execute(make_context())
    assert "chunk_size" in str(info.value)
    assert secret not in str(info.value) and secret not in repr(op.client_options)


def _interrupted(cause: Exception) -> UploadInterrupted:
    try:
        try:
            raise cause
        except Exception as exc:
            raise UploadInterrupted("upload stopped", upload_id="u") from exc
    except UploadInterrupted as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (Throttled("slow down"), True),
        (Network("reset"), True),
        (CircuitOpen("the store keeps failing"), True),
        (_interrupted(Network("reset")), True),
        (_interrupted(OSError("disk went away")), True),
        (AccessDenied("SignatureDoesNotMatch"), False),
        (NotFound("b", "k"), False),
        (ConfigError("bucket: bad"), False),
        (_interrupted(AccessDenied("denied")), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_only_failures_a_retry_can_fix_use_the_task_retries(error, retried):
    failure = task_error(error)
    assert isinstance(failure, OrbitTaskError) and isinstance(failure, AirflowException)
    assert isinstance(failure, AirflowFailException) is (not retried)
    kind = "ConfigError" if isinstance(error, ConfigError) else type(error).__name__
    assert failure.code == kind


def test_a_wrong_secret_fails_the_task_without_retries(monkeypatch, seaweed, seaweed_bucket):
    """AccessDenied from the real store: an AirflowFailException naming it, no secret shown."""
    from tests.airflow_env import connection_env

    name, value = connection_env(
        "orbit_s3_default", conn_type="orbit_s3", login=seaweed.access_key,
        password="not-the-secret-0123456789",
        extra={"endpoint_url": seaweed.endpoint, "force_path_style": True,
               "region_name": "us-east-1"},
    )  # fmt: skip
    monkeypatch.setenv(name, value)
    op = HeadOperator(task_id="t", bucket=seaweed_bucket, key="k", aws_conn_id="orbit_s3_default")
    with pytest.raises(AirflowFailException, match="AccessDenied") as info:
        op.execute(make_context())
    assert "not-the-secret" not in str(info.value) and seaweed.access_key not in str(info.value)


def test_giving_two_different_connection_ids_fails_when_the_dag_is_parsed():
    with pytest.raises(AirflowFailException, match="name different connections"):
        HeadOperator(task_id="t", key="k", orbit_conn_id="a", aws_conn_id="b")
    assert HeadOperator(task_id="t", key="k", aws_conn_id=None).orbit_conn_id is None
