"""The S3Error family and the one function that maps botocore/urllib3 failures onto it.

Every error says whether it is worth retrying (`retryable`); the retry path retries those
and nothing else. Messages never hold credentials: every S3Error's message, and the text of a
botocore error it is made from, pass through wire/log_redaction's rules (a store or proxy may
echo the Authorization header or the string it expected to be signed).
"""

from __future__ import annotations

import socket
import ssl

from botocore import exceptions as bce

from orbit_provider.s3.wire.log_redaction import redact

try:  # urllib3 is what botocore sends through; its errors can leak past botocore's wrappers
    from urllib3 import exceptions as u3e
except ImportError:  # pragma: no cover - botocore always ships urllib3
    u3e = None


class S3Error(Exception):
    """Base of every error orbit_provider raises about S3 or its own input."""

    retryable: bool = False
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        bucket: str | None = None,
        key: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.bucket = bucket
        self.key = key
        if code is not None:
            self.code = code
        self.status = status

    def __str__(self) -> str:
        return self.message


class ConfigError(S3Error, ValueError):
    """Bad input, found before any request was sent."""


class NotFound(S3Error):
    """The bucket, key, version or upload does not exist."""

    code = "NotFound"

    def __init__(
        self,
        bucket: str | None = None,
        key: str | None = None,
        *,
        version_id: str | None = None,
        message: str | None = None,
        code: str | None = None,
        status: int | None = 404,
    ) -> None:
        self.version_id = version_id
        if message is None:
            if key is None:
                message = f"bucket {bucket!r} not found"
            elif version_id is not None:
                message = f"version {version_id!r} of s3://{bucket}/{key} not found"
            else:
                message = f"s3://{bucket}/{key} not found"
        super().__init__(message, bucket=bucket, key=key, code=code, status=status)


class AccessDenied(S3Error):
    """The credentials are wrong, expired, or not allowed to do this."""

    code = "AccessDenied"


class Throttled(S3Error):
    """The store asked us to slow down (503 SlowDown, 429, ...)."""

    retryable = True
    code = "SlowDown"


class ServerError(S3Error):
    """The store failed on its side (5xx): worth retrying."""

    retryable = True
    code = "InternalError"


class Network(S3Error):
    """The connection could not be made, or broke mid-way."""

    retryable = True
    code = "NetworkError"


class Timeout(S3Error):
    """The store did not answer within the configured timeout."""

    retryable = True
    code = "Timeout"


class PreconditionFailed(S3Error):
    """A conditional request (If-Match, If-None-Match, ...) did not hold."""

    code = "PreconditionFailed"


class ArchivedObject(S3Error):
    """The object sits in an archive class (GLACIER, DEEP_ARCHIVE): restore it first."""

    code = "InvalidObjectState"


class InvalidRequest(S3Error):
    """The store refused the request as malformed or unsupported."""

    code = "InvalidRequest"


class IntegrityError(S3Error):
    """Bytes on one side do not match the other (checksum, size or ETag mismatch)."""

    code = "IntegrityError"


class LocalWriteError(S3Error):
    """The local side cannot take the bytes (disk full, quota, a path that cannot be
    written): another request cannot help, so it is never retried. The message says where,
    and how much space was needed."""

    code = "LocalWriteError"


class CircuitOpen(S3Error):
    """The circuit breaker is open after repeated failures: calls fail fast until it cools."""

    code = "CircuitOpen"


class UploadInterrupted(S3Error):
    """A multipart upload stopped on a failure retries could not fix. The upload was kept,
    not aborted: upload_file resumes it. `code` is the underlying error's code (that error
    is the `__cause__`); `resume_token` (a string) names the upload explicitly."""

    code = "UploadInterrupted"

    def __init__(
        self,
        message: str,
        *,
        upload_id: str,
        resume_token: str | None = None,
        bucket: str | None = None,
        key: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, bucket=bucket, key=key, code=code, status=status)
        self.upload_id = upload_id
        self.resume_token = resume_token


