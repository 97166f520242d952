"""OrbitS3Hook against the real SeaweedFS server: clients, test_connection, no leaked secrets."""

from __future__ import annotations

import json
import logging

import pytest

from orbit_provider.hooks.connection import ConnectionConfigError
from orbit_provider.hooks.orbit_s3 import OrbitS3Hook
from orbit_provider.s3.config import MIB
from orbit_provider.s3.errors import ConfigError
from tests.airflow_env import connection_env


def set_conn(monkeypatch, conn_id: str, **fields) -> None:
    name, value = connection_env(conn_id, **fields)
    monkeypatch.setenv(name, value)


def seaweed_conn(monkeypatch, seaweed, conn_id="orbit_s3_default", secret=None, **extra):
    extra = {"endpoint_url": seaweed.endpoint, "region_name": "us-east-1",
             "force_path_style": True, **extra}  # fmt: skip
    set_conn(monkeypatch, conn_id, conn_type="orbit_s3", login=seaweed.access_key,
             password=secret or seaweed.secret_key, extra=extra)  # fmt: skip


def test_hook_attributes_match_the_provider_registration():
    assert OrbitS3Hook.conn_name_attr == "orbit_conn_id"
    assert OrbitS3Hook.default_conn_name == "orbit_s3_default"
    assert OrbitS3Hook.conn_type == "orbit_s3"
    assert OrbitS3Hook.hook_name == "Orbit S3"
    behaviour = OrbitS3Hook.get_ui_field_behaviour()
    assert "host" in behaviour["hidden_fields"]
    assert behaviour["relabeling"]["login"] == "AWS Access Key ID"


def test_get_client_round_trips_through_seaweedfs(monkeypatch, orbit_conn):
    hook = OrbitS3Hook()
    client = hook.get_client()
    assert client.bucket == orbit_conn
    client.upload_bytes(b"via the hook", "hook/object.txt")
    assert hook.get_client(orbit_conn).download_bytes("hook/object.txt") == b"via the hook"
    assert hook.get_conn().bucket == orbit_conn


def test_get_client_applies_per_call_overrides(orbit_conn):
    client = OrbitS3Hook().get_client(chunk_size=12 * MIB, parallel_operations=2)
    assert (client.config.chunk_size, client.config.parallel_operations) == (12 * MIB, 2)
    assert client.config.endpoint.startswith("http://127.0.0.1:")


def test_named_connection_and_aws_connection_type(monkeypatch, seaweed, seaweed_bucket):
    set_conn(monkeypatch, "legacy_aws", conn_type="aws", login=seaweed.access_key,
             password=seaweed.secret_key,
             extra={"service_config": {"s3": {"endpoint_url": seaweed.endpoint}},
                    "config_kwargs": {"s3": {"addressing_style": "path"}},
                    "region_name": "us-east-1"})  # fmt: skip
    client = OrbitS3Hook(orbit_conn_id="legacy_aws").get_client(seaweed_bucket)
    client.upload_bytes(b"aws-conn", "a.txt")
    assert client.download_bytes("a.txt") == b"aws-conn"


def test_test_connection_succeeds_with_and_without_a_bucket(monkeypatch, seaweed, seaweed_bucket):
    seaweed_conn(monkeypatch, seaweed, "with_bucket", bucket=seaweed_bucket)
    ok, message = OrbitS3Hook("with_bucket").test_connection()
    assert ok, message
    assert seaweed_bucket in message
    seaweed_conn(monkeypatch, seaweed, "no_bucket")
    ok, message = OrbitS3Hook("no_bucket").test_connection()
    assert ok, message
    assert "listed" in message


def test_test_connection_fails_on_a_wrong_secret_without_leaking_it(
    monkeypatch, seaweed, seaweed_bucket, caplog, capsys
):
    wrong = "not-the-secret-" + "x" * 24
    seaweed_conn(monkeypatch, seaweed, "bad_secret", secret=wrong, bucket=seaweed_bucket)
    caplog.set_level(logging.INFO)
    with caplog.at_level(logging.DEBUG, logger="orbit_provider"):
        ok, message = OrbitS3Hook("bad_secret").test_connection()
    assert not ok
    assert message
    out = capsys.readouterr()
    for text in (message, caplog.text, out.out, out.err):
        assert wrong not in text


