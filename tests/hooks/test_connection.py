"""Connection -> S3Config mapping: orbit_s3 and aws connections, bad extras, roles."""

from __future__ import annotations

import json

import boto3
import pytest
from airflow.sdk import Connection
from moto import mock_aws

from orbit_provider.hooks.connection import ConnectionConfigError, settings_from_connection
from orbit_provider.s3.config import MIB, ServerSideEncryption, StorageClass
from orbit_provider.s3.errors import ConfigError

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
ROLE = "arn:aws:iam::123456789012:role/orbit"
TOKEN = "FwoGZXIvYXdzEXAMPLE-session-token-value"


def conn(extra: dict | None = None, conn_type: str = "orbit_s3", **fields) -> Connection:
    return Connection(
        conn_id="orbit_test", conn_type=conn_type, extra=json.dumps(extra or {}), **fields
    )


def test_full_orbit_connection_maps_every_extra():
    settings = settings_from_connection(
        conn(
            {
                "region_name": "eu-west-1",
                "endpoint_url": "http://127.0.0.1:8333",
                "force_path_style": "true",
                "aws_session_token": TOKEN,
                "bucket": "my-bucket",
                "chunk_size": "16MiB",
                "parallel_operations": 8,
                "max_bandwidth": 50_000_000,
                "timeout_seconds": "60",
                "max_retries": "5",
                "verify_checksums": False,
                "direct_io": "false",
                "storage_class": "intelligent-tiering",
                "server_side_encryption": "aws:kms",
                "sse_kms_key_id": "alias/orbit",
            },
            login="AKIAEXAMPLE",
            password=SECRET,
        )
    )
    config = settings.config()
    assert config.bucket == "my-bucket"
    assert config.region == "eu-west-1"
    assert config.endpoint == "http://127.0.0.1:8333"
    assert config.force_path_style is True
    assert config.chunk_size == 16 * MIB
    assert config.parallel_operations == 8
    assert config.max_bandwidth == 50_000_000
    assert config.timeout_seconds == 60.0
    assert config.max_retries == 5
    assert config.verify_checksums is False
    assert config.direct_io is False
    assert config.storage_class is StorageClass.INTELLIGENT_TIERING
    assert config.server_side_encryption == ServerSideEncryption.kms("alias/orbit")
    assert config.credentials.access_key_id == "AKIAEXAMPLE"
    assert config.credentials.secret_access_key == SECRET
    assert config.credentials.session_token == TOKEN
    assert settings.assume_role is None


def test_overrides_and_explicit_bucket_win_over_the_connection():
    settings = settings_from_connection(conn({"bucket": "my-bucket", "chunk_size": 8 * MIB}))
    config = settings.config("other-bucket", chunk_size=32 * MIB)
    assert (config.bucket, config.chunk_size) == ("other-bucket", 32 * MIB)
    with pytest.raises(ConfigError, match="overrides"):
        settings.config(no_such_field=1)
    with pytest.raises(ConfigError, match="chunk_size"):
        settings.config(chunk_size=1)


def test_no_bucket_anywhere_is_a_clear_error():
    with pytest.raises(ConfigError, match="no bucket given.*'bucket' extra"):
        settings_from_connection(conn()).config()


def test_empty_connection_uses_the_standard_credential_chain():
    settings = settings_from_connection(conn())
    assert settings.uses_credential_chain
    assert settings.config("some-bucket").credentials is None
    assert settings.boto_session() is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"chunk_size": 1024}, "extra 'chunk_size': 1024 must be between 5 MiB"),
        ({"chunk_size": "lots"}, "extra 'chunk_size': 'lots' is not a size"),
        ({"parallel_operations": 0}, "extra 'parallel_operations': 0 must be a positive"),
        ({"parallel_operations": "four"}, "extra 'parallel_operations': 'four' is not an int"),
        ({"max_retries": -1}, "extra 'max_retries': -1 must not be negative"),
        ({"timeout_seconds": "soon"}, "extra 'timeout_seconds': 'soon' is not a number"),
        ({"timeout_seconds": 0}, "extra 'timeout_seconds'"),
        ({"verify_checksums": "maybe"}, "extra 'verify_checksums': 'maybe' is not a boolean"),
        ({"direct_io": "sometimes"}, "extra 'direct_io': 'sometimes' is not a boolean"),
        ({"storage_class": "COLD"}, "extra 'storage_class': unknown storage class 'COLD'"),
        ({"server_side_encryption": "rot13"}, "extra 'server_side_encryption': unknown value"),
        (
            {"server_side_encryption": "AES256", "sse_kms_key_id": "k"},
            "extra 'sse_kms_key_id'",
        ),
        ({"endpoint_url": "localhost:9000"}, "extra 'endpoint_url'.*http:// or https://"),
        ({"bucket": "Bad Bucket"}, "extra 'bucket'.*not a bucket name"),
        ({"max_bandwidth": -5}, "extra 'max_bandwidth'"),
        ({"role_arn": "admin"}, "extra 'role_arn': 'admin' is not an IAM role ARN"),
        ({"external_id": "x1"}, "extra 'external_id' needs the extra 'role_arn'"),
        ({"chunksize": 5}, "unknown extra 'chunksize'"),
        ({"config_kwargs": {}}, "unknown extra 'config_kwargs'"),
    ],
)
def test_bad_extras_are_named(extra, message):
    with pytest.raises(ConnectionConfigError, match=message) as info:
        settings_from_connection(conn(extra))
    assert "connection 'orbit_test'" in str(info.value)


