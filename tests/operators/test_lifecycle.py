"""OrbitLifecycleExpirationOperator against moto: the rule lands beside the bucket's own."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from orbit_provider.operators.lifecycle import OrbitLifecycleExpirationOperator
from orbit_provider.s3.lifecycle import current_rules
from tests.operators.operator_context import make_context, moto_conn_fixture  # noqa: F401

OTHER = {
    "ID": "theirs",
    "Filter": {"Prefix": "tmp/"},
    "Status": "Enabled",
    "Expiration": {"Days": 7},
}


def test_execute_adds_the_rule_and_keeps_the_others(moto_conn, moto_client):
    moto_client.s3.put_bucket_lifecycle_configuration(
        Bucket=moto_conn, LifecycleConfiguration={"Rules": [OTHER]}
    )
    op = OrbitLifecycleExpirationOperator(
        task_id="expire", bucket=moto_conn, prefix="raw/2024/", days=3, noncurrent_days=1
    )
    summary = op.execute(make_context())
    assert summary["applied"] and summary["kept"] == 1 and not summary["replaced"]
    rules = {r["ID"]: r for r in current_rules(moto_client)}
    assert rules["theirs"]["Expiration"] == {"Days": 7}
    mine = rules[summary["rule"]["ID"]]
    assert mine["Filter"] == {"Prefix": "raw/2024/"} and mine["Expiration"] == {"Days": 3}


def test_dry_run_writes_nothing(moto_conn, moto_client):
    op = OrbitLifecycleExpirationOperator(
        task_id="expire", bucket=moto_conn, prefix="raw/", on_date="2027-02-01", dry_run=True
    )
    summary = op.execute(make_context())
    assert not summary["applied"]
    assert summary["rule"]["Expiration"]["Date"].startswith("2027-02-01T00:00:00")
    assert current_rules(moto_client) == []


def test_bad_literals_fail_when_the_dag_is_parsed_and_templates_at_execute():
    with pytest.raises(AirflowFailException, match="exactly one of days or on_date"):
        OrbitLifecycleExpirationOperator(task_id="t", bucket="bkt", prefix="a/")
    op = OrbitLifecycleExpirationOperator(task_id="t", bucket="bkt", prefix="{{ params.p }}")
    op.prefix = ""  # rendered to an empty prefix: the whole bucket
    op.days = 1
    with pytest.raises(AirflowFailException, match="whole bucket"):
        op.execute(make_context())
