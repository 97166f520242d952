"""upload_file, resume, integrity, progress, bandwidth and unfinished-upload cleanup.

Integrity and resume run against the real SeaweedFS server (it rejects wrong checksums;
moto accepts them silently). moto covers what it models faithfully.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pendulum
import pytest

from orbit_provider.s3 import (
    ProgressReporter,
    ResumeToken,
    UploadResult,
)
from orbit_provider.s3.config import MAX_PARTS, MIB
from orbit_provider.s3.errors import ConfigError, IntegrityError, UploadInterrupted
from orbit_provider.s3.progress import (
    PartCompleted,
    Progress,
    TransferCompleted,
    TransferFailed,
    TransferStarted,
)
from orbit_provider.s3.transfer import upload as upload_module
from orbit_provider.s3.transfer.incomplete_uploads import iter_incomplete_uploads
from orbit_provider.s3.transfer.upload_plan import (
    part_buffer_size,
    part_size_for,
    plan_parts,
    upload_part_size,
)
from orbit_provider.s3.transfer.upload_resume import list_parts
from orbit_provider.s3.wire import checksums
from orbit_provider.s3.wire.ratelimit import TokenBucket

CHUNK = 5 * MIB
RAGGED = 4 * CHUNK + 3 * MIB + 123  # 5 parts, the last one 3 MiB + 123 bytes


def write_file(tmp_path: Path, size: int, seed: int = 1, name: str = "data.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def parts_of(client, key: str, upload_id: str):
    return list_parts(client, key, upload_id)


def only_upload(client, key: str):
    uploads = [u for u in client.list_incomplete_uploads(key) if u.key == key]
    assert len(uploads) == 1, uploads
    return uploads[0]


def corrupt_crc_of_part(monkeypatch, bad_part_size_marker: bytes) -> None:
    """Make the CRC32 we send wrong for the part whose first bytes are the marker."""
    real = upload_module.part_crc32

    def crc(data: bytes) -> int:
        value = real(data)
        return value ^ 1 if data[: len(bad_part_size_marker)] == bad_part_size_marker else value

    monkeypatch.setattr(upload_module, "part_crc32", crc)


# -- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "parts"),
    [(0, 1), (1, 1), (CHUNK - 1, 1), (CHUNK, 1), (RAGGED, 5)],
    ids=["empty", "one-byte", "below-chunk", "exactly-one-part", "ragged-multipart"],
)
def test_round_trip_is_byte_identical_on_seaweedfs(seaweed_client, tmp_path, size, parts):
    path = write_file(tmp_path, size)
    data = path.read_bytes()
    result = seaweed_client.upload_file(path, "dir/obj")
    assert isinstance(result, UploadResult)
    assert (result.key, result.size, result.parts) == ("dir/obj", size, parts)
    assert (result.parts_resumed, result.bytes_sent) == (0, size)
    assert seaweed_client.download_bytes("dir/obj") == path.read_bytes()
    head = seaweed_client.s3.head_object(
        Bucket=seaweed_client.bucket, Key="dir/obj", ChecksumMode="ENABLED"
    )
    assert head["ContentLength"] == size
    # the object's CRC32 is the whole file's, multipart too (FULL_OBJECT, the default)
    assert head["ChecksumCRC32"] == result.checksum == checksums.checksum_b64("CRC32", data)
    assert result.checksum_algorithm == "CRC32"
    multipart = size >= CHUNK
    assert (result.resume_token is not None) == multipart
    assert head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
    assert seaweed_client.list_incomplete_uploads() == []


def test_multipart_round_trip_on_moto_checks_bare_composite(make_moto_client, tmp_path):
    client = make_moto_client(parallel_operations=3, checksum_type="COMPOSITE")
    path = write_file(tmp_path, 2 * CHUNK + 17)
    result = client.upload_file(path, "k")
    assert result.parts == 3
    assert client.download_bytes("k") == path.read_bytes()
    head = client.s3.head_object(Bucket=client.bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] + "-3" == result.checksum  # moto drops the "-N"


def test_write_arguments_reach_the_multipart_object(seaweed_client, tmp_path):
    path = write_file(tmp_path, CHUNK + 1)
    seaweed_client.upload_file(
        path,
        "k",
        metadata={"owner": "team-a"},
        content_type="text/csv",
        tags={"env": "test"},
    )
    meta = seaweed_client.get_metadata("k")
    assert meta.metadata["owner"] == "team-a"
    stat = path.stat()
    assert meta.metadata["orbit-fingerprint"] == f"v1:{stat.st_size}:{CHUNK}:{stat.st_mtime_ns}"
    assert meta.content_type == "text/csv"
    assert seaweed_client.get_tags("k") == {"env": "test"}


def test_without_checksums_parts_carry_none_and_size_is_still_checked(
    make_seaweed_client, tmp_path
):
    client = make_seaweed_client(verify_checksums=False)
    path = write_file(tmp_path, CHUNK + 5)
    result = client.upload_file(path, "k")
    assert result.checksum is None
    assert result.parts == 2
    assert client.download_bytes("k") == path.read_bytes()


# -- integrity -----------------------------------------------------------------------------


def test_wrong_part_checksum_is_rejected_and_nothing_is_completed(
    make_seaweed_client, tmp_path, monkeypatch
):
    client = make_seaweed_client(parallel_operations=1)
    data = random.Random(7).randbytes(RAGGED)
    path = tmp_path / "f"
    path.write_bytes(data)
    corrupt_crc_of_part(monkeypatch, data[2 * CHUNK : 2 * CHUNK + 64])  # part 3

    with pytest.raises(UploadInterrupted) as info:
        client.upload_file(path, "k")
    err = info.value
    assert err.code == "BadDigest"
    assert isinstance(err.__cause__, IntegrityError)
    assert "can be resumed" in str(err)
    assert not client.exists("k")
    upload = only_upload(client, "k")
    assert upload.upload_id == err.upload_id
    assert sorted(parts_of(client, "k", err.upload_id)) == [1, 2]


def test_local_file_changed_between_tries_resends_only_mismatched_parts(
    make_seaweed_client, tmp_path, monkeypatch
):
    client = make_seaweed_client(parallel_operations=1)
    data = bytearray(random.Random(8).randbytes(RAGGED))
    path = tmp_path / "f"
    path.write_bytes(data)
    with monkeypatch.context() as m:
        corrupt_crc_of_part(m, bytes(data[2 * CHUNK : 2 * CHUNK + 64]))
        with pytest.raises(UploadInterrupted):
            client.upload_file(path, "k")
    data[100:200] = b"\0" * 100  # part 1 now differs from what the store holds; part 2 not
    path.write_bytes(data)

    result = client.upload_file(path, "k")
    assert result.parts_resumed == 1
    assert result.bytes_sent == RAGGED - CHUNK
    assert client.download_bytes("k") == bytes(data)
    assert client.list_incomplete_uploads() == []


def test_file_changed_during_upload_is_not_completed(make_seaweed_client, tmp_path):
    client = make_seaweed_client(parallel_operations=1)
    path = write_file(tmp_path, 3 * CHUNK)

    def touch(event) -> None:
        if isinstance(event, PartCompleted) and event.part_number == 1:
            with open(path, "ab") as f:
                f.write(b"x")

    events = []
    reporter = ProgressReporter([touch, events.append], inline=True)
    with pytest.raises(UploadInterrupted) as info:
        client.upload_file(path, "k", progress=reporter)
    assert info.value.code == "FileChanged"
    assert "size changed" in str(info.value)
    assert not client.exists("k")
    assert isinstance(events[-1], TransferFailed) and events[-1].resumable


def test_composite_checksum_comparison():
    composite = checksums.composite_crc32(["AAAAAQ==", "AAAAAg=="])
    base = composite.split("-")[0]
    assert upload_module.composite_mismatch(composite, {"ChecksumCRC32": composite}) is None
    assert upload_module.composite_mismatch(composite, {"ChecksumCRC32": base}) is None
    assert upload_module.composite_mismatch(composite, {}) is None
    full = {"ChecksumCRC32": "zzzzzz==", "ChecksumType": "FULL_OBJECT"}
    assert upload_module.composite_mismatch(composite, full) is None
    assert "CRC32" in upload_module.composite_mismatch(composite, {"ChecksumCRC32": "AA==-2"})
    assert "CRC32" in upload_module.composite_mismatch(composite, {"ChecksumCRC32": "AA=="})


# -- resume --------------------------------------------------------------------------------


def test_resume_after_sigkill_sends_only_missing_parts(seaweed, seaweed_client, tmp_path):
    path = write_file(tmp_path, RAGGED, seed=3)
    env = dict(
        os.environ,
        ORBIT_TEST_ENDPOINT=seaweed.endpoint,
        ORBIT_TEST_ACCESS_KEY=seaweed.access_key,
        ORBIT_TEST_SECRET_KEY=seaweed.secret_key,
    )
    script = Path(__file__).with_name("upload_child.py")
    child = subprocess.Popen(
        [sys.executable, str(script), seaweed_client.bucket, str(path), "big", str(4 * MIB)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        seen = 0
        while seen < 2:
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the child never stored two parts"
            uploads = [u for u in seaweed_client.list_incomplete_uploads("big")]
            if uploads:
                seen = len(parts_of(seaweed_client, "big", uploads[0].upload_id))
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    time.sleep(0.5)  # let the store drop the part whose body was cut off
    upload = only_upload(seaweed_client, "big")
    stored = parts_of(seaweed_client, "big", upload.upload_id)
    assert 2 <= len(stored) < 5

    events = []
    reporter = ProgressReporter([events.append], inline=True)
    result = seaweed_client.upload_file(path, "big", progress=reporter)
    assert result.parts_resumed == len(stored)
    assert result.bytes_sent == RAGGED - sum(p.size for p in stored.values())
    assert result.resume_token.upload_id == upload.upload_id
    assert seaweed_client.download_bytes("big") == path.read_bytes()
    assert seaweed_client.list_incomplete_uploads() == []
    started = events[0]
    assert isinstance(started, TransferStarted)
    assert started.resumed_bytes == RAGGED - result.bytes_sent
    assert sum(e.size for e in events if isinstance(e, PartCompleted)) == result.bytes_sent


def test_explicit_resume_token_and_its_string_form(make_seaweed_client, tmp_path, monkeypatch):
    client = make_seaweed_client(parallel_operations=1)
    data = random.Random(9).randbytes(3 * CHUNK)
    path = tmp_path / "f"
    path.write_bytes(data)
    with monkeypatch.context() as m:
        corrupt_crc_of_part(m, data[CHUNK : CHUNK + 64])  # part 2
        with pytest.raises(UploadInterrupted) as info:
            client.upload_file(path, "k")
    token = ResumeToken.parse(info.value.resume_token)
    assert token.upload_id == info.value.upload_id
    assert (token.key, token.part_size) == ("k", CHUNK)
    assert ResumeToken.parse(str(token)) == token

    result = client.upload_file(path, "k", resume_token=info.value.resume_token)
    assert result.resume_token == token
    assert (result.parts_resumed, result.bytes_sent) == (1, 2 * CHUNK)
    assert result.to_dict()["resume_token"] == str(token)
    assert client.download_bytes("k") == data


def test_stale_resume_token_starts_a_new_upload(seaweed_client, tmp_path):
    path = write_file(tmp_path, CHUNK + 1)
    token = ResumeToken("no-such-upload", "k", CHUNK, "v1:1:2:3")
    result = seaweed_client.upload_file(path, "k", resume_token=token)
    assert result.resume_token.upload_id != "no-such-upload"
    assert result.parts_resumed == 0
    assert seaweed_client.download_bytes("k") == path.read_bytes()


def test_resume_works_when_the_chunk_size_changed_between_tries(
    make_seaweed_client, tmp_path, monkeypatch
):
    data = random.Random(10).randbytes(RAGGED)
    path = tmp_path / "f"
    path.write_bytes(data)
    with monkeypatch.context() as m:
        corrupt_crc_of_part(m, data[3 * CHUNK : 3 * CHUNK + 64])  # part 4
        with pytest.raises(UploadInterrupted):
            make_seaweed_client(parallel_operations=1).upload_file(path, "k")
    result = make_seaweed_client(chunk_size=8 * MIB).upload_file(path, "k")
    assert result.resume_token.part_size == CHUNK  # the parts already stored decide
    assert (result.parts, result.parts_resumed) == (5, 3)
    assert make_seaweed_client().download_bytes("k") == data


def test_upload_of_a_different_file_does_not_take_over_foreign_parts(
    make_seaweed_client, tmp_path, monkeypatch
):
    client = make_seaweed_client(parallel_operations=1)
    first = random.Random(11).randbytes(3 * CHUNK)
    path = tmp_path / "f"
    path.write_bytes(first)
    with monkeypatch.context() as m:
        corrupt_crc_of_part(m, first[CHUNK : CHUNK + 64])
        with pytest.raises(UploadInterrupted) as info:
            client.upload_file(path, "k")
    other = random.Random(12).randbytes(3 * CHUNK)
    path.write_bytes(other)
    result = client.upload_file(path, "k")
    assert result.parts_resumed == 0
    assert result.resume_token.upload_id != info.value.upload_id
    assert client.download_bytes("k") == other


def test_resume_ignores_uploads_of_longer_keys(make_seaweed_client, tmp_path, monkeypatch):
    client = make_seaweed_client(parallel_operations=1)
    other = start_uploads(client, ["k/extension", "k0"])
    data = random.Random(13).randbytes(3 * CHUNK)
    path = tmp_path / "f"
    path.write_bytes(data)
    with monkeypatch.context() as m:
        corrupt_crc_of_part(m, data[2 * CHUNK : 2 * CHUNK + 64])
        with pytest.raises(UploadInterrupted):
            client.upload_file(path, "k")
    result = client.upload_file(path, "k")
    assert (result.parts_resumed, result.bytes_sent) == (2, CHUNK)
    assert sorted(u.upload_id for u in client.list_incomplete_uploads()) == sorted(other)


# -- progress and bandwidth ---------------------------------------------------------------


def test_progress_events_are_ordered_monotonic_and_exact(make_seaweed_client, tmp_path):
    client = make_seaweed_client(parallel_operations=3)
    path = write_file(tmp_path, RAGGED)
    reporter = ProgressReporter()
    q = reporter.queue()
    result = client.upload_file(path, "k", progress=reporter)
    reporter.close()
    events = list(iter(q.get, None))
    assert isinstance(events[0], TransferStarted)
    assert (events[0].total_bytes, events[0].parts, events[0].resumed_bytes) == (RAGGED, 5, 0)
    progress = [e for e in events if isinstance(e, Progress)]
    done = [e.bytes_transferred for e in progress]
    assert done == sorted(done)
    assert progress[-1].percentage == 100.0 and progress[-1].bytes_transferred == RAGGED
    assert all(e.total_bytes == RAGGED for e in progress)
    parts = [e for e in events if isinstance(e, PartCompleted)]
    assert sorted(e.part_number for e in parts) == [1, 2, 3, 4, 5]
    assert sum(e.size for e in parts) == RAGGED
    assert isinstance(events[-1], TransferCompleted) and events[-1].total_bytes == RAGGED
    assert result.bytes_sent == RAGGED


def test_single_put_progress_ends_at_100_percent(seaweed_client, tmp_path):
    path = write_file(tmp_path, 1000)
    events = []
    seaweed_client.upload_file(path, "k", progress=ProgressReporter([events.append], inline=True))
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].percentage == 100.0 and progress[-1].bytes_transferred == 1000
    assert isinstance(events[-1], TransferCompleted)


@pytest.fixture
def acquired(monkeypatch) -> list[float]:
    """Every amount taken from any TokenBucket during the test."""
    amounts: list[float] = []
    real = TokenBucket.acquire

    def acquire(self, amount: float = 1) -> float:
        amounts.append(amount)
        return real(self, amount)

    monkeypatch.setattr(TokenBucket, "acquire", acquire)
    return amounts


def test_bandwidth_limit_takes_a_token_for_every_byte(make_seaweed_client, tmp_path, acquired):
    client = make_seaweed_client(parallel_operations=2)
    path = write_file(tmp_path, 2 * CHUNK + 999)
    result = client.upload_file(path, "k", max_bandwidth=1024 * MIB)
    assert sum(acquired) == 2 * CHUNK + 999
    assert max(acquired) <= MIB
    assert result.bytes_sent == 2 * CHUNK + 999
    assert client.download_bytes("k") == path.read_bytes()


def test_configured_bandwidth_applies_to_single_put(make_seaweed_client, tmp_path, acquired):
    client = make_seaweed_client(max_bandwidth=512 * MIB)
    path = write_file(tmp_path, 3 * MIB)
    client.upload_file(path, "small")
    assert sum(acquired) == 3 * MIB
    assert client.download_bytes("small") == path.read_bytes()


def test_no_bandwidth_limit_takes_no_tokens(seaweed_client, tmp_path, acquired):
    seaweed_client.upload_file(write_file(tmp_path, CHUNK + 1), "k")
    assert acquired == []


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_path", "key", "kwargs", "message"),
    [
        (lambda d: d / "missing", "k", {}, "does not exist"),
        (lambda d: d, "k", {}, "is a directory"),
        (lambda d: d / "f", "", {}, "key"),
        (lambda d: d / "f", "k", {"storage_class": "ICE_COLD"}, "storage_class"),
        (lambda d: d / "f", "k", {"max_bandwidth": 0}, "max_bandwidth"),
        (lambda d: d / "f", "k", {"resume_token": "garbage"}, "resume_token"),
        (lambda d: d / "f", "k", {"metadata": {"bad key": "v"}}, "metadata"),
        (
            lambda d: d / "f",
            "k",
            {"resume_token": ResumeToken("u", "other", CHUNK, "v1:1:2:3")},
            "not 'k'",
        ),
    ],
)
def test_bad_input_fails_before_any_request(
    seaweed_client, tmp_path, make_path, key, kwargs, message
):
    (tmp_path / "f").write_bytes(b"x" * (CHUNK + 1))
    with pytest.raises(ConfigError, match=message):
        seaweed_client.upload_file(make_path(tmp_path), key, **kwargs)
    assert seaweed_client.list_incomplete_uploads() == []
    assert list(seaweed_client.iter_objects()) == []


def test_special_file_is_refused(moto_client, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        moto_client.upload_file(fifo, "k")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_refused(moto_client, tmp_path):
    path = tmp_path / "secret"
    path.write_bytes(b"x")
    path.chmod(0)
    with pytest.raises(ConfigError, match="cannot be read"):
        moto_client.upload_file(path, "k")


def test_part_size_grows_to_stay_within_10000_parts():
    assert part_size_for(RAGGED, CHUNK) == CHUNK
    size = 100 * 1024 * MIB + 1
    grown = part_size_for(size, CHUNK)
    assert grown % MIB == 0 and grown > CHUNK
    assert len(plan_parts(size, grown)) <= MAX_PARTS
    assert len(plan_parts(size, grown - MIB)) > MAX_PARTS
    with pytest.raises(ConfigError, match="too large"):
        part_size_for(MAX_PARTS * 5 * 1024 * MIB + 1, CHUNK)
    plan = plan_parts(RAGGED, CHUNK)
    assert [p.size for p in plan] == [CHUNK] * 4 + [3 * MIB + 123]
    assert [p.offset for p in plan] == [i * CHUNK for i in range(5)]


# -- unfinished uploads --------------------------------------------------------------------


def start_uploads(client, keys: list[str]) -> list[str]:
    return [
        client.s3.create_multipart_upload(Bucket=client.bucket, Key=k)["UploadId"] for k in keys
    ]


def test_list_and_abort_incomplete_uploads_with_age_and_dry_run(seaweed_client):
    ids = start_uploads(seaweed_client, ["a/1", "a/2", "a/2", "b/1"])
    listed = seaweed_client.list_incomplete_uploads("a/")
    assert sorted(u.upload_id for u in listed) == sorted(ids[:3])
    assert all(isinstance(u.initiated, pendulum.DateTime) for u in listed)

    assert seaweed_client.abort_incomplete_uploads("a/", older_than=3600) == []
    assert seaweed_client.abort_incomplete_uploads("a/", pendulum.duration(hours=1)) == []
    would = seaweed_client.abort_incomplete_uploads("a/", dry_run=True)
    assert sorted(u.upload_id for u in would) == sorted(ids[:3])
    assert len(seaweed_client.list_incomplete_uploads("a/")) == 3

    aborted = seaweed_client.abort_incomplete_uploads("a/", older_than=dt.timedelta(0))
    assert sorted(u.upload_id for u in aborted) == sorted(ids[:3])
    assert seaweed_client.list_incomplete_uploads("a/") == []
    assert [u.upload_id for u in seaweed_client.list_incomplete_uploads()] == [ids[3]]


def test_incomplete_uploads_are_read_page_by_page(seaweed_client):
    ids = start_uploads(seaweed_client, [f"p/{i}" for i in range(5)])
    found = [u.upload_id for u in iter_incomplete_uploads(seaweed_client, "p/", page_size=2)]
    assert sorted(found) == sorted(ids)


def test_abort_rejects_a_negative_age(moto_client):
    with pytest.raises(ConfigError, match="older_than"):
        moto_client.abort_incomplete_uploads(older_than=-1)
    with pytest.raises(ConfigError, match="older_than"):
        moto_client.abort_incomplete_uploads(older_than="1h")


def test_abort_on_moto_removes_uploads(moto_client):
    start_uploads(moto_client, ["x/1", "x/2"])
    assert len(moto_client.abort_incomplete_uploads("x/")) == 2
    assert moto_client.list_incomplete_uploads() == []


def test_default_chunk_size_grows_for_large_files_within_a_buffer_budget():
    big = 1024 * MIB
    assert upload_part_size(big, None, 4) == 16 * MIB  # None: no chunk_size set
    assert upload_part_size(big, None, 8) == 8 * MIB  # 8 x 8 MiB of buffers at most
    assert upload_part_size(big, None, 16) == CHUNK  # no room: the default stays
    assert upload_part_size(127 * MIB, None, 4) == CHUNK  # under two 16 MiB parts a worker
    assert upload_part_size(big, 6 * MIB, 4) == 6 * MIB  # a chosen chunk_size is kept
    assert upload_part_size(big, CHUNK, 4) == CHUNK  # ... even when it equals the default
    huge = 200 * 1024 * MIB
    assert upload_part_size(huge, None, 4) == part_size_for(huge, 16 * MIB) > 16 * MIB
    assert upload_part_size(huge, CHUNK, 4) == part_size_for(huge, CHUNK)  # grown for S3 only


def test_an_explicit_default_sized_chunk_is_kept(make_seaweed_client, tmp_path):
    path = write_file(tmp_path, 40 * MIB + 5)  # without a chunk_size: 16 MiB parts, as below
    client = make_seaweed_client(parallel_operations=1, chunk_size=5 * MIB)
    result = client.upload_file(path, "five")
    assert result.parts == 9 and result.resume_token.part_size == 5 * MIB
    assert client.download_bytes("five") == path.read_bytes()


def test_large_file_uses_the_grown_part_size(make_seaweed_client, tmp_path):
    path = write_file(tmp_path, 40 * MIB + 5)  # one worker: 16 MiB parts from 32 MiB on
    client = make_seaweed_client(parallel_operations=1)
    result = client.upload_file(path, "big")
    assert result.parts == 3
    assert result.resume_token.part_size == 16 * MIB
    assert client.download_bytes("big") == path.read_bytes()


# -- parts larger than the part buffer (files past 10,000 parts of the usual size) -------------


def test_part_buffer_stays_within_the_budget_when_parts_must_grow():
    huge = 200 * 1024 * MIB  # 10,000 parts of 16 MiB do not hold it
    grown = upload_part_size(huge, None, 4)
    assert grown > 16 * MIB
    assert part_buffer_size(grown, None, 4) == 16 * MIB  # 4 x 16 MiB, as for 1 GiB
    assert part_buffer_size(grown, None, 8) == 8 * MIB
    assert part_buffer_size(grown, CHUNK, 4) == 16 * MIB  # a set 5 MiB: the same budget
    assert part_buffer_size(grown, 64 * MIB, 4) == min(grown, 64 * MIB)  # chosen chunk_size
    assert part_buffer_size(16 * MIB, CHUNK, 4) == 16 * MIB  # an ordinary part: whole


def test_part_buffers_are_mapped_or_ordinary_memory_when_mapping_is_refused(monkeypatch):
    mapped = upload_module.new_part_buffer(MIB + 123)
    assert len(mapped) == MIB + 123 and not mapped.readonly
    mapped[-3:] = b"end"  # writable to its last byte

    def refuse(*args, **kwargs):
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(upload_module.mmap, "mmap", refuse)
    ordinary = upload_module.new_part_buffer(MIB + 123)
    assert len(ordinary) == MIB + 123 and isinstance(ordinary.obj, bytearray)


@pytest.fixture
def small_part_buffers(monkeypatch) -> list[int]:
    """Part buffers of 1 MiB + 123 bytes whatever the part size; records each allocation."""
    sizes: list[int] = []
    real = upload_module.new_part_buffer
    monkeypatch.setattr(upload_module, "part_buffer_size", lambda *_: MIB + 123)

    def record(size: int):
        sizes.append(size)
        return real(size)

    monkeypatch.setattr(upload_module, "new_part_buffer", record)
    return sizes


@pytest.mark.parametrize("engine", ["http", "boto"])
def test_parts_larger_than_the_buffer_are_streamed_and_verified(
    make_seaweed_client, tmp_path, monkeypatch, small_part_buffers, engine
):
    if engine == "boto":
        monkeypatch.setattr(upload_module, "make_part_sender", _boto_sender)
    client = make_seaweed_client(parallel_operations=2)
    path = write_file(tmp_path, RAGGED, seed=11)
    result = client.upload_file(path, "streamed")
    assert result.parts == 5 and result.bytes_sent == RAGGED
    assert client.download_bytes("streamed") == path.read_bytes()
    head = client.s3.head_object(Bucket=client.bucket, Key="streamed", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == result.checksum  # the store checked every part's CRC32
    assert result.checksum == checksums.checksum_b64("CRC32", path.read_bytes())
    assert small_part_buffers and set(small_part_buffers) == {MIB + 123}


def _boto_sender(client, key, upload_id, limiter, algorithm):
    from orbit_provider.s3.wire.part_put import BotoPartSender

    return BotoPartSender(client, key, upload_id, limiter, algorithm)


def test_a_streamed_part_that_changes_after_its_checksum_is_refused(
    make_seaweed_client, tmp_path, monkeypatch, small_part_buffers
):
    """The CRC32 is taken in a first pass and the bytes sent in a second: bytes changed in
    between (same size, same mtime) must fail the store's check, not be stored."""
    client = make_seaweed_client(parallel_operations=1)
    path = write_file(tmp_path, 2 * CHUNK + 10, seed=12)
    stat = path.stat()
    real_digest = upload_module.LocalFile.digests

    def digest_then_change(self, offset, size, buf=None, **kw):
        value = real_digest(self, offset, size, buf, **kw)
        if offset == CHUNK:  # part 2
            with open(path, "r+b") as f:
                f.seek(CHUNK + 5)
                f.write(b"changed!")
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        return value

    monkeypatch.setattr(upload_module.LocalFile, "digests", digest_then_change)
    with pytest.raises(UploadInterrupted) as info:
        client.upload_file(path, "k")
    assert info.value.code == "BadDigest"
    assert not client.exists("k")
    assert sorted(parts_of(client, "k", info.value.upload_id)) == [1]


