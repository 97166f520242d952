"""The batch engine's memory stays flat in the number of keys: exact counts, a capped sample
of outcomes, and every outcome in a JSON Lines report when asked."""

from __future__ import annotations

import json

import pytest

from orbit_provider.s3.batch.engine import BatchRun, Done
from orbit_provider.s3.batch.models import BatchConfig
from orbit_provider.s3.errors import ConfigError, S3Error


def _noop_run(config, fail_every=0):
    def run_task(items):
        return {
            k: (
                S3Error("boom", key=k, code="Boom")
                if fail_every and int(k) % fail_every == 0
                else Done()
            )
            for k, _ in items
        }

    return BatchRun("noop", config, run_task)


def test_a_lazy_source_keeps_counts_exact_and_only_a_capped_sample(tmp_path):
    from orbit_provider.s3.batch.models import LAZY_RESULTS_CAP

    report = tmp_path / "outcomes.jsonl"
    config = BatchConfig(max_concurrent=4, max_retries=0, report_path=report)
    result = _noop_run(config, fail_every=2).run(
        (str(i) for i in range(1, 2 * LAZY_RESULTS_CAP + 501)), str, lambda item: item
    )
    total = 2 * LAZY_RESULTS_CAP + 500
    assert (result.total, result.successful, result.failed) == (total, total // 2, total // 2)
    assert len(result.results) == LAZY_RESULTS_CAP and not result.results_complete
    assert len(result.errors) == LAZY_RESULTS_CAP
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert sorted(int(line["key"]) for line in lines) == list(range(1, total + 1))  # each once
    assert sum(line["status"] == "failed" for line in lines) == total // 2
    assert result.report_path == str(report)


def test_a_list_keeps_every_outcome_unless_capped():
    config = BatchConfig(max_concurrent=4, max_retries=0)
    keys = [str(i) for i in range(1, 1501)]
    result = _noop_run(config).run(keys, str, lambda item: item)
    assert len(result.results) == 1500 and result.results_complete
    capped = _noop_run(BatchConfig(max_concurrent=4, max_retries=0, max_results=10)).run(
        keys, str, lambda item: item
    )
    assert capped.total == 1500 and len(capped.results) == 10 and not capped.results_complete
    with pytest.raises(ConfigError, match="max_results"):
        BatchConfig(max_results=-1)