def test_login_without_password_and_the_reverse_are_refused():
    with pytest.raises(ConnectionConfigError, match="'password'"):
        settings_from_connection(conn(login="AKIAEXAMPLE"))
    with pytest.raises(ConnectionConfigError, match="'login'"):
        settings_from_connection(conn(password=SECRET))
    with pytest.raises(ConnectionConfigError, match="'aws_session_token' needs"):
        settings_from_connection(conn({"aws_session_token": TOKEN}))
    with pytest.raises(ConnectionConfigError, match="'profile_name' conflicts"):
        settings_from_connection(conn({"profile_name": "dev"}, login="AK", password=SECRET))


def test_host_field_is_refused_pointing_at_endpoint_url():
    with pytest.raises(ConnectionConfigError, match="'host'.*'endpoint_url'"):
        settings_from_connection(conn(host="minio.local"))


def test_unknown_conn_type_is_refused():
    with pytest.raises(ConnectionConfigError, match="conn_type 'google_cloud_platform'"):
        settings_from_connection(conn(conn_type="google_cloud_platform"))


def test_secrets_never_appear_in_errors_or_repr():
    bad_token = conn({"aws_session_token": 12345678}, login="AKIAEXAMPLE", password=SECRET)
    with pytest.raises(ConnectionConfigError) as info:
        settings_from_connection(bad_token)
    assert "12345678" not in str(info.value)
    settings = settings_from_connection(
        conn({"aws_session_token": TOKEN, "bucket": "my-bucket"}, login="AK", password=SECRET)
    )
    for text in (repr(settings), str(settings), repr(settings.config()), repr(settings.client())):
        assert SECRET not in text and TOKEN not in text


def test_aws_connection_with_the_same_extras_works():
    settings = settings_from_connection(
        conn(
            {
                "region_name": "us-west-2",
                "endpoint_url": "http://127.0.0.1:9000",
                "chunk_size": 8 * MIB,
                "bucket": "aws-bucket",
            },
            conn_type="aws",
            login="AKIAEXAMPLE",
            password=SECRET,
        )
    )
    config = settings.config()
    assert (config.region, config.endpoint, config.chunk_size) == (
        "us-west-2",
        "http://127.0.0.1:9000",
        8 * MIB,
    )


def test_aws_connection_specific_extras_are_translated():
    settings = settings_from_connection(
        conn(
            {
                "service_config": {"s3": {"endpoint_url": "http://127.0.0.1:9000"}},
                "config_kwargs": {"s3": {"addressing_style": "path"}, "read_timeout": 30,
                                  "retries": {"max_attempts": 10}},
                "role_arn": "arn:aws:iam::123456789012:role/orbit",
                "assume_role_method": "assume_role",
                "assume_role_kwargs": {"ExternalId": "ext-1", "RoleSessionName": "nightly"},
                "aws_access_key_id": "AKIALEGACY",
                "aws_secret_access_key": SECRET,
            },
            conn_type="aws",
        )
    )
    config = settings.config("b-bucket")
    assert config.endpoint == "http://127.0.0.1:9000"
    assert config.force_path_style is True
    assert config.timeout_seconds == 30
    assert config.credentials.access_key_id == "AKIALEGACY"
    role = settings.assume_role
    assert (role.role_arn, role.external_id, role.session_name) == (
        "arn:aws:iam::123456789012:role/orbit",
        "ext-1",
        "nightly",
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"assume_role_method": "assume_role_with_saml"}, "'assume_role_method'"),
        ({"role_arn": ROLE, "assume_role_kwargs": {"SerialNumber": "mfa"}},
         "'assume_role_kwargs': key 'SerialNumber'"),
        ({"assume_role_kwargs": {"ExternalId": "x"}}, "needs the extra 'role_arn'"),
        ({"service_config": {"s3": {"us_east_1_regional_endpoint": "x"}}}, "'service_config'"),
        ({"config_kwargs": {"signature_version": "s3"}}, "signature_version 's3'"),
        ({"config_kwargs": {"parameter_validation": False}}, "'parameter_validation'"),
        ({"assume_role_with_web_identity_federation": "google"}, "'google' is not supported"),
        ({"role_arn": ROLE, "assume_role_method": "assume_role_with_web_identity",
          "assume_role_with_web_identity_token_file": "/no/such/token"}, "not a readable file"),
        ({"aws_account_id": "12345"}, "12-digit"),
        ({"verify": "/no/such/ca.pem"}, "extra 'verify'"),
    ],
)
def test_aws_extras_we_cannot_honour_are_named(extra, message):
    with pytest.raises(ConnectionConfigError, match=message):
        settings_from_connection(conn(extra, conn_type="aws"))


