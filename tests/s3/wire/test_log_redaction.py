"""log_redaction: botocore's DEBUG logs keep showing requests, never credentials."""

from __future__ import annotations

import logging

import boto3
import pytest
from botocore.compat import HAS_CRT
from moto import mock_aws

from orbit_provider.s3 import Credentials, S3Client, S3Config
from orbit_provider.s3.wire.assume_role import AssumeRole, assume_role_session
from orbit_provider.s3.wire.log_redaction import MASK, redact

TOKEN = "SessionTokenOrbitPx92Fj4Hc7Ym1Vd6Ae3Ug0Ws8Kl5No2Qt"
SECRET = "SecretOrbitZq81xKv0Tn3Lw5Rb"
SIGNATURE = "4f2a" * 16


@pytest.mark.parametrize(
    "text",
    [
        f"headers={{'X-Amz-Security-Token': b'{TOKEN}', 'Authorization': b'AWS4-HMAC-SHA256 "
        f"Credential=AKID/20261125/us-east-1/s3/aws4_request, SignedHeaders=host, "
        f"Signature={SIGNATURE}'}}",
        f"PUT\n/k\n\nhost:bucket.s3.amazonaws.com\nx-amz-security-token:{TOKEN}\n\nhost",
        f"X-Amz-Credential=AKID&X-Amz-Security-Token={TOKEN}&X-Amz-Signature={SIGNATURE}",
        f"Signature:\n{SIGNATURE}",
        f"<Credentials><AccessKeyId>ASIA</AccessKeyId><SecretAccessKey>{SECRET}"
        f"</SecretAccessKey><SessionToken>{TOKEN}</SessionToken></Credentials>",
        f'{{"AccessKeyId": "ASIA", "SecretAccessKey": "{SECRET}", "Token": "{TOKEN}"}}',
    ],
    ids=["header-dict", "canonical-request", "presigned-query", "signature", "sts-xml", "json"],
)
def test_redact_masks_every_shape_botocore_logs(text):
    cleaned = redact(text)
    for secret in (TOKEN, SECRET, SIGNATURE):
        assert secret not in cleaned
    assert MASK in cleaned


def test_redact_leaves_ordinary_text_alone():
    text = "Sending http request: GET /bucket/k?versionId=abc, ETag 'deadbeef', size 12"
    assert redact(text) == text


def test_botocore_debug_logs_show_requests_without_token_or_signature(caplog):
    caplog.set_level(logging.DEBUG)
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="orbit-logs")
        client = S3Client(
            S3Config(
                bucket="orbit-logs",
                region="us-east-1",
                credentials=Credentials("AKIDORBIT", SECRET, TOKEN),
            )
        )
        client.upload_bytes(b"x", "k")
        url = client.presigned_url("k")
    assert TOKEN in url  # the URL itself is the caller's to keep
    assert "Sending http request" in caplog.text  # headers, x-amz-security-token among them
    # botocore's own signer logs the canonical request it signs; the CRT signer, which
    # botocore uses once awscrt is installed (as here, for CRC32C / CRC64NVME), logs none
    assert ("CanonicalRequest" in caplog.text) is not HAS_CRT
    assert TOKEN not in caplog.text and SECRET not in caplog.text
    signature = url.rpartition("X-Amz-Signature=")[2]
    assert signature and signature not in caplog.text


def test_assumed_role_credentials_stay_out_of_debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="orbit-role")
        session = assume_role_session(
            AssumeRole("arn:aws:iam::123456789012:role/orbit", "orbit-test"),
            credentials=Credentials("AKIDORBIT", SECRET),
            region="us-east-1",
        )
        session.client("s3", region_name="us-east-1").list_objects_v2(Bucket="orbit-role")
        frozen = session.get_credentials().get_frozen_credentials()
    assert "AssumeRole" in caplog.text  # the STS exchange was logged ...
    for secret in (frozen.secret_key, frozen.token, SECRET):
        assert secret not in caplog.text  # ... without what it returned
