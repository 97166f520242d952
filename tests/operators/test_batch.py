"""Bulk operators: unit tests of execute() against moto, DAG runs against SeaweedFS."""

from __future__ import annotations

import json

import pendulum
import pytest
from airflow.sdk import DAG, task

from orbit_provider.operators.aggregate import (
    OrbitAggregateSummariesOperator,
    aggregate_batch_summaries,
)
from orbit_provider.operators.base import OrbitTaskError
from orbit_provider.operators.batch import (
    OrbitBatchCopyOperator,
    OrbitBatchDeleteOperator,
    OrbitBatchMetadataOperator,
    OrbitBatchTagOperator,
    OrbitStorageClassOperator,
)
from orbit_provider.operators.listing import OrbitListKeysOperator
from orbit_provider.operators.progress_sink import XCOM_KEY
from tests.airflow_env import connection_env

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@pytest.fixture
def moto_conn(monkeypatch, moto_client):
    """The default connection pointed at the in-process moto bucket; returns its client."""
    name, value = connection_env(
        "orbit_s3_default", conn_type="orbit_s3", login="testing", password="testing",
        extra={"region_name": "us-east-1", "bucket": moto_client.bucket},
    )
    monkeypatch.setenv(name, value)
    return moto_client


def seed(client, keys, size=None):
    for i, key in enumerate(keys):
        client.upload_bytes(f"{key}:{i}".encode() * (size or 1), key)


def keys_under(client, prefix=""):
    return sorted(o.key for o in client.iter_objects(prefix))


def snapshot(client):
    """Every object's (key, etag, storage class, metadata, tags): 'nothing changed' checks."""
    out = {}
    for obj in client.iter_objects(""):
        head = client.get_metadata(obj.key)
        out[obj.key] = (head.etag, head.storage_class, head.metadata, client.get_tags(obj.key))
    return out


# -- copy -------------------------------------------------------------------------------------


def test_copy_prefix_keeps_relative_paths_and_a_rerun_redoes_nothing(moto_conn):
    seed(moto_conn, [f"src/{i}.csv" for i in range(4)] + ["src/sub/x.csv", "other/y.csv"])
    summary = OrbitBatchCopyOperator(task_id="c", prefix="src/", dest_prefix="dst/").execute({})
    assert (summary["total"], summary["succeeded"], summary["failed"]) == (5, 5, 0)
    assert summary["already_done"] == 0 and summary["dry_run"] is False
    assert summary["bytes"] == sum(o.size for o in moto_conn.iter_objects("src/"))
    assert keys_under(moto_conn, "dst/") == [f"dst/{i}.csv" for i in range(4)] + ["dst/sub/x.csv"]
    assert moto_conn.download_bytes("dst/sub/x.csv") == moto_conn.download_bytes("src/sub/x.csv")
    again = OrbitBatchCopyOperator(task_id="c", prefix="src/", dest_prefix="dst/").execute({})
    assert (again["succeeded"], again["already_done"]) == (5, 5)
    assert "not redone" in again["note"]


def test_copy_key_list_with_strip_prefix_and_filters(moto_conn):
    seed(moto_conn, ["in/a.csv", "in/b.json", "in/deep/c.csv"])
    op = OrbitBatchCopyOperator(
        task_id="c", keys=["in/a.csv", "in/deep/c.csv"], dest_prefix="out/", strip_prefix="in/"
    )
    assert op.execute({})["succeeded"] == 2
    assert keys_under(moto_conn, "out/") == ["out/a.csv", "out/deep/c.csv"]
    # a key list without strip_prefix keeps each key's last segment
    OrbitBatchCopyOperator(task_id="c2", keys=["in/deep/c.csv"], dest_prefix="flat/").execute({})
    assert keys_under(moto_conn, "flat/") == ["flat/c.csv"]
    # prefix + suffix filter; a modified window in the past matches nothing
    only_csv = OrbitBatchCopyOperator(
        task_id="c3", prefix="in/", suffix=".csv", dest_prefix="csv/"
    ).execute({})
    assert only_csv["total"] == 2
    assert keys_under(moto_conn, "csv/") == ["csv/a.csv", "csv/deep/c.csv"]
    old = OrbitBatchCopyOperator(
        task_id="c4", prefix="in/", dest_prefix="old/", modified_before="2001-01-01T00:00:00Z"
    ).execute({})
    assert old["total"] == 0 and keys_under(moto_conn, "old/") == []


