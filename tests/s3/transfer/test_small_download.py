"""The short download path: one GET verified against the checksum its answer carries, a temp
file beside the destination, durable batches renamed into place (SeaweedFS and moto)."""

from __future__ import annotations

import base64
import os

import pytest

from orbit_provider.s3.errors import IntegrityError
from orbit_provider.s3.transfer import small_download
from orbit_provider.s3.transfer.small_download import (
    DurableBatch,
    NeedsLargePath,
    fetch_small,
    small_temp,
)


def buffer() -> memoryview:
    return memoryview(bytearray(4096))  # smaller than the objects: several reads each


def test_one_get_verified_by_the_crc32_the_store_sent(seaweed_client, tmp_path):
    data = os.urandom(10_000)
    seaweed_client.upload_bytes(data, "k/one.bin")
    sent = []
    seaweed_client.s3.meta.events.register("before-send.s3.*", lambda request, **kw: sent.append(
        request.method))  # fmt: skip
    dest = tmp_path / "one.bin"
    fetched = fetch_small(seaweed_client, "k/one.bin", dest, max_size=1 << 20, buffer=buffer())
    assert sent == ["GET"]  # no HEAD, no state record
    assert fetched.verification == "crc32" and fetched.size == 10_000
    assert fetched.temp == small_temp(dest) and fetched.temp.read_bytes() == data
    assert not dest.exists()  # placed by the batch, not here
    batch = DurableBatch()
    assert batch.add(fetched) == [] and batch.flush() == [fetched]
    assert dest.read_bytes() == data and not fetched.temp.exists()


