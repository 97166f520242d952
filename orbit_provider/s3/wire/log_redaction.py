"""Keep credentials out of botocore's DEBUG logs and out of error messages.

At DEBUG, botocore logs every request it sends (headers included: the session token and the
Authorization header) and the canonical request it signs (the token again, and for
presigned URLs the query string). A user who turns on DEBUG to chase a problem must not leak
them into task logs. The filter rewrites such records before any handler sees them; below
DEBUG no record is made, so it costs nothing at the usual levels.

The same rules clean every S3Error message (errors.py): a store or proxy that echoes the
request's Authorization header, or S3's own SignatureDoesNotMatch body (AWSAccessKeyId,
StringToSign, CanonicalRequest), must not put them into a task's error. Access key ids of the
process's sessions are remembered (`remember`) and masked wherever they appear.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"
_lock = threading.Lock()

_PATTERNS = (
    # header dict repr ('X-Amz-Security-Token': b'...'), canonical headers (x-amz-security-
    # token:...), and presigned query strings (X-Amz-Security-Token=...)
    re.compile(r"(?i)(x-amz-security-token['\"]?\s*[:=]\s*b?['\"]?)([^'\"&\s,}<]+)"),
    # the Authorization header: credential scope, signed headers and signature; as a dict
    # repr, and as a header line or JSON value echoed back in an error body
    re.compile(r"(?i)(['\"]authorization['\"]\s*:\s*b?['\"])([^'\"]+)"),
    re.compile(r"(?i)(\bauthorization\s*[:=]\s*)((?:AWS4-HMAC-SHA256|AWS)\s[^\r\n<'\"]+)"),
    # a credential scope (access key id / date / region / service), in a header or a query
    re.compile(r"(?i)((?:x-amz-)?credential=)([^&\s'\"<,]+)"),
    # a signature in a query string, or printed alone after "Signature:"
    re.compile(r"(?i)((?:x-amz-)?signature=)([^&\s'\"<,]{8,})"),
    re.compile(r"(Signature:\s*)([0-9a-f]{16,})"),
    # credentials in a response body (STS AssumeRole: XML; container/instance roles: JSON),
    # and what S3 echoes in a SignatureDoesNotMatch / InvalidAccessKeyId body
    re.compile(
        r"(<(?:SecretAccessKey|SessionToken|AWSAccessKeyId|SignatureProvided|StringToSign"
        r"|StringToSignBytes|CanonicalRequest|CanonicalRequestBytes)>)([^<]+)"
    ),
    re.compile(
        r"(['\"](?:SecretAccessKey|SessionToken|Token|AWSAccessKeyId|SignatureProvided)['\"]"
        r"\s*:\s*['\"])([^'\"]+)"
    ),
    # AWS access key ids (long-term AKIA, temporary ASIA) wherever they stand
    re.compile(r"()\b((?:AKIA|ASIA)[A-Z0-9]{16})\b"),
    # the password of a URL's user info (a proxy like http://user:secret@proxy:3128)
    re.compile(r"(://[^/\s:@'\"]+:)([^@\s/'\"]+)(?=@)"),
)

# Access key ids (and secrets) of this process's sessions: masked wherever they appear. Short
# values are skipped: masking a 3-letter test key would mangle ordinary words.
_MIN_REMEMBERED = 8
_remembered: set[str] = set()
_remembered_re: re.Pattern[str] | None = None


def remember(*values: str | None) -> None:
    """Mask these values (access key ids, secrets, tokens) in every later `redact`."""
    global _remembered_re
    new = {v for v in values if isinstance(v, str) and len(v) >= _MIN_REMEMBERED}
    with _lock:
        if new <= _remembered:
            return
        _remembered.update(new)
        ordered = sorted(_remembered, key=len, reverse=True)  # longest first: no partial masks
        _remembered_re = re.compile("|".join(re.escape(v) for v in ordered))


# The loggers that write request headers, what is signed, or response bodies.
LOGGERS = (
    "botocore.endpoint",
    "botocore.auth",
    "botocore.awsrequest",
    "botocore.parsers",
    "urllib3.connectionpool",
)


def redact(text: str) -> str:
    """`text` with session tokens, secret keys, Authorization headers and signatures masked."""
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    known = _remembered_re
    if known is not None:
        text = known.sub(MASK, text)
    return text


class RedactCredentials(logging.Filter):
    """Rewrites a record's message with `redact` (once: args are merged into msg)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error handling
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True



def install() -> None:
    """Add the filter to botocore's request loggers (idempotent, thread-safe)."""
    with _lock:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, RedactCredentials) for f in logger.filters):
                logger.addFilter(RedactCredentials())