def test_copy_dry_run_returns_the_mapping_and_changes_nothing(moto_conn):
    seed(moto_conn, [f"d/{i:02d}.bin" for i in range(12)], size=10)
    before = snapshot(moto_conn)
    plan = OrbitBatchCopyOperator(
        task_id="c", prefix="d/", dest_prefix="e/", dry_run=True, plan_limit=3
    ).execute({})
    assert plan["dry_run"] is True
    assert plan["count"] == 12
    assert plan["bytes"] == sum(o.size for o in moto_conn.iter_objects("d/"))
    assert plan["first_keys"] == ["d/00.bin", "d/01.bin", "d/02.bin"]
    assert plan["mapping"] == [["d/00.bin", "e/00.bin"], ["d/01.bin", "e/01.bin"],
                               ["d/02.bin", "e/02.bin"]]  # fmt: skip
    # a key list is HEADed: sizes and missing keys are in the plan
    listed = OrbitBatchCopyOperator(
        task_id="c2", keys=["d/00.bin", "d/nope.bin"], dest_prefix="e/", dry_run=True
    ).execute({})
    assert (listed["count"], listed["missing"], listed["missing_keys"]) == (2, 1, ["d/nope.bin"])
    assert listed["bytes"] == moto_conn.get_metadata("d/00.bin").size
    assert snapshot(moto_conn) == before


# -- delete -----------------------------------------------------------------------------------


def test_delete_counts_keys_already_gone_as_done_and_dry_run_changes_nothing(moto_conn):
    seed(moto_conn, ["t/1", "t/2", "t/3", "keep/1"])
    plan = OrbitBatchDeleteOperator(task_id="d", keys=["t/1", "t/gone"], dry_run=True).execute({})
    assert (plan["count"], plan["missing"], plan["already_done"]) == (2, 1, 1)
    assert keys_under(moto_conn) == ["keep/1", "t/1", "t/2", "t/3"]
    summary = OrbitBatchDeleteOperator(task_id="d", keys=["t/1", "t/gone"]).execute({})
    assert (summary["total"], summary["succeeded"], summary["failed"]) == (2, 2, 0)
    assert summary["bytes_transferred"] == 0
    by_prefix = OrbitBatchDeleteOperator(task_id="d2", prefix="t/").execute({})
    assert by_prefix["succeeded"] == 2
    assert keys_under(moto_conn) == ["keep/1"]


# -- storage class, tags, metadata ------------------------------------------------------------


def test_storage_class_change_and_rerun_is_already_done(moto_conn):
    seed(moto_conn, ["sc/a", "sc/b"])
    moto_conn.s3.put_object(Bucket=moto_conn.bucket, Key="sc/c", Body=b"c",
                            StorageClass="STANDARD_IA")  # fmt: skip
    plan = OrbitStorageClassOperator(
        task_id="s", prefix="sc/", storage_class="standard_ia", dry_run=True
    ).execute({})
    assert (plan["count"], plan["already_done"]) == (3, 1)
    summary = OrbitStorageClassOperator(
        task_id="s", prefix="sc/", storage_class="STANDARD_IA"
    ).execute({})
    assert (summary["succeeded"], summary["already_done"]) == (3, 1)
    assert summary["storage_class"] == "STANDARD_IA"
    assert {moto_conn.get_metadata(k).storage_class for k in ("sc/a", "sc/b")} == {"STANDARD_IA"}


