"""OrbitObjectTrigger run to completion in an event loop against the real SeaweedFS server."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading

import pytest
from airflow.serialization.serialized_objects import BaseSerialization

from orbit_provider.s3.conditions import ArchiveRestored, KeysReady, ObjectReady, PrefixReady
from orbit_provider.s3.errors import ConfigError
from orbit_provider.testing.clients import client_for
from orbit_provider.testing.faultproxy import FaultProxy
from orbit_provider.triggers.object import OrbitObjectTrigger
from tests.triggers.helpers import collect, import_string, run_trigger, use_connection


@pytest.fixture
def conn(monkeypatch, seaweed, seaweed_bucket) -> str:
    use_connection(monkeypatch, seaweed)
    return seaweed_bucket


def test_serialize_is_exactly_the_constructor_arguments():
    trigger = OrbitObjectTrigger(
        bucket="landing",
        condition=PrefixReady(prefix="day/", min_count=3, min_size=10, no_pending_upload=True),
        orbit_conn_id="my_conn", poke_interval=7.5, timeout=600,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "orbit_provider.triggers.object.OrbitObjectTrigger"
    # every argument but the alias aws_conn_id, which the constructor folds into orbit_conn_id
    params = set(inspect.signature(OrbitObjectTrigger.__init__).parameters) - {
        "self", "aws_conn_id"
    }
    assert set(kwargs) == params
    assert kwargs["condition"] == trigger.condition.to_dict()  # the condition, as itself
    # Through Airflow's own serialization (as the triggerer table stores it) and back.
    stored = json.loads(json.dumps(BaseSerialization.serialize(kwargs)))
    rebuilt = import_string(classpath)(**BaseSerialization.deserialize(stored))
    assert rebuilt.serialize() == (classpath, kwargs)
    assert rebuilt == trigger
    condition = rebuilt.condition
    assert (condition.prefix, condition.min_count, condition.min_size) == ("day/", 3, 10)
    assert (rebuilt.poke_interval, rebuilt.timeout, rebuilt.orbit_conn_id) == (7.5, 600, "my_conn")


def test_serialize_round_trip_with_keys_and_version():
    trigger = OrbitObjectTrigger(
        bucket="landing", condition=KeysReady(keys=["a", "b"]), poke_interval=1,
    )
    classpath, kwargs = trigger.serialize()
    assert kwargs["condition"]["keys"] == ["a", "b"] and kwargs["condition"]["kind"] == "keys_ready"
    assert import_string(classpath)(**kwargs).serialize() == (classpath, kwargs)
    one = OrbitObjectTrigger(
        bucket="landing", condition=ObjectReady(key="k", newer_than_version="v1"),
    )
    assert import_string(one.serialize()[0])(**one.serialize()[1]).serialize() == one.serialize()


@pytest.mark.parametrize("bad", [{"poke_interval": -1}, {"timeout": -5}, {"poke_interval": "x"}])
def test_bad_interval_or_timeout(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        OrbitObjectTrigger(bucket="landing", condition=ObjectReady(key="k"), **bad)


@pytest.mark.parametrize(
    "condition",
    [
        ObjectReady(key="in/data.csv"),
        ObjectReady(key="k", min_size=1, no_pending_upload=True, newer_than_version="v1"),
        KeysReady(keys=["a", "b"], min_size=0),
        PrefixReady(prefix="", min_count=5, no_pending_upload=True),
    ],
    ids=repr,
)
def test_trigger_round_trips_through_serialize(condition):
    trigger = OrbitObjectTrigger(
        bucket="landing", condition=condition, orbit_conn_id=None, poke_interval=2, timeout=None
    )
    classpath, kwargs = trigger.serialize()
    assert kwargs == {
        "bucket": "landing",
        "condition": condition.to_dict(),
        "orbit_conn_id": None,
        "poke_interval": 2,
        "timeout": None,
    }
    assert OrbitObjectTrigger(**kwargs) == trigger
    assert OrbitObjectTrigger(**kwargs).condition == condition
    stored = json.loads(json.dumps(BaseSerialization.serialize(kwargs)))
    assert import_string(classpath)(**BaseSerialization.deserialize(stored)) == trigger
    assert OrbitObjectTrigger(**{**kwargs, "bucket": "other"}) != trigger


@pytest.mark.parametrize(
    ("condition", "match"),
    [
        (ArchiveRestored(keys=["a"]), "OrbitObjectTrigger waits for ObjectReady"),
        ({"kind": "archive_restored", "keys": ["a"]}, "OrbitObjectTrigger waits for"),
        ({"kind": "object_ready", "key": ""}, "key: "),
        ({"kind": "nope"}, "condition kind: 'nope'"),
        ({"key": "k", "min_size": 3}, "condition kind: None"),  # an older trigger's shape
    ],
)
def test_a_condition_the_trigger_cannot_wait_for_is_refused(condition, match):
    with pytest.raises(ConfigError, match=match):
        OrbitObjectTrigger(bucket="landing", condition=condition)


def test_success_when_the_key_exists(conn, seaweed):
    client_for(seaweed, conn).upload_bytes(b"x" * 2048, "in/data.csv")
    event = run_trigger(
        OrbitObjectTrigger(
            bucket=conn, condition=ObjectReady(key="in/data.csv"), poke_interval=0.1, timeout=5,
        )
    )
    assert event["status"] == "success"
    assert event["details"]["bucket"] == conn
    assert event["details"]["key"] == "in/data.csv"
    assert event["details"]["size"] == 2048
    assert "ready" in event["message"]
    json.dumps(event)


def test_waits_until_the_key_appears_without_blocking_the_loop(conn, seaweed):
    """The key appears only after a coroutine on the same loop runs; a check holds until
    that coroutine sets a gate, which it could not do if the check blocked the loop."""
    client = client_for(seaweed, conn)
    gate = threading.Event()
    checks: list[int] = []

    class GatedTrigger(OrbitObjectTrigger):
        def check(self, s3_client):
            checks.append(threading.get_ident())
            if not gate.wait(timeout=30):
                raise AssertionError("the event loop was blocked during a check")
            return super().check(s3_client)

    async def scenario() -> tuple[list[dict], int]:
        loop_thread = threading.get_ident()
        trigger = GatedTrigger(
            bucket=conn, condition=ObjectReady(key="late.csv"), poke_interval=0.05,
        )
        task = asyncio.create_task(collect(trigger))
        ticks = 0
        while not checks and not task.done():  # the first check started (in a worker thread)
            await asyncio.sleep(0.01)
        for _ in range(5):  # the loop keeps running while that check is in progress
            ticks += 1
            await asyncio.sleep(0.01)
        gate.set()
        while len(checks) < 3 and not task.done():  # a few polls that find nothing
            await asyncio.sleep(0.01)
        await asyncio.to_thread(client.upload_bytes, b"finally", "late.csv")
        payloads = await asyncio.wait_for(task, timeout=60)
        assert loop_thread not in checks  # every check ran off the loop's thread
        return payloads, ticks

    payloads, ticks = asyncio.run(scenario())
    assert ticks == 5
    assert len(payloads) == 1 and payloads[0]["status"] == "success"
    assert payloads[0]["details"]["size"] == len(b"finally")
    assert payloads[0]["polls"] >= 4


def test_timeout_event_says_what_was_missing(conn):
    event = run_trigger(
        OrbitObjectTrigger(
            bucket=conn, condition=ObjectReady(key="never.csv"), poke_interval=0.05, timeout=0.2,
        )
    )
    assert event["status"] == "timeout"
    assert "timed out" in event["message"]
    assert "never.csv" in event["message"] and "does not exist" in event["message"]
    assert event["polls"] >= 1


def test_zero_timeout_checks_once(conn):
    event = run_trigger(
        OrbitObjectTrigger(bucket=conn, condition=ObjectReady(key="never.csv"), timeout=0)
    )
    assert event["status"] == "timeout" and event["polls"] == 1


def test_prefix_with_min_count_and_min_size(conn, seaweed):
    client = client_for(seaweed, conn)
    for i in range(3):
        client.upload_bytes(b"x" * 100, f"batch/{i}.csv")
    client.upload_bytes(b"", "batch/_SUCCESS")
    ok = run_trigger(
        OrbitObjectTrigger(
            bucket=conn, condition=PrefixReady(prefix="batch/", min_count=3, min_size=1), timeout=5,
        )
    )
    assert ok["status"] == "success"
    assert ok["details"]["count"] == 3 and ok["details"]["total_size"] == 300
    short = run_trigger(
        OrbitObjectTrigger(
            bucket=conn, condition=PrefixReady(prefix="batch/", min_count=4, min_size=1),
            poke_interval=0.05, timeout=0.1,
        )
    )
    assert short["status"] == "timeout" and "waiting for 4" in short["message"]


def test_keys_with_a_pending_multipart_upload(conn, seaweed):
    client = client_for(seaweed, conn)
    client.upload_bytes(b"a", "a.bin")
    client.upload_bytes(b"b", "b.bin")
    upload_id = client.s3.create_multipart_upload(Bucket=conn, Key="b.bin")["UploadId"]
    waiting = run_trigger(
        OrbitObjectTrigger(
            bucket=conn, condition=KeysReady(keys=["a.bin", "b.bin"], no_pending_upload=True),
            poke_interval=0.05, timeout=0.1,
        )
    )
    assert waiting["status"] == "timeout"
    assert waiting["details"]["waiting_for"] == ["b.bin"]
    client.s3.abort_multipart_upload(Bucket=conn, Key="b.bin", UploadId=upload_id)
    done = run_trigger(
        OrbitObjectTrigger(
            bucket=conn, condition=KeysReady(keys=["a.bin", "b.bin"], no_pending_upload=True),
            timeout=5,
        )
    )
    assert done["status"] == "success" and done["details"]["count"] == 2


def test_newer_version(conn, seaweed):
    client = client_for(seaweed, conn)
    client.s3.put_bucket_versioning(Bucket=conn, VersioningConfiguration={"Status": "Enabled"})
    v1 = client.upload_bytes(b"one", "model.bin").version_id
    still = run_trigger(
        OrbitObjectTrigger(
            bucket=conn, condition=ObjectReady(key="model.bin", newer_than_version=v1),
            poke_interval=0.05, timeout=0.1,
        )
    )
    assert still["status"] == "timeout" and "still at version" in still["message"]
    v2 = client.upload_bytes(b"two", "model.bin").version_id
    newer = run_trigger(
        OrbitObjectTrigger(
            bucket=conn, condition=ObjectReady(key="model.bin", newer_than_version=v1), timeout=5,
        )
    )
    assert newer["status"] == "success" and newer["details"]["version_id"] == v2


def test_missing_bucket_is_an_error_event(conn):
    event = run_trigger(
        OrbitObjectTrigger(
            bucket="no-such-bucket-anywhere", condition=ObjectReady(key="k"), poke_interval=0.05,
            timeout=2,
        )
    )
    assert event["status"] == "error"
    assert "no-such-bucket-anywhere" in event["message"]
    assert event["details"]["error_type"] == "NotFound"


def test_an_unknown_connection_falls_back_to_the_credential_chain(
    monkeypatch, seaweed, seaweed_bucket
):
    """As the amazon provider: the environment's credentials and endpoint are used."""
    client_for(seaweed, seaweed_bucket).upload_bytes(b"x", "k")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", seaweed.endpoint)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for conn_id in ("nope_conn", None):
        event = run_trigger(
            OrbitObjectTrigger(
                bucket=seaweed_bucket, condition=ObjectReady(key="k"), aws_conn_id=conn_id,
                timeout=30,
            )
        )
        assert event["status"] == "success", event


