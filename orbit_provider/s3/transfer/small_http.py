"""Whole small objects over pooled `http.client` connections: one signed GET or PUT each.

For a tree of small files the request is the cost: botocore spends about 1-1.5 ms of client
CPU on each GetObject or PutObject (serializing, event hooks, parsing), on the same 2 cores
as the store. `LeanObjects` builds the request itself, signs it with botocore's own SigV4
signer (`S3SigV4Auth`, the client's credentials and region; the payload is sent
UNSIGNED-PAYLOAD, its checksum header is signed) and reads the answer's headers directly.

Scope: GET of a key (or version) with ChecksumMode; PUT of bytes with a checksum header,
Content-MD5, content type and storage class. Anything else (other write arguments, proxies,
custom CA bundles, non-SigV4 clients, moto's in-process mock) uses botocore: `make_lean`
returns None and the caller takes the botocore path. Failures look like botocore's
(plain_http.client_error / network_error), so classification and retries are the same.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest

from orbit_provider.s3.wire.plain_http import (
    ConnectionPool,
    client_error,
    network_error,
    use_plain_http,
)
from orbit_provider.s3.wire.ratelimit import TokenBucket

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session

_PROBE_KEY = "orbit-probe"
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
        self.credentials = credentials
        self.region = region
        self.limiter = limiter
        self._pool = ConnectionPool(session.config.timeout_seconds)
        url = boto.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": _PROBE_KEY}, ExpiresIn=60
        )
        u = urlsplit(url)  # where the bucket's objects live, as botocore addresses them
        self._scheme, self._host, self._port = u.scheme, u.hostname or "", u.port
        self._origin = f"{u.scheme}://{u.netloc}"
        self._path = u.path[: -len(_PROBE_KEY)]

    def close(self) -> None:
        self._pool.close()

    def _target(self, key: str, version_id: str | None = None) -> str:
        path = self._path + quote(key, safe="/~")
        return path + ("?versionId=" + quote(version_id, safe="") if version_id else "")

    def _signed(self, method: str, target: str, headers: dict[str, str]) -> dict[str, str]:
        request = AWSRequest(method=method, url=self._origin + target, data=b"")
        for name, value in headers.items():
            request.headers[name] = value
        request.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
        S3SigV4Auth(self.credentials.get_frozen_credentials(), "s3", self.region).add_auth(
            request
        )
        return dict(request.headers.items())

    def _send(
        self, method: str, key: str, target: str, headers: dict[str, str], body: Any = None
    ) -> tuple[Any, http.client.HTTPConnection]:
        if self.limiter is not None:
            self.limiter.acquire()
        signed = self._signed(method, target, headers)
        conn = self._pool.get(self._scheme, self._host, self._port)
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            for name, value in signed.items():
                conn.putheader(name, value)
            if method == "PUT":
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
        except (http.client.HTTPException, OSError) as exc:
            conn.close()
            raise network_error(exc, "sending to" if body else "reading", self.bucket,
                                key) from exc  # fmt: skip
        if resp.status >= 300:
            try:
                text = resp.read(65536)
            except (http.client.HTTPException, OSError):
                text = b""
            conn.close()
            raise client_error(resp.status, text, "PutObject" if body is not None else "GetObject")
        return resp, conn

    @staticmethod
    def _answer(resp: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in resp.getheaders():
            field = _ANSWER_FIELDS.get(name.lower())
            if field is not None:
                out[field] = int(value) if field == "ContentLength" else value
        return out

    def _release(self, resp: Any, conn: http.client.HTTPConnection) -> None:
        if resp.will_close or not resp.isclosed():
            conn.close()
        else:
            self._pool.put(conn)

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
        headers = {"x-amz-checksum-mode": "ENABLED"} if checksum_mode else {}
        resp, conn = self._send("GET", key, self._target(key, version_id), headers)
        total = 0
        try:
            on_answer(self._answer(resp))
            while True:
                try:
                    n = resp.readinto(buffer)
                except (http.client.HTTPException, OSError) as exc:
                    raise network_error(exc, "reading", self.bucket, key) from exc
                if not n:
                    break
                on_bytes(buffer[:n])
                total += n
        except BaseException:
            conn.close()
            raise
        self._release(resp, conn)
        return total

    def put(self, key: str, data: bytes | memoryview, args: dict[str, Any]) -> dict[str, Any]:
        """PUT `data` as `key` with `args` (boto3 names, see can_put); the answer's ETag,
        VersionId and echoed checksum under botocore's names."""
        headers = {_PUT_HEADERS[name]: str(value) for name, value in args.items()}
        resp, conn = self._send("PUT", key, self._target(key), headers, data)
        try:
            resp.read()
        except (http.client.HTTPException, OSError) as exc:
            conn.close()
            raise network_error(exc, "sending to", self.bucket, key) from exc
        answer = self._answer(resp)
        self._release(resp, conn)
        return answer