# -- a store without flexible checksums -------------------------------------------------------


@pytest.fixture
def no_crc_echo(seaweed):
    """SeaweedFS behind a proxy that drops x-amz-checksum-crc32 from every answer, as a store
    without flexible checksums would (it verifies Content-MD5 like every S3 store)."""
    from orbit_provider.testing.faultproxy import FaultProxy

    with FaultProxy(
        seaweed.endpoint, rate=0.0, strip_response_headers=("x-amz-checksum-crc32",)
    ) as proxy:
        yield proxy


def part_requests(proxy) -> list[frozenset[str]]:
    return [h for method, path, h in proxy.seen if method == "PUT" and "partNumber=" in path]


def test_a_store_ignoring_crc32_gets_content_md5_and_etags_are_checked(
    seaweed, seaweed_bucket, no_crc_echo, tmp_path
):
    from orbit_provider.testing.clients import client_for

    client = client_for(seaweed, seaweed_bucket, endpoint=no_crc_echo.endpoint,
                        parallel_operations=1)  # fmt: skip
    path = write_file(tmp_path, RAGGED, seed=13)
    result = client.upload_file(path, "k")
    assert client.download_bytes("k") == path.read_bytes()
    sent = part_requests(no_crc_echo)
    assert len(sent) == result.parts == 5
    assert "content-md5" not in sent[0]  # part 1: checked afterwards by its MD5 ETag
    assert all("content-md5" in h for h in sent[1:])  # then the store verifies each part
    # the client remembers: single PUTs now carry Content-MD5 from the start
    client.upload_file(write_file(tmp_path, 1000, name="small"), "small")
    client.upload_bytes(b"tiny", "tiny")
    puts = [(p, h) for m, p, h in no_crc_echo.seen if m == "PUT" and "partNumber=" not in p]
    assert [p.split("?")[0].rsplit("/", 1)[1] for p, _ in puts] == ["small", "tiny"]
    assert all("content-md5" in h for _, h in puts)
    assert client.download_bytes("small") == (tmp_path / "small").read_bytes()


