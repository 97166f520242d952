"""Sending upload parts: the plain-HTTP sender on presigned URLs against SeaweedFS (signed
CRC32 verified by the store, S3 errors classified), the choice of sender (plain_http.py),
and the botocore fallback.
"""

from __future__ import annotations

import random

import pytest

from orbit_provider.s3.config import MIB
from orbit_provider.s3.errors import IntegrityError, NotFound
from orbit_provider.s3.transfer.upload_resume import list_parts
from orbit_provider.s3.wire import checksums
from orbit_provider.s3.wire import part_put as part_put_module
from orbit_provider.s3.wire.part_put import BotoPartSender, HttpPartSender, make_part_sender
from orbit_provider.s3.wire.plain_http import use_plain_http


def crc_of(data: bytes) -> str:
    return checksums.crc32_b64(checksums.crc32(data))


def new_upload(client, key: str = "k") -> str:
    return client.call("create_multipart_upload", key=key, ChecksumAlgorithm="CRC32")["UploadId"]


def test_http_sender_stores_a_part_from_a_buffer_and_reuses_its_connection(seaweed_client):
    upload_id = new_upload(seaweed_client)
    sender = make_part_sender(seaweed_client, "k", upload_id, None)
    assert isinstance(sender, HttpPartSender)
    buf = bytearray(random.Random(1).randbytes(5 * MIB + 7))
    try:
        first = sender.send(1, memoryview(buf), crc_of(bytes(buf)))
        buf[:] = random.Random(2).randbytes(len(buf))
        second = sender.send(2, memoryview(buf)[: 3 * MIB], crc_of(bytes(buf[: 3 * MIB])))
        assert sender._pool._idle.qsize() == 1  # one keep-alive connection served both
    finally:
        sender.close()
    parts = list_parts(seaweed_client, "k", upload_id)
    assert [(p.number, p.size) for p in parts.values()] == [(1, 5 * MIB + 7), (2, 3 * MIB)]
    assert parts[1].etag == first["ETag"] and parts[2].etag == second["ETag"]
    assert parts[2].etag.strip('"') == checksums.md5_hex(bytes(buf[: 3 * MIB]))


def test_http_sender_wrong_checksum_is_rejected_by_the_store(seaweed_client):
    upload_id = new_upload(seaweed_client)
    sender = HttpPartSender(seaweed_client, "k", upload_id, None)
    data = random.Random(3).randbytes(MIB)
    wrong = checksums.crc32_b64(checksums.crc32(data) ^ 1)
    with pytest.raises(IntegrityError):
        sender.send(1, data, wrong)
    sender.close()
    assert list_parts(seaweed_client, "k", upload_id) == {}


def test_http_sender_maps_s3_errors(seaweed_client):
    sender = HttpPartSender(seaweed_client, "k", "no-such-upload", None)
    with pytest.raises(NotFound):
        sender.send(1, b"x" * 1024, crc_of(b"x" * 1024))
    sender.close()


def test_botocore_fallback_uploads_and_is_verified(make_seaweed_client, tmp_path, monkeypatch):
    monkeypatch.setattr(part_put_module, "use_plain_http", lambda client: False)
    client = make_seaweed_client()
    upload_id = new_upload(client)
    sender = make_part_sender(client, "k", upload_id, None)
    assert isinstance(sender, BotoPartSender)
    data = bytearray(random.Random(4).randbytes(MIB))
    with pytest.raises(IntegrityError):
        sender.send(1, memoryview(data), checksums.crc32_b64(checksums.crc32(data) ^ 1))
    sender.send(1, memoryview(data), crc_of(bytes(data)))
    assert list(list_parts(client, "k", upload_id)) == [1]
    path = tmp_path / "f"
    path.write_bytes(random.Random(5).randbytes(12 * MIB + 1))
    result = client.upload_file(path, "whole")
    assert result.parts == 3
    assert client.download_bytes("whole") == path.read_bytes()


@pytest.mark.parametrize(
    ("endpoint", "env", "plain"),
    [
        ("http://127.0.0.1:9000", {}, True),
        ("http://127.0.0.1:9000", {"AWS_CA_BUNDLE": "/etc/ca.pem"}, True),  # http: no TLS
        ("https://s3.example.com", {"AWS_CA_BUNDLE": "/etc/ca.pem"}, False),
        ("https://s3.example.com", {}, True),
        ("https://s3.example.com", {"HTTPS_PROXY": "http://proxy:3128"}, False),
        ("https://s3.example.com", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, True),
    ],
)
def test_plain_http_unless_botocore_must_handle_the_connection(
    make_seaweed_client, monkeypatch, endpoint, env, plain
):
    for name in ("AWS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = make_seaweed_client(endpoint=endpoint)
    assert use_plain_http(client) is plain


def test_moto_in_process_uses_botocore(moto_client):
    assert use_plain_http(moto_client) is False
    assert isinstance(make_part_sender(moto_client, "k", "u", None), BotoPartSender)


@pytest.mark.parametrize("algorithm", ["CRC32C", "CRC64NVME", "SHA256"])
@pytest.mark.parametrize("engine", [HttpPartSender, BotoPartSender])
def test_parts_carry_the_configured_algorithm_and_the_store_verifies_it(
    seaweed_client, algorithm, engine
):
    kind = {"ChecksumType": "FULL_OBJECT"} if algorithm == "CRC64NVME" else {}
    upload_id = seaweed_client.call(
        "create_multipart_upload", key="k", ChecksumAlgorithm=algorithm, **kind
    )["UploadId"]
    sender = engine(seaweed_client, "k", upload_id, None, algorithm)
    data = random.Random(6).randbytes(MIB)
    good = checksums.checksum_b64(algorithm, data)
    try:
        with pytest.raises(IntegrityError):
            sender.send(1, data, checksums.checksum_b64(algorithm, data + b"x"))
        answer = sender.send(1, memoryview(bytearray(data)), good)
    finally:
        sender.close()
    assert answer[f"Checksum{algorithm}"] == good  # SeaweedFS echoes what it verified
    assert list(list_parts(seaweed_client, "k", upload_id)) == [1]
