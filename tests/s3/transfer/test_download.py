"""download_file / download_file_resumable against a real SeaweedFS server (and moto for
archived objects): round trips, integrity, resume after SIGKILL, changed objects, progress."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import boto3
import pytest

from orbit_provider.s3 import (
    DownloadResult,
    PartCompleted,
    Progress,
    ProgressReporter,
    S3Client,
    S3Config,
    TransferCompleted,
    TransferFailed,
    TransferStarted,
)
from orbit_provider.s3.config import MIB, Credentials
from orbit_provider.s3.errors import ArchivedObject, ConfigError, IntegrityError, NotFound
from orbit_provider.s3.transfer import download as dl
from orbit_provider.s3.transfer.download_plan import (
    MIN_RANGE_SIZE,
    ObjectFacts,
    plan_ranges,
    planned_check,
)
from orbit_provider.s3.transfer.download_state import load_state, temp_paths
from orbit_provider.s3.wire.checksums import crc32_b64, crc32_combine
from tests.s3.transfer.conftest import sigkill_when

R = MIN_RANGE_SIZE  # range size with the default 5 MiB chunk_size


def data_of(size: int) -> bytes:
    return os.urandom(size)


def put_multipart(client: S3Client, key: str, data: bytes, part: int, crc: bool) -> None:
    """A multipart object (optionally with per-part CRC32s: composite 'xxx==-N')."""
    s3, bucket = client.s3, client.bucket
    extra = {"ChecksumAlgorithm": "CRC32"} if crc else {}
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]
    parts = []
    for n, off in enumerate(range(0, len(data), part), start=1):
        chunk = data[off : off + part]
        args = {"ChecksumCRC32": crc32_b64(zlib.crc32(chunk))} if crc else {}
        etag = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=chunk, **args
        )["ETag"]
        parts.append({"PartNumber": n, "ETag": etag, **args})
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )


def leftovers(dest: Path) -> list[Path]:
    return [p for p in temp_paths(dest) if p.exists()]


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["http", "boto"])
@pytest.mark.parametrize("size", [0, 1, R, 3 * R + 12345], ids=["0B", "1B", "one-range", "ragged"])
def test_round_trip_is_byte_identical(seaweed_client, tmp_path, size, engine):
    data = data_of(size)
    seaweed_client.upload_bytes(data, "obj")
    dest = tmp_path / "out.bin"
    result = dl.download_file(seaweed_client, "obj", dest, engine=engine)
    assert dest.read_bytes() == data
    assert isinstance(result, DownloadResult)
    assert (result.size, result.bytes_received, result.resumed_bytes) == (size, size, 0)
    assert result.path == dest and result.key == "obj" and result.etag
    if size:
        assert result.verification == "crc32"  # full-object CRC32 from the single PUT
    assert leftovers(dest) == []


def test_facade_and_composite_checksum_of_multipart_object(make_seaweed_client, tmp_path):
    client = make_seaweed_client(parallel_operations=3)
    data = data_of(3 * 5 * MIB + 777)
    put_multipart(client, "mp", data, 5 * MIB, crc=True)
    assert client.s3.head_object(
        Bucket=client.bucket, Key="mp", ChecksumMode="ENABLED"
    )["ChecksumCRC32"].endswith("-4")
    result = client.download_file("mp", tmp_path / "mp.bin")
    assert (tmp_path / "mp.bin").read_bytes() == data
    assert result.verification == "crc32-composite"


def test_moto_multipart_checksum_without_part_count_is_composite(moto_client, tmp_path):
    """moto reports a multipart object's composite CRC32 without '-N'; the ETag's '-N' says
    it is composite, so it is verified as one (not as a whole-object CRC32, which fails)."""
    data = data_of(2 * 5 * MIB + 4321)
    put_multipart(moto_client, "mp", data, 5 * MIB, crc=True)
    head = moto_client.s3.head_object(Bucket=moto_client.bucket, Key="mp", ChecksumMode="ENABLED")
    assert "-" not in head["ChecksumCRC32"] and head["ETag"].endswith('-3"')
    dest = tmp_path / "mp.bin"
    result = dl.download_file(moto_client, "mp", dest, engine="boto")
    assert dest.read_bytes() == data
    assert result.verification == "crc32-composite"
    assert leftovers(dest) == []


@pytest.mark.parametrize("multipart", [False, True])
def test_md5_etag_is_checked_when_there_is_no_crc(seaweed_client, tmp_path, multipart):
    data = data_of(2 * 5 * MIB + 10)
    if multipart:
        put_multipart(seaweed_client, "k", data, 5 * MIB, crc=False)
    else:
        seaweed_client.s3.put_object(Bucket=seaweed_client.bucket, Key="k", Body=data)
    result = seaweed_client.download_file("k", tmp_path / "k")
    assert (tmp_path / "k").read_bytes() == data
    assert result.verification == "md5"


def test_specific_version_is_downloaded(seaweed_client, tmp_path):
    seaweed_client.s3.put_bucket_versioning(
        Bucket=seaweed_client.bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    first, second = data_of(R + 5), data_of(R + 9)
    old = seaweed_client.upload_bytes(first, "v")
    seaweed_client.upload_bytes(second, "v")
    result = seaweed_client.download_file("v", tmp_path / "v", version_id=old.version_id)
    assert (tmp_path / "v").read_bytes() == first
    assert result.version_id == old.version_id and result.size == len(first)
    latest = seaweed_client.download_file("v", tmp_path / "latest")
    assert (tmp_path / "latest").read_bytes() == second and latest.version_id != old.version_id


def test_bandwidth_limit_caps_the_rate_and_still_delivers(seaweed_client, tmp_path):
    data = data_of(2 * MIB)
    seaweed_client.upload_bytes(data, "slow")
    result = seaweed_client.download_file("slow", tmp_path / "s", max_bandwidth=4 * MIB)
    assert (tmp_path / "s").read_bytes() == data
    assert result.bytes_received == len(data)
    with pytest.raises(ConfigError, match="max_bandwidth"):
        seaweed_client.download_file("slow", tmp_path / "s2", max_bandwidth=0)


def test_ranges_start_at_the_cap_of_parallel_operations(make_seaweed_client, tmp_path, monkeypatch):
    """Downloads run `parallel_operations` ranges from the first moment (no ramp from a few
    workers): all 12 ranges of a 12-range object meet at one barrier, in flight together."""
    cap = 12
    client = make_seaweed_client(parallel_operations=cap)
    data = data_of(cap * MIB)
    client.s3.put_object(Bucket=client.bucket, Key="wide.bin", Body=data)
    monkeypatch.setattr(dl, "MIN_RANGE_SIZE", MIB)
    monkeypatch.setattr(type(client.config), "effective_chunk_size", property(lambda self: MIB))
    together = threading.Barrier(cap, timeout=60)
    fetch = dl._Download._fetch_range

    def meet_then_fetch(self, *args, **kwargs):
        together.wait()  # breaks (and fails the download) unless `cap` ranges are in flight
        return fetch(self, *args, **kwargs)

    monkeypatch.setattr(dl._Download, "_fetch_range", meet_then_fetch)
    result = client.download_file("wide.bin", tmp_path / "wide.bin")
    assert (tmp_path / "wide.bin").read_bytes() == data
    assert result.size == len(data)


# -- progress -----------------------------------------------------------------------------------


def test_progress_events_are_monotonic_and_exact(make_seaweed_client, tmp_path):
    client = make_seaweed_client(parallel_operations=3)
    size = 3 * R + 999
    client.upload_bytes(data_of(size), "p")
    events = []
    reporter = ProgressReporter([events.append])
    client.download_file("p", tmp_path / "p", progress=reporter)
    reporter.close()  # events are delivered on the reporter's thread: wait for them
    started = [e for e in events if isinstance(e, TransferStarted)]
    assert len(started) == 1 and started[0].total_bytes == size and started[0].parts == 4
    assert started[0].operation == "download"
    progress = [e for e in events if isinstance(e, Progress)]
    done = [e.bytes_transferred for e in progress]
    assert done == sorted(done)
    assert progress[-1].percentage == 100.0 and progress[-1].bytes_transferred == size
    parts = [e for e in events if isinstance(e, PartCompleted)]
    assert sorted(e.part_number for e in parts) == [1, 2, 3, 4]
    assert sum(e.size for e in parts) == size
    assert isinstance(events[-1], TransferCompleted) and events[-1].total_bytes == size


def test_a_subscriber_held_until_the_download_returns_never_slows_it(
    make_seaweed_client, tmp_path
):
    """The subscriber waits on its first event until download_file has returned: had the
    download waited for it, it could never return."""
    client = make_seaweed_client(parallel_operations=2)
    data = data_of(2 * R + 5)
    client.upload_bytes(data, "p")
    returned, events = threading.Event(), []

    def held(event) -> None:
        returned.wait(60)
        events.append(event)

    reporter = ProgressReporter([held])
    result = client.download_file("p", tmp_path / "p", progress=reporter)
    assert not events  # still held on the first event
    returned.set()
    reporter.close()
    assert result.size == len(data) and (tmp_path / "p").read_bytes() == data
    assert isinstance(events[0], TransferStarted) and isinstance(events[-1], TransferCompleted)
    assert sorted(e.part_number for e in events if isinstance(e, PartCompleted)) == [1, 2, 3]


# -- bad input and errors -------------------------------------------------------------------------


@pytest.fixture
def unreachable_client() -> S3Client:
    """Any request it sent would fail with a network error, not a ConfigError."""
    return S3Client(
        S3Config(
            bucket="nowhere",
            endpoint="http://127.0.0.1:9",
            region="us-east-1",
            credentials=Credentials("k", "s"),
            force_path_style=True,
            max_retries=0,
        )
    )


def test_bad_input_fails_before_any_request(unreachable_client, tmp_path):
    c = unreachable_client
    a_file = tmp_path / "file"
    a_file.write_bytes(b"x")
    with pytest.raises(ConfigError, match="does not exist"):
        c.download_file("k", tmp_path / "missing-dir" / "out")
    with pytest.raises(ConfigError, match="not a folder"):
        c.download_file("k", a_file / "out")  # parent is a regular file: cannot write there
    with pytest.raises(ConfigError, match="is a directory"):
        c.download_file("k", tmp_path)
    with pytest.raises(ConfigError, match="key"):
        c.download_file("", tmp_path / "out")
    with pytest.raises(ConfigError, match="offset"):
        c.download_file_resumable("k", a_file, 5)  # holds 1 byte only
    with pytest.raises(ConfigError, match="offset"):
        c.download_file_resumable("k", a_file, -1)


def test_missing_key_is_not_found_and_leaves_nothing(seaweed_client, tmp_path):
    dest = tmp_path / "none"
    with pytest.raises(NotFound) as info:
        seaweed_client.download_file("no/such/key", dest)
    assert seaweed_client.bucket in str(info.value) and "no/such/key" in str(info.value)
    assert not dest.exists() and leftovers(dest) == []


def test_archived_object_raises_archived(moto_server_client, tmp_path):
    moto_server_client.upload_bytes(b"cold bytes", "cold", storage_class="GLACIER")
    dest = tmp_path / "cold"
    with pytest.raises(ArchivedObject):
        moto_server_client.download_file("cold", dest)
    assert not dest.exists() and leftovers(dest) == []


def test_object_rewritten_mid_download_restarts_cleanly(make_seaweed_client, tmp_path):
    client = make_seaweed_client(parallel_operations=1)
    client.upload_bytes(data_of(3 * R), "moving")
    new = data_of(2 * R + 3)
    events = []

    def rewrite_once(event):
        events.append(event)
        if isinstance(event, PartCompleted) and not rewrite_once.done:
            rewrite_once.done = True
            client.upload_bytes(new, "moving")  # the next ranged GET fails If-Match: 412

    rewrite_once.done = False
    reporter = ProgressReporter([rewrite_once], inline=True)  # acts before the GETs go on
    result = client.download_file("moving", tmp_path / "m", progress=reporter)
    assert (tmp_path / "m").read_bytes() == new
    assert result.size == len(new)
    failed = [e for e in events if isinstance(e, TransferFailed)]
    assert len(failed) == 1 and not failed[0].resumable
    assert len({e.transfer_id for e in events if isinstance(e, TransferStarted)}) == 2


# -- resume ---------------------------------------------------------------------------------------

CHILD = """
import sys
from orbit_provider.s3 import S3Client, S3Config
from orbit_provider.s3.transfer import download_state
download_state.FLUSH_INTERVAL = 0.25  # persist often, so the kill finds ranges recorded
from orbit_provider.s3.config import Credentials
endpoint, key_id, secret, bucket, key, dest, rate = sys.argv[1:]
client = S3Client(S3Config(bucket=bucket, endpoint=endpoint, region="us-east-1",
    credentials=Credentials(key_id, secret), force_path_style=True, parallel_operations=1))
