"""OrbitArchiveRestoreTrigger run to completion against moto's HTTP server (archive classes and
RestoreObject; moto restores at once)."""

from __future__ import annotations

import asyncio
import inspect
import json

import pytest
from airflow.serialization.serialized_objects import BaseSerialization

from orbit_provider.s3.conditions import ArchiveRestored, ObjectReady
from orbit_provider.s3.errors import ConfigError
from orbit_provider.testing.clients import client_for
from orbit_provider.triggers.archive import OrbitArchiveRestoreTrigger
from tests.triggers.helpers import collect, import_string, run_trigger, use_connection


@pytest.fixture
def archive(monkeypatch, moto_server, moto_server_bucket):
    """(bucket, client) on moto's server, with orbit_s3_default pointing there."""
    use_connection(monkeypatch, moto_server)
    return moto_server_bucket, client_for(moto_server, moto_server_bucket)


def _restore(client, key: str) -> None:
    client.s3.restore_object(
        Bucket=client.bucket,
        Key=key,
        RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": "Standard"}},
    )


def test_serialize_is_exactly_the_constructor_arguments():
    trigger = OrbitArchiveRestoreTrigger(
        bucket="vault", condition=ArchiveRestored(keys=["a", "b"], fail_if_not_requested=True),
        orbit_conn_id="c", poke_interval=30, timeout=3600,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "orbit_provider.triggers.archive.OrbitArchiveRestoreTrigger"
    signature = inspect.signature(OrbitArchiveRestoreTrigger.__init__).parameters.values()
    params = {p.name for p in signature if p.kind is p.KEYWORD_ONLY} - {"aws_conn_id"}
    assert set(kwargs) == params
    assert kwargs["condition"] == {
        "kind": "archive_restored", "keys": ["a", "b"], "fail_if_not_requested": True
    }
    stored = json.loads(json.dumps(BaseSerialization.serialize(kwargs)))
    rebuilt = import_string(classpath)(**BaseSerialization.deserialize(stored))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert rebuilt == trigger and OrbitArchiveRestoreTrigger(**kwargs) == trigger
    assert rebuilt.condition.keys == ("a", "b")
    assert rebuilt.condition.fail_if_not_requested is True


def test_the_condition_as_a_dict_builds_the_same_trigger():
    """A trigger takes its condition, or the condition's to_dict() (what serialize() stores);
    a bad condition dict is refused with the field named."""
    condition = ArchiveRestored(keys=["a"], fail_if_not_requested=True)
    by_dict = OrbitArchiveRestoreTrigger(
        bucket="vault", condition=condition.to_dict(), poke_interval=5
    )
    assert by_dict == OrbitArchiveRestoreTrigger(
        bucket="vault", condition=condition, poke_interval=5
    )
    assert by_dict.serialize()[1]["condition"]["keys"] == ["a"]
    with pytest.raises(ConfigError, match="keys: at least one key"):
        OrbitArchiveRestoreTrigger(
            bucket="vault", condition={"kind": "archive_restored", "keys": []}
        )
    with pytest.raises(ConfigError, match="keys: missing"):
        OrbitArchiveRestoreTrigger(bucket="vault", condition={"kind": "archive_restored"})


def test_an_object_condition_is_refused():
    with pytest.raises(ConfigError, match="waits for ArchiveRestored"):
        OrbitArchiveRestoreTrigger(bucket="vault", condition=ObjectReady(key="a"))


def test_keys_never_archived_succeed_at_once(archive):
    bucket, client = archive
    client.upload_bytes(b"hot", "hot.csv")
    event = run_trigger(OrbitArchiveRestoreTrigger(
        bucket=bucket, condition=ArchiveRestored(keys=["hot.csv"]), timeout=5,
    ))
    assert event["status"] == "success"
    assert event["details"]["not_archived"] == ["hot.csv"]
    assert event["polls"] == 1


def test_waits_for_a_restore_requested_while_polling(archive):
    bucket, client = archive
    client.upload_bytes(b"cold data", "cold.csv", storage_class="GLACIER")
    client.upload_bytes(b"hot", "hot.csv")
    seen: list[bool] = []

    class Recording(OrbitArchiveRestoreTrigger):
        def check(self, s3_client):
            result = super().check(s3_client)
            seen.append(result.met)
            return result

    async def scenario() -> list[dict]:
        trigger = Recording(
            bucket=bucket, condition=ArchiveRestored(keys=["cold.csv", "hot.csv"]),
            poke_interval=0.05, timeout=120,
        )
        task = asyncio.create_task(collect(trigger))
        while len(seen) < 2:  # it has looked (and found the key still archived) twice
            await asyncio.sleep(0.01)
        await asyncio.to_thread(_restore, client, "cold.csv")
        return await asyncio.wait_for(task, timeout=60)

    payloads = asyncio.run(scenario())
    assert [p["status"] for p in payloads] == ["success"]
    assert seen[0] is False and seen[-1] is True
    details = payloads[0]["details"]
    assert details["restored"] == ["cold.csv"] and details["not_archived"] == ["hot.csv"]
    assert "cold.csv" in details["expires"]
    assert client.download_bytes("cold.csv") == b"cold data"


def test_archived_without_restore_times_out_saying_why(archive):
    bucket, client = archive
    client.upload_bytes(b"cold", "cold.csv", storage_class="DEEP_ARCHIVE")
    event = run_trigger(
        OrbitArchiveRestoreTrigger(
            bucket=bucket, condition=ArchiveRestored(keys=["cold.csv"]), poke_interval=0.05,
            timeout=0.1,
        )
    )
    assert event["status"] == "timeout"
    assert "archived with no restore requested" in event["message"]
    assert event["details"]["archived"] == ["cold.csv"]


def test_archived_without_restore_is_an_error_when_asked(archive):
    bucket, client = archive
    client.upload_bytes(b"cold", "cold.csv", storage_class="GLACIER")
    event = run_trigger(
        OrbitArchiveRestoreTrigger(
            bucket=bucket, condition=ArchiveRestored(keys=["cold.csv"], fail_if_not_requested=True),
            timeout=60,
        )
    )
    assert event["status"] == "error"
    assert "cold.csv" in event["message"] and "no restore was requested" in event["message"]
    assert event["details"]["error_type"] == "ArchivedObject"
    assert event["polls"] == 1
