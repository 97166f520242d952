"""errors.classify: S3 error codes, HTTP statuses and transport failures -> S3Error kinds."""

from __future__ import annotations

import pytest
from botocore import exceptions as bce
from urllib3 import exceptions as u3e

from orbit_provider.s3 import errors
from orbit_provider.s3.errors import (
    AccessDenied,
    ArchivedObject,
    ConfigError,
    IntegrityError,
    InvalidRequest,
    Network,
    NotFound,
    PreconditionFailed,
    S3Error,
    ServerError,
    Throttled,
    Timeout,
    classify,
    is_retryable,
)


def client_error(code: str | None, status: int, message: str = "", op: str = "GetObject"):
    error = {"Message": message} if message else {}
    if code is not None:
        error["Code"] = code
    return bce.ClientError(
        {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}, op
    )


@pytest.mark.parametrize(
    ("code", "status", "kind", "retryable"),
    [
        ("NoSuchKey", 404, NotFound, False),
        ("NoSuchVersion", 404, NotFound, False),
        ("NoSuchUpload", 404, NotFound, False),
        ("404", 404, NotFound, False),  # HEAD: no body, botocore uses the status as code
        (None, 404, NotFound, False),
        ("AccessDenied", 403, AccessDenied, False),
        ("SignatureDoesNotMatch", 403, AccessDenied, False),
        ("InvalidAccessKeyId", 403, AccessDenied, False),
        ("ExpiredToken", 400, AccessDenied, False),
        ("403", 403, AccessDenied, False),
        ("RequestTimeTooSkewed", 403, AccessDenied, False),
        ("SlowDown", 503, Throttled, True),
        ("503", 503, Throttled, True),  # HEAD answered 503: S3's way of saying slow down
        ("ServiceUnavailable", 503, Throttled, True),
        ("TooManyRequests", 429, Throttled, True),
        (None, 429, Throttled, True),
        ("Throttling", 400, Throttled, True),
        ("InternalError", 500, ServerError, True),
        ("500", 500, ServerError, True),
        (None, 502, ServerError, True),
        ("BadGateway", 502, ServerError, True),
        ("RequestTimeout", 400, Timeout, True),
        (None, 408, Timeout, True),
        ("InvalidObjectState", 403, ArchivedObject, False),  # AWS answers it with 403
        ("PreconditionFailed", 412, PreconditionFailed, False),
        ("412", 412, PreconditionFailed, False),
        ("BadDigest", 400, IntegrityError, False),
        ("InvalidDigest", 400, IntegrityError, False),
        ("XAmzContentSHA256Mismatch", 400, IntegrityError, False),
        ("InvalidArgument", 400, InvalidRequest, False),
        ("MalformedXML", 400, InvalidRequest, False),
        ("EntityTooLarge", 400, InvalidRequest, False),
    ],
)
def test_client_error_codes_and_statuses(code, status, kind, retryable):
    err = classify(client_error(code, status, "boom"), bucket="b1", key="k1")
    assert type(err) is kind
    assert err.retryable is retryable
    assert is_retryable(client_error(code, status)) is retryable
    assert err.bucket == "b1"
    assert err.key == "k1"
    assert err.status == status


def test_not_found_names_bucket_and_key():
    err = classify(client_error("NoSuchKey", 404, "The specified key does not exist."),
                   bucket="data", key="a/b.txt")
    assert isinstance(err, NotFound)
    assert (err.bucket, err.key) == ("data", "a/b.txt")
    assert "s3://data/a/b.txt" in str(err)
    assert err.code == "NoSuchKey"


def test_no_such_bucket_is_not_found_without_key():
    err = classify(client_error("NoSuchBucket", 404), bucket="gone", key="k")
    assert isinstance(err, NotFound)
    assert err.bucket == "gone"
    assert err.key is None


def test_message_names_operation_code_and_location():
    err = classify(client_error("AccessDenied", 403, "Access Denied", op="PutObject"),
                   bucket="b1", key="x")
    assert str(err) == "PutObject on s3://b1/x failed: AccessDenied: Access Denied"
    assert err.code == "AccessDenied"


def test_archived_object_says_restore():
    err = classify(client_error("InvalidObjectState", 403), bucket="b", key="k")
    assert "restore" in str(err)


def test_not_found_default_messages():
    assert str(NotFound("b", "k")) == "s3://b/k not found"
    assert str(NotFound("b")) == "bucket 'b' not found"
    assert "version 'v1'" in str(NotFound("b", "k", version_id="v1"))


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (bce.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), Network),
        (bce.ConnectionClosedError(endpoint_url="http://127.0.0.1:1"), Network),
        (bce.ProxyConnectionError(proxy_url="http://proxy:1"), Network),
        (bce.HTTPClientError(error="connection broken"), Network),
        (bce.ResponseStreamingError(error="reset"), Network),
        (bce.IncompleteReadError(actual_bytes=1, expected_bytes=2), Network),
        (ConnectionResetError("reset by peer"), Network),
        (u3e.ProtocolError("Connection aborted."), Network),
        (bce.ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), Timeout),
        (bce.ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"), Timeout),
        (TimeoutError("timed out"), Timeout),
        (u3e.ReadTimeoutError(None, "/", "Read timed out."), Timeout),
    ],
)
def test_transport_errors_are_retryable(exc, kind):
    err = classify(exc, bucket="b", key="k")
    assert type(err) is kind
    assert err.retryable is True
    assert (err.bucket, err.key) == ("b", "k")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (bce.NoCredentialsError(), AccessDenied),
        (bce.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
         AccessDenied),
        (bce.ParamValidationError(report="Missing required parameter"), ConfigError),
        (bce.FlexibleChecksumError(error_msg="crc32 mismatch"), IntegrityError),
        (ValueError("something else"), S3Error),
    ],
)
def test_other_errors_are_not_retryable(exc, kind):
    err = classify(exc)
    assert type(err) is kind
    assert err.retryable is False


def test_s3_errors_pass_through_unchanged():
    original = Throttled("slow", bucket="b")
    assert classify(original) is original


def test_retryable_flags_of_every_kind():
    assert {k.__name__ for k in (Throttled, ServerError, Network, Timeout) if k.retryable} == {
        "Throttled", "ServerError", "Network", "Timeout"
    }
    for kind in (NotFound, AccessDenied, PreconditionFailed, ArchivedObject, InvalidRequest,
                 ConfigError, IntegrityError, errors.CircuitOpen, S3Error):
        assert kind.retryable is False, kind
    for kind in (NotFound, AccessDenied, Throttled, Network, Timeout, PreconditionFailed,
                 ArchivedObject, InvalidRequest, ConfigError, IntegrityError):
        assert issubclass(kind, S3Error)