def test_a_wrong_content_md5_is_refused_by_the_store(
    seaweed, seaweed_bucket, no_crc_echo, tmp_path, monkeypatch
):
    from orbit_provider.testing.clients import client_for

    client = client_for(seaweed, seaweed_bucket, endpoint=no_crc_echo.endpoint,
                        parallel_operations=1)  # fmt: skip
    data = random.Random(14).randbytes(RAGGED)
    path = tmp_path / "f"
    path.write_bytes(data)
    marker = data[2 * CHUNK : 2 * CHUNK + 64]  # part 3
    real = upload_module.part_md5
    monkeypatch.setattr(
        upload_module, "part_md5",
        lambda d: ("0" * 32) if bytes(d[:64]) == marker else real(d),
    )  # fmt: skip
    with pytest.raises(UploadInterrupted) as info:
        client.upload_file(path, "k")
    assert info.value.code == "BadDigest"
    assert not client.exists("k")
    assert sorted(parts_of(client, "k", info.value.upload_id)) == [1, 2]


def test_a_part_whose_etag_is_not_our_md5_is_caught(
    seaweed, seaweed_bucket, no_crc_echo, tmp_path, monkeypatch
):
    """Part 1 goes out before we know the store ignores CRC32: its ETag is the check."""
    from orbit_provider.testing.clients import client_for

    client = client_for(seaweed, seaweed_bucket, endpoint=no_crc_echo.endpoint,
                        parallel_operations=1)  # fmt: skip
    path = write_file(tmp_path, 2 * CHUNK, seed=15)
    monkeypatch.setattr(upload_module, "part_md5", lambda d: "0" * 32)
    with pytest.raises(UploadInterrupted) as info:
        client.upload_file(path, "k")
    assert "is not the MD5 of the bytes we sent" in str(info.value)
    assert not client.exists("k")