client.download_file(key, dest, max_bandwidth=int(rate))
print("finished")
"""


def killed_download(seaweed, client: S3Client, key: str, dest: Path, min_done: int = 2) -> dict:
    """Run a slow download in a subprocess and SIGKILL it once `min_done` ranges are recorded.
    Returns the state record as the killed process left it."""
    _temp, state_path = temp_paths(dest)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, seaweed.endpoint, seaweed.access_key, seaweed.secret_key,
         client.bucket, key, str(dest), str(8 * MIB)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    def ready() -> bool:
        state = load_state(state_path)
        return state is not None and len(state.done) >= min_done

    sigkill_when(proc, ready, f"{min_done} ranges recorded", timeout=60)
    assert not dest.exists(), "a killed download must not leave a partial destination file"
    return json.loads(state_path.read_text())


def done_bytes(state: dict) -> int:
    ranges = plan_ranges(state["size"], state["range_size"], state["part_size"])
    return sum(ranges[int(i)][1] - ranges[int(i)][0] for i in state["done"])


def test_resume_after_sigkill_fetches_only_missing_ranges(seaweed, seaweed_client, tmp_path):
    data = data_of(5 * R + 4321)
    seaweed_client.upload_bytes(data, "big")
    dest = tmp_path / "big.bin"
    state = killed_download(seaweed, seaweed_client, "big", dest)
    assert 2 <= len(state["done"]) < 6
    kept = done_bytes(state)
    events = []
    reporter = ProgressReporter([events.append])
    result = seaweed_client.download_file("big", dest, progress=reporter)
    reporter.close()
    assert dest.read_bytes() == data
    assert result.resumed_bytes == kept
    assert result.bytes_received == len(data) - kept
    started = next(e for e in events if isinstance(e, TransferStarted))
    assert started.resumed_bytes == kept
    assert [e for e in events if isinstance(e, Progress)][-1].bytes_transferred == len(data)
    assert leftovers(dest) == []


def test_object_changed_between_runs_starts_over(seaweed, seaweed_client, tmp_path):
    seaweed_client.upload_bytes(data_of(4 * R), "chg")
    dest = tmp_path / "chg"
    killed_download(seaweed, seaweed_client, "chg", dest, min_done=1)
    new = data_of(3 * R + 1)
    seaweed_client.upload_bytes(new, "chg")
    result = seaweed_client.download_file("chg", dest)
    assert dest.read_bytes() == new
    assert result.resumed_bytes == 0 and result.bytes_received == len(new)


def test_corrupted_range_on_disk_is_fetched_again(seaweed, seaweed_client, tmp_path):
    data = data_of(4 * R + 3)
    seaweed_client.upload_bytes(data, "c")
    dest = tmp_path / "c"
    state = killed_download(seaweed, seaweed_client, "c", dest)
    temp, _ = temp_paths(dest)
    first = min(int(i) for i in state["done"])
    with open(temp, "r+b") as f:
        f.seek(first * R + 100)
        f.write(b"\xff" * 16)
    result = seaweed_client.download_file("c", dest)
    assert dest.read_bytes() == data
    assert result.resumed_bytes == done_bytes(state) - R
    assert result.bytes_received == len(data) - result.resumed_bytes


def test_bytes_that_do_not_match_the_checksum_raise_and_leave_nothing(
    seaweed, seaweed_client, tmp_path
):
    """A resume trusts a range only if disk bytes match the CRC in the record; if both were
    altered alike, the whole-object CRC32 still catches it at the end."""
    seaweed_client.upload_bytes(data_of(4 * R + 3), "t")
    dest = tmp_path / "t"
    state = killed_download(seaweed, seaweed_client, "t", dest)
    temp, state_path = temp_paths(dest)
    first = min(int(i) for i in state["done"])
    with open(temp, "r+b") as f:
        f.seek(first * R)
        f.write(b"\x00" * 32)
        f.seek(first * R)
        tampered = f.read(R)
    state["done"][str(first)] = zlib.crc32(tampered)
    state_path.write_text(json.dumps(state))
    with pytest.raises(IntegrityError, match="do not match"):
        seaweed_client.download_file("t", dest)
    assert not dest.exists() and leftovers(dest) == []


def test_download_file_resumable_appends_the_rest(seaweed_client, tmp_path):
    data = data_of(2 * R + 500)
    seaweed_client.upload_bytes(data, "r")
    dest = tmp_path / "r"
    offset = R + 12345  # not on a range boundary
    dest.write_bytes(data[:offset])
    result = seaweed_client.download_file_resumable("r", dest, offset)
    assert dest.read_bytes() == data
    assert (result.resumed_bytes, result.bytes_received) == (offset, len(data) - offset)
    assert result.verification == "crc32"
    assert leftovers(dest) == []


def test_download_file_resumable_detects_a_wrong_prefix(seaweed_client, tmp_path):
    data = data_of(R + 500)
    seaweed_client.upload_bytes(data, "w")
    dest = tmp_path / "w"
    dest.write_bytes(b"not the object's bytes" + data[22:1000])
    with pytest.raises(IntegrityError):
        seaweed_client.download_file_resumable("w", dest, 1000)
    assert not dest.exists() and leftovers(dest) == []


def test_download_file_resumable_edges(seaweed_client, tmp_path):
    data = data_of(1000)
    seaweed_client.upload_bytes(data, "e")
    full = tmp_path / "full"
    full.write_bytes(data)
    result = seaweed_client.download_file_resumable("e", full, 1000)
    assert full.read_bytes() == data and result.bytes_received == 0
    fresh = tmp_path / "fresh"
    result = seaweed_client.download_file_resumable("e", fresh, 0)
    assert fresh.read_bytes() == data and result.bytes_received == 1000
    full.write_bytes(data + b"extra")
    with pytest.raises(ConfigError, match="beyond the end"):
        seaweed_client.download_file_resumable("e", full, 1005)
    assert full.read_bytes() == data + b"extra"  # refused before touching the file


# -- the O_DIRECT writer (download_writer.py) ------------------------------------------------


@pytest.fixture
def writers(monkeypatch) -> list:
    """Every writer a download opens, with O_DIRECT allowed for any size."""
    from orbit_provider.s3.transfer import download_writer

    monkeypatch.setattr(download_writer, "DIRECT_IO_MIN_SIZE", 0)
    opened: list = []
    real = dl.open_writer

    def spy(*args, **kwargs):
        opened.append(real(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(dl, "open_writer", spy)
    return opened


def test_direct_io_with_unaligned_parts_and_ranges(make_seaweed_client, tmp_path, writers):
    """Parts of 5 MiB + 3 bytes put every range boundary off the 4 KiB grid: edges shared
    by two ranges (and the file's last block) must still land byte for byte."""
    client = make_seaweed_client(parallel_operations=4)
    part = 5 * MIB + 3
    data = data_of(3 * part + 4097)
    put_multipart(client, "odd", data, part, crc=True)
    dest = tmp_path / "odd.bin"
    result = client.download_file("odd", dest)
    if not writers[-1].direct:
        pytest.skip("the filesystem of tmp_path refuses O_DIRECT")
    assert dest.read_bytes() == data
    assert result.verification == "crc32-composite"
    assert leftovers(dest) == []


def test_direct_io_resumable_from_an_unaligned_offset(seaweed_client, tmp_path, writers):
    data = data_of(2 * R + 777)
    seaweed_client.upload_bytes(data, "r")
    dest = tmp_path / "r"
    offset = R + 4096 * 3 + 5  # the block it falls in holds bytes of the user's file
    dest.write_bytes(data[:offset])
    result = seaweed_client.download_file_resumable("r", dest, offset)
    if not writers[-1].direct:
        pytest.skip("the filesystem of tmp_path refuses O_DIRECT")
    assert dest.read_bytes() == data
    assert (result.resumed_bytes, result.bytes_received) == (offset, len(data) - offset)


def test_direct_io_can_be_turned_off(make_seaweed_client, tmp_path, writers):
    client = make_seaweed_client(direct_io=False)
    data = data_of(R + 1)
    client.upload_bytes(data, "k")
    client.download_file("k", tmp_path / "k")
    assert (tmp_path / "k").read_bytes() == data
    assert [w.direct for w in writers] == [False]


def test_crc32_combine_matches_zlib():
    for a, b in [(0, 0), (1, 0), (0, 1), (7, 9), (1000, 65537), (3, 1 << 20)]:
        x, y = os.urandom(a), os.urandom(b)
        assert crc32_combine(zlib.crc32(x), zlib.crc32(y), b) == zlib.crc32(x + y)


# -- what a download can verify, known before anything is written ---------------------------


def facts(**overrides) -> ObjectFacts:
    fields = {"size": 10 * MIB, "etag": '"d41d8cd98f00b204e9800998ecf8427e"', "version_id": None,
              "checksum_crc32": None, "parts_count": None, "part_size": None,
              "md5_etag_usable": True}  # fmt: skip
    fields.update(overrides)
    return ObjectFacts(**fields)


@pytest.mark.parametrize(
    ("overrides", "check"),
    [
        ({"checksum_crc32": "AAAAAA=="}, "crc32"),
        ({"checksum_crc32": "AAAAAA==-2", "parts_count": 2, "part_size": 5 * MIB},
         "crc32-composite"),
        ({"checksum_crc32": "AAAAAA==-3", "parts_count": 3, "part_size": 5 * MIB}, "md5"),
        ({}, "md5"),
        ({"etag": '"d41d8cd98f00b204e9800998ecf8427e-2"', "parts_count": 2,
          "part_size": 5 * MIB}, "md5"),
        ({"etag": '"d41d8cd98f00b204e9800998ecf8427e-2"'}, "size"),  # parts unknown
        ({"md5_etag_usable": False}, "size"),  # SSE-KMS / SSE-C
        ({"size": 65 * MIB}, "size"),  # MD5 only up to MD5_VERIFY_LIMIT
    ],
)  # fmt: skip
def test_planned_check_is_known_from_the_head(overrides, check):
    assert planned_check(facts(**overrides)) == check


def unverifiable(client) -> str:
    kms = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    client.s3.put_object(Bucket=client.bucket, Key="sealed", Body=b"s" * 4096,
                         ServerSideEncryption="aws:kms", SSEKMSKeyId=kms)  # fmt: skip
    return "sealed"


def test_an_object_only_its_size_can_check_is_named_in_a_warning(moto_client, tmp_path, caplog):
    key = unverifiable(moto_client)
    with caplog.at_level("WARNING", logger="orbit_provider.s3.download"):
        result = moto_client.download_file(key, tmp_path / "out.bin")
    assert result.verification == "size" and (tmp_path / "out.bin").read_bytes() == b"s" * 4096
    assert f"s3://{moto_client.bucket}/sealed: only its size can be checked" in caplog.text


def test_require_verification_refuses_before_the_destination_is_touched(
    make_moto_client, tmp_path
):
    strict = make_moto_client(require_verification=True)
    key = unverifiable(strict)
    partial = tmp_path / "out.bin"
    partial.write_bytes(b"s" * 100)  # a resumable download would adopt this file
    for call in (
        lambda: strict.download_file(key, tmp_path / "new.bin"),
        lambda: strict.download_file_resumable(key, partial, 100),
    ):
        with pytest.raises(IntegrityError, match="cannot be verified: .*require_verification"):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    assert partial.read_bytes() == b"s" * 100


# -- every checksum S3 keeps is verified, whoever wrote the object ----------------------------


@pytest.mark.parametrize("algorithm", ["CRC64NVME", "CRC32C", "SHA256", "SHA1"])
def test_objects_other_tools_wrote_are_verified_by_their_own_checksum(
    moto_client, tmp_path, algorithm
):
    data = os.urandom(3 * MIB + 7)
    moto_client.s3.put_object(Bucket=moto_client.bucket, Key="k", Body=data,
                              ChecksumAlgorithm=algorithm)  # fmt: skip
    result = moto_client.download_file("k", tmp_path / "k.bin")
    assert result.verification == algorithm.lower()
    assert (tmp_path / "k.bin").read_bytes() == data
    assert moto_client.download_bytes("k") == data


@pytest.mark.parametrize(
    ("server", "algorithm"),
    [("seaweed", "CRC32C"), ("seaweed", "SHA256"), ("moto", "SHA256")],
)  # moto's CRC32C composite is not S3's (checked against SeaweedFS)
def test_composite_checksums_of_multipart_objects_are_verified(
    request, tmp_path, server, algorithm
):
    from boto3.s3.transfer import TransferConfig

    client = request.getfixturevalue(f"{server}_client")
    data = os.urandom(12 * MIB + 3)
    source = tmp_path / "src.bin"
    source.write_bytes(data)
    client.s3.upload_file(
        str(source), client.bucket, "mp", ExtraArgs={"ChecksumAlgorithm": algorithm},
        Config=TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB),
    )  # fmt: skip
    result = client.download_file("mp", tmp_path / "mp.bin")
    assert result.verification == f"{algorithm.lower()}-composite"
    assert (tmp_path / "mp.bin").read_bytes() == data


def test_a_wrong_crc64nvme_fails_and_leaves_nothing(moto_client, tmp_path):
    moto_client.s3.put_object(Bucket=moto_client.bucket, Key="k", Body=b"x" * 4096,
                              ChecksumAlgorithm="CRC64NVME")  # fmt: skip

    def tamper(parsed, **_):
        parsed["ChecksumCRC64NVME"] = "AAAAAAAAAAA="  # what a corrupted store would answer

    moto_client.s3.meta.events.register("after-call.s3.HeadObject", tamper)
    with pytest.raises(IntegrityError, match="CRC64NVME .* != AAAAAAAAAAA="):
        moto_client.download_file("k", tmp_path / "k.bin")
    assert list(tmp_path.iterdir()) == []
