"""lean_http: awscrt's SigV4 signatures equal botocore's for the same request and instant, and
the HTTP/1.1 reader frames answers right (Content-Length, chunked, close-delimited, 1xx)
and refuses what is not HTTP, against a canned-answer server on loopback."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from orbit_provider.s3.wire.lean_http import (
    ClosedBeforeAnswer,
    CrtSigner,
    Pool,
    ProtocolError,
    request_head,
)
from orbit_provider.testing.canned_http import CannedServer

INSTANT = datetime.datetime(2026, 11, 30, 12, 34, 56, tzinfo=datetime.UTC)


def _botocore_headers(monkeypatch, creds, method, url, headers):
    monkeypatch.setattr("botocore.auth.get_current_datetime",
                        lambda: INSTANT.replace(tzinfo=None))  # fmt: skip
    request = AWSRequest(method=method, url=url, data=b"")
    request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    for name, value in headers:
        request.headers[name] = value
    S3SigV4Auth(creds.get_frozen_credentials(), "s3", "eu-west-3").add_auth(request)
    return {k.lower(): v for k, v in request.headers.items()}


@pytest.mark.parametrize(
    "target",
    [
        "/bucket/plain/key.bin",
        "/bucket/a%20b%2Bc/%C3%A9t%C3%A9~x%21.bin",  # space, +, unicode, ~, ! (S3's encoding)
        "/bucket/k?versionId=3HL4kqtJlcpXroDTDmJ%2Brmsw.Dv",
        "/bucket/?list-type=2&prefix=a%2Fb&encoding-type=url",
    ],
)
@pytest.mark.parametrize("token", [None, "session/token+=="])
def test_the_signature_equals_botocores(monkeypatch, target, token):
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    extra = [("x-amz-checksum-mode", "ENABLED"), ("Content-Type", "text/csv")]
    signed = dict(CrtSigner(creds, "eu-west-3").sign("GET", "s3.example.test:8443", target,
                                                    extra, date=INSTANT))  # fmt: skip
    signed = {k.lower(): v for k, v in signed.items()}
    expected = _botocore_headers(monkeypatch, creds, "GET",
                                 "https://s3.example.test:8443" + target, extra)  # fmt: skip
    assert signed["authorization"] == expected["authorization"]
    assert signed["x-amz-date"] == expected["x-amz-date"] == "20261130T123456Z"
    assert signed.get("x-amz-security-token") == token
    assert signed["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"


def test_refreshed_credentials_are_used_for_the_next_request(monkeypatch):
    class Rotating:
        def __init__(self):
            self.current = Credentials("AKIDONE", "secret-one")

        def get_frozen_credentials(self):
            return self.current.get_frozen_credentials()

    rotating = Rotating()
    signer = CrtSigner(rotating, "us-east-1")
    first = dict(signer.sign("GET", "h", "/b/k", [], date=INSTANT))["Authorization"]
    rotating.current = Credentials("AKIDTWO", "secret-two")
    second = dict(signer.sign("GET", "h", "/b/k", [], date=INSTANT))["Authorization"]
    assert "Credential=AKIDONE/" in first and "Credential=AKIDTWO/" in second


# -- the HTTP/1.1 reader against canned answers ----------------------------------------------


@pytest.fixture
def canned() -> Iterator[Callable[..., CannedServer]]:
    servers: list[CannedServer] = []

    def make(answers, close_after=False):
        servers.append(CannedServer(answers, close_after))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _get(pool: Pool, port: int, size: int = 65536):
    conn = pool.get("http", "127.0.0.1", port)
    conn.send(request_head("GET", "/b/k", [("Host", f"127.0.0.1:{port}")]))
    answer = conn.answer()
    buffer = memoryview(bytearray(size))
    body = bytearray()
    while n := conn.readinto_full(buffer):
        body += buffer[:n]
    pool.put(conn)
    return answer, bytes(body), conn


def test_content_length_chunked_and_1xx_answers_are_framed(canned):
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Amz-Checksum-Crc32: abc=\r\n"
               b"\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")  # fmt: skip
    server = canned([
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nETag: \"e\"\r\n\r\nhello world",
        chunked,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    ])  # fmt: skip
    pool = Pool(timeout=10)
    answer, body, _ = _get(pool, server.port, size=4)  # smaller than the body: several reads
    assert (answer.status, body, answer.headers["etag"]) == (200, b"hello world", '"e"')
    answer, body, _ = _get(pool, server.port)
    assert body == b"hello world" and answer.headers["x-amz-checksum-crc32"] == "abc="
    answer, body, _ = _get(pool, server.port)
    assert (answer.status, body) == (204, b"")
    answer, body, _ = _get(pool, server.port)
    assert (answer.status, body) == (200, b"")
    assert server.connections == 1  # every answer was read to its end: one kept-alive socket
    pool.close()


def test_a_close_delimited_or_closing_answer_is_not_reused(canned):
    server = canned([
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
    ], close_after=True)  # fmt: skip
    pool = Pool(timeout=10)
    answer, body, conn = _get(pool, server.port)
    assert body == b"ok" and not conn.reusable
    answer, body, conn = _get(pool, server.port)  # no length: the body ends with the connection
    assert body == b"until the end" and not conn.reusable
    assert server.connections == 2
    pool.close()


@pytest.mark.parametrize(
    "answer, match",
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.1 status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n", "negative Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "closed inside the body"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\n\r\n", "exceed 64 KiB"),
    ],
)
def test_what_is_not_http_is_refused(canned, answer, match):
    server = canned([answer], close_after=True)
    pool = Pool(timeout=10)
    with pytest.raises(ProtocolError, match=match):
        _get(pool, server.port)
    pool.close()


def test_a_connection_closed_before_answering_says_so(canned):
    server = canned([None])
    pool = Pool(timeout=10)
    with pytest.raises(ClosedBeforeAnswer):
        _get(pool, server.port)
    pool.close()


def test_requests_are_sent_as_built(canned):
    server = canned([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
    pool = Pool(timeout=10)
    conn = pool.get("http", "127.0.0.1", server.port)
    conn.send(request_head("PUT", "/b/k%20x", [("Host", "h"), ("Content-Length", "3")]), b"abc")
    assert conn.answer().status == 200
    assert server.requests[0] == (
        b"PUT /b/k%20x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
    )
    pool.close()
