"""LeanObjects: whole-object GET and PUT over plain HTTP against SeaweedFS, signed like
botocore (a wrong secret is refused), errors shaped like botocore's, botocore kept where the
lean path cannot go (moto's in-process mock, write arguments it does not send)."""

from __future__ import annotations

import os

import pytest

from orbit_provider.s3.client import S3Client
from orbit_provider.s3.config import Credentials, S3Config
from orbit_provider.s3.errors import AccessDenied, Network, NotFound
from orbit_provider.s3.transfer.small_http import can_put, make_lean
from orbit_provider.s3.wire import checksums
from orbit_provider.testing.canned_http import CannedServer
from orbit_provider.testing.clients import client_for


def test_put_then_get_with_the_checksum_the_store_verifies(seaweed_client):
    lean = make_lean(seaweed_client)
    data = os.urandom(70_000)
    crc = checksums.crc32_b64(checksums.crc32(data))
    answer = lean.put("lean/a b+c.bin", data, {"ChecksumCRC32": crc, "ContentType": "x/y"})
    assert answer["ChecksumCRC32"] == crc and answer["ETag"]
    head = seaweed_client.get_metadata("lean/a b+c.bin")
    assert head.size == 70_000 and head.content_type == "x/y"
    seen, pieces = {}, []
    got = lean.get("lean/a b+c.bin", memoryview(bytearray(8192)), seen.update,
                   lambda chunk: pieces.append(bytes(chunk)))  # fmt: skip
    assert got == 70_000 and b"".join(pieces) == data
    assert seen["ContentLength"] == 70_000 and seen["ChecksumCRC32"] == crc
    lean.close()


def test_a_wrong_checksum_is_refused_by_the_store(seaweed_client):
    from orbit_provider.s3.errors import IntegrityError, classify

    lean = make_lean(seaweed_client)
    wrong = checksums.crc32_b64(checksums.crc32(b"other"))
    with pytest.raises(Exception) as info:
        lean.put("lean/bad", b"payload", {"ChecksumCRC32": wrong})
    assert isinstance(classify(info.value), IntegrityError)  # BadDigest
    assert not seaweed_client.exists("lean/bad")


def test_errors_are_classified_like_botocore_ones(seaweed, seaweed_client):
    from orbit_provider.s3.errors import classify

    lean = make_lean(seaweed_client)
    with pytest.raises(Exception) as info:
        lean.get("lean/missing", memoryview(bytearray(10)), lambda h: None, lambda c: None)
    assert isinstance(classify(info.value), NotFound)
    bad = client_for(seaweed, seaweed_client.bucket,
                     credentials=Credentials(seaweed.access_key, "wrong"))  # fmt: skip
    with pytest.raises(Exception) as info:
        make_lean(bad).put("lean/x", b"x", {})
    error = classify(info.value)
    assert isinstance(error, AccessDenied) and error.code == "SignatureDoesNotMatch"


def test_a_kept_alive_connection_the_store_closed_is_replaced_at_once():
    """The store closes idle connections (without saying so): the next GET goes out again
    on a new connection instead of failing into the retry policy's backoff."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"e\"\r\n\r\nhello"
    server = CannedServer([answer, answer], close_after=True)
    client = S3Client(S3Config(bucket="canned", endpoint=f"http://127.0.0.1:{server.port}",
                               region="us-east-1", force_path_style=True,
                               credentials=Credentials("AKID", "secret")))  # fmt: skip
    lean = make_lean(client)
    try:
        for _ in range(2):
            pieces = []
            got = lean.get("k", memoryview(bytearray(64)), lambda h: None, pieces.append)
            assert got == 5 and bytes(pieces[0]) == b"hello"
        assert server.connections == 2 and len(server.requests) == 2
    finally:
        lean.close()
        server.close()


def test_a_store_that_cannot_be_reached_is_a_network_error():
    from orbit_provider.testing.ports import free_port

    client = S3Client(S3Config(bucket="canned", endpoint=f"http://127.0.0.1:{free_port()}",
                               region="us-east-1", force_path_style=True,
                               credentials=Credentials("AKID", "secret")))  # fmt: skip
    lean = make_lean(client)
    with pytest.raises(Network, match="refused"):
        lean.get("k", memoryview(bytearray(64)), lambda h: None, lambda c: None)
    with pytest.raises(Network, match="refused"):
        lean.put("k", b"data", {})


def test_botocore_is_kept_where_the_lean_path_cannot_go(moto_client):
    assert make_lean(moto_client) is None  # moto's in-process mock only intercepts botocore
    assert can_put({"ChecksumCRC32": "x", "ContentMD5": "y", "StorageClass": "STANDARD_IA"})
    assert not can_put({"Metadata": {"a": "b"}})
    assert not can_put({"Tagging": "a=b"})
    assert not can_put({"ServerSideEncryption": "AES256"})
