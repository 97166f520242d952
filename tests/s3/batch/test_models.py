"""BatchConfig, BatchResult and the exports of orbit_provider.s3."""

from __future__ import annotations

import pytest

from orbit_provider.s3 import BatchConfig, BatchResult, KeyOutcome, RestoreStatus
from orbit_provider.s3.batch.models import resolve_config, result_key
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.recovery import Backoff
from orbit_provider.s3.wire.ratelimit import TokenBucket


def test_defaults_match_the_contract():
    config = BatchConfig()
    assert (config.max_concurrent, config.rate_limit, config.operation_timeout) == (10, None, 120.0)
    assert (config.fail_fast, config.max_retries, config.retry_delay) == (False, 3, 0.5)
    assert resolve_config(None) == BatchConfig()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_concurrent", 0),
        ("max_concurrent", 2.5),
        ("max_concurrent", True),
        ("rate_limit", 0),
        ("rate_limit", -1.0),
        ("rate_limit", "10"),
        ("operation_timeout", 0),
        ("operation_timeout", float("nan")),
        ("max_retries", -1),
        ("retry_delay", -0.1),
        ("fail_fast", "yes"),
    ],
)
def test_invalid_config_names_the_field(field, value):
    with pytest.raises(ConfigError, match=f"^{field}:"):
        BatchConfig(**{field: value})


def test_config_accepts_a_shared_token_bucket_and_no_timeout():
    bucket = TokenBucket(5)
    config = BatchConfig(rate_limit=bucket, operation_timeout=None, max_retries=0, retry_delay=0)
    assert config.limiter() is bucket
    assert BatchConfig(rate_limit=7).limiter().rate == 7.0
    assert BatchConfig().limiter() is None


def test_retry_policy_counts_attempts_and_starts_at_retry_delay():
    policy = BatchConfig(max_retries=2, retry_delay=0.25).retry_policy()
    assert policy.max_attempts == 3
    assert policy.backoff is Backoff.EXPONENTIAL
    assert 0.2 <= policy.delay(1, rng=lambda: 0.5) <= 0.3
    assert policy.delay(2, rng=lambda: 0.5) == pytest.approx(0.5)


def test_resolve_config_refuses_other_types():
    with pytest.raises(ConfigError, match="^config:"):
        resolve_config({"max_concurrent": 3})


def test_result_summary_is_json_friendly_and_capped():
    result = BatchResult(
        total=3,
        successful=1,
        failed=1,
        results={
            "a": KeyOutcome("succeeded", "already_done"),
            "b": KeyOutcome("failed", "boom", "AccessDenied"),
            "c": KeyOutcome("not_run", "not run"),
        },
        errors=[("b", "AccessDenied", "boom")],
        duration=1.5,
        not_run=1,
        already_done=1,
        operation="copy",
    )
    assert not result.ok
    assert result.keys_with("not_run") == ["c"]
    summary = result.to_dict(max_keys=2)
    assert summary["errors"] == [["b", "AccessDenied", "boom"]]
    assert list(summary["results"]) == ["a", "b"]
    assert summary["results"]["b"] == {"status": "failed", "detail": "boom", "code": "AccessDenied"}
    assert (summary["total"], summary["not_run"], summary["already_done"]) == (3, 1, 1)


def test_result_key_of_a_version():
    assert result_key("a/b") == "a/b"
    assert result_key("a/b", "v1") == "a/b?versionId=v1"


def test_restore_status_readable():
    assert RestoreStatus("restored").readable
    assert RestoreStatus("not_archived").readable
    assert not RestoreStatus("in_progress").readable
    assert not RestoreStatus("archived").readable


def test_config_none_means_defaults_in_every_call(moto_client):
    moto_client.upload_bytes(b"x", "k")
    assert moto_client.batch_tag_objects(["k"], {"a": "b"}).ok
    assert moto_client.batch_update_metadata(["k"], {"a": "b"}).ok
    assert moto_client.batch_change_storage_class(["k"], "STANDARD_IA").ok
    assert moto_client.batch_copy(["k"], "copy/").ok
    assert moto_client.batch_delete(["k", "copy/k"]).ok
