"""Lifecycle expiration rules on moto: merged with the bucket's rules, never dropping one."""

from __future__ import annotations

import pendulum
import pytest

from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.lifecycle import (
    ExpirationRule,
    add_expiration_rule,
    current_rules,
    remove_rule,
)

BUCKET = "test-bucket"  # made by the moto_client fixture
OTHER = {
    "ID": "theirs",
    "Filter": {"Prefix": "tmp/"},
    "Status": "Enabled",
    "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}],
}


def _ids(client):
    return [r["ID"] for r in current_rules(client)]


def test_a_rule_is_added_next_to_the_buckets_own_rules(moto_client):
    moto_client.s3.put_bucket_lifecycle_configuration(
        Bucket=BUCKET, LifecycleConfiguration={"Rules": [OTHER]}
    )
    change = add_expiration_rule(moto_client, ExpirationRule("old/2024/", days=1))
    assert change.applied and not change.replaced and change.kept == 1
    rules = {r["ID"]: r for r in current_rules(moto_client)}
    assert set(rules) == {"theirs", change.rule["ID"]}
    assert rules["theirs"]["Transitions"][0]["StorageClass"] == "GLACIER"
    mine = rules[change.rule["ID"]]
    assert mine["Expiration"] == {"Days": 1}
    assert mine["Filter"] == {"Prefix": "old/2024/"}


def test_running_it_again_updates_its_own_rule_in_place(moto_client):
    moto_client.s3.put_bucket_lifecycle_configuration(
        Bucket=BUCKET, LifecycleConfiguration={"Rules": [OTHER]}
    )
    first = add_expiration_rule(moto_client, ExpirationRule("old/", days=5))
    second = add_expiration_rule(
        moto_client,
        ExpirationRule("old/", on_date="2027-01-15", noncurrent_days=3, abort_incomplete_days=2),
    )
    assert second.replaced and first.rule["ID"] == second.rule["ID"]
    assert _ids(moto_client) == ["theirs", first.rule["ID"]]
    rule = current_rules(moto_client)[1]
    assert pendulum.instance(rule["Expiration"]["Date"]) == pendulum.datetime(2027, 1, 15)
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 3
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 2


def test_dry_run_changes_nothing(moto_client):
    change = add_expiration_rule(moto_client, ExpirationRule("x/", days=1), dry_run=True)
    assert not change.applied and change.to_dict()["rule"]["Filter"] == {"Prefix": "x/"}
    assert current_rules(moto_client) == []


def test_remove_keeps_the_other_rules(moto_client):
    moto_client.s3.put_bucket_lifecycle_configuration(
        Bucket=BUCKET, LifecycleConfiguration={"Rules": [OTHER]}
    )
    change = add_expiration_rule(moto_client, ExpirationRule("old/", days=1, rule_id="mine"))
    assert remove_rule(moto_client, "mine")
    assert _ids(moto_client) == ["theirs"]
    assert not remove_rule(moto_client, "mine")
    assert remove_rule(moto_client, "theirs") and current_rules(moto_client) == []
    assert change.rule["ID"] == "mine"


def test_bad_rules_are_refused_before_any_request(moto_client):
    with pytest.raises(ConfigError, match="whole bucket"):
        add_expiration_rule(moto_client, ExpirationRule("", days=1))
    with pytest.raises(ConfigError, match="exactly one"):
        ExpirationRule("a/")
    with pytest.raises(ConfigError, match="exactly one"):
        ExpirationRule("a/", days=1, on_date="2027-01-01")
    with pytest.raises(ConfigError, match="positive"):
        ExpirationRule("a/", days=0)
    with pytest.raises(ConfigError, match="cannot combine"):
        ExpirationRule("a/", days=1, expire_delete_markers=True)
    assert current_rules(moto_client) == []