_NOT_FOUND_CODES = {"NoSuchKey", "NoSuchBucket", "NoSuchVersion", "NoSuchUpload", "NotFound", "404"}
_ACCESS_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "AllAccessDisabled",
    "AccountProblem",
    "403",
    "Forbidden",
    "RequestTimeTooSkewed",  # the local clock is off: retrying without fixing it cannot help
}
_THROTTLE_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequests",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "ProvisionedThroughputExceededException",
    "BandwidthLimitExceeded",
    "EC2ThrottledException",
    "PriorRequestNotComplete",
    "ServiceUnavailable",
    "503",
}
_SERVER_CODES = {"InternalError", "500", "502", "504", "BadGateway", "GatewayTimeout"}
_TIMEOUT_CODES = {"RequestTimeout", "RequestTimeoutException"}
_PRECONDITION_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict"}
_ARCHIVE_CODES = {"InvalidObjectState"}
_INTEGRITY_CODES = {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"}


def classify(
    exc: BaseException, *, bucket: str | None = None, key: str | None = None
) -> S3Error:
    """Map any exception from a boto3 call to the matching S3Error (returned, not raised)."""
    if isinstance(exc, S3Error):
        return exc
    _redact_in_place(exc)  # it becomes the __cause__: tracebacks print its text too
    if isinstance(exc, bce.ClientError):
        return _from_client_error(exc, bucket, key)
    if isinstance(
        exc,
        bce.ReadTimeoutError | bce.ConnectTimeoutError | socket.timeout | TimeoutError,
    ) or (u3e is not None and isinstance(exc, u3e.TimeoutError)):
        return Timeout(f"timed out talking to S3: {_safe(exc)}", bucket=bucket, key=key)
    if isinstance(
        exc,
        bce.EndpointConnectionError
        | bce.ConnectionClosedError
        | bce.ConnectionError
        | bce.ResponseStreamingError
        | bce.IncompleteReadError
        | bce.HTTPClientError
        | ConnectionError
        | ssl.SSLError,
    ) or (
        u3e is not None
        and isinstance(exc, u3e.ProtocolError | u3e.HTTPError)
    ):
        return Network(f"network error talking to S3: {_safe(exc)}", bucket=bucket, key=key)
    if isinstance(exc, bce.NoCredentialsError | bce.PartialCredentialsError):
        return AccessDenied(f"no usable credentials: {_safe(exc)}", bucket=bucket, key=key)
    if isinstance(exc, bce.ParamValidationError):
        return ConfigError(f"invalid request parameters: {_safe(exc)}", bucket=bucket, key=key)
    if isinstance(exc, bce.FlexibleChecksumError):
        return IntegrityError(f"checksum mismatch: {_safe(exc)}", bucket=bucket, key=key)
    if isinstance(exc, bce.BotoCoreError):
        return S3Error(f"S3 client error: {_safe(exc)}", bucket=bucket, key=key)
    return S3Error(f"unexpected error: {type(exc).__name__}: {_safe(exc)}", bucket=bucket, key=key)


def _from_client_error(exc: bce.ClientError, bucket: str | None, key: str | None) -> S3Error:
    err = exc.response.get("Error", {}) or {}
    code = str(err.get("Code") or "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = str(err.get("Message") or code or "no message")
    op = getattr(exc, "operation_name", "request")
    where = f"s3://{bucket}/{key}" if key else (f"s3://{bucket}" if bucket else "S3")
    text = f"{op} on {where} failed: {code or status}: {message}"
    kw = {"bucket": bucket, "key": key, "code": code or None, "status": status}
    if code == "NoSuchBucket":
        return NotFound(bucket, None, message=text, code=code, status=status)
    # The error code decides first (AWS sends InvalidObjectState with 403, BadDigest with
    # 400, ...); the HTTP status only when the code is unknown or missing (HEAD has no body).
    kind = _kind_from_code(code) or _kind_from_status(status)
    if kind is NotFound:
        return NotFound(bucket, key, message=text, code=code or "NotFound", status=status)
    if kind is ArchivedObject:
        text += " (the object is archived: restore it before reading)"
    return kind(text, **kw)


_CODE_KINDS: tuple[tuple[set[str], type[S3Error]], ...] = (
    (_NOT_FOUND_CODES, NotFound),
    (_ARCHIVE_CODES, ArchivedObject),
    (_INTEGRITY_CODES, IntegrityError),
    (_PRECONDITION_CODES, PreconditionFailed),
    (_THROTTLE_CODES, Throttled),
    (_TIMEOUT_CODES, Timeout),
    (_ACCESS_CODES, AccessDenied),
    (_SERVER_CODES, ServerError),
)


def _kind_from_code(code: str) -> type[S3Error] | None:
    for codes, kind in _CODE_KINDS:
        if code in codes:
            return kind
    return None


def _kind_from_status(status: int | None) -> type[S3Error]:
    if status == 404:
        return NotFound
    if status == 403:
        return AccessDenied
    if status in (429, 503):  # S3 answers 503 SlowDown / ServiceUnavailable to slow us down
        return Throttled
    if status == 408:
        return Timeout
    if status == 412:
        return PreconditionFailed
    if status is not None and status >= 500:
        return ServerError
    return InvalidRequest

def _redact_in_place(exc: BaseException) -> None:
    """Mask credentials in an exception's own text (args, and a ClientError's parsed body)."""
    try:
        args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
        if args != exc.args:
            exc.args = args
        error = getattr(exc, "response", None)
        error = error.get("Error") if isinstance(error, dict) else None
        if isinstance(error, dict):
            for name, value in list(error.items()):
                if isinstance(value, str):
                    error[name] = redact(value)
    except Exception:  # an exception type with read-only args: its text is left as it is
        pass


def _safe(exc: BaseException) -> str:
    """The exception's text, short; botocore never puts secrets in these messages."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 500 else text[:500] + "..."


def is_retryable(exc: BaseException) -> bool:
    """Whether a failure is worth another attempt (throttling, 5xx, timeouts, broken links)."""
    return classify(exc).retryable
