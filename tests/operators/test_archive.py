"""OrbitArchiveRestoreOperator against moto's HTTP server (archive classes, RestoreObject)."""

from __future__ import annotations

import pendulum
import pytest
from airflow.sdk import DAG, Asset
from airflow.sdk.exceptions import TaskDeferred

from orbit_provider.operators.archive import REQUEST_XCOM_KEY, OrbitArchiveRestoreOperator
from orbit_provider.operators.base import OrbitTaskError
from orbit_provider.triggers.archive import OrbitArchiveRestoreTrigger
from tests.operators.test_dag_runs import asset_events
from tests.triggers.helpers import import_string, run_trigger, use_connection


class FakeTI:
    """Just enough of a task instance for XCom push/pull across a deferral."""

    task_id = "restore"
    map_index = -1

    def __init__(self) -> None:
        self.xcoms: dict[str, object] = {}

    def xcom_push(self, key, value):
        self.xcoms[key] = value

    def xcom_pull(self, task_ids=None, key="return_value", **_):
        return self.xcoms.get(key)


@pytest.fixture
def archived(monkeypatch, moto_server, moto_server_bucket, moto_server_client):
    """Three GLACIER objects and one STANDARD object; the default connection points there."""
    use_connection(monkeypatch, moto_server, bucket=moto_server_bucket)
    keys = [f"cold/{i}.dump" for i in range(3)]
    for key in keys:
        moto_server_client.upload_bytes(key.encode(), key, storage_class="GLACIER")
    moto_server_client.upload_bytes(b"warm", "warm.txt")
    return moto_server_client, keys


def test_restore_requests_and_waits_until_readable(archived):
    client, keys = archived
    assert client.restore_status(keys[0]).state == "archived"
    summary = OrbitArchiveRestoreOperator(
        task_id="restore", keys=keys, days=2, tier="bulk", wait_for_completion=True,
        poke_interval=0,
    ).execute({})
    assert (summary["operation"], summary["total"], summary["succeeded"]) == ("restore", 3, 3)
    assert (summary["tier"], summary["days"]) == ("Bulk", 2)
    assert summary["restore"]["readable"] == 3
    assert sorted(summary["restore"]["restored"]) == keys
    assert {client.restore_status(k).state for k in keys} == {"restored"}
    assert client.download_bytes(keys[0]) == keys[0].encode()
    again = OrbitArchiveRestoreOperator(task_id="restore", keys=keys).execute({})
    assert (again["succeeded"], again["already_done"]) == (3, 3)
    assert "restore" not in again  # no waiting asked for


def test_a_key_that_cannot_be_restored_fails_the_task_unless_allow_partial(archived):
    client, keys = archived
    with pytest.raises(OrbitTaskError, match="warm.txt .*not in an archive storage class"):
        OrbitArchiveRestoreOperator(task_id="restore", keys=[keys[0], "warm.txt"]).execute({})
    summary = OrbitArchiveRestoreOperator(
        task_id="restore", keys=[keys[1], "warm.txt"], allow_partial=True,
        wait_for_completion=True, poke_interval=0,
    ).execute({})
    assert (summary["succeeded"], summary["failed"]) == (1, 1)
    assert summary["failures"][0]["key"] == "warm.txt"
    assert summary["restore"]["restored"] == [keys[1]]  # waits only for what was requested
    assert client.restore_status(keys[2]).state == "archived"


def test_deferrable_restore_defers_to_the_archive_trigger_and_resumes(archived):
    client, keys = archived
    ti = FakeTI()
    op = OrbitArchiveRestoreOperator(
        task_id="restore", keys=keys, deferrable=True, poke_interval=0, wait_timeout=30
    )
    with pytest.raises(TaskDeferred) as info:
        op.execute({"ti": ti})
    trigger = info.value.trigger
    assert isinstance(trigger, OrbitArchiveRestoreTrigger)
    assert info.value.method_name == "execute_complete"
    assert list(trigger.condition.keys) == keys and trigger.bucket == client.bucket
    assert trigger.condition.fail_if_not_requested is True
    assert ti.xcoms[REQUEST_XCOM_KEY]["succeeded"] == 3
    classpath, kwargs = trigger.serialize()
    event = run_trigger(import_string(classpath)(**kwargs))
    assert event["status"] == "success"
    result = op.execute_complete({"ti": ti}, event=event)
    assert result["succeeded"] == 3 and result["restore"]["readable"] == 3
    with pytest.raises(OrbitTaskError, match="timeout: timed out after"):
        op.execute_complete({"ti": ti}, event={"status": "timeout", "message": "timed out after"})
    with pytest.raises(OrbitTaskError, match="no usable event"):
        op.execute_complete({"ti": ti}, event=None)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"keys": []}, "at least one key"),
        ({"keys": ["a"], "days": 0}, "days"),
        ({"keys": ["a"], "tier": "Fast"}, "tier"),
        ({"keys": ["a"], "poke_interval": -1}, "poke_interval"),
        ({"keys": ["a"], "wait_timeout": -5}, "wait_timeout"),
        ({"keys": ["a"], "bucket": "UP PER"}, "UP PER"),
        ({"keys": [5]}, "key string"),
        ({"keys": ["a"], "max_retries": -1}, "max_retries"),
    ],
)
def test_bad_input_is_refused_when_built(kwargs, named):
    with pytest.raises(OrbitTaskError, match=named):
        OrbitArchiveRestoreOperator(task_id="restore", **kwargs)