def stale_upload(client, key: str, data: bytes, storage_class: str) -> str:
    """An unfinished upload of `key` whose part 1 holds the start of `data`, as a cut try
    with `storage_class` leaves it. ListMultipartUploads then says its storage class, as S3
    does (moto answers STANDARD for every upload, SeaweedFS nothing)."""
    upload_id = client.call("create_multipart_upload", key=key, StorageClass=storage_class,
                            ChecksumAlgorithm="CRC32")["UploadId"]  # fmt: skip
    client.call("upload_part", key=key, UploadId=upload_id, PartNumber=1, Body=data[:CHUNK])

    def as_s3_says(parsed, **_):
        for item in parsed.get("Uploads", []):
            if item["UploadId"] == upload_id:
                item["StorageClass"] = storage_class

    client.s3.meta.events.register("after-call.s3.ListMultipartUploads", as_s3_says)
    return upload_id


def test_a_retry_with_another_storage_class_starts_over_and_aborts_the_stale_upload(
    moto_client, tmp_path
):
    """ListMultipartUploads says each upload's storage class on S3 (SeaweedFS says none,
    and there the class cannot be checked)."""
    data = random.Random(13).randbytes(3 * CHUNK)
    path = tmp_path / "f"
    path.write_bytes(data)
    stale = stale_upload(moto_client, "k", data, "STANDARD_IA")
    (listed,) = moto_client.list_incomplete_uploads("k")
    assert listed.upload_id == stale and listed.storage_class == "STANDARD_IA"

    result = moto_client.upload_file(path, "k")  # this try asks for STANDARD
    assert result.parts_resumed == 0 and result.resume_token.upload_id != stale
    assert moto_client.get_metadata("k").storage_class == "STANDARD"
    assert moto_client.list_incomplete_uploads("k") == []  # the stale one was provably ours
    assert moto_client.download_bytes("k") == data


