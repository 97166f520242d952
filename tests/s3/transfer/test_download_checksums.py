"""Downloads verify CRC32C and CRC64NVME (full-object and composite) by combining the CRCs of
the ranges as they arrive, like CRC32, with no second read of the file; the resume record
carries those per-range values. moto for what it computes like S3 (CRC64NVME, single-PUT
CRC32C), SeaweedFS for multipart CRC32C (moto's is not S3's)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from orbit_provider.s3 import S3Client
from orbit_provider.s3.config import MIB
from orbit_provider.s3.errors import IntegrityError, InvalidRequest
from orbit_provider.s3.transfer import download_plan
from orbit_provider.s3.transfer.download_plan import MIN_RANGE_SIZE, plan_ranges
from orbit_provider.s3.transfer.download_state import load_state, temp_paths
from orbit_provider.s3.wire import checksums
from tests.s3.transfer.range_faults import RangeFaults, faults_fixture  # noqa: F401 - a fixture

R = MIN_RANGE_SIZE
PART = R + MIB  # parts longer than a range: each part is two ranges whose CRCs combine
SIZE = 2 * PART + 4321  # three parts, five ranges


def put_multipart(client: S3Client, key: str, data: bytes, algorithm: str, kind: str) -> None:
    """A multipart object with per-part `algorithm` checksums, of ChecksumType `kind`
    (COMPOSITE: 'xxx-N'; FULL_OBJECT: the checksum of the whole object)."""
    s3, bucket = client.s3, client.bucket
    upload_id = s3.create_multipart_upload(
        Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm, ChecksumType=kind
    )["UploadId"]
    field = f"Checksum{algorithm}"
    parts = []
    for n, off in enumerate(range(0, len(data), PART), start=1):
        chunk = data[off : off + PART]
        value = checksums.checksum_b64(algorithm, chunk)
        etag = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=chunk, **{field: value}
        )["ETag"]
        parts.append({"PartNumber": n, "ETag": etag, field: value})
    extra = {}
    if kind == "FULL_OBJECT":
        extra = {field: checksums.checksum_b64(algorithm, data), "ChecksumType": "FULL_OBJECT"}
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, **extra
    )


def leftovers(dest: Path) -> list[Path]:
    return [p for p in temp_paths(dest) if p.exists()]


@pytest.fixture
def no_second_read(monkeypatch) -> list:
    """Fails the test if verification reads the finished file again (the SHA / MD5 path)."""
    reads: list = []

    def refuse(fd, spans, make):
        reads.append(spans)
        raise AssertionError("the finished file was read a second time")

    monkeypatch.setattr(download_plan, "_digests_of", refuse)
    return reads


# -- every CRC combines, single PUTs and multipart objects ------------------------------------


@pytest.mark.parametrize("algorithm", ["CRC64NVME", "CRC32C"])
def test_single_put_crcs_combine_from_the_ranges(make_moto_client, tmp_path, algorithm,
                                                 no_second_read):  # fmt: skip
    client = make_moto_client(parallel_operations=3)
    data = os.urandom(2 * R + 99)  # three ranges
    client.s3.put_object(Bucket=client.bucket, Key="k", Body=data, ChecksumAlgorithm=algorithm)
    result = client.download_file("k", tmp_path / "k.bin")
    assert result.verification == algorithm.lower()
    assert (tmp_path / "k.bin").read_bytes() == data
    assert leftovers(tmp_path / "k.bin") == []


@pytest.mark.parametrize(
    ("server", "algorithm", "kind", "check"),
    [
        ("moto", "CRC64NVME", "FULL_OBJECT", "crc64nvme"),
        ("moto", "CRC64NVME", "COMPOSITE", "crc64nvme-composite"),  # moto allows it, S3 not
        ("seaweed", "CRC64NVME", "FULL_OBJECT", "crc64nvme"),
        ("seaweed", "CRC32C", "FULL_OBJECT", "crc32c"),
        ("seaweed", "CRC32C", "COMPOSITE", "crc32c-composite"),
    ],
)
def test_multipart_crcs_combine_from_the_ranges(
    request, tmp_path, server, algorithm, kind, check, no_second_read
):
    client = request.getfixturevalue(f"make_{server}_client")(parallel_operations=3)
    data = os.urandom(SIZE)
    put_multipart(client, "mp", data, algorithm, kind)
    result = client.download_file("mp", tmp_path / "mp.bin")
    assert result.verification == check
    assert (tmp_path / "mp.bin").read_bytes() == data
    assert leftovers(tmp_path / "mp.bin") == []


def test_sha256_still_takes_a_second_read(moto_client, tmp_path, monkeypatch):
    reads = []
    real = download_plan._digests_of
    monkeypatch.setattr(
        download_plan, "_digests_of", lambda fd, spans, make: reads.append(spans) or real(
            fd, spans, make)
    )  # fmt: skip
    moto_client.s3.put_object(Bucket=moto_client.bucket, Key="k", Body=b"x" * 5000,
                              ChecksumAlgorithm="SHA256")  # fmt: skip
    assert moto_client.download_file("k", tmp_path / "k").verification == "sha256"
    assert reads == [[(0, 5000)]]


# -- a corrupted range fails verification, and leaves nothing ---------------------------------


@pytest.mark.parametrize(
    ("kind", "start"),
    [("FULL_OBJECT", R), ("COMPOSITE", PART)],  # ranges follow parts only for a composite
)
def test_a_corrupted_range_fails_and_leaves_nothing(make_moto_client, tmp_path, faults, kind,
                                                    start):  # fmt: skip
    client = make_moto_client(parallel_operations=2)
    put_multipart(client, "mp", os.urandom(SIZE), "CRC64NVME", kind)
    faults.corrupt.add(start)
    dest = tmp_path / "mp.bin"
    with pytest.raises(IntegrityError, match="do not match the object: CRC64NVME "):
        client.download_file("mp", dest)
    assert not faults.corrupt  # the flipped byte was delivered
    assert list(tmp_path.iterdir()) == []


def test_a_corrupted_range_of_a_single_put_crc32c_fails(moto_client, tmp_path, faults):
    moto_client.s3.put_object(Bucket=moto_client.bucket, Key="k", Body=os.urandom(R + 5),
                              ChecksumAlgorithm="CRC32C")  # fmt: skip
    faults.corrupt.add(R)
    with pytest.raises(IntegrityError, match="CRC32C"):
        moto_client.download_file("k", tmp_path / "k")
    assert list(tmp_path.iterdir()) == []


# -- resume: the record holds each range's CRC in the object's algorithm -------------------


def interrupted(client: S3Client, dest: Path, faults: RangeFaults, at: int) -> dict:
    """Run a download that stops (a refused GET) at the range starting at `at`, after the
    ranges before it (one worker: in order); return its record as JSON."""
    faults.refuse.add(at)
    with pytest.raises(InvalidRequest, match="injected"):
        client.download_file("mp", dest)
    return json.loads(temp_paths(dest)[1].read_text())


def test_a_resumed_download_combines_recorded_and_new_ranges(make_moto_client, tmp_path, faults):
    client = make_moto_client(parallel_operations=1)
    data = os.urandom(SIZE)
    put_multipart(client, "mp", data, "CRC64NVME", "FULL_OBJECT")
    dest = tmp_path / "mp.bin"
    record = interrupted(client, dest, faults, at=2 * R)  # full-object: ranges of R from 0
    ranges = plan_ranges(SIZE, record["range_size"], record["part_size"])
    assert record["algorithm"] == "CRC64NVME" and sorted(map(int, record["done"])) == [0, 1]
    for i, crc in record["done"].items():
        start, end = ranges[int(i)]
        assert crc == int(_crc64(data[start:end]), 16)
    faults.opened.clear()
    result = client.download_file("mp", dest)
    assert faults.opened == [(2 * R, SIZE)]  # only the missing range is fetched
    assert (result.resumed_bytes, result.bytes_received) == (2 * R, SIZE - 2 * R)
    assert result.verification == "crc64nvme"
    assert dest.read_bytes() == data and leftovers(dest) == []


def _crc64(data: bytes) -> str:
    check = checksums.StreamingChecksum("CRC64NVME")
    check.update(data)
    return check.digest().hex()


def test_a_range_altered_on_disk_since_the_record_is_fetched_again(
    make_moto_client, tmp_path, faults
):
    client = make_moto_client(parallel_operations=1)
    data = os.urandom(SIZE)
    put_multipart(client, "mp", data, "CRC64NVME", "COMPOSITE")
    dest = tmp_path / "mp.bin"
    interrupted(client, dest, faults, at=2 * PART)
    with open(temp_paths(dest)[0], "r+b") as f:
        f.seek(R + 10)  # inside the second range
        f.write(b"\x00\x01")
    faults.opened.clear()
    result = client.download_file("mp", dest)
    assert faults.opened == [(R, PART), (2 * PART, SIZE)]
    assert result.verification == "crc64nvme-composite"
    assert dest.read_bytes() == data and leftovers(dest) == []


def test_a_record_of_crc32s_for_a_crc64nvme_object_starts_over(
    make_moto_client, tmp_path, faults, caplog
):
    """A format-1 record (before the algorithm was recorded) holds CRC32s, which cannot
    combine into a CRC64NVME: the download starts over instead of trusting them."""
    client = make_moto_client(parallel_operations=1)
    data = os.urandom(SIZE)
    put_multipart(client, "mp", data, "CRC64NVME", "FULL_OBJECT")
    dest = tmp_path / "mp.bin"
    record = interrupted(client, dest, faults, at=2 * R)
    record["format"] = 1
    del record["algorithm"]
    temp_paths(dest)[1].write_text(json.dumps(record))
    assert load_state(temp_paths(dest)[1]).algorithm == "CRC32"
    with caplog.at_level("WARNING", logger="orbit_provider.s3.transfer.download"):
        result = client.download_file("mp", dest)
    assert "recorded CRC32 range checksums" in caplog.text
    assert (result.resumed_bytes, result.bytes_received) == (0, SIZE)
    assert result.verification == "crc64nvme"
    assert dest.read_bytes() == data and leftovers(dest) == []
