"""Lineage reported to Airflow's hook-level collector, asset-event extras, what a sensor
watches."""

from __future__ import annotations

import pytest
from airflow.sdk import lineage

from orbit_provider.hooks.lineage import (
    MAX_VERSION_IDS,
    asset_extra,
    attach_asset_extras,
    report_lineage,
    s3_uri,
    watched,
)
from orbit_provider.hooks.orbit_s3 import OrbitS3Hook


@pytest.fixture
def collector(monkeypatch):
    real = lineage.HookLineageCollector()
    monkeypatch.setattr(lineage, "get_hook_lineage_collector", lambda: real)
    return real


def test_s3_uri():
    assert s3_uri("bkt", "a/b.csv") == "s3://bkt/a/b.csv"
    assert s3_uri("bkt", "/prefix/") == "s3://bkt/prefix/"
    assert s3_uri("bkt") == "s3://bkt/"


def test_inputs_and_outputs_reach_the_collector(collector, tmp_path):
    hook = OrbitS3Hook()
    local = tmp_path / "data.csv"
    hook.report_lineage(inputs=[local], outputs=[s3_uri("bkt", "in/data.csv")])
    collected = collector.collected_assets
    assert [a.asset.uri for a in collected.inputs] == [local.as_uri()]
    assert [a.asset.uri for a in collected.outputs] == ["s3://bkt/in/data.csv"]
    assert collected.outputs[0].context is hook


def test_a_bad_item_is_logged_not_raised(collector, caplog):
    report_lineage(OrbitS3Hook(), outputs=["s3://"])
    assert collector.collected_assets.outputs == []
    assert "could not report lineage" in caplog.text


def test_without_a_lineage_reader_nothing_is_collected():
    report_lineage(OrbitS3Hook(), outputs=["s3://bkt/k"])  # the no-op collector: no error


def test_asset_extra_from_a_summary_caps_version_ids():
    objects = [{"key": f"k{i}", "version_id": f"v{i}"} for i in range(150)] + [{"key": "n"}]
    extra = asset_extra({"operation": "upload", "bytes": 42, "succeeded": 151,
                         "objects": objects})  # fmt: skip
    assert (extra["operation"], extra["bytes"], extra["objects"]) == ("upload", 42, 151)
    assert len(extra["version_ids"]) == MAX_VERSION_IDS and extra["version_ids"]["k0"] == "v0"
    assert extra["version_ids_truncated"] is True


def test_asset_extra_without_a_summary_uses_the_progress_counts():
    assert asset_extra([["a", "b"]], operation="list", bytes_moved=0, objects=2) == {
        "operation": "list", "bytes": 0, "objects": 2,
    }  # fmt: skip
    assert asset_extra({"succeeded": 1, "objects": [{"key": "k"}]}) == {"bytes": 0, "objects": 1}


def test_asset_extras_join_what_the_task_set_and_skip_aliases():
    from types import SimpleNamespace

    from airflow.sdk import Asset, AssetAlias

    mine, alias = Asset("s3://b/p"), AssetAlias("a")
    events = {mine: SimpleNamespace(extra={"bytes": -1, "own": True})}
    assert attach_asset_extras({"outlet_events": events}, [mine, alias], {"bytes": 5}) == [
        "s3://b/p"
    ]
    assert events[mine].extra == {"bytes": -1, "own": True}  # the task's own keys win
    assert attach_asset_extras({}, [mine], {"bytes": 5}) == []


def test_watched_names_keys_prefixes_and_urls_not_patterns():
    from types import SimpleNamespace

    sensor = SimpleNamespace(bucket="b", key="a/*.csv", wildcard_match=True, keys=None,
                             prefix=None)  # fmt: skip
    assert watched(sensor) == []
    sensor = SimpleNamespace(bucket="b", key=None, keys=["x", "s3://other/y", "x"], prefix=None)
    assert watched(sensor) == [("b", "x"), ("other", "y")]
    assert watched(SimpleNamespace(bucket="b", prefix="p/")) == [("b", "p/")]
    assert len(watched(SimpleNamespace(bucket="b", keys=[f"k{i}" for i in range(300)]))) == 100