def test_tags_and_metadata_merge_or_replace(moto_conn):
    moto_conn.upload_bytes(b"x", "m/a", tags={"keep": "1"}, metadata={"old": "v"})
    moto_conn.upload_bytes(b"y", "m/b")
    tagged = OrbitBatchTagOperator(task_id="t", prefix="m/", tags={"team": "data"}).execute({})
    assert tagged["succeeded"] == 2
    assert moto_conn.get_tags("m/a") == {"keep": "1", "team": "data"}
    assert OrbitBatchTagOperator(task_id="t", prefix="m/",
                                 tags={"team": "data"}).execute({})["already_done"] == 2
    OrbitBatchTagOperator(task_id="t2", keys=["m/a"], tags={"only": "me"}, merge=False).execute({})
    assert moto_conn.get_tags("m/a") == {"only": "me"}
    OrbitBatchMetadataOperator(task_id="m", keys="m/a", metadata={"new": "w"}).execute({})
    head = moto_conn.get_metadata("m/a")
    assert head.metadata == {"old": "v", "new": "w"}
    assert moto_conn.download_bytes("m/a") == b"x"
    OrbitBatchMetadataOperator(task_id="m2", keys=["m/a"], metadata={"z": "1"},
                               merge=False).execute({})  # fmt: skip
    assert moto_conn.get_metadata("m/a").metadata == {"z": "1"}


# -- partial failure --------------------------------------------------------------------------


def test_a_failed_key_fails_the_task_unless_allow_partial(moto_conn, tmp_path):
    seed(moto_conn, ["p/ok"])
    keys = ["p/ok"] + [f"p/missing-{i}" for i in range(4)]
    with pytest.raises(OrbitTaskError) as info:
        OrbitBatchTagOperator(task_id="t", keys=keys, tags={"a": "b"}).execute({})
    message = str(info.value)
    assert "4 of 5 key(s) failed" in message and "p/missing-" in message
    assert "allow_partial=True" in message
    assert moto_conn.get_tags("p/ok") == {"a": "b"}  # the good key was still done
    summary = OrbitBatchTagOperator(
        task_id="t", keys=keys, tags={"a": "c"}, allow_partial=True, max_items=2,
        report_dir=str(tmp_path),
    ).execute({})
    assert (summary["succeeded"], summary["failed"]) == (1, 4)
    listed = [f["key"] for f in summary["failures"]]
    assert len(listed) == 2 and set(listed) < set(keys[1:])
    assert {f["code"] for f in summary["failures"]} == {"NoSuchKey"}
    assert summary["failures_truncated"] is True
    report = summary["failures_report"][0]
    lines = [json.loads(line) for line in open(report)]
    assert sorted(f["key"] for f in lines) == sorted(keys)  # every key once, as it completed
    assert sorted(f["key"] for f in lines if f["status"] == "failed") == keys[1:]


def test_fail_fast_reports_the_rest_not_run(moto_conn):
    seed(moto_conn, [f"f/{i}" for i in range(30)])
    keys = ["f/missing"] + [f"f/{i}" for i in range(30)]
    summary = OrbitBatchMetadataOperator(
        task_id="m", keys=keys, metadata={"a": "b"}, fail_fast=True, max_concurrent=1,
        max_retries=0, allow_partial=True,
    ).execute({})
    assert summary["failed"] == 1 and summary["not_run"] > 0
    assert summary["succeeded"] + summary["failed"] + summary["not_run"] == 31


# -- bad input --------------------------------------------------------------------------------

