"""Lineage reported to Airflow's hook-level collector."""

from __future__ import annotations

import pytest
from airflow.sdk import lineage

from orbit_provider.hooks.lineage import report_lineage, s3_uri
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