def test_a_stale_upload_of_other_bytes_is_left_alone(moto_client, tmp_path):
    data = random.Random(15).randbytes(3 * CHUNK)
    path = tmp_path / "f"
    path.write_bytes(data)
    other = stale_upload(moto_client, "k", random.Random(16).randbytes(CHUNK), "GLACIER")
    moto_client.upload_file(path, "k")
    assert [u.upload_id for u in moto_client.list_incomplete_uploads("k")] == [other]


def test_a_retry_with_the_same_storage_class_resumes(moto_client, tmp_path):
    data = random.Random(14).randbytes(3 * CHUNK)
    path = tmp_path / "f"
    path.write_bytes(data)
    stale = stale_upload(moto_client, "k", data, "STANDARD_IA")
    result = moto_client.upload_file(path, "k", storage_class="STANDARD_IA")
    assert result.resume_token.upload_id == stale and result.parts_resumed == 1
    assert moto_client.get_metadata("k").storage_class == "STANDARD_IA"
    assert moto_client.download_bytes("k") == data


# -- checksum algorithms and types ------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "kind"),
    [("CRC32", "COMPOSITE"), ("CRC32C", None), ("CRC32C", "COMPOSITE"), ("CRC64NVME", None),
     ("SHA1", None), ("SHA256", None)],
)  # fmt: skip
def test_every_algorithm_is_sent_kept_and_verified_on_seaweedfs(
    make_seaweed_client, tmp_path, algorithm, kind
):
    client = make_seaweed_client(checksum_algorithm=algorithm, checksum_type=kind)
    path = write_file(tmp_path, RAGGED, seed=21)
    data = path.read_bytes()
    result = client.upload_file(path, "k")
    head = client.head("k")
    stored = head[f"Checksum{algorithm}"]
    assert result.checksum == stored and result.checksum_algorithm == algorithm
    if client.config.effective_checksum_type == "FULL_OBJECT":
        assert head["ChecksumType"] == "FULL_OBJECT"
        assert stored == checksums.checksum_b64(algorithm, data)  # the whole file's
    else:
        assert stored.endswith("-5") and head["ChecksumType"] == "COMPOSITE"
    small = write_file(tmp_path, 1000, name="small")
    assert client.upload_file(small, "small").checksum == checksums.checksum_b64(
        algorithm, small.read_bytes()
    )
    assert client.head("small")[f"Checksum{algorithm}"] == checksums.checksum_b64(
        algorithm, small.read_bytes()
    )
    assert client.download_bytes("k") == data
    assert client.list_incomplete_uploads() == []


