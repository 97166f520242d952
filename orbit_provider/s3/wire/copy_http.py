"""A lean CopyObject for batch copies of small objects: one signed PUT over `http.client`.

botocore spends about 1 ms of client CPU on each CopyObject (serializing, event hooks,
parsing); on a 2-core machine shared with the store that caps a batch copy. `HttpCopier`
builds the request itself, signs it with botocore's own SigV4 signer (`S3SigV4Auth`, the
client's credentials and region) and parses the small reply with two regexes.

Scope: a single CopyObject keeping tags, with a storage class, server-side encryption
(SSE-S3 or SSE-KMS with its key and bucket-key setting) and checksum algorithm, given once or
per copy (a batch copy sends each source's own, read by `head`, a lean HeadObject); metadata
and content headers are kept (MetadataDirective COPY) or replaced (REPLACE, with `Metadata`
sent as x-amz-meta-* headers and the content headers re-sent), values in ASCII only.
Anything else (other write arguments, anonymous or non-SigV4 clients, proxies, custom CA
bundles, moto's in-process mock) goes through `transfer.copy.copy_object`: `make_copier`
returns None and the caller falls back.

Failures look like botocore's (plain_http.client_error / network_error), so `errors.classify`,
the batch's retries and the circuit breaker treat both paths alike. A 200 reply whose body
is an <Error> (S3 may fail a copy after it started answering) counts as a 500, as in botocore.
"""

from __future__ import annotations

import html
import http.client
import re
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest

from orbit_provider.s3.recovery import with_retry
from orbit_provider.s3.wire.plain_http import (
    ConnectionPool,
    client_error,
    network_error,
    use_plain_http,
)
from orbit_provider.s3.wire.ratelimit import TokenBucket

