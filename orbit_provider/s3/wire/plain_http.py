"""Plain `http.client` requests on presigned URLs: the shared pieces of the fast paths.

Ranged GETs (range_fetch.py) and part PUTs (part_put.py) skip botocore's per-request
machinery and send bytes straight from / into our buffers, at a third of its client CPU
(docs/architecture.md). boto3 still signs (presigned SigV4 URLs), and failures are raised
shaped like botocore's, so `S3Session.retry` classifies and retries them like any call.
"""

from __future__ import annotations

import http.client
import os
import queue
import re
import ssl
import sys
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from orbit_provider.s3.errors import Network

_CODE_RE = re.compile(rb"<Code>([^<]{1,200})</Code>")
_MESSAGE_RE = re.compile(rb"<Message>([^<]{0,500})</Message>")

Target = tuple[str, str, int | None, str]  # scheme, host, port, path?query


def use_plain_http(client: Any) -> bool:
    """Whether requests may bypass botocore: not when a proxy applies to the endpoint, a
    custom CA bundle is set for an https endpoint (botocore honours both, http.client
    neither), or moto's in-process mock is on (it intercepts botocore only)."""
    endpoint = client.config.endpoint or "https://s3.amazonaws.com"
    parts = urlsplit(endpoint)
    if parts.scheme == "https" and os.environ.get("AWS_CA_BUNDLE"):
        return False
    proxies = urllib.request.getproxies()
    if proxies and not urllib.request.proxy_bypass(parts.hostname or ""):
        return False
    return not _mocked_in_process()


def _mocked_in_process() -> bool:
    stubber = getattr(sys.modules.get("moto.core.models"), "botocore_stubber", None)
    return bool(getattr(stubber, "enabled", False))


def split_url(url: str) -> Target:
    """A presigned URL as (scheme, host, port, request target)."""
    u = urlsplit(url)
    target = (u.path or "/") + ("?" + u.query if u.query else "")
    return u.scheme, u.hostname or "", u.port, target


class ConnectionPool:
    """Idle keep-alive connections, shared by worker threads (each takes one per request)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle: queue.SimpleQueue[http.client.HTTPConnection] = queue.SimpleQueue()
        self._ssl: ssl.SSLContext | None = None

    def get(self, scheme: str, host: str, port: int | None) -> http.client.HTTPConnection:
        """An idle connection to (host, port), or a new one."""
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                break
            if (conn.host, conn.port) == (host, port or conn.default_port):
                return conn
            conn.close()
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._ssl)
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    def put(self, conn: http.client.HTTPConnection) -> None:
        """Give back a connection whose last response was read to the end."""
        self._idle.put(conn)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def network_error(exc: BaseException, what: str, bucket: str, key: str) -> Exception:
    """A socket/HTTP failure as the error `errors.classify` retries (timeouts stay as they are)."""
    if isinstance(exc, TimeoutError):
        return exc  # classified as Timeout (retryable)
    return Network(f"network error {what} s3://{bucket}/{key}: {exc!r}", bucket=bucket, key=key)


def client_error(status: int, body: bytes, operation: str) -> ClientError:
    """The error S3 sent, shaped like botocore's so errors.classify maps it the same way."""
    code_match = _CODE_RE.search(body)
    message_match = _MESSAGE_RE.search(body)
    code = code_match.group(1).decode("utf-8", "replace") if code_match else str(status)
    message = message_match.group(1).decode("utf-8", "replace") if message_match else ""
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )
