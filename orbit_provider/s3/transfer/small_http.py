"""Whole small objects over kept-alive sockets: one signed GET or PUT each.

For a tree of small files the request is the cost: botocore spends about 1-1.5 ms of client
CPU on each GetObject or PutObject (serializing, event hooks, parsing), on the same 2 cores
as the store, and `http.client` with botocore's SigV4 signer still about 0.3 ms.
`LeanObjects` builds the request itself, has awscrt sign it (wire/lean_http.py: the client's
credentials and region; the payload is sent UNSIGNED-PAYLOAD, its checksum header is signed)
and reads the answer's headers directly: about 0.1 ms a GET.

Scope: GET of a key (or version) with ChecksumMode; PUT of bytes with a checksum header,
Content-MD5, content type and storage class. Anything else (other write arguments, proxies,
custom CA bundles, non-SigV4 clients, moto's in-process mock) uses botocore: `make_lean`
returns None and the caller takes the botocore path. Failures look like botocore's
(plain_http.client_error / network_error), so classification and retries are the same.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from orbit_provider.s3.wire.lean_http import (
    ClosedBeforeAnswer,
    Connection,
    CrtSigner,
    Pool,
    request_head,
)
from orbit_provider.s3.wire.plain_http import client_error, network_error, use_plain_http
from orbit_provider.s3.wire.ratelimit import TokenBucket

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session

_PROBE_KEY = "orbit-probe"
#: how a kept-alive connection the store closed while idle fails on its next request
_STALE = (ClosedBeforeAnswer, ConnectionResetError, BrokenPipeError, ssl.SSLEOFError)
_ANSWER_FIELDS = {
    "content-length": "ContentLength",
    "etag": "ETag",
    "x-amz-version-id": "VersionId",
    "x-amz-server-side-encryption": "ServerSideEncryption",
    "x-amz-server-side-encryption-customer-algorithm": "SSECustomerAlgorithm",
    "x-amz-checksum-type": "ChecksumType",
    **{f"x-amz-checksum-{a.lower()}": f"Checksum{a}"
       for a in ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")},
}  # fmt: skip
#: write and integrity arguments (boto3 names) this path sends, as their headers
_PUT_HEADERS = {
    "ContentMD5": "Content-MD5",
    "ContentType": "Content-Type",
    "StorageClass": "x-amz-storage-class",
    **{f"Checksum{a}": f"x-amz-checksum-{a.lower()}"
       for a in ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")},
}  # fmt: skip


def can_put(args: dict[str, Any]) -> bool:
    """Whether a PUT with these boto3 arguments can take the lean path."""
    return set(args) <= set(_PUT_HEADERS)


def make_lean(session: S3Session, limiter: TokenBucket | None = None) -> LeanObjects | None:
    """LeanObjects for `session`, or None when the botocore path must be used."""
    if not use_plain_http(session):
        return None
    boto = session.s3
    boto = getattr(boto, "_boto", boto)  # a rate-limited view: the real client underneath
    signer = getattr(boto, "_request_signer", None)
    credentials = getattr(signer, "_credentials", None)
    if credentials is None or getattr(boto.meta.config, "signature_version", None) != "s3v4":
        return None
    return LeanObjects(session, boto, credentials, boto.meta.region_name, limiter)


class LeanObjects:
    """GET / PUT of whole objects of one bucket, shared by a tree's worker threads."""

    def __init__(
        self, session: S3Session, boto: Any, credentials: Any, region: str,
        limiter: TokenBucket | None = None,
    ) -> None:  # fmt: skip
        self.session = session
        self.bucket = session.bucket
        self.limiter = limiter
        self._signer = CrtSigner(credentials, region)
        self._pool = Pool(session.config.timeout_seconds)
        url = boto.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": _PROBE_KEY}, ExpiresIn=60
        )
        u = urlsplit(url)  # where the bucket's objects live, as botocore addresses them
        self._scheme, self._host, self._port = u.scheme, u.hostname or "", u.port
        self._netloc = u.netloc
        self._path = u.path[: -len(_PROBE_KEY)]

    def close(self) -> None:
        self._pool.close()

    def _target(self, key: str, version_id: str | None = None) -> str:
        path = self._path + quote(key, safe="/~")
        return path + ("?versionId=" + quote(version_id, safe="") if version_id else "")

    def _send(
        self, method: str, key: str, target: str, headers: list[tuple[str, str]],
        body: bytes | memoryview | None = None,
    ) -> tuple[Connection, dict[str, str]]:  # fmt: skip
        """Send one request: the connection holding its answer's body, and the answer's
        headers (its status is below 300; an error answer is raised like botocore's)."""
        if self.limiter is not None:
            self.limiter.acquire()
        signed = self._signer.sign(method, self._netloc, target, headers)
        if body is not None:
            signed.append(("Content-Length", str(len(body))))
        head = request_head(method, target, signed)
        for fresh in (False, True):
            conn = None
            try:
                conn = self._pool.get(self._scheme, self._host, self._port, fresh)
                conn.send(head, body)
                answer = conn.answer()
                break
            except OSError as exc:
                if conn is not None:
                    conn.close()
                stale = conn is not None and conn.requests > 1 and isinstance(exc, _STALE)
                if stale and not fresh:
                    continue  # a kept-alive connection the store had closed: once more, anew
                raise network_error(exc, "sending to" if body is not None else "reading",
                                    self.bucket, key) from exc  # fmt: skip
        if answer.status >= 300:
            try:
                text = conn.read_body(65536)
            except OSError:
                text = b""
            conn.close()
            operation = "PutObject" if body is not None else "GetObject"
            raise client_error(answer.status, text, operation)
        return conn, answer.headers

    @staticmethod
    def _fields(headers: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, field in _ANSWER_FIELDS.items():
            value = headers.get(name)
            if value is not None:
                out[field] = int(value) if field == "ContentLength" else value
        return out

    def get(
        self,
        key: str,
        buffer: memoryview,
        on_answer: Callable[[dict[str, Any]], None],
        on_bytes: Callable[[memoryview], None],
        *,
        version_id: str | None = None,
        checksum_mode: bool = True,
    ) -> int:
        """GET `key`: `on_answer(headers)` first (botocore's names: ContentLength, ETag,
        Checksum*...; it may raise to refuse the object), then `on_bytes(chunk)` for each
        piece read into `buffer`. Returns the bytes read."""
        headers = [("x-amz-checksum-mode", "ENABLED")] if checksum_mode else []
        conn, answer = self._send("GET", key, self._target(key, version_id), headers)
        total = 0
        try:
            on_answer(self._fields(answer))
            while True:
                try:
                    n = conn.readinto_full(buffer)
                except OSError as exc:
                    raise network_error(exc, "reading", self.bucket, key) from exc
                if not n:
                    break
                on_bytes(buffer[:n])
                total += n
        except BaseException:
            conn.close()
            raise
        self._pool.put(conn)
        return total

    def put(self, key: str, data: bytes | memoryview, args: dict[str, Any]) -> dict[str, Any]:
        """PUT `data` as `key` with `args` (boto3 names, see can_put); the answer's ETag,
        VersionId and echoed checksum under botocore's names."""
        headers = [(_PUT_HEADERS[name], str(value)) for name, value in args.items()]
        conn, answer = self._send("PUT", key, self._target(key), headers, data)
        try:
            conn.read_body()
        except OSError as exc:
            conn.close()
            raise network_error(exc, "sending to", self.bucket, key) from exc
        self._pool.put(conn)
        return self._fields(answer)
