"""Rolling a prefix back to a moment: the per-key plan, dry runs, the run, refusals."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from orbit_provider.s3 import ProgressReporter, RollbackPlan
from orbit_provider.s3.batch.models import BatchConfig
from orbit_provider.s3.errors import ConfigError, NotFound
from orbit_provider.s3.progress import BatchProgress
from tests.s3.versions.helpers import moment_after_write, snapshot


@pytest.fixture(params=["moto", "seaweed"])
def make_client(request):
    return request.getfixturevalue(
        "make_moto_client" if request.param == "moto" else "make_seaweed_client"
    )


@pytest.fixture
def scenario(make_client):
    """A prefix with kept, modified, deleted, new and recreated keys around moment T."""
    client = make_client()
    client.enable_versioning()
    ids = {}
    for key in ("p/same", "p/mod", "p/del", "p/delmod", "p/gone", "p/recreated", "q/outside"):
        ids[key] = client.upload_bytes(f"{key} at T".encode(), key).version_id
    moment_after_write()  # deletes before T land in a later second than the writes
    client.delete("p/gone")
    client.delete("p/recreated")
    when = moment_after_write()
    client.upload_bytes(b"modified", "p/mod")
    ids["p/del marker"] = client.delete("p/del").version_id
    client.upload_bytes(b"modified", "p/delmod")
    client.delete("p/delmod")
    client.upload_bytes(b"created after T", "p/new")
    client.upload_bytes(b"recreated after T", "p/recreated")
    client.upload_bytes(b"modified", "q/outside")
    return client, when, ids


def test_plan_gives_each_key_its_action(scenario):
    client, when, ids = scenario

    plan = client.plan_rollback("p/", when, page_size=2)

    assert isinstance(plan, RollbackPlan)
    by_key = {a.key: a for a in plan}
    assert {k: a.action for k, a in by_key.items()} == {
        "p/del": "remove_delete_markers",
        "p/delmod": "restore",
        "p/gone": "keep",
        "p/mod": "restore",
        "p/new": "delete",
        "p/recreated": "delete",
        "p/same": "keep",
    }
    assert by_key["p/mod"].version_id == ids["p/mod"]
    assert by_key["p/delmod"].version_id == ids["p/delmod"]
    assert by_key["p/del"].delete_marker_ids == (ids["p/del marker"],)
    assert by_key["p/del"].version_id == ids["p/del"]
    assert plan.counts == {"restore": 2, "remove_delete_markers": 1, "delete": 2, "keep": 2}
    assert [a.key for a in plan.changes] == ["p/del", "p/delmod", "p/mod", "p/new", "p/recreated"]
    assert plan.to_dict()["counts"] == plan.counts
    assert "restore version" in by_key["p/mod"].describe()


def test_dry_run_changes_nothing(scenario):
    client, when, _ = scenario
    before = snapshot(client)

    result = client.rollback_prefix("p/", when, dry_run=True)

    assert result.dry_run and result.batch is None and result.changed == 0
    assert result.keys == 7
    assert result.counts == {"restore": 2, "remove_delete_markers": 1, "delete": 2, "keep": 2}
    assert [a.key for a in result.changes] == [
        "p/del", "p/delmod", "p/mod", "p/new", "p/recreated"
    ]
    assert snapshot(client) == before


def test_rollback_brings_the_prefix_back_and_keeps_history(scenario):
    client, when, _ = scenario
    events = []
    reporter = ProgressReporter([events.append], inline=True)
    versions_before = len(snapshot(client))

    result = client.rollback_prefix("p/", when, config=BatchConfig(max_concurrent=3),
                                    progress=reporter, page_size=3)

    assert (result.changed, result.failed, result.not_run, result.ok) == (5, 0, 0, True)
    assert result.errors == []
    for key in ("p/same", "p/mod", "p/del", "p/delmod"):
        assert client.download_bytes(key) == f"{key} at T".encode()
    for key in ("p/gone", "p/new", "p/recreated"):
        assert not client.exists(key)
    assert client.list_object_versions("p/new").versions  # deleted by a marker: history kept
    assert client.download_bytes("q/outside") == b"modified"  # outside the prefix
    # Nothing was destroyed but the one delete marker that came after T.
    assert len(snapshot(client)) == versions_before + 2 + 2 - 1
    batch_events = [e for e in events if isinstance(e, BatchProgress)]
    assert batch_events and batch_events[-1].operation == "rollback"
    assert batch_events[-1].completed == 5

    again = client.plan_rollback("p/", when)  # a second run has nothing left to do
    assert again.counts["keep"] == 7


def test_per_key_failures_are_reported_and_fail_fast_stops(make_moto_client):
    client = make_moto_client()
    client.enable_versioning()
    for key in ("p/a", "p/b", "p/c", "p/d"):
        client.upload_bytes(b"old", key)
    when = moment_after_write()
    for key in ("p/a", "p/b", "p/c", "p/d"):
        client.upload_bytes(b"new", key)

    def refuse_p_b(params, **_):
        if params.get("Key") == "p/b":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "CopyObject")

    client.s3.meta.events.register("before-parameter-build.s3.CopyObject", refuse_p_b)

    result = client.rollback_prefix("p/", when)
    assert (result.changed, result.failed, result.ok) == (3, 1, False)
    assert [(k, code) for k, code, _ in result.errors] == [("p/b", "AccessDenied")]
    assert client.download_bytes("p/b") == b"new" and client.download_bytes("p/a") == b"old"

    for key in ("p/a", "p/c", "p/d"):
        client.upload_bytes(b"newer", key)
    stopped = client.rollback_prefix(
        "p/", when, config=BatchConfig(max_concurrent=1, fail_fast=True)
    )
    assert stopped.failed == 1 and stopped.not_run >= 1
    assert stopped.changed + stopped.failed + stopped.not_run == 4
    assert client.download_bytes("p/d") == b"newer"  # after p/b: never run


def test_refuses_a_bucket_whose_versioning_was_never_enabled(make_client):
    client = make_client()
    client.upload_bytes(b"x", "p/a")
    for dry_run in (False, True):
        with pytest.raises(ConfigError, match="never enabled"):
            client.rollback_prefix("p/", "2020-01-01T00:00:00Z", dry_run=dry_run)
    assert client.download_bytes("p/a") == b"x"


def test_refuses_a_suspended_bucket_unless_dry_run(make_moto_client):
    client = make_moto_client()
    client.enable_versioning()
    client.upload_bytes(b"x", "p/a")
    client.suspend_versioning()
    with pytest.raises(ConfigError, match="suspended"):
        client.rollback_prefix("p/", "2020-01-01T00:00:00Z")
    plan = client.rollback_prefix("p/", "2020-01-01T00:00:00Z", dry_run=True)
    assert plan.counts["delete"] == 1 and client.download_bytes("p/a") == b"x"


def test_bad_timestamp_is_refused_before_any_request(moto_client):
    with pytest.raises(ConfigError, match="timestamp"):
        moto_client.rollback_prefix("p/", "yesterday-ish")
    with pytest.raises(ConfigError, match="timestamp"):
        moto_client.plan_rollback("p/", None)


def test_empty_prefix_plans_nothing(make_moto_client):
    client = make_moto_client()
    client.enable_versioning()
    result = client.rollback_prefix("nothing/", "2020-01-01T00:00:00Z")
    assert result.keys == 0 and result.changed == 0 and result.ok
    with pytest.raises(NotFound):
        client.restore_at("nothing/x", "2020-01-01T00:00:00Z")
