"""upload_tree / download_tree against SeaweedFS (and moto where it says so): every file
moved and verified, skips, include/exclude, dry runs, reports, failures per file, the stop at
an error that would fail every file, and a killed tree resumed."""

from __future__ import annotations

import json
import os
import threading

import pytest

from orbit_provider.s3.config import MIB, Credentials
from orbit_provider.s3.errors import ConfigError, S3Error
from orbit_provider.s3.progress import ProgressReporter, TransferCompleted
from orbit_provider.s3.transfer import tree
from orbit_provider.s3.transfer.download_state import temp_paths
from orbit_provider.s3.transfer.tree import download_tree, upload_tree
from orbit_provider.s3.transfer.tree_run import TreeStopped
from orbit_provider.testing.clients import client_for
from orbit_provider.testing.faultproxy import FaultProxy
from tests.s3.transfer.conftest import sigkill_when


@pytest.fixture
def folder(tmp_path):
    """40 small files in nested folders and one 6 MiB file (multipart at 5 MiB parts)."""
    src = tmp_path / "src"
    for i in range(40):
        sub = src / f"d{i % 4}" / ("deep" if i % 3 == 0 else "")
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i}.csv").write_bytes(os.urandom(1000 + i))
    (src / "big.bin").write_bytes(os.urandom(6 * MIB))
    (src / "notes.txt").write_bytes(b"notes")
    return src


def local_files(root) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*")) if p.is_file()
    }  # fmt: skip


def keys(client, prefix="") -> list[str]:
    return sorted(o.key for o in client.iter_objects(prefix))


def test_a_folder_goes_up_and_comes_back_byte_for_byte(seaweed_client, folder, tmp_path):
    events = []
    reporter = ProgressReporter([events.append], inline=True)  # read right after each call
    up = upload_tree(seaweed_client, folder, "t/", progress=reporter)
    want = local_files(folder)
    assert up.ok and up.files_sent == len(want) == 42 and up.files_skipped == 0
    assert up.bytes_sent == sum(len(v) for v in want.values())
    assert keys(seaweed_client, "t/") == sorted(f"t/{k}" for k in want)
    assert up.verification == {"crc32": 42}  # the big file's too: a FULL_OBJECT CRC32
    completed = {e.key for e in events if isinstance(e, TransferCompleted)}
    assert completed == {f"t/{k}" for k in want}

    events.clear()
    down = download_tree(seaweed_client, "t/", tmp_path / "back", progress=reporter)
    assert down.ok and down.files_sent == 42
    assert local_files(tmp_path / "back") == want
    assert {e.key for e in events if isinstance(e, TransferCompleted)} == {f"t/{k}" for k in want}
    assert set(down.verification) <= {"crc32", "crc32-composite"}
    assert not [p for p in (tmp_path / "back").rglob(".*")]  # no temp files left


def test_identical_files_are_skipped_and_changed_ones_sent(seaweed_client, folder, tmp_path):
    upload_tree(seaweed_client, folder, "t/")
    (folder / "notes.txt").write_bytes(b"NOTES")  # same size, other bytes
    again = upload_tree(seaweed_client, folder, "t/")
    assert again.files_sent == 1 and again.files_skipped == 41
    assert [e.dest for e in again.entries if e.status == "sent"] == ["t/notes.txt"]

    download_tree(seaweed_client, "t/", tmp_path / "back")
    (tmp_path / "back" / "d1" / "f1.csv").write_bytes(b"x" * 1001)
    down = download_tree(seaweed_client, "t/", tmp_path / "back")
    assert down.files_sent == 1 and down.files_skipped == 41
    assert local_files(tmp_path / "back") == local_files(folder)
    every = upload_tree(seaweed_client, folder, "t/", skip_identical=False)
    assert every.files_sent == 42


def test_size_and_mtime_compare_skips_without_reading_files(seaweed_client, folder, monkeypatch):
    upload_tree(seaweed_client, folder, "t/")

    def no_reads(*args, **kwargs):
        raise AssertionError("size-mtime must not compare checksums")

    monkeypatch.setattr(tree.compare, "local_matches_remote", no_reads)
    again = upload_tree(seaweed_client, folder, "t/", compare_by="size-mtime")
    assert again.files_skipped == 42 and again.files_sent == 0


