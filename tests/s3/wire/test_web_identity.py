"""web_identity: a boto3 Session on AssumeRoleWithWebIdentity credentials (moto plays STS)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.wire.web_identity import token_file_for, web_identity_session

ROLE = "arn:aws:iam::123456789012:role/orbit"


def test_the_session_signs_with_the_roles_temporary_credentials(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE", raising=False)
    token = tmp_path / "token"
    token.write_text("orbit-web-identity-token")
    with mock_aws():
        session = web_identity_session(ROLE, str(token), region="us-east-1",
                                       extra_args={"RoleSessionName": "orbit-wi"})  # fmt: skip
        s3 = session.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="orbit-wi")
        assert s3.list_buckets()["Buckets"][0]["Name"] == "orbit-wi"
        frozen = session.get_credentials().get_frozen_credentials()
        identity = boto3.client(
            "sts", region_name="us-east-1", aws_access_key_id=frozen.access_key,
            aws_secret_access_key=frozen.secret_key, aws_session_token=frozen.token,
        ).get_caller_identity()  # fmt: skip
    assert "assumed-role/orbit/orbit-wi" in identity["Arn"]


def test_bad_input_is_refused_before_any_request(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE", raising=False)
    with pytest.raises(ConfigError, match="AWS_WEB_IDENTITY_TOKEN_FILE is not set"):
        token_file_for(None)
    with pytest.raises(ConfigError, match="not a readable file"):
        token_file_for(str(tmp_path / "missing"))
    token = tmp_path / "token"
    token.write_text("t")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    assert token_file_for(None) == str(token)
    with pytest.raises(ConfigError, match="'ExternalId' is not an AssumeRoleWithWebIdentity"):
        web_identity_session(ROLE, extra_args={"ExternalId": "x"})
