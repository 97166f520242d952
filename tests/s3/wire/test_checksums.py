"""checksums.crc32 (ISA-L's, or zlib's as fallback) against zlib's, the reference."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import zlib

import pytest

from orbit_provider.s3.wire import checksums


@pytest.mark.parametrize("size", [0, 1, 63, 4096 + 17, 3 * 1024 * 1024 + 5])
def test_crc32_equals_zlib_for_every_buffer_type_and_running_value(size):
    data = random.Random(size).randbytes(size)
    expected = zlib.crc32(data)
    assert checksums.crc32(data) == expected
    assert checksums.crc32(bytearray(data)) == expected
    assert checksums.crc32(memoryview(data)) == expected
    half = size // 2
    assert checksums.crc32(data[half:], checksums.crc32(data[:half])) == expected
    assert checksums.crc32(memoryview(bytearray(data))[half:], zlib.crc32(data[:half])) == expected


@pytest.mark.parametrize(
    ("algorithm", "check_value"),
    [  # the published check values of each CRC over b"123456789"
        ("CRC32", 0xCBF43926),
        ("CRC32C", 0xE3069283),
        ("CRC64NVME", 0xAE8B14860A799888),
    ],
)
def test_streaming_crcs_give_the_standard_check_values(algorithm, check_value):
    whole = checksums.StreamingChecksum(algorithm)
    whole.update(b"123456789")
    assert int.from_bytes(whole.digest(), "big") == check_value
    pieces = checksums.StreamingChecksum(algorithm.lower())
    for piece in (b"1234", memoryview(b"567"), bytearray(b"89")):
        pieces.update(piece)
    assert pieces.b64() == whole.b64() == checksums.checksum_b64(algorithm, b"123456789")


def test_streaming_hashes_and_composites():
    data = b"orbit" * 1000
    expected = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert checksums.checksum_b64("SHA256", data) == expected
    assert checksums.checksum_b64("SHA1", data) == base64.b64encode(
        hashlib.sha1(data).digest()
    ).decode()
    parts = [hashlib.sha256(p).digest() for p in (data[:100], data[100:])]
    whole = base64.b64encode(hashlib.sha256(b"".join(parts)).digest()).decode()
    assert checksums.composite_b64("SHA256", parts) == f"{whole}-2"
    with pytest.raises(ValueError, match="not one S3 uses"):
        checksums.StreamingChecksum("MD5")


def test_full_object_checks_cover_every_algorithm():
    data = b"payload"
    for algorithm in ("CRC32", "CRC32C", "CRC64NVME", "SHA256", "SHA1"):
        good = {f"Checksum{algorithm}": checksums.checksum_b64(algorithm, data)}
        assert checksums.verify_full_object(data, good) is None
        assert algorithm in checksums.verify_full_object(b"other", good)
    assert checksums.verify_full_object(data, {"ChecksumCRC32C": "AAAAAA==-3"}) is None


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_combine_crc_equals_the_crc_of_the_joined_bytes(algorithm):
    a, b = os.urandom(1000), os.urandom(777)
    whole = checksums.StreamingChecksum(algorithm)
    whole.update(a + b)
    first, second = checksums.StreamingChecksum(algorithm), checksums.StreamingChecksum(algorithm)
    first.update(a)
    second.update(b)
    combined = checksums.combine_crc(
        algorithm,
        int.from_bytes(first.digest(), "big"),
        int.from_bytes(second.digest(), "big"),
        len(b),
    )
    assert checksums.crc_b64(algorithm, combined) == whole.b64()


def test_combine_crc_refuses_a_hash_and_a_negative_length():
    with pytest.raises(ValueError, match="not a CRC"):
        checksums.combine_crc("SHA256", 1, 2, 3)
    with pytest.raises(ValueError, match="negative"):
        checksums.combine_crc("CRC32", 1, 2, -1)


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_full_object_crc_of_parts_equals_the_crc_of_the_whole(algorithm):
    pieces = [os.urandom(n) for n in (1000, 1, 4096, 0, 333)]
    digests = []
    for piece in pieces:
        check = checksums.StreamingChecksum(algorithm)
        check.update(piece)
        digests.append((check.digest(), len(piece)))
    whole = checksums.checksum_b64(algorithm, b"".join(pieces))
    assert checksums.combine_parts_b64(algorithm, digests) == whole
    assert checksums.combine_parts_b64(algorithm, digests[:-1]) != whole
    assert checksums.combine_parts_b64(algorithm, []) == checksums.checksum_b64(algorithm, b"")


def test_checksum_names_for_parameters_and_headers():
    assert checksums.param_name("crc64nvme") == "ChecksumCRC64NVME"
    assert checksums.header_name("CRC32C") == "x-amz-checksum-crc32c"