@pytest.mark.parametrize("algorithm", ["CRC32C", "CRC64NVME", "SHA256"])
def test_a_wrong_part_checksum_of_any_algorithm_is_refused(
    make_seaweed_client, tmp_path, monkeypatch, algorithm
):
    client = make_seaweed_client(parallel_operations=1, checksum_algorithm=algorithm)
    data = random.Random(22).randbytes(3 * CHUNK)
    path = tmp_path / "f"
    path.write_bytes(data)
    marker = data[CHUNK : CHUNK + 64]  # part 2
    real = upload_module.part_checksum

    def wrong(name, part):
        value = real(name, part)
        return bytes([value[0] ^ 1]) + value[1:] if bytes(part[:64]) == marker else value

    monkeypatch.setattr(upload_module, "part_checksum", wrong)
    with pytest.raises(UploadInterrupted) as info:
        client.upload_file(path, "k")
    assert info.value.code == "BadDigest"
    assert not client.exists("k")
    assert sorted(parts_of(client, "k", info.value.upload_id)) == [1]


def test_a_wrong_full_object_checksum_is_refused_at_complete(
    make_seaweed_client, tmp_path, monkeypatch
):
    client = make_seaweed_client(checksum_algorithm="CRC32C")
    path = write_file(tmp_path, 2 * CHUNK + 1, seed=23)
    real = checksums.combine_parts_b64
    monkeypatch.setattr(
        checksums, "combine_parts_b64",
        lambda name, parts: real(name, parts[:-1] + [(b"\0\0\0\0", parts[-1][1])]),
    )  # fmt: skip
    with pytest.raises(UploadInterrupted) as info:
        client.upload_file(path, "k")
    assert info.value.code == "BadDigest"
    assert not client.exists("k")