BAD_INPUT = [
    (OrbitBatchCopyOperator, {"bucket": "Bad Bucket", "keys": ["a"], "dest_prefix": "x/"},
     "Bad Bucket"),
    (OrbitStorageClassOperator, {"keys": ["a"], "storage_class": "COLD"}, "COLD"),
    (OrbitBatchTagOperator, {"keys": ["a"], "tags": {f"k{i}": "v" for i in range(11)}},
     "at most 10"),
    (OrbitBatchTagOperator, {"keys": ["a"], "tags": {"k": "v" * 300}}, "256"),
    (OrbitBatchMetadataOperator, {"keys": ["a"], "metadata": {"k": "v" * 3000}}, "2 KiB"),
    (OrbitBatchDeleteOperator, {"keys": ["a"], "prefix": "p/"}, "not both"),
    (OrbitBatchDeleteOperator, {}, "one of them is required"),
    (OrbitBatchDeleteOperator, {"keys": ["a"], "suffix": ".csv"}, "suffix"),
    (OrbitBatchDeleteOperator, {"keys": [""]}, "keys"),
    (OrbitBatchDeleteOperator, {"prefix": "p/", "modified_after": "2026-02-01T00:00:00Z",
                                "modified_before": "2026-01-01T00:00:00Z"}, "earlier"),
    (OrbitBatchDeleteOperator, {"prefix": "p/", "modified_after": "yesterday"}, "modified_after"),
    (OrbitBatchDeleteOperator, {"prefix": "p/", "modified_after": START.add(days=1),
                                "modified_before": START}, "earlier"),
    (OrbitBatchDeleteOperator, {"keys": ["a"], "max_concurrent": 0}, "max_concurrent"),
    (OrbitBatchDeleteOperator, {"keys": ["a"], "rate_limit": -1}, "rate_limit"),
    (OrbitBatchCopyOperator, {"keys": ["a/x"], "dest_prefix": "a/", "strip_prefix": "a/",
                              "bucket": "test-bucket"}, "onto itself"),
    (OrbitBatchCopyOperator, {"prefix": "a/", "dest_prefix": "a/"}, "onto itself"),
    (OrbitBatchCopyOperator, {"keys": ["a/x", "b/x"], "dest_prefix": "c/"}, "both map"),
    (OrbitBatchCopyOperator, {"prefix": "a/", "dest_prefix": "c/", "strip_prefix": "b/"},
     "strip_prefix"),
]


@pytest.mark.parametrize(("cls", "kwargs", "named"), BAD_INPUT)
def test_bad_input_is_refused_when_the_operator_is_built(cls, kwargs, named):
    with pytest.raises(OrbitTaskError) as info:
        cls(task_id="bad", **kwargs)
    assert named in str(info.value)
    assert info.value.code == "ConfigError"


def test_xcom_args_and_templates_are_checked_after_rendering_only():
    with DAG("orbit_build_only", schedule=None, start_date=START):

        @task
        def produce():
            return ["a", "b"]

        op = OrbitBatchTagOperator(task_id="t", keys=produce(), tags={"day": "{{ ds }}"})
        assert callable(op.keys.resolve)  # an XComArg, left for Airflow to resolve


def test_bad_input_after_rendering_fails_before_any_request(moto_conn):
    seed(moto_conn, ["r/a", "r/b"])
    before = snapshot(moto_conn)
    op = OrbitBatchTagOperator(task_id="t", keys="{{ params.k }}", tags={"a": "{{ ds }}"})
    op.keys, op.tags = ["r/a", "r/b"], {"a": "x" * 257}  # what rendering could produce
    with pytest.raises(OrbitTaskError, match="256"):
        op.execute({})
    copy = OrbitBatchCopyOperator(task_id="c", keys=["r/a"], dest_prefix="{{ params.d }}")
    copy.dest_prefix = "r/"
    copy.strip_prefix = "r/"
    with pytest.raises(OrbitTaskError, match="onto itself"):
        copy.execute({})
    assert snapshot(moto_conn) == before


# -- aggregation ------------------------------------------------------------------------------


def _summary(total, succeeded, failed=0, already_done=0, failures=()):
    return {"operation": "copy", "bucket": "b", "total": total, "succeeded": succeeded,
            "failed": failed, "not_run": 0, "skipped": 0, "already_done": already_done,
            "bytes": total * 10, "bytes_transferred": total * 10, "duration_seconds": 1.0,
            "failures": list(failures), "failures_truncated": False}  # fmt: skip


