"""Task summaries: transfers, batches, capped failures with a full report, aggregation."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from orbit_provider.operators.summary import (
    ReportTarget,
    aggregate_summaries,
    batch_summary,
    report_name,
    transfer_summary,
)
from orbit_provider.s3.batch import BatchResult, KeyOutcome
from orbit_provider.s3.models import CopyResult
from orbit_provider.s3.transfer.download import DownloadResult
from orbit_provider.s3.transfer.upload import UploadResult

MIB = 1024 * 1024


def upload(key: str, size: int = 10 * MIB, sent: int | None = None, version: str | None = "v1"):
    return UploadResult(key=key, size=size, etag="e" * 32, version_id=version, parts=2,
                        parts_resumed=0 if sent is None else 1, bytes_sent=size if sent is None
                        else sent, duration=1.0, throughput=float(size))  # fmt: skip


def batch(n_ok: int, n_failed: int, duration: float = 2.0) -> BatchResult:
    results = {f"ok/{i}": KeyOutcome("succeeded") for i in range(n_ok)}
    errors = [(f"bad/{i}", "AccessDenied", f"denied {i}") for i in range(n_failed)]
    results.update({k: KeyOutcome("failed", m, c) for k, c, m in errors})
    return BatchResult(total=n_ok + n_failed, successful=n_ok, failed=n_failed, results=results,
                       errors=errors, duration=duration, already_done=1, operation="copy")


def test_upload_summary_counts_bytes_versions_and_throughput():
    summary = transfer_summary(
        [upload("a.bin"), upload("b.bin", sent=5 * MIB)],
        operation="upload", bucket="bkt", duration=2.0, skipped=["c.bin"],
    )  # fmt: skip
    assert json.loads(json.dumps(summary)) == summary
    assert (summary["total"], summary["succeeded"], summary["failed"], summary["skipped"]) == (
        3, 2, 0, 1,
    )  # fmt: skip
    assert summary["bytes"] == 20 * MIB and summary["bytes_transferred"] == 15 * MIB
    assert summary["throughput_mib_s"] == 7.5
    assert [o["version_id"] for o in summary["objects"]] == ["v1", "v1"]
    assert summary["objects"][1]["parts_resumed"] == 1
    assert summary["skipped_keys"] == ["c.bin"]
    assert summary["failures"] == [] and summary["failures_report"] is None


def test_download_and_copy_results_are_summarized(tmp_path):
    down = DownloadResult(key="k", path=tmp_path / "k", size=100, etag="x", version_id=None,
                          bytes_received=40, resumed_bytes=60, duration=0.5, throughput=80.0)
    copy = CopyResult(src_key="a", dst_key="b", etag="y", version_id="v9", size=7)
    d = transfer_summary([down], operation="download", bucket="bkt")
    assert d["objects"][0]["path"] == str(tmp_path / "k")
    assert d["objects"][0]["resumed_bytes"] == 60
    assert (d["bytes"], d["bytes_transferred"], d["duration_seconds"]) == (100, 40, 0.5)
    c = transfer_summary([copy], operation="copy", bucket="bkt")
    assert c["objects"][0] == {"key": "b", "src_key": "a", "size": 7, "etag": "y",
                               "version_id": "v9", "parts": 1}  # fmt: skip


def test_failures_are_capped_and_the_full_list_goes_to_a_local_report(tmp_path):
    failures = [(f"k{i}", "boom") for i in range(250)]
    summary = transfer_summary(
        [upload("ok")], operation="upload", bucket="bkt", failures=failures, max_items=100,
        report=ReportTarget(directory=tmp_path, name="dag/run/task-upload-failures"),
    )  # fmt: skip
    assert summary["failed"] == 250 and len(summary["failures"]) == 100
    assert summary["failures"][0] == {"key": "k0", "code": None, "error": "boom"}
    assert summary["failures_truncated"] is True
    (location,) = summary["failures_report"]
    lines = Path(location).read_text().splitlines()
    assert [json.loads(line)["key"] for line in lines] == [f"k{i}" for i in range(250)]
    assert len(json.dumps(summary)) < 20_000


def test_a_batch_summary_reports_to_s3_when_large(moto_client):
    summary = batch_summary(
        batch(n_ok=5, n_failed=3), bucket="test-bucket", max_items=2,
        report=ReportTarget(client=moto_client, prefix="reports/", name="copy-failures"),
    )  # fmt: skip
    assert (summary["total"], summary["succeeded"], summary["failed"]) == (8, 5, 3)
    assert summary["operation"] == "copy" and summary["already_done"] == 1
    assert summary["failures"] == [
        {"key": "bad/0", "code": "AccessDenied", "error": "denied 0"},
        {"key": "bad/1", "code": "AccessDenied", "error": "denied 1"},
    ]
    assert summary["failures_report"] == ["s3://test-bucket/reports/copy-failures.jsonl"]
    body = moto_client.download_bytes("reports/copy-failures.jsonl").decode()
    assert [json.loads(line)["key"] for line in body.splitlines()] == ["bad/0", "bad/1", "bad/2"]


def test_no_report_is_written_under_the_cap(tmp_path):
    summary = batch_summary(batch(2, 2), bucket="bkt", max_items=2,
                            report=ReportTarget(directory=tmp_path))  # fmt: skip
    assert summary["failures_report"] is None and not summary["failures_truncated"]
    assert list(tmp_path.iterdir()) == []


def test_without_a_report_target_a_large_list_is_only_capped():
    summary = batch_summary(batch(0, 5), bucket="bkt", max_items=1)
    assert summary["failures_truncated"] and summary["failures_report"] is None


def test_aggregate_sums_mapped_summaries_and_caps_lists():
    parts = [batch_summary(batch(5, 2, duration=d), bucket="bkt", max_items=100)
             for d in (2.0, 3.0, 1.0)]  # fmt: skip
    parts.append(None)  # a skipped mapped task
    total = aggregate_summaries(parts, max_items=4)
    assert total["tasks"] == 3
    assert (total["total"], total["succeeded"], total["failed"], total["already_done"]) == (
        21, 15, 6, 3,
    )  # fmt: skip
    assert total["duration_seconds"] == 3.0 and total["task_seconds"] == 6.0
    assert len(total["failures"]) == 4 and total["failures_truncated"] is True
    assert total["operation"] == "copy" and total["bucket"] == "bkt"


def test_aggregate_keeps_every_report_location_and_bytes():
    a = transfer_summary([upload("a")], operation="upload", bucket="bkt", duration=1.0)
    b = dict(a, failures_report=["s3://bkt/r1.jsonl"])
    total = aggregate_summaries([a, b])
    assert total["bytes"] == 20 * MIB and total["failures_report"] == ["s3://bkt/r1.jsonl"]
    assert total["throughput_mib_s"] == 20.0
    assert aggregate_summaries([])["tasks"] == 0


@pytest.mark.parametrize(
    ("map_index", "expected"),
    [(-1, "my_dag/manual__2026-01-01T00_00_00_00_00/copy_task-try2-copy-failures"),
     (3, "my_dag/manual__2026-01-01T00_00_00_00_00/copy_task-3-try2-copy-failures")],
)  # fmt: skip
def test_report_name_is_unique_per_task_try(map_index, expected):
    ti = SimpleNamespace(dag_id="my_dag", run_id="manual__2026-01-01T00:00:00+00:00",
                         task_id="copy_task", map_index=map_index, try_number=2)  # fmt: skip
    assert report_name({"ti": ti}, "copy") == expected
    assert report_name({}, "copy") == "copy-failures"