def test_dag_deferrable_restore_runs_the_trigger(monkeypatch, dag_runner, archived, capsys):
    client, keys = archived
    with DAG("orbit_archive_restore", schedule=None,
             start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:  # fmt: skip
        OrbitArchiveRestoreOperator(
            task_id="restore", keys=keys, tier="Expedited", deferrable=True, poke_interval=1,
            wait_timeout=60,
        )
    result = dag_runner(dag)
    assert result.state == "success", result.task_states()
    summary = result.xcom("restore")
    assert (summary["succeeded"], summary["tier"]) == (3, "Expedited")
    assert summary["restore"]["readable"] == 3
    assert result.xcom("restore", key=REQUEST_XCOM_KEY)["total"] == 3
    assert {client.restore_status(k).state for k in keys} == {"restored"}
    log = capsys.readouterr().out
    assert "orbit progress: restore 3/3" in log
    assert "deferring until 3 key(s) are readable" in log


# -- restore by prefix --------------------------------------------------------------------


@pytest.fixture
def archived_prefix(archived):
    """Under cold/: three GLACIER objects, one DEEP_ARCHIVE and one STANDARD."""
    client, keys = archived
    client.upload_bytes(b"deep", "cold/deep.dump", storage_class="DEEP_ARCHIVE")
    client.upload_bytes(b"warm", "cold/readme.txt")
    return client, [*keys, "cold/deep.dump"]


def test_restore_by_prefix_requests_only_archived_objects_and_waits(archived_prefix):
    client, archived_keys = archived_prefix
    summary = OrbitArchiveRestoreOperator(
        task_id="restore", prefix="cold/", wait_for_completion=True, poke_interval=0
    ).execute({})
    assert (summary["total"], summary["succeeded"], summary["failed"]) == (4, 4, 0)
    assert summary["prefix"] == "cold/" and summary["skipped_not_archived"] == 1
    state = summary["restore"]
    assert (state["total"], state["readable"]) == (5, 5)
    assert state["counts"] == {"restored": 4, "not_archived": 1, "in_progress": 0, "archived": 0}
    assert sorted(state["restored"]) == sorted(archived_keys)
    assert {client.restore_status(k).state for k in archived_keys} == {"restored"}
    assert client.restore_status("warm.txt").state == "not_archived"  # outside the prefix
    # a retry: every restore is already done
    again = OrbitArchiveRestoreOperator(task_id="restore", prefix="cold/").execute({})
    assert (again["succeeded"], again["already_done"]) == (4, 4)


def test_deferred_prefix_restore_carries_the_prefix_not_the_keys(archived_prefix):
    client, _ = archived_prefix
    ti = FakeTI()
    op = OrbitArchiveRestoreOperator(
        task_id="restore", prefix="cold/", deferrable=True, poke_interval=0, wait_timeout=30
    )
    with pytest.raises(TaskDeferred) as info:
        op.execute({"ti": ti})
    trigger = info.value.trigger
    classpath, kwargs = trigger.serialize()
    assert kwargs["condition"] == {
        "kind": "archive_prefix_restored", "prefix": "cold/", "fail_if_not_requested": True,
        "ignore_not_requested": False,
    }
    event = run_trigger(import_string(classpath)(**kwargs))
    assert event["status"] == "success", event
    result = op.execute_complete({"ti": ti}, event=event)
    assert result["succeeded"] == 4 and result["restore"]["readable"] == 5


def test_an_empty_or_unarchived_prefix_requests_nothing(archived_prefix):
    summary = OrbitArchiveRestoreOperator(
        task_id="restore", prefix="warm", wait_for_completion=True
    ).execute({})
    assert (summary["total"], summary["skipped_not_archived"]) == (0, 1)
    assert "restore" not in summary  # nothing requested, nothing to wait for


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({}, "keys or prefix"),
        ({"keys": ["a"], "prefix": "p/"}, "keys or prefix"),
        ({"prefix": 5}, "prefix"),
        ({"prefix": "p/", "outlets": [Asset("s3://b/p/")]}, "outlets"),
    ],
)
def test_bad_prefix_input_is_refused_when_built(kwargs, named):
    with pytest.raises(OrbitTaskError, match=named):
        OrbitArchiveRestoreOperator(task_id="restore", **kwargs)


def test_dag_prefix_restore_emits_its_asset_event_once_readable(dag_runner, archived_prefix):
    restored = Asset("s3://orbit-restored/cold/")
    with DAG("orbit_archive_restore_prefix", schedule=None,
             start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:  # fmt: skip
        OrbitArchiveRestoreOperator(
            task_id="restore", prefix="cold/", deferrable=True, poke_interval=1,
            wait_timeout=60, outlets=[restored],
        )
    result = dag_runner(dag)
    assert result.state == "success", result.task_states()
    assert result.xcom("restore")["restore"]["readable"] == 5
    assert asset_events("orbit_archive_restore_prefix", result.run_id) == [restored.uri]


def test_prefix_restore_with_allow_partial_waits_only_for_what_was_requested(
    archived_prefix, monkeypatch
):
    client, _ = archived_prefix
    from orbit_provider.s3.errors import S3Error
    from orbit_provider.s3.session import S3Session

    real = S3Session.call

    def refuse_one(self, operation, *args, **kwargs):
        if operation == "restore_object" and kwargs.get("key") == "cold/deep.dump":
            raise S3Error("denied", code="AccessDenied", status=403, key="cold/deep.dump")
        return real(self, operation, *args, **kwargs)

    monkeypatch.setattr(S3Session, "call", refuse_one)
    summary = OrbitArchiveRestoreOperator(
        task_id="restore", prefix="cold/", allow_partial=True, wait_for_completion=True,
        poke_interval=0, max_retries=0,
    ).execute({})
    assert (summary["succeeded"], summary["failed"]) == (3, 1)
    state = summary["restore"]
    assert state["counts"]["archived"] == 1 and state["archived"] == ["cold/deep.dump"]
    assert client.restore_status("cold/deep.dump").state == "archived"
