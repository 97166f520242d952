"""Send one part of a multipart upload. Two senders with one interface, `send(number, data, crc)`:

* `HttpPartSender` PUTs the part itself with `http.client` on a presigned UploadPart URL,
  straight from the caller's buffer (about half of botocore's client CPU per part; see
  docs/architecture.md). The part's checksum (`crc`, of the sender's `algorithm`: CRC32,
  CRC32C, CRC64NVME or SHA256) is passed to the presigner, so x-amz-checksum-<algorithm>
  is a signed header and the store verifies it. `send_file` streams a
  part larger than the caller's buffer from the file in buffer-sized pieces.
* `BotoPartSender` uses `upload_part`: for proxies, custom CA bundles and moto's in-process
  mock (plain_http.use_plain_http).

Both retry through `S3Session.retry`, take a bandwidth token per byte sent when limited, and
return {"ETag": ..., "Checksum<ALGORITHM>": ... (when the store echoes it)}.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from orbit_provider.s3.wire import checksums
from orbit_provider.s3.wire.plain_http import (
    ConnectionPool,
    client_error,
    network_error,
    split_url,
    use_plain_http,
)
from orbit_provider.s3.wire.ratelimit import (
    THROTTLE_PIECE,
    ThrottledBody,
    TokenBucket,
    take_request_token,
)

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session

URL_LIFETIME = 3600  # seconds a presigned part URL is valid (it is used at once)

Buffer = bytes | bytearray | memoryview


class Span(Protocol):
    """A part too large to hold whole (transfer/upload_io.FileSpan): read in pieces into a
    buffer, or all at once."""

    size: int

    def pieces(self, buf: memoryview) -> Iterator[memoryview]: ...

    def read(self) -> bytes: ...


class PartSender(Protocol):
    reuses_buffers: bool  # whether `data` may be a reused buffer (else pass bytes)

    def send(
        self, number: int, data: Buffer, crc: str | None, md5: str | None = None
    ) -> dict[str, Any]: ...
    def send_file(
        self, number: int, span: Span, buf: memoryview, crc: str | None, md5: str | None = None
    ) -> dict[str, Any]: ...
    def close(self) -> None: ...


def make_part_sender(
    client: S3Session,
    key: str,
    upload_id: str,
    limiter: TokenBucket | None,
    algorithm: str = "CRC32",
) -> PartSender:
    """The plain-HTTP sender when the environment allows it, else botocore's; parts carry
    checksums of `algorithm`."""
    if use_plain_http(client):
        return HttpPartSender(client, key, upload_id, limiter, algorithm)
    return BotoPartSender(client, key, upload_id, limiter, algorithm)


class _Sender:
    """What both senders hold: the upload they add parts to, the bandwidth limit and the
    checksum algorithm of the parts."""

    def __init__(
        self,
        client: S3Session,
        key: str,
        upload_id: str,
        limiter: TokenBucket | None,
        algorithm: str = "CRC32",
    ) -> None:
        self.client = client
        self.key = key
        self.upload_id = upload_id
        self.limiter = limiter
        self.algorithm = algorithm.upper()
        self.checksum_param = checksums.param_name(self.algorithm)

    def close(self) -> None:
        pass


class BotoPartSender(_Sender):
    """UploadPart through boto3 (bodies are bytes: moto rejects other buffers)."""

    reuses_buffers = False

    def send_file(
        self, number: int, span: Span, buf: memoryview, crc: str | None, md5: str | None = None
    ) -> dict[str, Any]:
        """botocore takes the body whole (moto's mock rejects file objects): read it whole."""
        return self.send(number, span.read(), crc, md5)

    def send(
        self, number: int, data: Buffer, crc: str | None, md5: str | None = None
    ) -> dict[str, Any]:
        body = data if isinstance(data, bytes) else bytes(data)
        params: dict[str, Any] = {"UploadId": self.upload_id, "PartNumber": number}
        if crc:
            params[self.checksum_param] = crc
        if md5:
            params["ContentMD5"] = md5
        if self.limiter is None or not body:
            return self.client.call("upload_part", key=self.key, Body=body, **params)
        s3, limiter = self.client.s3, self.limiter
        return self.client.retry(
            lambda: s3.upload_part(
                Bucket=self.client.bucket, Key=self.key, Body=ThrottledBody(body, limiter), **params
            ),
            key=self.key,
        )


class HttpPartSender(_Sender):
    """UploadPart as one plain PUT on a presigned URL, over pooled keep-alive connections."""

    reuses_buffers = True

    def __init__(
        self,
        client: S3Session,
        key: str,
        upload_id: str,
        limiter: TokenBucket | None,
        algorithm: str = "CRC32",
    ) -> None:
        super().__init__(client, key, upload_id, limiter, algorithm)
        self._pool = ConnectionPool(client.config.timeout_seconds)

    def send(
        self, number: int, data: Buffer, crc: str | None, md5: str | None = None
    ) -> dict[str, Any]:
        view = memoryview(data).cast("B")
        return self._send(number, len(view), lambda conn: self._send_body(conn, view), crc, md5)

    def send_file(
        self, number: int, span: Span, buf: memoryview, crc: str | None, md5: str | None = None
    ) -> dict[str, Any]:
        """Send the span, read into `buf` a piece at a time (each try reads it again). Bytes
        changed since `crc` was taken fail the store's checksum check: never stored."""

        def write_body(conn: http.client.HTTPConnection) -> None:
            for piece in span.pieces(buf):
                self._send_body(conn, piece)

        return self._send(number, span.size, write_body, crc, md5)

    def _send(
        self,
        number: int,
        length: int,
        write_body: Callable[[http.client.HTTPConnection], None],
        crc: str | None,
        md5: str | None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "Bucket": self.client.bucket,
            "Key": self.key,
            "UploadId": self.upload_id,
            "PartNumber": number,
        }
        headers: dict[str, str] = {}
        if crc:
            params[self.checksum_param] = crc  # signed: the store verifies the part against it
            headers[checksums.header_name(self.algorithm)] = crc
        if md5:
            params["ContentMD5"] = md5  # for stores without flexible checksums
            headers["Content-MD5"] = md5

        def put() -> dict[str, Any]:
            take_request_token(self.client.s3)  # a tree's request budget counts parts too
            url = self.client.s3.generate_presigned_url(
                "upload_part", Params=params, ExpiresIn=URL_LIFETIME
            )
            return self._put(split_url(url), length, write_body, headers)

        return self.client.retry(put, key=self.key)

    def _put(
        self,
        url: tuple[str, str, int | None, str],
        length: int,
        write_body: Callable[[http.client.HTTPConnection], None],
        headers: dict[str, str],
    ) -> dict[str, Any]:
        scheme, host, port, target = url
        conn = self._pool.get(scheme, host, port)
        try:
            conn.putrequest("PUT", target, skip_accept_encoding=True)
            conn.putheader("Content-Length", str(length))
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders()
            write_body(conn)
            resp = conn.getresponse()
            body = resp.read()
        except (http.client.HTTPException, OSError) as exc:
            resp = _early_response(conn)  # e.g. the server refused the part before its end
            if resp is None:
                conn.close()
                raise network_error(exc, "writing", self.client.bucket, self.key) from exc
            body = b""
            try:
                body = resp.read(65536)
            except (http.client.HTTPException, OSError):
                pass
            conn.close()
            raise client_error(resp.status, body, "UploadPart") from exc
        except BaseException:  # e.g. the file shrank while its part was being sent
            conn.close()
            raise
        if resp.status != 200:
            conn.close()
            raise client_error(resp.status, body, "UploadPart")
        if resp.will_close:
            conn.close()
        else:
            self._pool.put(conn)
        result: dict[str, Any] = {"ETag": resp.getheader("ETag")}
        returned = resp.getheader(checksums.header_name(self.algorithm))
        if returned:
            result[self.checksum_param] = returned
        return result

    def _send_body(self, conn: http.client.HTTPConnection, view: memoryview) -> None:
        if self.limiter is None:
            conn.send(view)  # sendall from the caller's buffer: no copy
            return
        for start in range(0, len(view), THROTTLE_PIECE):
            piece = view[start : start + THROTTLE_PIECE]
            self.limiter.acquire(len(piece))
            conn.send(piece)

    def close(self) -> None:
        self._pool.close()


def _early_response(conn: http.client.HTTPConnection) -> http.client.HTTPResponse | None:
    """An error response the server sent while we were still sending, if there is one."""
    try:
        resp = conn.getresponse()
    except (http.client.HTTPException, OSError):
        return None
    return resp if resp.status >= 400 else None
