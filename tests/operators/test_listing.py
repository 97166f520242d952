"""OrbitListKeysOperator execute() against moto: shards, filters, caps, bad input."""

from __future__ import annotations

import json

import pendulum
import pytest

from orbit_provider.operators.base import OrbitTaskError
from orbit_provider.operators.listing import OrbitListKeysOperator
from tests.operators.operator_context import (  # noqa: F401 - fixtures
    MOTO_BUCKET,
    collector_fixture,
    make_context,
    moto_conn_fixture,
)


@pytest.fixture
def keys(moto_client) -> list[str]:
    names = [f"raw/{i:02d}.csv" for i in range(7)] + ["raw/notes.txt", "raw/dir/", "other/x.csv"]
    for name in names:
        moto_client.upload_bytes(b"x", name)
    return names


def list_keys(**kwargs) -> tuple[list, dict]:
    context = make_context()
    op = OrbitListKeysOperator(task_id="list", bucket=MOTO_BUCKET, **kwargs)
    return op.execute(context), context


def test_keys_come_back_in_json_serializable_shards(moto_conn, keys, collector):
    shards, context = list_keys(prefix="raw/", shard_size=3, progress_xcom=True)
    assert shards == [
        ["raw/00.csv", "raw/01.csv", "raw/02.csv"],
        ["raw/03.csv", "raw/04.csv", "raw/05.csv"],
        ["raw/06.csv", "raw/notes.txt"],
    ]  # the folder marker "raw/dir/" is left out
    assert json.loads(json.dumps(shards)) == shards
    progress = context["ti"].values("orbit_progress")[-1]
    assert progress["operation"] == "list" and progress["final"] and progress["succeeded"] == 8
    assert [a.asset.uri for a in collector.collected_assets.inputs] == [f"s3://{MOTO_BUCKET}/raw"]


def test_suffix_filter_and_max_keys(moto_conn, keys):
    shards, _ = list_keys(prefix="raw/", suffix=".csv", shard_size=100, max_keys=4)
    assert shards == [["raw/00.csv", "raw/01.csv", "raw/02.csv", "raw/03.csv"]]
    shards, _ = list_keys(prefix="", suffix=[".txt"], include_folder_markers=True)
    assert shards == [["raw/notes.txt"]]


def test_modified_window_filters_by_last_modified(moto_conn, keys):
    now = pendulum.now("UTC")
    shards, _ = list_keys(prefix="raw/", modified_after=now.subtract(hours=1).isoformat(),
                          modified_before=now.add(hours=1).isoformat())  # fmt: skip
    assert sum(len(s) for s in shards) == 8
    shards, _ = list_keys(prefix="raw/", modified_after=now.add(hours=1))
    assert shards == []  # nothing to map: .expand() skips the mapped task


def test_an_empty_window_bound_after_rendering_means_no_bound(moto_conn, keys):
    shards, _ = list_keys(prefix="raw/", modified_after="", suffix="")
    assert sum(len(s) for s in shards) == 8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"modified_after": "yesterday-ish"}, "modified_after: 'yesterday-ish' is not a valid"),
        ({"modified_after": "2026-01-02T00:00:00Z", "modified_before": "2026-01-01T00:00:00Z"},
         "modified_after: .* must be earlier than modified_before"),
    ],
)  # fmt: skip
def test_a_bad_window_fails_before_listing(moto_conn, kwargs, message, monkeypatch):
    from orbit_provider.s3.client import S3Client

    def no_requests(*args, **kw):
        raise AssertionError("no request may be sent")

    monkeypatch.setattr(S3Client, "call", no_requests)
    with pytest.raises(OrbitTaskError, match=message):
        list_keys(prefix="raw/", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shard_size": 0}, "shard_size: 0 must be a positive integer"),
        ({"max_keys": -1}, "max_keys: -1 must be a positive integer"),
        ({"bucket": "a"}, "bucket: 'a' is not a bucket name"),
    ],
)
def test_bad_arguments_fail_when_the_dag_is_parsed(kwargs, message):
    kwargs = {"bucket": MOTO_BUCKET, **kwargs}
    with pytest.raises(OrbitTaskError, match=message):
        OrbitListKeysOperator(task_id="list", **kwargs)


def test_a_missing_bucket_fails_naming_it(moto_conn):
    op = OrbitListKeysOperator(task_id="list", bucket="no-such-bucket-here")
    with pytest.raises(OrbitTaskError, match="no-such-bucket-here"):
        op.execute(make_context())


def test_range_shards_are_small_and_cover_every_key_once(moto_conn, keys):
    shards, _ = list_keys(prefix="raw/", shard_by="range", shards=3)
    assert len(shards) == 3
    assert all(len(json.dumps(s)) < 1024 for s in shards)
    assert shards[0]["start_after"] is None and shards[-1]["end_at"] is None
    assert [s["end_at"] for s in shards[:-1]] == [s["start_after"] for s in shards[1:]]


def test_range_sharding_refuses_filters_it_cannot_apply():
    with pytest.raises(OrbitTaskError, match="give the filters to the bulk operator"):
        OrbitListKeysOperator(task_id="l", bucket=MOTO_BUCKET, shard_by="range", suffix=".csv")
    with pytest.raises(OrbitTaskError, match="shard_by"):
        OrbitListKeysOperator(task_id="l", bucket=MOTO_BUCKET, shard_by="pages")