def test_include_exclude_and_dry_run(seaweed_client, folder, tmp_path):
    plan = upload_tree(seaweed_client, folder, "t/", include="*.csv", exclude="d1/*",
                       dry_run=True)  # fmt: skip
    assert keys(seaweed_client) == []
    assert plan.files_planned == 30 and plan.files_sent == 0
    assert all(e.status == "would_send" and e.dest.endswith(".csv") for e in plan.entries)
    assert not any("/d1/" in e.dest for e in plan.entries)
    done = upload_tree(seaweed_client, folder, "t/", include=["*.csv"], exclude="d1/*")
    assert done.files_sent == 30 and len(keys(seaweed_client)) == 30
    down = download_tree(seaweed_client, "t/", tmp_path / "b", include="deep/*", dry_run=True)
    assert not (tmp_path / "b").exists()
    assert down.files_planned == 0  # 'deep/*' matches from the prefix's root only
    down = download_tree(seaweed_client, "t/", tmp_path / "b", include="*/deep/*")
    assert down.files_sent == len([k for k in keys(seaweed_client) if "/deep/" in k]) > 0


def test_entries_are_capped_and_the_full_report_written(seaweed_client, folder, tmp_path):
    report = tmp_path / "r" / "report.jsonl"
    up = upload_tree(seaweed_client, folder, "t/", max_entries=5, report_path=report)
    assert len(up.entries) == 5 and up.entries_truncated
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(lines) == 42 and {x["status"] for x in lines} == {"sent"}
    assert up.report_path == str(report)
    assert up.to_dict()["files_sent"] == 42


