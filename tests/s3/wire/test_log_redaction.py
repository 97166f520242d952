"""log_redaction: botocore's DEBUG logs keep showing requests, never credentials."""

from __future__ import annotations

import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.compat import HAS_CRT
from moto import mock_aws

from orbit_provider.s3 import Credentials, S3Client, S3Config
from orbit_provider.s3.config import MIB
from orbit_provider.s3.errors import AccessDenied, S3Error
from orbit_provider.s3.wire.assume_role import AssumeRole, assume_role_session
from orbit_provider.s3.wire.log_redaction import MASK, redact, remember
from orbit_provider.s3.wire.plain_http import use_plain_http

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


# -- error messages ------------------------------------------------------------------------

ECHO_KEY = "ORBITECHOKEY0042"  # not AWS-shaped: masked because the session remembers it
ECHO_SECRET = "EchoSecretOrbitQw9Zx7Lp3Vb5Nm1"


class _EchoStore(ThreadingHTTPServer):
    """A store that answers every request (after starting multipart uploads) with 403 and an
    error body echoing the request: its Authorization header, its URL (a presigned one holds
    X-Amz-Credential and X-Amz-Signature) and S3's SignatureDoesNotMatch fields."""

    daemon_threads = True


class _EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def _reply(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        query = urlsplit(self.path).query
        if self.command == "POST" and query.startswith("uploads"):
            return self._reply(200, (
                "<InitiateMultipartUploadResult><Bucket>orbit-echo</Bucket><Key>big.bin</Key>"
                "<UploadId>echo-upload</UploadId></InitiateMultipartUploadResult>"))
        if self.command == "GET" and query.startswith("uploads"):
            return self._reply(200, (
                "<ListMultipartUploadsResult><Bucket>orbit-echo</Bucket><IsTruncated>false"
                "</IsTruncated></ListMultipartUploadsResult>"))
        if self.command == "DELETE" and "uploadId" in query:
            return self._reply(204, "")
        auth = self.headers.get("Authorization", "")
        token = self.headers.get("X-Amz-Security-Token", "")
        self._reply(403, (
            "<Error><Code>SignatureDoesNotMatch</Code><Message>refused: Authorization: "
            f"{auth}; X-Amz-Security-Token: {token}; url {self.path}</Message>"
            f"<AWSAccessKeyId>{ECHO_KEY}</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n"
            f"20261130T000000Z</StringToSign><SignatureProvided>{'ab' * 32}"
            "</SignatureProvided></Error>"))

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


@pytest.fixture
def echo_client():
    server = _EchoStore(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield S3Client(S3Config(
            bucket="orbit-echo",
            endpoint=f"http://127.0.0.1:{server.server_address[1]}",
            region="us-east-1",
            force_path_style=True,
            credentials=Credentials(ECHO_KEY, ECHO_SECRET, TOKEN),
            max_retries=0,
        ))
    finally:
        server.shutdown()
        server.server_close()


def _assert_clean(exc: BaseException) -> None:
    """Neither the error nor anything chained to it shows a credential or a signature."""
    seen = []
    while exc is not None:
        seen.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    text = "\n".join(seen)
    assert "SignatureDoesNotMatch" in text  # the store's answer is still there to read
    for secret in (ECHO_KEY, ECHO_SECRET, TOKEN, "ab" * 32, "Credential=ORBIT"):
        assert secret not in text, text
    assert MASK in text


def test_a_store_echoing_the_request_puts_no_credential_into_errors(echo_client):
    """botocore's path (PUT, GET) and the plain-HTTP presigned part PUTs both."""
    for call in (
        lambda: echo_client.upload_bytes(b"x", "k"),
        lambda: echo_client.download_bytes("k"),
    ):
        with pytest.raises(AccessDenied) as info:
            call()
        _assert_clean(info.value)


def test_presigned_part_urls_echoed_back_are_masked(echo_client, tmp_path):
    assert use_plain_http(echo_client)  # parts go over plain HTTP on presigned URLs
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(6 * MIB))  # two parts
    with pytest.raises(S3Error) as info:
        echo_client.upload_file(big, "big.bin")
    _assert_clean(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "refused: Authorization: AWS4-HMAC-SHA256 Credential=ORBITKEY/20261130/us-east-1/s3/"
        f"aws4_request, SignedHeaders=host, Signature={SIGNATURE}",
        f"GET /b/k?X-Amz-Credential=ORBITKEY%2F20261130%2Fus-east-1&X-Amz-Signature={SIGNATURE}",
        "<AWSAccessKeyId>ORBITKEY</AWSAccessKeyId><StringToSign>AWS4 x</StringToSign>",
        "key AKIAIOSFODNN7EXAMPLE was refused",
        "proxy http://team:ORBITKEY@proxy.internal:3128 refused",
    ],
    ids=["authorization-line", "presigned-url", "s3-error-fields", "aws-key-id", "proxy-url"],
)
def test_error_messages_are_redacted(text):
    error = S3Error(text)
    assert MASK in str(error)
    for secret in ("ORBITKEY", SIGNATURE, "AKIAIOSFODNN7EXAMPLE", "AWS4 x"):
        assert secret not in str(error) and secret not in error.message


def test_remembered_key_ids_are_masked_short_ones_are_not():
    remember("ORBITREMEMBERED1", "K")
    assert redact("id ORBITREMEMBERED1 and K") == f"id {MASK} and K"
