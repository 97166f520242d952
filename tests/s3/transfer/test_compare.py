"""local_matches_remote: size + CRC32 / composite CRC32 / MD5, against SeaweedFS and moto."""

from __future__ import annotations

import os

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from orbit_provider.s3.config import MIB
from orbit_provider.s3.errors import ConfigError


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(11 * MIB))  # 3 parts at 5 MiB, 2 at 8 MiB
    return path


def test_single_put_and_multipart_uploads_of_ours_match(seaweed_client, tmp_path, data):
    small = tmp_path / "small.txt"
    small.write_bytes(b"hello")
    seaweed_client.upload_file(small, "small.txt")
    seaweed_client.upload_file(data, "big.bin")
    one = seaweed_client.local_matches_remote(small, "small.txt")
    assert one.identical and one.method == "crc32"
    big = seaweed_client.local_matches_remote(data, "big.bin")
    assert big.identical and big.method == "crc32"  # a FULL_OBJECT multipart CRC32


def test_the_part_size_is_read_from_the_object_not_the_client(make_seaweed_client, data):
    make_seaweed_client(chunk_size=6 * MIB, checksum_type="COMPOSITE").upload_file(
        data, "big.bin"
    )
    other = make_seaweed_client(chunk_size=5 * MIB)  # would cut 3 parts, the object has 2
    result = other.local_matches_remote(data, "big.bin")
    assert result.identical and result.method == "crc32-composite"


def test_a_multipart_object_written_by_boto3_matches(seaweed, seaweed_client, data):
    s3 = boto3.client(
        "s3", endpoint_url=seaweed.endpoint, region_name="us-east-1",
        aws_access_key_id=seaweed.access_key, aws_secret_access_key=seaweed.secret_key,
    )  # fmt: skip
    config = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB)
    s3.upload_file(str(data), seaweed_client.bucket, "boto.bin", Config=config,
                   ExtraArgs={"ChecksumAlgorithm": "CRC32"})  # fmt: skip
    result = seaweed_client.local_matches_remote(data, "boto.bin")
    assert result.identical, result.reason


def test_same_size_other_bytes_differ(make_seaweed_client, tmp_path, data):
    seaweed_client = make_seaweed_client(checksum_type="COMPOSITE")
    seaweed_client.upload_file(data, "big.bin")
    changed = tmp_path / "changed.bin"
    raw = bytearray(data.read_bytes())
    raw[-1] ^= 0xFF
    changed.write_bytes(bytes(raw))
    result = seaweed_client.local_matches_remote(changed, "big.bin")
    assert not result.identical and "composite CRC32" in result.reason
    small = tmp_path / "s.txt"
    small.write_bytes(b"abc")
    seaweed_client.upload_bytes(b"abd", "s.txt")
    assert "CRC32 differs" in seaweed_client.local_matches_remote(small, "s.txt").reason


def test_missing_object_or_other_size_is_not_identical(seaweed_client, tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"12345")
    assert seaweed_client.local_matches_remote(path, "f.txt").reason == "the object does not exist"
    seaweed_client.upload_bytes(b"1234", "f.txt")
    result = seaweed_client.local_matches_remote(path, "f.txt")
    assert not result.identical and result.reason == "sizes differ (4 != 5 bytes)"


def test_a_missing_local_file_is_a_config_error(moto_client, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        moto_client.local_matches_remote(tmp_path / "nope", "k")


def test_moto_md5_etag_and_composite_without_part_suffix(moto_client, tmp_path, data):
    path = tmp_path / "p.txt"
    path.write_bytes(b"plain")
    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=moto_client.bucket, Key="p.txt", Body=b"plain"
    )
    assert moto_client.local_matches_remote(path, "p.txt").identical
    moto_client.upload_file(data, "big.bin")  # moto: composite CRC32 without "-N"
    assert moto_client.local_matches_remote(data, "big.bin").identical


@pytest.mark.parametrize(
    ("algorithm", "kind", "method"),
    [
        ("CRC32C", "FULL_OBJECT", "crc32c"),
        ("CRC32C", "COMPOSITE", "crc32c-composite"),
        ("CRC64NVME", None, "crc64nvme"),
        ("SHA256", None, "sha256-composite"),
    ],
)
def test_objects_of_every_upload_checksum_are_compared(
    make_seaweed_client, tmp_path, data, algorithm, kind, method
):
    client = make_seaweed_client(checksum_algorithm=algorithm, checksum_type=kind)
    client.upload_file(data, "big.bin")
    small = tmp_path / "small.txt"
    small.write_bytes(b"hello")
    client.upload_file(small, "small.txt")
    big = client.local_matches_remote(data, "big.bin")
    assert big.identical and big.method == method, big
    one = client.local_matches_remote(small, "small.txt")
    assert one.identical and one.method == algorithm.lower(), one
    raw = bytearray(data.read_bytes())
    raw[MIB] ^= 1
    changed = tmp_path / "changed.bin"
    changed.write_bytes(bytes(raw))
    other = client.local_matches_remote(changed, "big.bin")
    assert not other.identical and other.method == method and algorithm in other.reason
