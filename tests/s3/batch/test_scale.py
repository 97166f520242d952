"""The cost and time figures of docs/scale.md and dry runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from orbit_provider.s3.batch import scale
from orbit_provider.s3.errors import ConfigError


def test_batch_operations_cost_is_job_fee_plus_per_object_fee_plus_requests():
    e = scale.estimate(1_000_000, "copy", "s3_batch_operations", listed=False)
    # $0.25 per job + $1 per million objects + 1M COPY requests at $0.005 per 1,000
    # + inventory at $0.0025 per million listed objects
    assert e.cost_usd == pytest.approx(0.25 + 1.0 + 5.0, abs=0.01)
    assert e.requests == 1_000_000 and e.listing_seconds == 0


def test_client_cost_counts_listing_pages_and_requests_and_rates_are_capped_per_prefix():
    e = scale.estimate(2_000_000, "tag", "client")
    assert e.requests == 2_000_000 + 2_000  # one PUT per key + one LIST page per 1,000 keys
    assert e.cost_usd == pytest.approx(2_002_000 * 0.005 / 1000, abs=0.01)
    many = scale.estimate(
        2_000_000, "tag", "client", assumptions=scale.Assumptions(tasks=100, prefixes=1)
    )
    # 100 tasks could send 80,000 requests a second; one prefix takes 3,500
    assert many.work_seconds == pytest.approx(2_000_000 / scale.PREFIX_WRITES_PER_SECOND)


def test_deletes_are_free_requests_and_lifecycle_is_one_request():
    e = scale.estimate(10**10, "delete", "client")
    assert e.requests == 10**7 + 10**7  # DeleteObjects of 1,000 keys + LIST pages
    assert e.cost_usd == pytest.approx(10**7 * 0.005 / 1000)  # only the listing is billed
    assert scale.estimate(10**10, "delete", "lifecycle").requests == 1


def test_engines_picked_by_size_and_operation():
    assert scale.recommended_engine(10**6, "copy") == "client"
    assert scale.recommended_engine(10**8, "copy") == "s3_batch_operations"
    assert scale.recommended_engine(10**8, "delete") == "lifecycle"


def test_impossible_combinations_are_refused():
    with pytest.raises(ConfigError, match="no delete"):
        scale.estimate(10, "delete", "s3_batch_operations")
    with pytest.raises(ConfigError, match="only for operation 'delete'"):
        scale.estimate(10, "copy", "lifecycle")
    with pytest.raises(ConfigError, match="not one of"):
        scale.estimate(10, "rename", "client")
    with pytest.raises(ConfigError, match="non-negative"):
        scale.estimate(-1, "copy", "client")


def test_docs_show_the_functions_figures():
    docs = Path(__file__).parents[3] / "docs" / "scale.md"
    assert scale.markdown_table() in docs.read_text(encoding="utf-8"), (
        "docs/scale.md is stale: paste `python -m orbit_provider.s3.batch.scale` into it"
    )