def test_ui_prefixed_extras_are_accepted():
    settings = settings_from_connection(
        conn({"extra__orbit_s3__region_name": "eu-north-1", "extra__orbit_s3__bucket": "bkt-1"})
    )
    assert settings.config().region == "eu-north-1"


def test_role_arn_is_assumed_with_sts_and_used_for_s3():
    role_arn = "arn:aws:iam::123456789012:role/orbit-writer"
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="role-bucket")
        settings = settings_from_connection(
            conn(
                {"role_arn": role_arn, "role_session_name": "orbit-test", "external_id": "ext-42",
                 "region_name": "us-east-1", "bucket": "role-bucket"},
                login="AKIABASE",
                password=SECRET,
            )
        )
        client = settings.client()
        client.upload_bytes(b"hello", "k.txt")
        assert client.download_bytes("k.txt") == b"hello"
        creds = client.s3._request_signer._credentials
        frozen = creds.get_frozen_credentials()
        # moto issues assumed-role keys starting with ASIA, not our base key.
        assert frozen.access_key.startswith("ASIA") and frozen.access_key != "AKIABASE"
        assert creds.method == "sts-assume-role"
        assert creds.refresh_needed() is False


def test_role_assumption_failure_surfaces_as_an_error():
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="role-bucket")
        settings = settings_from_connection(
            conn({"role_arn": "arn:aws:iam::123456789012:role/x", "region_name": "us-east-1",
                  "sts_endpoint_url": "http://127.0.0.1:1"}, login="AKIABASE", password=SECRET)
        )
        client = settings.client("role-bucket", max_retries=0, timeout_seconds=2)
        with pytest.raises(Exception) as info:
            client.upload_bytes(b"x", "k")
        assert SECRET not in str(info.value)


def test_the_amazon_providers_common_extras_mean_the_same(tmp_path):
    """verify, config_kwargs / botocore_config (signature_version included), region_name,
    endpoint_url and aws_account_id on an aws connection; verify on orbit_s3 too."""
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = settings_from_connection(conn({
        "region_name": "eu-central-1",
        "endpoint_url": "https://minio.internal:9000",
        "verify": str(bundle),
        "config_kwargs": {"signature_version": "unsigned", "s3": {"addressing_style": "path"},
                          "connect_timeout": 5, "read_timeout": 40, "max_pool_connections": 99,
                          "retries": {"mode": "adaptive"}},
        "botocore_config": {"user_agent_extra": "team-a"},
        "aws_account_id": "123456789012",
    }, conn_type="aws"))  # fmt: skip
    config = settings.config("legacy_Bucket")
    assert (config.region, config.endpoint, config.verify) == (
        "eu-central-1", "https://minio.internal:9000", str(bundle))
    assert config.force_path_style is True and config.timeout_seconds == 40
    # orbit's own settings (retries, pools) are left out; the rest reaches botocore
    assert config.botocore_config == {
        "signature_version": "unsigned", "connect_timeout": 5, "user_agent_extra": "team-a"}
    assert settings.account_id == "123456789012"
    assert settings_from_connection(conn({"verify": "false"})).config("b-1").verify is False


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text("eyJhbGciOiJSUzI1NiJ9.orbit-web-identity-token.sig")
    return path


def test_web_identity_role_credentials_come_from_sts(token_file, monkeypatch):
    """assume_role_method=assume_role_with_web_identity with a token file: every request is
    signed with the role's STS credentials (moto plays STS and S3)."""
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE", raising=False)
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="orbit-wi")
        settings = settings_from_connection(conn({
            "role_arn": ROLE,
            "assume_role_method": "assume_role_with_web_identity",
            "assume_role_with_web_identity_token_file": str(token_file),
            "assume_role_kwargs": {"DurationSeconds": 1800},
            "region_name": "us-east-1",
        }, conn_type="aws"))  # fmt: skip
        session = settings.boto_session()
        client = settings.client("orbit-wi")
        client.upload_bytes(b"from a web identity", "k")
        assert client.download_bytes("k") == b"from a web identity"
        frozen = session.get_credentials().get_frozen_credentials()
        assert frozen.access_key.startswith("ASIA") and frozen.token  # temporary, from STS
        assert session.get_credentials().method == "assume-role-with-web-identity"


def test_web_identity_reads_the_token_file_from_the_environment(token_file, monkeypatch):
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    settings = settings_from_connection(
        conn({"role_arn": ROLE, "assume_role_method": "assume_role_with_web_identity"})
    )
    assert settings.web_identity_token_file == str(token_file)
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE")
    with pytest.raises(ConnectionConfigError, match="AWS_WEB_IDENTITY_TOKEN_FILE is not set"):
        settings_from_connection(
            conn({"role_arn": ROLE, "assume_role_method": "assume_role_with_web_identity"})
        )


def test_a_proxy_password_in_botocore_config_stays_out_of_the_repr():
    settings = settings_from_connection(conn(
        {"botocore_config": {"proxies": {"https": "http://team:proxy-secret-1@proxy:3128"}}}))
    assert "proxy-secret-1" not in repr(settings) and "team:***@proxy" in repr(settings)
