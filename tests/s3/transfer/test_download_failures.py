"""Local failures of a download leave nothing behind and say what is wrong: a full disk (a
small tmpfs, when the tests run as root) raises LocalWriteError, not retried, naming the
folder and the space needed, keeps temporary files only where the next try can resume from
them; a retry after space is freed succeeds. A destination below a file is refused before
any request."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from orbit_provider.s3 import S3Client, S3Config
from orbit_provider.s3.config import Credentials
from orbit_provider.s3.errors import ConfigError, LocalWriteError
from orbit_provider.s3.transfer import download_writer
from orbit_provider.s3.transfer.download_plan import MIN_RANGE_SIZE
from orbit_provider.s3.transfer.download_state import load_state, temp_paths
from orbit_provider.s3.transfer.paths import make_parent
from tests.s3.transfer.range_faults import faults_fixture  # noqa: F401 - a fixture

R = MIN_RANGE_SIZE
MIB = 1024 * 1024


def free_bytes(folder: Path) -> int:
    fs = os.statvfs(folder)
    return fs.f_bavail * fs.f_frsize


def fill(folder: Path, leave: int) -> Path:
    """A file that leaves about `leave` bytes free in `folder`."""
    filler = folder / "filler"
    with open(filler, "wb") as f:
        f.write(b"\0" * max(free_bytes(folder) - leave, 0))
    return filler


def test_an_object_larger_than_the_free_space_is_refused_before_any_get(
    make_seaweed_client, small_disk, faults
):
    client = make_seaweed_client(parallel_operations=2)
    client.upload_bytes(os.urandom(24 * MIB), "big")
    with pytest.raises(LocalWriteError) as info:
        client.download_file("big", small_disk / "big.bin")
    message = str(info.value)
    assert "not enough space" in message and repr(str(small_disk)) in message
    assert "24.0 MiB" in message and "nothing was kept" in message
    assert not info.value.retryable and info.value.code == "LocalWriteError"
    assert faults.opened == []  # refused after the HEAD, before any range was fetched
    assert list(small_disk.iterdir()) == []


def test_a_disk_filling_up_mid_download_fails_cleanly_and_a_retry_succeeds(
    make_seaweed_client, small_disk, faults
):
    client = make_seaweed_client(parallel_operations=1)  # ranges in order
    data = os.urandom(2 * R + 12345)
    client.upload_bytes(data, "k")
    dest = small_disk / "k.bin"
    # once the first range is on disk, something else takes all but 1 MiB of the space
    faults.before_open[R] = lambda: fill(small_disk, leave=MIB)
    with pytest.raises(LocalWriteError) as info:
        client.download_file("k", dest)
    message = str(info.value)
    assert "no space left" in message and repr(str(small_disk)) in message
    assert "needs" in message and "MiB" in message
    assert not info.value.retryable
    # the disk is full: no record of the finished range could be written, so nothing
    # that cannot be resumed is left taking space (no .orbit-part, no .json, no .json.tmp)
    assert "nothing was kept" in message
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]
    # still full: refused at once with the same clear error, not a raw OSError
    faults.opened.clear()
    with pytest.raises(LocalWriteError, match="not enough space"):
        client.download_file("k", dest)
    assert faults.opened == []
    (small_disk / "filler").unlink()
    result = client.download_file("k", dest)
    assert dest.read_bytes() == data and result.bytes_received == len(data)
    assert sorted(p.name for p in small_disk.iterdir()) == ["k.bin"]


def test_a_write_failure_keeps_finished_ranges_it_could_record_and_counts_them(
    make_seaweed_client, tmp_path, monkeypatch
):
    """Where the record of finished ranges can still be saved (a quota, or space freed in the
    meantime), they are kept, counted in the error, and the next try resumes from them."""
    client = make_seaweed_client(parallel_operations=1)
    data = os.urandom(3 * R + 5)
    client.upload_bytes(data, "k")
    real = download_writer.BufferedWriter.write
    failed = []

    def quota_at_the_third_range(self, pos, chunk):
        if pos >= 2 * R and not failed:
            failed.append(pos)
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        real(self, pos, chunk)

    monkeypatch.setattr(download_writer.BufferedWriter, "write", quota_at_the_third_range)
    dest = tmp_path / "k.bin"
    with pytest.raises(LocalWriteError) as info:
        client.download_file("k", dest)
    assert "disk quota exceeded" in str(info.value)
    assert f"16.0 MiB ({2 * R} bytes) of finished ranges are kept" in str(info.value)
    temp, record = temp_paths(dest)
    assert temp.exists() and sorted(load_state(record).done) == [0, 1]
    result = client.download_file("k", dest)
    assert (result.resumed_bytes, result.bytes_received) == (2 * R, len(data) - 2 * R)
    assert dest.read_bytes() == data and not temp.exists() and not record.exists()


# -- a destination below a file --------------------------------------------------------------


@pytest.fixture
def unreachable_client() -> S3Client:
    """Any request it sent would fail with a network error, not a ConfigError."""
    return S3Client(S3Config(bucket="nowhere", endpoint="http://127.0.0.1:9", region="us-east-1",
                             credentials=Credentials("k", "s"), force_path_style=True,
                             max_retries=0))  # fmt: skip


def test_a_destination_below_a_file_is_refused_before_any_request(unreachable_client, tmp_path):
    a_file = tmp_path / "report"
    a_file.write_bytes(b"x")
    for dest in (a_file / "out.bin", a_file / "2026" / "11" / "out.bin"):
        with pytest.raises(ConfigError, match=f"{str(a_file)!r} is a file, not a folder"):
            unreachable_client.download_file("k", dest)
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_make_parent_creates_folders_or_names_the_file_in_the_way(tmp_path):
    assert make_parent(tmp_path / "a" / "b" / "out.bin") == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()
    (tmp_path / "a" / "f").write_bytes(b"x")
    with pytest.raises(ConfigError, match=r"'.*/a/f' is a file, not a folder"):
        make_parent(tmp_path / "a" / "f" / "deeper" / "out.bin")