#: write_args keys this path sends, as their HTTP headers.
_HEADERS = {
    "StorageClass": "x-amz-storage-class",
    "ServerSideEncryption": "x-amz-server-side-encryption",
    "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id",
    "BucketKeyEnabled": "x-amz-server-side-encryption-bucket-key-enabled",
    "ChecksumAlgorithm": "x-amz-checksum-algorithm",
    "MetadataDirective": "x-amz-metadata-directive",
    "ContentType": "content-type",
    "ContentEncoding": "content-encoding",
    "ContentDisposition": "content-disposition",
    "ContentLanguage": "content-language",
    "CacheControl": "cache-control",
    "Metadata": "x-amz-meta-",  # a dict: one header per name
}
#: HeadObject answer headers `head` returns, under botocore's names.
_HEAD_FIELDS = {
    "content-length": "ContentLength",
    "etag": "ETag",
    "x-amz-version-id": "VersionId",
    "x-amz-storage-class": "StorageClass",
    "x-amz-server-side-encryption": "ServerSideEncryption",
    "x-amz-server-side-encryption-aws-kms-key-id": "SSEKMSKeyId",
    "x-amz-server-side-encryption-bucket-key-enabled": "BucketKeyEnabled",
    "x-amz-checksum-type": "ChecksumType",
    "content-type": "ContentType",
    "content-encoding": "ContentEncoding",
    "content-disposition": "ContentDisposition",
    "content-language": "ContentLanguage",
    "cache-control": "CacheControl",
    **{f"x-amz-checksum-{a.lower()}": f"Checksum{a}"
       for a in ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")},
}  # fmt: skip
_ETAG_RE = re.compile(rb"<ETag>([^<]{1,200})</ETag>")
_ERROR_RE = re.compile(rb"<Error>")
_PROBE_KEY = "orbit-probe"
_META = "x-amz-meta-"


def make_copier(
    client: Any, write: dict[str, Any], limiter: TokenBucket | None
) -> HttpCopier | None:
    """An HttpCopier for `client` (a batch's one-attempt view) sending `write`, or None when
    the botocore path must be used."""
    if not sendable(write) or not use_plain_http(client):
        return None
    boto = client.s3
    signer = getattr(boto, "_request_signer", None)
    credentials = getattr(signer, "_credentials", None)
    if credentials is None or getattr(boto.meta.config, "signature_version", None) != "s3v4":
        return None
    return HttpCopier(client, credentials, boto.meta.region_name, write, limiter)


class HttpCopier:
    """CopyObject over pooled keep-alive connections; shared by the batch's worker threads."""

    def __init__(
        self,
        client: Any,
        credentials: Any,
        region: str,
        write: dict[str, Any],
        limiter: TokenBucket | None = None,
    ) -> None:
        self.client = client
        self.credentials = credentials
        self.region = region
        self.limiter = limiter
        self.headers = _as_headers(write)
        self._pool = ConnectionPool(client.config.timeout_seconds)
        self._bases: dict[str, tuple[str, str]] = {}  # bucket -> (scheme://netloc, path prefix)

    def _base(self, bucket: str) -> tuple[str, str]:
        """Where the bucket's objects live, as botocore addresses them (path or virtual host
        style, per the client's config): learnt once per bucket from a presigned URL."""
        base = self._bases.get(bucket)
        if base is None:
            url = self.client.s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": _PROBE_KEY}, ExpiresIn=60
            )
            u = urlsplit(url)
            base = (f"{u.scheme}://{u.netloc}", u.path[: -len(_PROBE_KEY)])
            self._bases[bucket] = base
        return base

    def copy(
        self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str,
        src_version_id: str | None = None, write: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Copy one object (at most 5 GiB) under the client's retry policy and circuit breaker;
        `write` (keys of _HEADERS) replaces the copier's own write arguments for this copy.
        Returns {"ETag": unquoted etag, "VersionId": version id or None}."""
        if write is not None and not sendable(write):
            unsent = sorted(set(write) - set(_HEADERS)) or "non-ASCII values"
            raise ValueError(f"write: the lean copy cannot send {unsent}")
        headers = self.headers if write is None else _as_headers(write)
        source = quote(f"{src_bucket}/{src_key}", safe="/~")
        if src_version_id:
            source += "?versionId=" + quote(src_version_id, safe="")
        url = self._url(dst_bucket, dst_key)
        return with_retry(
            self.client.retry_policy,
            lambda: self._send(url, source, headers, dst_bucket, dst_key),
            self.client.circuit_breaker,
            bucket=dst_bucket,
            key=dst_key,
            throttle=self.client.throttle,
        )

    def head(self, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any]:
        """HeadObject (ChecksumMode ENABLED) over the same connections: the answer's size,
        ETag, version, storage class, encryption, checksum, content headers and user metadata,
        under botocore's names (what `models.ObjectMetadata.from_head` reads)."""
        url = self._url(bucket, key)
        if version_id:
            url += "?versionId=" + quote(version_id, safe="")
        return with_retry(
            self.client.retry_policy,
            lambda: self._head(url, bucket, key),
            self.client.circuit_breaker,
            bucket=bucket,
            key=key,
            throttle=self.client.throttle,
        )

    def _url(self, bucket: str, key: str) -> str:
        origin, prefix = self._base(bucket)
        return origin + prefix + quote(key, safe="/~")

    def _signed(self, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, data=b"")
        for name, value in headers.items():
            request.headers[name] = value
        S3SigV4Auth(self.credentials.get_frozen_credentials(), "s3", self.region).add_auth(
            request
        )
        return dict(request.headers.items())

    def _request(
        self, method: str, url: str, headers: dict[str, str], bucket: str, key: str
    ) -> tuple[Any, bytes, http.client.HTTPConnection]:
        """Send one signed request; returns (response, body, connection still open)."""
        if self.limiter is not None:
            self.limiter.acquire()
        signed = self._signed(method, url, headers)
        u = urlsplit(url)
        conn = self._pool.get(u.scheme, u.hostname or "", u.port)
        try:
            conn.putrequest(method, u.path + (f"?{u.query}" if u.query else ""),
                            skip_accept_encoding=True)  # fmt: skip
            for name, value in signed.items():
                conn.putheader(name, value)
            if method == "PUT":
                conn.putheader("Content-Length", "0")
            conn.endheaders()
            resp = conn.getresponse()
            body = resp.read()
        except (http.client.HTTPException, OSError) as exc:
            conn.close()
            doing = "copying to" if method == "PUT" else "reading"
            raise network_error(exc, doing, bucket, key) from exc
        return resp, body, conn

    def _release(self, resp: Any, conn: http.client.HTTPConnection) -> None:
        if resp.will_close:
            conn.close()
        else:
            self._pool.put(conn)

    def _head(self, url: str, bucket: str, key: str) -> dict[str, Any]:
        resp, body, conn = self._request(
            "HEAD", url, {"x-amz-checksum-mode": "ENABLED"}, bucket, key
        )
        if resp.status != 200:
            conn.close()
            raise client_error(resp.status, body, "HeadObject")
        answer: dict[str, Any] = {}
        metadata: dict[str, str] = {}
        for name, value in resp.getheaders():
            lower = name.lower()
            field = _HEAD_FIELDS.get(lower)
            if field is not None:
                answer[field] = value
            elif lower.startswith(_META):
                metadata[lower[len(_META) :]] = value
        answer["Metadata"] = metadata
        self._release(resp, conn)
        if "ContentLength" in answer:
            answer["ContentLength"] = int(answer["ContentLength"])
        if "BucketKeyEnabled" in answer:
            answer["BucketKeyEnabled"] = answer["BucketKeyEnabled"].lower() == "true"
        return answer

    def _send(
        self, url: str, source: str, headers: dict[str, str], bucket: str, key: str
    ) -> dict[str, Any]:
        resp, body, conn = self._request(
            "PUT", url, {"x-amz-copy-source": source, **headers}, bucket, key
        )
        if resp.status != 200 or _ERROR_RE.search(body):
            conn.close()
            raise client_error(resp.status if resp.status != 200 else 500, body, "CopyObject")
        match = _ETAG_RE.search(body)
        if match is None:
            conn.close()
            raise client_error(500, b"<Code>InternalError</Code><Message>CopyObject reply "
                               b"without an ETag</Message>", "CopyObject")
        self._release(resp, conn)
        return {
            "ETag": html.unescape(match.group(1).decode("utf-8", "replace")).strip('"'),
            "VersionId": resp.getheader("x-amz-version-id"),
        }

    def close(self) -> None:
        self._pool.close()


def sendable(write: dict[str, Any]) -> bool:
    """Whether the lean copy can send `write`: only keys of _HEADERS, and ASCII values (a
    header of http.client is Latin-1; botocore sends anything else)."""
    if not set(write) <= set(_HEADERS):
        return False
    values = [*write.get("Metadata", {}).values(), *write.get("Metadata", {})]
    values += [str(v) for k, v in write.items() if k != "Metadata"]
    return all(v.isascii() for v in values)


def _as_headers(write: dict[str, Any]) -> dict[str, str]:
    """write_args (storage class, encryption, checksum algorithm, metadata directive, content
    headers, user metadata) as the headers S3 takes."""
    headers: dict[str, str] = {}
    for name, value in write.items():
        if name == "Metadata":
            headers.update({_META + k.lower(): v for k, v in value.items()})
        else:
            headers[_HEADERS[name]] = str(value).lower() if isinstance(value, bool) else str(value)
    return headers