def test_test_connection_fails_on_a_missing_bucket(monkeypatch, seaweed):
    seaweed_conn(monkeypatch, seaweed, "missing_bucket", bucket="orbit-no-such-bucket")
    ok, message = OrbitS3Hook("missing_bucket").test_connection()
    assert not ok
    assert "NotFound" in message or "404" in message or "NoSuchBucket" in message


def test_test_connection_reports_bad_extras(monkeypatch, seaweed):
    seaweed_conn(monkeypatch, seaweed, "bad_extra", chunk_size=1)
    ok, message = OrbitS3Hook("bad_extra").test_connection()
    assert not ok
    assert "extra 'chunk_size'" in message
    with pytest.raises(ConnectionConfigError, match="extra 'chunk_size'"):
        OrbitS3Hook("bad_extra").get_client("some-bucket")


def test_secrets_stay_out_of_reprs_logs_and_errors(
    monkeypatch, seaweed, seaweed_bucket, caplog, capsys
):
    token = "session-token-" + "t" * 30
    seaweed_conn(monkeypatch, seaweed, "secretive", aws_session_token=token,
                 bucket=seaweed_bucket)  # fmt: skip
    hook = OrbitS3Hook("secretive")
    # Our loggers at DEBUG; botocore's own DEBUG wire dump (it prints request headers) is
    # below Airflow's task log level and masked by Airflow's secrets masker there.
    caplog.set_level(logging.INFO)
    with caplog.at_level(logging.DEBUG, logger="orbit_provider"):
        client = hook.get_client()
        texts = [repr(hook), repr(hook.settings), repr(client), repr(client.config)]
        try:
            client.download_bytes("missing-key")
        except Exception as exc:  # SeaweedFS refuses the unknown token or the key is missing
            texts.append(str(exc))
        texts.append(OrbitS3Hook("secretive").test_connection()[1])
    out = capsys.readouterr()
    texts += [caplog.text, out.out, out.err]
    for text in texts:
        assert seaweed.secret_key not in text
        assert token not in text
    assert json.dumps(hook.settings.config_fields, default=repr).count(seaweed.secret_key) == 0


# -- no connection: boto3's standard credential chain (as the amazon provider) ----------------


@pytest.fixture
def chain_env(monkeypatch, seaweed):
    """The standard chain's environment pointing at SeaweedFS (what IRSA, ECS or an instance
    profile give on AWS): keys in AWS_* variables, the endpoint in AWS_ENDPOINT_URL_S3."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed.secret_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", seaweed.endpoint)
    monkeypatch.delenv("AIRFLOW_CONN_ORBIT_S3_DEFAULT", raising=False)


@pytest.mark.parametrize(
    "kwargs",
    [{"orbit_conn_id": None}, {"aws_conn_id": None}, {}, {"orbit_conn_id": "no_such_conn"}],
    ids=["none", "aws-alias-none", "default-undefined", "undefined-id"],
)
def test_no_connection_uses_the_standard_credential_chain(
    chain_env, seaweed_bucket, kwargs, capsys
):
    hook = OrbitS3Hook(**kwargs)
    assert hook.settings.uses_credential_chain
    client = hook.get_client(seaweed_bucket)
    client.upload_bytes(b"chain", "k")
    assert client.download_bytes("k") == b"chain"
    if kwargs.get("orbit_conn_id") or not kwargs:  # an id Airflow does not know: a warning
        assert "falling back to boto3's standard credential chain" in capsys.readouterr().out


def test_aws_conn_id_is_an_alias_of_orbit_conn_id(monkeypatch, seaweed, seaweed_bucket):
    seaweed_conn(monkeypatch, seaweed, conn_id="my_aws")
    hook = OrbitS3Hook(aws_conn_id="my_aws")
    assert hook.orbit_conn_id == "my_aws"
    hook.get_client(seaweed_bucket).upload_bytes(b"x", "k")
    assert OrbitS3Hook(orbit_conn_id="my_aws", aws_conn_id="my_aws").orbit_conn_id == "my_aws"
    with pytest.raises(ConfigError, match="name different connections"):
        OrbitS3Hook(orbit_conn_id="a", aws_conn_id="b")