def test_moto_keeps_the_whole_file_crc64nvme_and_a_wrong_one_is_caught(
    make_moto_client, tmp_path, monkeypatch
):
    """moto computes a FULL_OBJECT checksum itself (CRC64NVME through awscrt) instead of
    checking ours at Complete: the HEAD after Complete catches a wrong one."""
    client = make_moto_client(checksum_algorithm="CRC64NVME")
    path = write_file(tmp_path, 2 * CHUNK + 3, seed=24)
    result = client.upload_file(path, "k")
    whole = checksums.checksum_b64("CRC64NVME", path.read_bytes())
    assert result.checksum == whole == client.head("k")["ChecksumCRC64NVME"]
    monkeypatch.setattr(checksums, "combine_parts_b64", lambda name, parts: "AAAAAAAAAAA=")
    with pytest.raises(IntegrityError, match="CRC64NVME"):
        client.upload_file(path, "k2")


@pytest.fixture
def no_crc32c_echo(seaweed):
    """SeaweedFS behind a proxy that drops x-amz-checksum-crc32c from every answer, as a
    store that ignores that algorithm would."""
    from orbit_provider.testing.faultproxy import FaultProxy

    with FaultProxy(
        seaweed.endpoint, rate=0.0, strip_response_headers=("x-amz-checksum-crc32c",)
    ) as proxy:
        yield proxy


def test_a_store_ignoring_the_algorithm_gets_content_md5(
    seaweed, seaweed_bucket, no_crc32c_echo, tmp_path, monkeypatch
):
    from orbit_provider.testing.clients import client_for

    client = client_for(seaweed, seaweed_bucket, endpoint=no_crc32c_echo.endpoint,
                        parallel_operations=1, checksum_algorithm="CRC32C")  # fmt: skip
    path = write_file(tmp_path, RAGGED, seed=25)
    client.upload_file(path, "k")
    assert client.store_ignores_crc32 is True
    sent = part_requests(no_crc32c_echo)
    assert "content-md5" not in sent[0] and all("content-md5" in h for h in sent[1:])
    assert client.download_bytes("k") == path.read_bytes()
    monkeypatch.setattr(upload_module, "part_md5", lambda d: "0" * 32)
    with pytest.raises(UploadInterrupted) as info:  # the store refuses a wrong Content-MD5
        client.upload_file(path, "k2")
    assert info.value.code == "BadDigest" and not client.exists("k2")


# -- a file that changes mid-upload leaves nothing behind ---------------------------------------


def change_after_last_part(path: Path, parts: int, change) -> ProgressReporter:
    def hook(event) -> None:
        if isinstance(event, PartCompleted) and event.part_number == parts:
            change(path)

    return ProgressReporter([hook], inline=True)  # acts before the upload goes on


def test_a_file_rewritten_mid_upload_aborts_its_upload_and_the_retry_leaves_nothing(
    make_seaweed_client, tmp_path
):
    client = make_seaweed_client(parallel_operations=1)
    path = write_file(tmp_path, 3 * CHUNK, seed=31)
    new = random.Random(32).randbytes(3 * CHUNK)
    with pytest.raises(IntegrityError) as info:
        client.upload_file(path, "k", progress=change_after_last_part(
            path, 3, lambda p: p.write_bytes(new)))  # fmt: skip
    assert info.value.code == "FileChanged" and "was aborted" in str(info.value)
    assert not isinstance(info.value, UploadInterrupted)
    assert client.list_incomplete_uploads() == []  # no stored part holds the file any more
    result = client.upload_file(path, "k")
    assert result.parts_resumed == 0
    assert client.download_bytes("k") == new
    assert client.list_incomplete_uploads() == []


def test_a_file_deleted_mid_upload_aborts_its_upload(make_seaweed_client, tmp_path):
    client = make_seaweed_client(parallel_operations=1)
    path = write_file(tmp_path, 2 * CHUNK + 1, seed=33)
    with pytest.raises(IntegrityError) as info:
        client.upload_file(path, "k", progress=change_after_last_part(
            path, 3, lambda p: p.unlink()))  # fmt: skip
    assert info.value.code == "FileChanged" and "can no longer be read" in str(info.value)
    assert client.list_incomplete_uploads() == [] and not client.exists("k")


