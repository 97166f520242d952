"""TreeRecorder / TreeResult: counts and bytes per status, failures kept first, entries capped,
every outcome in the JSON Lines report, from many threads at once."""

from __future__ import annotations

import json
import threading

from orbit_provider.s3.transfer.tree_result import FileOutcome, TreeRecorder


def test_counts_bytes_and_verification_per_status(tmp_path):
    rec = TreeRecorder("upload", "/src", "s3://b/p/", report_path=tmp_path / "r.jsonl")
    rec.add(FileOutcome("/src/a", "p/a", "sent", size=10, bytes=10, verification="crc32"))
    rec.add(FileOutcome("/src/b", "p/b", "sent", size=20, bytes=5, verification="crc32",
                        resumed_bytes=15))  # fmt: skip
    rec.add(FileOutcome("/src/c", "p/c", "skipped", size=7, reason="CRC32 matches"))
    rec.add(FileOutcome("/src/d", "p/d", "failed", size=3, reason="boom", code="InternalError"))
    rec.add(FileOutcome("", "p/old", "deleted", size=1))
    result = rec.result()
    assert (result.files_total, result.files_sent, result.files_skipped, result.files_failed,
            result.files_deleted) == (4, 2, 1, 1, 1)  # fmt: skip
    assert result.bytes_sent == 15 and result.bytes_skipped == 7
    assert result.verification == {"crc32": 2} and not result.ok
    assert result.entries[0].status == "failed" and result.failures[0].code == "InternalError"
    lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [x["dest"] for x in lines] == ["p/a", "p/b", "p/c", "p/d", "p/old"]
    assert lines[1]["resumed_bytes"] == 15 and "reason" not in lines[0]
    assert json.loads(json.dumps(result.to_dict()))["files_sent"] == 2


def test_entries_are_capped_failures_first_from_many_threads():
    rec = TreeRecorder("download", "s3://b/p/", "/dst", max_entries=10)

    def add(n: int) -> None:
        for i in range(100):
            status = "failed" if i % 10 == 0 else "sent"
            rec.add(FileOutcome(f"p/{n}/{i}", f"/dst/{n}/{i}", status, size=1, bytes=1))

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = rec.result()
    assert result.files_total == 400 and result.files_failed == 40 and result.bytes_sent == 360
    assert len(result.entries) == 10 and result.entries_truncated
    assert all(e.status == "failed" for e in result.entries)


def test_a_dry_run_counts_what_would_happen():
    rec = TreeRecorder("sync", "/a", "s3://b/", dry_run=True)
    rec.add(FileOutcome("/a/x", "x", "would_send", size=5))
    rec.add(FileOutcome("", "y", "would_delete", size=2))
    result = rec.result()
    assert result.dry_run and result.files_planned == 1 and result.bytes_planned == 5
    assert result.files_would_delete == 1 and result.files_total == 1
    assert not result.entries_truncated