def test_a_bad_connection_is_a_non_retryable_error_event(monkeypatch):
    use_connection(monkeypatch, type("S", (), {"access_key": "a", "secret_key": "s"})(),
                   conn_id="bad_conn", no_such_extra=1)
    event = run_trigger(
        OrbitObjectTrigger(bucket="ok-bucket", condition=ObjectReady(key="k"),
                           orbit_conn_id="bad_conn", timeout=2)
    )
    assert event["status"] == "error"
    assert "no_such_extra" in event["message"]
    assert event["details"]["retryable"] is False


def test_credentials_never_appear_in_events(monkeypatch, seaweed, seaweed_bucket):
    use_connection(monkeypatch, seaweed)
    event = run_trigger(
        OrbitObjectTrigger(bucket=seaweed_bucket, condition=ObjectReady(key="x"), timeout=0)
    )
    assert seaweed.secret_key not in json.dumps(event)


def test_a_flaky_store_does_not_end_the_wait(monkeypatch, seaweed, seaweed_bucket):
    """503s (retryable) while polling are logged and polled again; the key is then found."""
    client_for(seaweed, seaweed_bucket).upload_bytes(b"here", "k.csv")
    with FaultProxy(seaweed.endpoint, rate=1.0, faults=("slowdown",)) as proxy:

        class Server:  # the proxy in front of SeaweedFS, with SeaweedFS's credentials
            endpoint = proxy.endpoint
            access_key = seaweed.access_key
            secret_key = seaweed.secret_key

        use_connection(monkeypatch, Server, max_retries=0)
        failing = run_trigger(
            OrbitObjectTrigger(
                bucket=seaweed_bucket, condition=ObjectReady(key="k.csv"), poke_interval=0.05,
                timeout=0.2,
            )
        )
        assert failing["status"] == "timeout"
        assert "last check failed" in failing["message"] and "503" in failing["message"]

        async def heal_after_failures() -> list[dict]:
            task = asyncio.create_task(
                collect(
                    OrbitObjectTrigger(
                        bucket=seaweed_bucket, condition=ObjectReady(key="k.csv"),
                        poke_interval=0.05, timeout=120,
                    )
                )
            )
            while proxy.counts["slowdown"] < 3 + failing["polls"]:
                await asyncio.sleep(0.01)
            proxy.set_rate(0.0)
            return await asyncio.wait_for(task, timeout=60)

        healed = asyncio.run(heal_after_failures())
    assert [p["status"] for p in healed] == ["success"]
    assert healed[0]["polls"] >= 2