def test_bad_input_fails_before_any_request(seaweed_client, folder, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        upload_tree(seaweed_client, tmp_path / "nope", "t/")
    with pytest.raises(ConfigError, match="compare"):
        upload_tree(seaweed_client, folder, "t/", compare_by="md5")
    with pytest.raises(ConfigError, match="include"):
        upload_tree(seaweed_client, folder, "t/", include=[""])
    with pytest.raises(ConfigError, match="storage class"):
        upload_tree(seaweed_client, folder, "t/", storage_class="PLATINUM")
    with pytest.raises(ConfigError, match="workers"):
        upload_tree(seaweed_client, folder, "t/", workers=0)
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(ConfigError, match="not a folder"):
        download_tree(seaweed_client, "t/", tmp_path / "file")
    assert keys(seaweed_client) == []


def test_keys_escaping_the_folder_refuse_the_whole_download(moto_client, tmp_path):
    moto_client.upload_bytes(b"g", "p/good.txt")
    moto_client.upload_bytes(b"e", "p/../../evil.txt")
    with pytest.raises(ConfigError, match="escape"):
        download_tree(moto_client, "p/", tmp_path / "d")
    assert not (tmp_path / "d").exists() or list((tmp_path / "d").iterdir()) == []


def test_one_failed_file_is_reported_and_the_others_go_on(seaweed_client, folder, monkeypatch):
    real = tree.put_small

    def flaky(session, lean, path, key, *args):
        if key == "t/notes.txt":
            raise S3Error("PutObject failed: InternalError", key=key, code="InternalError")
        return real(session, lean, path, key, *args)

    monkeypatch.setattr(tree, "put_small", flaky)
    up = upload_tree(seaweed_client, folder, "t/")
    assert not up.ok and up.files_failed == 1 and up.files_sent == 41
    assert up.failures[0].dest == "t/notes.txt" and up.failures[0].code == "InternalError"
    assert up.entries[0].status == "failed"  # failures come first in the kept entries


def test_a_bad_secret_stops_the_tree_at_once_with_one_error(seaweed, seaweed_bucket, folder):
    with FaultProxy(seaweed.endpoint, rate=0.0) as proxy:  # counts every request, both paths
        bad = client_for(seaweed, seaweed_bucket, endpoint=proxy.endpoint,
                         credentials=Credentials(seaweed.access_key, "wrong"))  # fmt: skip
        with pytest.raises(TreeStopped, match="SignatureDoesNotMatch") as info:
            upload_tree(bad, folder, "t/", skip_identical=False, workers=4)
        assert info.value.code == "SignatureDoesNotMatch"
        assert info.value.result.files_sent == 0
        assert len(proxy.seen) <= 4  # at most one request per worker, none after the answer
        proxy.seen.clear()
        with pytest.raises(S3Error, match="SignatureDoesNotMatch"):
            download_tree(bad, "t/", folder / "x")  # the listing itself is refused: one error
        assert len(proxy.seen) == 1 and not (folder / "x").exists()


def test_a_missing_bucket_stops_the_tree(seaweed, folder):
    ghost = client_for(seaweed, "no-such-bucket-here")
    with pytest.raises(S3Error) as info:
        upload_tree(ghost, folder, "t/", skip_identical=False, workers=2)
    assert isinstance(info.value, TreeStopped) and info.value.code == "NoSuchBucket"


def test_a_killed_download_resumes_the_large_file_and_skips_finished_ones(
    seaweed_client, folder, tmp_path, monkeypatch
):
    upload_tree(seaweed_client, folder, "t/")
    dest = tmp_path / "back"
    from orbit_provider.s3.transfer import download as download_module

    real_fetch = download_module._Download._fetch_range

    first_range = threading.Event()

    def dying(self, engine, span, *rest):
        if span[0] > 0:  # the second range of big.bin fails once the first one is in
            assert first_range.wait(60)
            raise S3Error("connection reset", key=self.key, code="InternalError")
        try:
            return real_fetch(self, engine, span, *rest)
        finally:
            first_range.set()

    client = seaweed_client
    monkeypatch.setattr(download_module, "MIN_RANGE_SIZE", 1 * MIB)
    monkeypatch.setattr(tree, "MIN_RANGE_SIZE", 1 * MIB)
    monkeypatch.setattr(download_module._Download, "_fetch_range", dying)
    first = download_tree(client, "t/", dest)
    assert first.files_failed == 1 and first.failures[0].source == "t/big.bin"
    assert first.files_sent == 41
    temp, state = temp_paths(dest / "big.bin")
    assert temp.exists() and state.exists()  # the first range is kept for the next try

    monkeypatch.setattr(download_module._Download, "_fetch_range", real_fetch)
    second = download_tree(client, "t/", dest)
    assert second.ok and second.files_skipped == 41 and second.files_sent == 1
    big = next(e for e in second.entries if e.status == "sent")
    assert big.resumed_bytes == 5 * MIB
    assert local_files(dest) == local_files(folder)


TREE_CHILD = """
import functools, sys
from orbit_provider.s3 import S3Client, S3Config
from orbit_provider.s3.config import MIB, Credentials
from orbit_provider.s3.transfer import download, download_state, small_download, tree
download_state.FLUSH_INTERVAL = 0.25  # persist often, so the kill finds ranges recorded
download.MIN_RANGE_SIZE = tree.MIN_RANGE_SIZE = 1 * MIB  # big.bin: ranges of 5 + 3 MiB
tree.DurableBatch = functools.partial(small_download.DurableBatch, max_files=4)
endpoint, key_id, secret, bucket, prefix, dest, rate = sys.argv[1:]
client = S3Client(S3Config(bucket=bucket, endpoint=endpoint, region="us-east-1",
    credentials=Credentials(key_id, secret), force_path_style=True, parallel_operations=1))
client.download_tree(prefix, dest, workers=4, max_bandwidth=int(rate))
print("finished")
"""


def test_a_sigkilled_tree_download_resumes_its_large_file_and_skips_placed_ones(
    seaweed, seaweed_client, folder, tmp_path, monkeypatch
):
    """A process killed mid-tree (SIGKILL: no cleanup runs) is retried: the small files it had
    placed are skipped, the large file continues from its recorded ranges, nothing is left
    half-written and the tree ends byte-identical."""
    import subprocess
    import sys

    from orbit_provider.s3.transfer import download as download_module
    from orbit_provider.s3.transfer.download_state import load_state

    (folder / "big.bin").write_bytes(os.urandom(8 * MIB))  # 3 s of its last range to kill in
    upload_tree(seaweed_client, folder, "t/")
    dest = tmp_path / "back"
    _temp, state_path = temp_paths(dest / "big.bin")
    proc = subprocess.Popen(
        [sys.executable, "-c", TREE_CHILD, seaweed.endpoint, seaweed.access_key,
         seaweed.secret_key, seaweed_client.bucket, "t/", str(dest), str(1 * MIB)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip

    def ready() -> bool:
        state = load_state(state_path)
        placed = list(dest.rglob("*.csv")) if dest.exists() else []
        return state is not None and len(state.done) >= 1 and len(placed) >= 4

    sigkill_when(proc, ready, "small files placed and a range of big.bin recorded")
    assert not (dest / "big.bin").exists()  # never a partial destination file
    placed = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()
              and not p.name.startswith(".")}  # fmt: skip

    monkeypatch.setattr(download_module, "MIN_RANGE_SIZE", 1 * MIB)
    monkeypatch.setattr(tree, "MIN_RANGE_SIZE", 1 * MIB)
    again = download_tree(seaweed_client, "t/", dest)
    assert again.ok and again.files_skipped == len(placed) >= 4
    assert again.files_sent == 42 - len(placed)
    big = next(e for e in again.entries if e.source == "t/big.bin")
    assert big.status == "sent" and big.resumed_bytes == 5 * MIB
    assert local_files(dest) == local_files(folder)  # and no temp or state file is left


def test_the_client_facade_reaches_the_tree_functions(seaweed_client, folder, tmp_path):
    up = seaweed_client.upload_tree(folder, "f/", include="*.txt")
    assert up.files_sent == 1 and keys(seaweed_client) == ["f/notes.txt"]
    down = seaweed_client.download_tree("f/", tmp_path / "d")
    assert (tmp_path / "d" / "notes.txt").read_bytes() == b"notes" and down.files_sent == 1
    again = seaweed_client.sync(folder, f"s3://{seaweed_client.bucket}/f/", include="*.txt")
    assert again.files_skipped == 1


def test_one_bandwidth_limit_for_the_whole_tree(seaweed_client, folder, tmp_path, monkeypatch):
    from orbit_provider.s3.wire.ratelimit import TokenBucket

    given = []
    real_up, real_down = tree.upload.upload_file, tree.download.download_file

    def up(session, path, key, **kw):
        given.append(kw["max_bandwidth"])
        return real_up(session, path, key, **kw)

    def down(session, key, path, **kw):
        given.append(kw["max_bandwidth"])
        return real_down(session, key, path, **kw)

    monkeypatch.setattr(tree.upload, "upload_file", up)
    monkeypatch.setattr(tree.download, "download_file", down)
    monkeypatch.setattr(tree, "MIN_RANGE_SIZE", 1 * MIB)  # big.bin takes the ranged path
    (folder / "big2.bin").write_bytes(os.urandom(6 * MIB))
    upload_tree(seaweed_client, folder, "t/", max_bandwidth=1 << 40)
    assert len(given) == 2 and isinstance(given[0], TokenBucket)
    assert given[0] is given[1] and given[0].rate == 1 << 40  # the tree's one bucket
    given.clear()
    download_tree(seaweed_client, "t/", tmp_path / "d", max_bandwidth=1 << 40)
    assert len(given) == 2 and given[0] is given[1]


def test_an_interrupted_upload_resumes_the_large_file_and_skips_finished_ones(
    seaweed_client, folder, monkeypatch
):
    from orbit_provider.s3.transfer import upload as upload_module

    real = upload_module.part_crc32

    def wrong_for_the_last_part(data):  # the store refuses it (BadDigest): a failed try
        value = real(data)
        return value ^ 1 if len(data) < 5 * MIB else value

    monkeypatch.setattr(upload_module, "part_crc32", wrong_for_the_last_part)
    first = upload_tree(seaweed_client, folder, "t/")
    assert first.files_failed == 1 and first.failures[0].dest == "t/big.bin"
    assert first.files_sent == 41
    monkeypatch.setattr(upload_module, "part_crc32", real)
    second = upload_tree(seaweed_client, folder, "t/")
    assert second.ok and second.files_skipped == 41 and second.files_sent == 1
    (big,) = [e for e in second.entries if e.status == "sent"]
    assert big.resumed_bytes == 5 * MIB and big.bytes == 1 * MIB  # part 1 was kept
    assert seaweed_client.download_bytes("t/big.bin") == (folder / "big.bin").read_bytes()


def test_a_progress_aggregator_sees_files_and_bytes_of_the_whole_tree(
    seaweed_client, folder, tmp_path
):
    from orbit_provider.s3.progress import ProgressAggregator

    total = sum(len(v) for v in local_files(folder).values())
    view = ProgressAggregator(inline=True)
    upload_tree(seaweed_client, folder, "agg/", progress=view)
    done = view.snapshot()
    assert (done.files_done, done.files_total, done.files_failed) == (42, 42, 0)
    assert (done.bytes_done, done.bytes_total) == (total, total) and done.percentage == 100.0
    back = ProgressAggregator(inline=True)
    download_tree(seaweed_client, "agg/", tmp_path / "back", progress=back)
    assert back.snapshot().files_done == 42 and back.snapshot().bytes_done == total


@pytest.mark.parametrize("direction", ["upload", "download"])
def test_the_request_budget_counts_every_request_large_files_parts_included(
    seaweed, seaweed_client, folder, tmp_path, monkeypatch, direction
):
    """max_requests_per_second is one budget for the whole tree: every request the store sees
    (listings, small objects, and the large file's part PUTs or range GETs, which go around
    botocore) took a token."""
    import traceback

    from orbit_provider.s3.wire import ratelimit

    (folder / "big.bin").write_bytes(os.urandom(11 * MIB))  # three 5 MiB parts / ranges
    upload_tree(seaweed_client, folder, "t/")
    monkeypatch.setattr(tree, "MIN_RANGE_SIZE", 1 * MIB)  # big.bin takes the ranged path
    tokens = []
    real_acquire = ratelimit.TokenBucket.acquire

    def counted(self, n=1):
        if self.rate == 1000:  # the tree's request budget (the bandwidth limit is off)
            caller = traceback.extract_stack(limit=3)[0].filename
            tokens.append(os.path.basename(caller))
        return real_acquire(self, n)

    monkeypatch.setattr(ratelimit.TokenBucket, "acquire", counted)
    with FaultProxy(seaweed.endpoint, rate=0.0) as proxy:  # counts every request
        client = client_for(seaweed, seaweed_client.bucket, endpoint=proxy.endpoint)
        if direction == "upload":
            result = upload_tree(client, folder, "u/", max_requests_per_second=1000)
        else:
            result = download_tree(client, "t/", tmp_path / "back", max_requests_per_second=1000)
        assert result.ok and result.files_sent == 42
        seen = len(proxy.seen)
    big_requests = 5 if direction == "upload" else 3  # create + 3 parts + complete, 3 ranges
    assert seen >= 41 + big_requests
    # every request took a token (an attempt on a pooled connection the far end had closed
    # takes one more for its retry), the part PUTs / range GETs included
    assert len(tokens) >= seen
    if direction == "upload":
        assert tokens.count("part_put.py") >= 3
    else:  # the first range comes with the object's first GET (botocore), the rest around it
        assert tokens.count("range_fetch.py") >= 2


def test_if_none_match_refuses_existing_keys_from_the_listing_without_a_head_per_file(
    seaweed, seaweed_client, folder, monkeypatch
):
    """replace=False on a tree: keys the listing shows are refused, the others go up with
    If-None-Match, and no file costs a HEAD before it (the listing said the key was free)."""
    monkeypatch.setattr(tree, "MIN_RANGE_SIZE", 1 * MIB)
    seaweed_client.upload_bytes(b"old", "t/notes.txt")
    with FaultProxy(seaweed.endpoint, rate=0.0) as proxy:
        client = client_for(seaweed, seaweed_client.bucket, endpoint=proxy.endpoint)
        result = upload_tree(client, folder, "t/", if_none_match=True, skip_identical=False)
        heads = [path.rsplit("/", 1)[-1] for method, path, _ in proxy.seen if method == "HEAD"]
    assert result.files_failed == 1 and result.files_sent == 41
    assert result.failures[0].dest == "t/notes.txt"
    assert result.failures[0].code == "PreconditionFailed"
    assert set(heads) <= {"big.bin"}  # only the multipart upload's completion check
    assert seaweed_client.s3.get_object(Bucket=seaweed_client.bucket,
                                        Key="t/notes.txt")["Body"].read() == b"old"  # fmt: skip
    assert len(keys(seaweed_client, "t/")) == 42


def test_a_full_disk_fails_the_files_that_do_not_fit_and_leaves_no_temp_file(
    seaweed_client, small_disk
):
    """Objects of 4 MiB (the O_DIRECT short path) into a 20 MiB filesystem: those that fit
    are placed, the rest fail with LocalWriteError and leave nothing; once space is freed the
    retry fetches only what is missing."""
    disk = small_disk
    data = {f"t/f{i}.bin": os.urandom(4 * MIB) for i in range(6)}
    for key, body in data.items():
        seaweed_client.upload_bytes(body, key)
    first = download_tree(seaweed_client, "t/", disk / "d", workers=2)
    assert first.files_failed >= 1 and first.files_sent >= 1
    assert {f.code for f in first.failures} == {"LocalWriteError"}
    placed = sorted(p.name for p in (disk / "d").iterdir())
    assert len(placed) == first.files_sent  # no temp (hidden or not) is left
    for name in placed:
        assert (disk / "d" / name).read_bytes() == data[f"t/{name}"]
    (disk / "d" / placed[0]).unlink()  # space for one more file
    again = download_tree(seaweed_client, "t/", disk / "d", workers=2, exclude=placed[0])
    assert again.files_skipped == len(placed) - 1
    assert again.files_sent + again.files_failed == 6 - len(placed)
    assert again.files_sent >= 1
