"""Open one ranged GET of an object and read its body straight into a caller's buffer.

Two engines with one interface (`open(start, end) -> RangeBody`):

* `HttpRangeEngine` sends the GET itself with `http.client` on a presigned URL (SigV4 signed
  by boto3). Its `readinto` receives straight into the caller's buffer: no per-read
  allocation or copy, about a third of botocore's client CPU per GiB (docs/architecture.md).
* `BotoRangeEngine` uses `get_object`: for proxies and custom CA bundles, which the first
  engine does not handle.

Both pin every GET with If-Match (and VersionId), and raise botocore-shaped errors (or our
S3Errors) so that `S3Session.retry` classifies and retries them like any other call.
"""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any, Protocol

from orbit_provider.s3.errors import InvalidRequest
from orbit_provider.s3.wire.plain_http import (
    ConnectionPool,
    client_error,
    network_error,
    split_url,
    use_plain_http,
)
from orbit_provider.s3.wire.ratelimit import take_request_token

URL_LIFETIME = 3600  # seconds a presigned URL is valid


class RangeBody(Protocol):
    def readinto(self, buf: memoryview) -> int: ...
    def close(self, reusable: bool) -> None: ...


def choose_engine(client: Any) -> str:
    """"http" unless the environment asks for things only botocore handles (plain_http.py)."""
    return "http" if use_plain_http(client) else "boto"


def make_engine(client: Any, engine: str, key: str, etag: str | None, version_id: str | None):
    if engine == "http":
        return HttpRangeEngine(client, key, etag, version_id)
    if engine == "boto":
        return BotoRangeEngine(client, key, etag, version_id)
    raise ValueError(f"unknown engine {engine!r}")


def _check_length(start: int, end: int, length: int | None, key: str, bucket: str) -> None:
    if length is not None and length != end - start:
        raise InvalidRequest(
            f"s3://{bucket}/{key}: asked for bytes {start}-{end - 1}, the server sent {length}",
            bucket=bucket,
            key=key,
        )


class BotoRangeEngine:
    """Ranged GETs through boto3's get_object (reads the urllib3 stream with readinto)."""

    def __init__(self, client: Any, key: str, etag: str | None, version_id: str | None) -> None:
        self.client = client
        self.key = key
        self.params: dict[str, Any] = {"Bucket": client.bucket, "Key": key}
        if etag:
            self.params["IfMatch"] = etag
        if version_id:
            self.params["VersionId"] = version_id

    def open(self, start: int, end: int) -> RangeBody:
        resp = self.client.s3.get_object(Range=f"bytes={start}-{end - 1}", **self.params)
        body = resp["Body"]
        _check_length(start, end, resp.get("ContentLength"), self.key, self.client.bucket)
        return _BotoBody(body)

    def close(self) -> None:
        pass


class _BotoBody:
    def __init__(self, body: Any) -> None:
        self._body = body
        self._raw = body._raw_stream  # urllib3 response: readinto, no botocore wrappers

    def readinto(self, buf: memoryview) -> int:
        return self._raw.readinto(buf)

    def close(self, reusable: bool) -> None:
        self._body.close()


class HttpRangeEngine:
    """Ranged GETs on presigned URLs with a small pool of http.client connections."""

    def __init__(self, client: Any, key: str, etag: str | None, version_id: str | None) -> None:
        self.client = client
        self.key = key
        self.etag = etag
        self.params: dict[str, Any] = {"Bucket": client.bucket, "Key": key}
        if version_id:
            self.params["VersionId"] = version_id
        self.timeout = client.config.timeout_seconds
        self._pool = ConnectionPool(self.timeout)
        self._url_lock = threading.Lock()
        self._signed: tuple[str, str, int | None, str] | None = None
        self._signed_at = 0.0

    def _url(self) -> tuple[str, str, int | None, str]:
        """One presigned URL serves every range (Range and If-Match are plain headers);
        signing costs milliseconds of CPU, so it is renewed only when half its life is gone."""
        with self._url_lock:
            now = time.monotonic()
            if self._signed is None or now - self._signed_at > URL_LIFETIME / 2:
                url = self.client.s3.generate_presigned_url(
                    "get_object", Params=self.params, ExpiresIn=URL_LIFETIME
                )
                self._signed = split_url(url)
                self._signed_at = now
            return self._signed

    def open(self, start: int, end: int) -> RangeBody:
        take_request_token(self.client.s3)  # a tree's request budget counts ranges too
        scheme, host, port, target = self._url()
        conn = self._pool.get(scheme, host, port)
        headers = {"Range": f"bytes={start}-{end - 1}"}
        if self.etag:
            headers["If-Match"] = self.etag
        try:
            conn.request("GET", target, headers=headers)
            resp = conn.getresponse()
        except (http.client.HTTPException, OSError) as exc:
            conn.close()
            raise _network(exc, self.client.bucket, self.key) from exc
        if resp.status not in (200, 206):
            try:
                body = resp.read(65536)
            except (http.client.HTTPException, OSError):
                body = b""
            conn.close()
            raise _client_error(resp.status, body)
        if resp.status == 200 and not (start == 0 and resp.length == end):
            conn.close()
            raise InvalidRequest(
                f"s3://{self.client.bucket}/{self.key}: the server ignored the Range header",
                bucket=self.client.bucket,
                key=self.key,
            )
        try:
            _check_length(start, end, resp.length, self.key, self.client.bucket)
        except InvalidRequest:
            conn.close()
            raise
        return _HttpBody(self, conn, resp)

    def release(self, conn: http.client.HTTPConnection) -> None:
        self._pool.put(conn)

    def close(self) -> None:
        self._pool.close()


class _HttpBody:
    def __init__(
        self, engine: HttpRangeEngine, conn: http.client.HTTPConnection, resp: Any
    ) -> None:
        self._engine = engine
        self._conn = conn
        self._resp = resp

    def readinto(self, buf: memoryview) -> int:
        try:
            return self._resp.readinto(buf)
        except (http.client.HTTPException, OSError) as exc:
            raise _network(exc, self._engine.client.bucket, self._engine.key) from exc

    def close(self, reusable: bool) -> None:
        if reusable and self._resp.isclosed():
            self._engine.release(self._conn)
        else:
            self._conn.close()


def _network(exc: BaseException, bucket: str, key: str) -> Exception:
    return network_error(exc, "reading", bucket, key)


def _client_error(status: int, body: bytes) -> Exception:
    return client_error(status, body, "GetObject")