def test_a_file_appended_mid_upload_keeps_its_parts_and_the_retry_reuses_them(
    make_seaweed_client, tmp_path
):
    client = make_seaweed_client(parallel_operations=1)
    path = write_file(tmp_path, 3 * CHUNK, seed=34)

    def append(p: Path) -> None:
        with open(p, "ab") as f:
            f.write(b"more")

    with pytest.raises(UploadInterrupted) as info:
        client.upload_file(path, "k", progress=change_after_last_part(path, 3, append))
    assert info.value.code == "FileChanged"
    assert [u.upload_id for u in client.list_incomplete_uploads()] == [info.value.upload_id]
    result = client.upload_file(path, "k")
    assert (result.parts_resumed, result.bytes_sent) == (3, 4)
    assert client.download_bytes("k") == path.read_bytes()
    assert client.list_incomplete_uploads() == []


def test_a_retry_with_another_checksum_type_starts_over_on_seaweedfs(
    make_seaweed_client, tmp_path, monkeypatch
):
    """SeaweedFS lists no checksum type and answers BadDigest to a FULL_OBJECT Complete of
    a COMPOSITE upload (as one cut before this setting's default changed would be)."""
    from tests.s3.transfer.test_upload_settle import a_file, cut_first_try

    path, data = a_file(tmp_path, 37)
    first = make_seaweed_client(parallel_operations=1, checksum_type="COMPOSITE")
    cut_first_try(first, path, "k", data, monkeypatch)
    client = make_seaweed_client(parallel_operations=1)  # FULL_OBJECT
    result = client.upload_file(path, "k")
    assert result.parts_resumed == 0
    assert client.head("k")["ChecksumCRC32"] == checksums.checksum_b64("CRC32", data)
    assert client.download_bytes("k") == data
    assert client.list_incomplete_uploads() == []


@pytest.mark.parametrize("store", ["seaweedfs", "moto"])
def test_a_retry_with_another_checksum_algorithm_starts_over_and_leaves_nothing(
    request, tmp_path, monkeypatch, store
):
    """moto lists the unfinished upload's algorithm (it is aborted before any part is
    sent); SeaweedFS lists none and refuses the retry's first part (InvalidRequest). moto
    keeps a wrong whole-object CRC32C (its CRC32), so there the retry asks CRC64NVME."""
    from tests.s3.transfer.test_upload_settle import a_file, cut_first_try

    make = request.getfixturevalue(f"make_{'seaweed' if store == 'seaweedfs' else 'moto'}_client")
    path, data = a_file(tmp_path, 35)
    cut_first_try(make(parallel_operations=1), path, "k", data, monkeypatch)  # CRC32
    (stale,) = make().list_incomplete_uploads()
    events: list = []
    algorithm = "CRC32C" if store == "seaweedfs" else "CRC64NVME"
    client = make(parallel_operations=1, checksum_algorithm=algorithm)
    result = client.upload_file(path, "k", progress=ProgressReporter([events.append], inline=True))
    assert result.parts_resumed == 0 and result.resume_token.upload_id != stale.upload_id
    assert result.checksum_algorithm == algorithm
    assert client.download_bytes("k") == data
    assert client.list_incomplete_uploads() == []
    assert isinstance(events[-1], TransferCompleted)
    assert len({e.transfer_id for e in events}) == 1
    whole = checksums.checksum_b64(algorithm, data)
    assert client.head("k")[f"Checksum{algorithm}"] == result.checksum == whole


@pytest.mark.parametrize("algorithm", ["CRC32C", "SHA256"])
def test_a_resumed_upload_completes_with_its_parts_checksums(
    make_seaweed_client, tmp_path, monkeypatch, algorithm
):
    """The resumed parts' checksums are recomputed from the file (SeaweedFS lists none) for
    Complete, which the store checks: whole-file CRC32C, composite SHA256."""
    from tests.s3.transfer.test_upload_settle import a_file, cut_first_try

    client = make_seaweed_client(parallel_operations=1, checksum_algorithm=algorithm)
    path, data = a_file(tmp_path, 36)
    cut_first_try(client, path, "k", data, monkeypatch)
    result = client.upload_file(path, "k")
    assert result.parts_resumed == 2
    stored = client.head("k")[f"Checksum{algorithm}"]
    assert stored == result.checksum
    if algorithm == "CRC32C":
        assert stored == checksums.checksum_b64("CRC32C", data)
    else:
        parts = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
        digests = [hashlib.sha256(p).digest() for p in parts]
        assert stored == checksums.composite_b64("SHA256", digests)
    assert client.download_bytes("k") == data


# -- replace=False: only onto a free key ---------------------------------------------------------


@pytest.mark.parametrize("size", [1000, 11 * 1024 * 1024])
def test_if_none_match_uploads_only_onto_a_free_key(make_moto_client, tmp_path, size):
    from orbit_provider.s3.errors import PreconditionFailed

    client = make_moto_client(chunk_size=5 * 1024 * 1024)
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(size))
    client.upload_file(path, "free", if_none_match=True)
    assert client.download_bytes("free") == path.read_bytes()
    client.upload_bytes(b"old", "taken")
    with pytest.raises(PreconditionFailed, match="already exists"):
        client.upload_file(path, "taken", if_none_match=True)
    assert client.download_bytes("taken") == b"old"
    assert client.list_incomplete_uploads() == []


def test_a_multipart_upload_that_loses_the_race_is_aborted(make_moto_client, tmp_path, monkeypatch):
    from orbit_provider.s3.errors import PreconditionFailed
    from orbit_provider.s3.transfer import upload as upload_module

    client = make_moto_client(chunk_size=5 * 1024 * 1024)
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(11 * 1024 * 1024))
    # another writer creates the key after the check: only the conditional completion stops us
    monkeypatch.setattr(
        upload_module, "refuse_existing", lambda c, key: client.upload_bytes(b"theirs", key)
    )
    with pytest.raises(PreconditionFailed):
        client.upload_file(path, "raced", if_none_match=True)
    assert client.download_bytes("raced") == b"theirs"
    assert client.list_incomplete_uploads() == []
