"""Keep credentials out of botocore's DEBUG logs.

At DEBUG, botocore logs every request it sends (headers included: the session token and the
Authorization header) and the canonical request it signs (the token again, and for
presigned URLs the query string). A user who turns on DEBUG to chase a problem must not leak
them into task logs. The filter rewrites such records before any handler sees them; below
DEBUG no record is made, so it costs nothing at the usual levels.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"

_PATTERNS = (
    # header dict repr ('X-Amz-Security-Token': b'...'), canonical headers (x-amz-security-
    # token:...), and presigned query strings (X-Amz-Security-Token=...)
    re.compile(r"(?i)(x-amz-security-token['\"]?\s*[:=]\s*b?['\"]?)([^'\"&\s,}]+)"),
    # the Authorization header: credential scope, signed headers and signature
    re.compile(r"(?i)(['\"]authorization['\"]\s*:\s*b?['\"])([^'\"]+)"),
    # a signature in a query string, or printed alone after "Signature:"
    re.compile(r"(?i)((?:x-amz-)?signature=)([0-9a-f]{16,})"),
    re.compile(r"(Signature:\s*)([0-9a-f]{16,})"),
    # credentials in a response body (STS AssumeRole: XML; container/instance roles: JSON)
    re.compile(r"(<(?:SecretAccessKey|SessionToken)>)([^<]+)"),
    re.compile(r"(['\"](?:SecretAccessKey|SessionToken|Token)['\"]\s*:\s*['\"])([^'\"]+)"),
)

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


_lock = threading.Lock()


def install() -> None:
    """Add the filter to botocore's request loggers (idempotent, thread-safe)."""
    with _lock:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, RedactCredentials) for f in logger.filters):
                logger.addFilter(RedactCredentials())