def test_aggregate_sums_shards_and_checks_every_key_is_accounted_for():
    parts = [_summary(10, 10), _summary(10, 9, 1, failures=[{"key": "k", "code": "X",
                                                               "error": "e"}]),
             _summary(5, 5, already_done=5)]  # fmt: skip
    out = aggregate_batch_summaries(parts, expected_total=25)
    assert (out["tasks"], out["total"], out["succeeded"], out["failed"]) == (3, 25, 24, 1)
    assert out["already_done"] == 5 and out["bytes"] == 250 and out["accounted"] is True
    assert out["failures"] == [{"key": "k", "code": "X", "error": "e"}]
    with pytest.raises(OrbitTaskError, match="24 expected"):
        aggregate_batch_summaries(parts, expected_total=24)
    with pytest.raises(OrbitTaskError, match="left no summary"):
        aggregate_batch_summaries([*parts, None])
    with pytest.raises(OrbitTaskError, match="do not add up"):
        aggregate_batch_summaries([_summary(10, 8)])


# -- DAG runs against SeaweedFS ----------------------------------------------------------------


def test_dag_mapped_copy_over_shards_accounts_for_every_key_once(
    dag_runner, orbit_conn, seaweed_client, capsys
):
    keys = [f"raw/{i:02d}.json" for i in range(23)]
    seed(seaweed_client, keys)
    seaweed_client.upload_bytes(b"{}", "archive/raw/05.json")  # noise: not a source
    seaweed_client.batch_copy(["raw/03.json"], "archive/", strip_prefix="raw/")  # a finished try
    with DAG("orbit_mapped_copy", schedule=None, start_date=START) as dag:
        listed = OrbitListKeysOperator(task_id="list", prefix="raw/", shard_size=10)
        copied = OrbitBatchCopyOperator.partial(
            task_id="copy", dest_prefix="archive/", strip_prefix="raw/", max_concurrent=4,
            progress_xcom=True,
        ).expand(keys=listed.output)
        OrbitAggregateSummariesOperator(
            task_id="total", summaries=copied.output, expected_total=len(keys)
        )
    result = dag_runner(dag)
    assert result.state == "success", result.task_states()
    shards = result.xcoms("copy")
    assert sorted(shards) == [0, 1, 2]
    assert [shards[i]["total"] for i in range(3)] == [10, 10, 3]
    total = result.xcom("total")
    assert (total["tasks"], total["total"], total["succeeded"], total["failed"]) == (3, 23, 23, 0)
    assert total["already_done"] == 1 and total["accounted"] is True
    assert keys_under(seaweed_client, "archive/") == sorted(
        ["archive/" + k.removeprefix("raw/") for k in keys] + ["archive/raw/05.json"]
    )
    for key in keys:
        dst = "archive/" + key.removeprefix("raw/")
        assert seaweed_client.download_bytes(dst) == seaweed_client.download_bytes(key)
    progress = result.xcoms("copy", key=XCOM_KEY)
    assert {i: (p["done"], p["final"]) for i, p in progress.items()} == {
        0: (10, True), 1: (10, True), 2: (3, True)
    }
    log = capsys.readouterr().out
    assert "orbit progress: copy 10/10 (100.0%), succeeded 10, failed 0 [final]" in log
    assert "orbit progress: copy 3/3 (100.0%)" in log


