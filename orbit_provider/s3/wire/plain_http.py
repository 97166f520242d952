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
import threading
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from orbit_provider.s3.errors import Network

_CODE_RE = re.compile(rb"<Code>([^<]{1,200})</Code>")
_MESSAGE_RE = re.compile(rb"<Message>([^<]{0,500})</Message>")

Target = tuple[str, str, int | None, str]  # scheme, host, port, path?query


def use_plain_http(client: Any) -> bool:
    """Whether requests may bypass botocore: not when a proxy applies to the endpoint (from
    the environment or botocore_config), a client certificate or AWS_CA_BUNDLE is set for an
    https endpoint, TLS verification is changed for AWS's own endpoints (botocore honours
    these, http.client does not), or moto's in-process mock is on (it intercepts botocore
    only). The config's `verify` for a custom endpoint is honoured: see `register_verify`."""
    config = client.config
    endpoint = config.endpoint or "https://s3.amazonaws.com"
    parts = urlsplit(endpoint)
    options = getattr(config, "botocore_config", None) or {}
    verify = getattr(config, "verify", True)
    if options.get("proxies") or options.get("client_cert"):
        return False
    if parts.scheme == "https":
        if os.environ.get("AWS_CA_BUNDLE") and verify is True:
            return False
        if verify is not True and config.endpoint is None:
            return False
        register_verify(parts.hostname or "", verify)
    proxies = urllib.request.getproxies()
    if proxies and not urllib.request.proxy_bypass(parts.hostname or ""):
        return False
    return not _mocked_in_process()


# TLS verification per custom endpoint host (and its virtual-hosted bucket subdomains), as
# the S3Config that talks to it says: True, False (a self-signed store) or a CA bundle path.
_verify_by_host: dict[str, bool | str] = {}
_contexts: dict[bool | str, ssl.SSLContext] = {}
_tls_lock = threading.Lock()


def register_verify(hostname: str, verify: bool | str) -> None:
    """Connections to `hostname` (and BUCKET.hostname) check TLS as `verify` says."""
    with _tls_lock:
        if verify is True:
            _verify_by_host.pop(hostname.lower(), None)
        else:
            _verify_by_host[hostname.lower()] = verify


def ssl_context(host: str) -> ssl.SSLContext:
    """The TLS context for `host`: the default one unless its endpoint's config says else."""
    host = host.lower()
    with _tls_lock:
        verify: bool | str = True
        for name, value in _verify_by_host.items():
            if host == name or host.endswith("." + name):
                verify = value
                break
        context = _contexts.get(verify)
        if context is None:
            if verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif isinstance(verify, str):
                context = ssl.create_default_context(cafile=verify)
            else:
                context = ssl.create_default_context()
            _contexts[verify] = context
        return context


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
            return http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=ssl_context(host)
            )
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    def put(self, conn: http.client.HTTPConnection) -> None:
        """Give back a connection whose last response was read to the end."""
        self._idle.put(conn)

    def close(self) -> None:
        close_idle(self._idle)


def close_idle(idle: queue.SimpleQueue) -> None:
    """Close every connection waiting in `idle`."""
    while True:
        try:
            idle.get_nowait().close()
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