def test_the_batch_places_files_only_once_they_are_synced(seaweed_client, tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(small_download, "_syncfs", lambda fd: synced.append(fd) or True)
    batch = DurableBatch(max_files=3)
    fetched = []
    for i in range(4):
        seaweed_client.upload_bytes(f"file {i}".encode(), f"k/{i}")
        fetched.append(fetch_small(seaweed_client, f"k/{i}", tmp_path / f"{i}.txt",
                                   max_size=1 << 20, buffer=buffer()))  # fmt: skip
    assert batch.add(fetched[0]) == [] and batch.add(fetched[1]) == []
    assert not (tmp_path / "0.txt").exists()
    assert batch.add(fetched[2]) == fetched[:3]  # the third fills the batch: one sync, renamed
    assert len(synced) == 1 and (tmp_path / "2.txt").read_bytes() == b"file 2"
    batch.add(fetched[3])
    batch.discard()  # a failed run drops what was not placed
    assert not (tmp_path / "3.txt").exists() and not small_temp(tmp_path / "3.txt").exists()
    assert DurableBatch(durable=False).syncs == 0


def test_without_syncfs_each_file_is_fsynced(seaweed_client, tmp_path, monkeypatch):
    monkeypatch.setattr(small_download, "_syncfs", lambda fd: False)
    fsynced = []
    real = small_download.fsync_path
    monkeypatch.setattr(small_download, "fsync_path", lambda p: fsynced.append(p) or real(p))
    seaweed_client.upload_bytes(b"x", "k/x")
    f = fetch_small(seaweed_client, "k/x", tmp_path / "x", max_size=10, buffer=buffer())
    assert DurableBatch(max_files=1).add(f) == [f]
    assert f.temp in fsynced and tmp_path in fsynced  # the file, then its folder


def test_bytes_that_do_not_match_the_checksum_leave_nothing(seaweed_client, tmp_path):
    seaweed_client.upload_bytes(b"y" * 5000, "k/bad")

    def tamper(parsed, **kwargs):  # the answer's checksum no longer fits its bytes
        parsed["ChecksumCRC32"] = base64.b64encode(b"\0\0\0\0").decode()

    seaweed_client.s3.meta.events.register("after-call.s3.GetObject", tamper)
    with pytest.raises(IntegrityError, match="CRC32"):
        fetch_small(seaweed_client, "k/bad", tmp_path / "bad", max_size=1 << 20, buffer=buffer())
    assert list(tmp_path.iterdir()) == []


def test_md5_etag_when_there_is_no_checksum(moto_client, tmp_path):
    moto_client.s3.put_object(Bucket=moto_client.bucket, Key="k/plain", Body=b"p" * 100)
    f = fetch_small(moto_client, "k/plain", tmp_path / "p", max_size=1 << 20, buffer=buffer())
    assert f.verification == "md5"


def test_unverifiable_objects_are_refused_before_anything_is_written(make_moto_client, tmp_path):
    import boto3

    strict = make_moto_client(require_verification=True)
    kms = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    strict.s3.put_object(Bucket=strict.bucket, Key="k/sealed", Body=b"s" * 100,
                         ServerSideEncryption="aws:kms", SSEKMSKeyId=kms)  # fmt: skip
    with pytest.raises(IntegrityError, match="cannot be verified"):
        fetch_small(strict, "k/sealed", tmp_path / "s", max_size=1 << 20, buffer=buffer())
    assert list(tmp_path.iterdir()) == []


def test_a_larger_object_is_sent_to_the_large_path(seaweed_client, tmp_path):
    seaweed_client.upload_bytes(b"z" * 2000, "k/z")
    with pytest.raises(NeedsLargePath):
        fetch_small(seaweed_client, "k/z", tmp_path / "z", max_size=1000, buffer=buffer())
    assert list(tmp_path.iterdir()) == []


def test_the_plain_http_get_takes_the_same_checks(seaweed_client, tmp_path):
    from orbit_provider.s3.transfer.small_http import make_lean

    data = os.urandom(20_000)
    seaweed_client.upload_bytes(data, "k/lean.bin")
    lean = make_lean(seaweed_client)
    f = fetch_small(seaweed_client, "k/lean.bin", tmp_path / "l", max_size=1 << 20,
                    buffer=buffer(), lean=lean)  # fmt: skip
    assert f.verification == "crc32" and f.temp.read_bytes() == data
    with pytest.raises(NeedsLargePath):
        fetch_small(seaweed_client, "k/lean.bin", tmp_path / "m", max_size=100,
                    buffer=buffer(), lean=lean)  # fmt: skip
    assert not small_temp(tmp_path / "m").exists()


@pytest.mark.parametrize("aligned", [True, False], ids=["page-aligned", "any-buffer"])
@pytest.mark.parametrize("lean", [True, False], ids=["plain-http", "botocore"])
def test_objects_of_a_mebibyte_and_more_are_written_around_the_page_cache(
    seaweed_client, tmp_path, monkeypatch, aligned, lean
):
    """From DIRECT_MIN_SIZE on, whole blocks go out with O_DIRECT from a page-aligned buffer,
    the unaligned tail (and any chunk of another buffer) through the page cache; the file is
    byte-identical either way, and smaller objects never open an O_DIRECT descriptor."""
    import fcntl
    import mmap

    from orbit_provider.s3.transfer.small_http import make_lean

    if not hasattr(os, "O_DIRECT"):
        pytest.skip("no O_DIRECT on this OS")
    data = os.urandom(small_download.DIRECT_MIN_SIZE + 4096 * 3 + 123)  # an unaligned tail
    seaweed_client.upload_bytes(data, "k/big.bin")
    seaweed_client.upload_bytes(b"small", "k/small.bin")
    opened = []
    real_open = os.open

    def recording_open(path, flags, *args):
        opened.append((os.path.basename(path), bool(flags & os.O_DIRECT)))
        return real_open(path, flags, *args)

    monkeypatch.setattr(small_download.os, "open", recording_open)
    written = []  # (descriptor opened with O_DIRECT?, bytes)
    real_pwrite_all = small_download.pwrite_all

    def recording_pwrite_all(fd, chunk, pos):
        written.append((bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT), len(chunk)))
        return real_pwrite_all(fd, chunk, pos)

    monkeypatch.setattr(small_download, "pwrite_all", recording_pwrite_all)
    buf = memoryview(mmap.mmap(-1, 1 << 20)) if aligned else memoryview(bytearray(1 << 20))[1:]
    options = {"lean": make_lean(seaweed_client)} if lean else {}
    big = fetch_small(seaweed_client, "k/big.bin", tmp_path / "big.bin", max_size=8 << 20,
                      buffer=buf, **options)  # fmt: skip
    small = fetch_small(seaweed_client, "k/small.bin", tmp_path / "small.bin",
                        max_size=8 << 20, buffer=buf, **options)  # fmt: skip
    assert big.temp.read_bytes() == data and small.temp.read_bytes() == b"small"
    assert (small.temp.name, True) not in opened
    assert sum(n for _, n in written) == len(data) + len(b"small")
    if _direct_io_works(tmp_path):
        assert (big.temp.name, True) in opened
        if aligned and lean:  # whole 1 MiB reads into an aligned buffer: straight to disk
            assert (True, 1 << 20) in written
        if not aligned:
            assert not any(direct for direct, _ in written)


def _direct_io_works(folder) -> bool:
    try:
        fd = os.open(folder / "probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o666)
    except OSError:
        return False
    os.close(fd)
    return True