def test_dag_partial_failure_fails_unless_allowed_and_dry_runs_change_nothing(
    dag_runner, orbit_conn, seaweed_client, capsys
):
    keys = [f"cold/{i}.dat" for i in range(6)]
    seed(seaweed_client, keys, size=100)
    seaweed_client.upload_bytes(b"bad-bucket-probe", "untouched")

    with DAG("orbit_partial", schedule=None, start_date=START) as dag:
        listed = OrbitListKeysOperator(task_id="list", prefix="cold/", shard_size=100)
        plan = OrbitStorageClassOperator.partial(
            task_id="plan", storage_class="STANDARD_IA", dry_run=True
        ).expand(keys=listed.output)
        dry_delete = OrbitBatchDeleteOperator(task_id="dry_delete", prefix="cold/", dry_run=True)

        @task
        def vanish():  # a key deleted between the listing and the operation
            from orbit_provider.hooks.orbit_s3 import OrbitS3Hook

            OrbitS3Hook().get_client().delete("cold/2.dat")

        strict = OrbitStorageClassOperator.partial(
            task_id="strict", storage_class="STANDARD_IA", batch_retry_delay=0.01
        ).expand(keys=listed.output)
        lenient = OrbitStorageClassOperator.partial(
            task_id="lenient", storage_class="STANDARD_IA", allow_partial=True,
            trigger_rule="all_done",
        ).expand(keys=listed.output)
        bad = OrbitBatchTagOperator(
            task_id="bad_bucket", bucket="{{ 'Not_A_Bucket' }}", prefix="", tags={"a": "b"},
        )
        [plan, dry_delete] >> vanish() >> strict >> lenient
        listed >> bad
    result = dag_runner(dag)
    states = result.task_states()
    assert states["plan[0]"] == "success" and states["dry_delete"] == "success"
    assert states["strict[0]"] == "failed" and states["lenient[0]"] == "success"
    assert states["bad_bucket"] == "failed"

    planned = result.xcom("plan", map_index=0)
    assert (planned["dry_run"], planned["count"], planned["bytes"]) == (True, 6, 6 * 100 * 12)
    assert result.xcom("dry_delete")["count"] == 6

    strict_summary = result.xcom("strict", map_index=0)  # left by the failing task
    assert (strict_summary["failed"], strict_summary["succeeded"]) == (1, 5)
    assert strict_summary["failures"][0]["key"] == "cold/2.dat"
    lenient_summary = result.xcom("lenient", map_index=0)
    assert (lenient_summary["failed"], lenient_summary["already_done"]) == (1, 5)

    remaining = [k for k in keys if k != "cold/2.dat"]
    assert keys_under(seaweed_client, "cold/") == remaining
    assert {seaweed_client.get_metadata(k).storage_class for k in remaining} == {"STANDARD_IA"}
    assert seaweed_client.get_tags("untouched") == {}
    log = capsys.readouterr().out
    assert "dry run, nothing is changed: change_storage_class: 6 key(s)" in log
    assert "1 of 6 key(s) failed" in log and "cold/2.dat" in log
    assert "Not_A_Bucket" in log
    assert "orbit progress: change_storage_class 6/6" in log


def test_dag_mapped_delete_over_range_shards_deletes_every_key_once(
    dag_runner, orbit_conn, seaweed_client
):
    keys = [f"old/{i:03d}" for i in range(57)]
    seed(seaweed_client, keys)
    seed(seaweed_client, ["keep/x"])
    with DAG("orbit_range_delete", schedule=None, start_date=START) as dag:
        ranges = OrbitListKeysOperator(task_id="list", prefix="old/", shard_by="range", shards=4)
        deleted = OrbitBatchDeleteOperator.partial(task_id="delete").expand(
            key_range=ranges.output
        )
        OrbitAggregateSummariesOperator(
            task_id="total", summaries=deleted.output, expected_total=len(keys)
        )
    result = dag_runner(dag)
    assert result.state == "success", result.task_states()
    assert all(len(json.dumps(r)) < 1024 for r in result.xcom("list"))
    shards = result.xcoms("delete")
    assert len(shards) == 4 and all(s["total"] > 0 for s in shards.values())
    total = result.xcom("total")
    assert (total["total"], total["succeeded"], total["accounted"]) == (57, 57, True)
    assert keys_under(seaweed_client, "") == ["keep/x"]


def test_s3_urls_as_keys_and_prefix_name_the_bucket(moto_conn):
    seed(moto_conn, ["u/1", "u/2"])
    bucket = moto_conn.bucket
    tagged = OrbitBatchTagOperator(
        task_id="t", keys=[f"s3://{bucket}/u/1", "u/2"], tags={"a": "b"}
    ).execute({})
    assert tagged["succeeded"] == 2 and moto_conn.get_tags("u/1") == {"a": "b"}
    deleted = OrbitBatchDeleteOperator(task_id="d", prefix=f"s3://{bucket}/u/").execute({})
    assert deleted["succeeded"] == 2 and keys_under(moto_conn, "u/") == []
    with pytest.raises(OrbitTaskError, match="give the bucket once"):
        OrbitBatchDeleteOperator(task_id="d", bucket=bucket, prefix="s3://elsewhere/u/").execute({})
