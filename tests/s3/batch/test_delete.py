"""batch_delete: DeleteObjects in requests of up to 1,000 keys, per-key errors per key."""

from __future__ import annotations

import pytest

from orbit_provider.s3 import BatchConfig
from orbit_provider.s3.errors import ConfigError
from tests.s3.batch.faults import Faults
from tests.seeding import put_in_moto, put_over_http

FAST = {"retry_delay": 0.0}


def _remaining(client, prefix=""):
    return {o.key for o in client.iter_objects(prefix)}


def test_2500_keys_in_several_requests_with_per_key_failures(moto_client):
    keys = put_in_moto(moto_client.bucket, [f"data/{i:05d}" for i in range(2500)])
    faults = Faults(moto_client.s3)
    denied = {k for k in keys if k.endswith("7")}  # 250 keys the store refuses
    faults.fail_in_delete(lambda k: k in denied, "AccessDenied")
    result = moto_client.batch_delete(keys, BatchConfig(max_concurrent=3, **FAST))

    assert sorted(len(b) for b in faults.delete_batches) == [500, 1000, 1000]
    assert result.total == 2500 and len(result.results) == 2500
    assert result.failed == 250 and result.successful == 2250
    assert {k for k, code, _ in result.errors if code == "AccessDenied"} == denied
    assert _remaining(moto_client, "data/") == denied  # the failed keys really are still there


def test_retryable_per_key_error_is_resent_alone(moto_client):
    keys = put_in_moto(moto_client.bucket, [f"k{i}" for i in range(10)])
    faults = Faults(moto_client.s3)
    faults.fail_in_delete(lambda k: k == "k3", "InternalError", times=2)
    faults.fail_in_delete(lambda k: k == "k4", "SlowDown")  # never recovers
    result = moto_client.batch_delete(keys, BatchConfig(max_retries=2, **FAST))

    assert result.results["k3"].succeeded
    assert result.results["k4"].code == "SlowDown"
    assert faults.delete_batches[0] == keys
    assert faults.delete_batches[1:] == [["k3", "k4"], ["k3", "k4"]]  # 1 + max_retries requests
    assert _remaining(moto_client) == {"k4"}


def test_a_key_already_gone_counts_as_done(moto_client):
    moto_client.upload_bytes(b"x", "there")
    faults = Faults(moto_client.s3)
    faults.fail_in_delete(lambda k: k == "vanished", "NoSuchKey")
    result = moto_client.batch_delete(["there", "never-existed", "vanished"])
    assert result.ok and result.successful == 3
    assert result.results["vanished"].detail == "already_done"
    assert result.already_done == 1


def test_whole_request_failure_fails_its_keys(moto_client):
    faults = Faults(moto_client.s3)
    faults.fail("DeleteObjects", lambda k: True, "AccessDenied", 403)
    result = moto_client.batch_delete([f"k{i}" for i in range(5)], BatchConfig(**FAST))
    assert result.failed == 5 and faults.count("DeleteObjects") == 1
    assert {code for _, code, _ in result.errors} == {"AccessDenied"}


def test_versions_and_duplicates(moto_client):
    moto_client.s3.put_bucket_versioning(
        Bucket=moto_client.bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    v1 = moto_client.upload_bytes(b"1", "doc").version_id
    v2 = moto_client.upload_bytes(b"2", "doc").version_id
    result = moto_client.batch_delete([("doc", v1), ("doc", v1), ("doc", v2)])
    assert result.ok and result.duplicates == 1
    assert set(result.results) == {f"doc?versionId={v1}", f"doc?versionId={v2}"}
    versions = moto_client.s3.list_object_versions(Bucket=moto_client.bucket, Prefix="doc")
    assert not versions.get("Versions")


def test_bad_input_before_any_request(moto_client):
    faults = Faults(moto_client.s3)
    with pytest.raises(ConfigError, match="keys"):
        moto_client.batch_delete(["ok", ("", None)])
    with pytest.raises(ConfigError, match="keys"):
        moto_client.batch_delete(["ok", 42])
    assert faults.calls == []


def test_generator_of_keys_is_consumed_in_bounded_chunks(moto_client):
    """20,000 keys: at every request the engine has read at most (2 * max_concurrent + 1)
    chunks of 1,000 ahead of the requests already sent."""
    faults = Faults(moto_client.s3)
    pulled = [0]
    ahead = []
    faults.on_request = lambda op, key: ahead.append(
        pulled[0] - 1000 * (faults.count("DeleteObjects") - 1)
    )

    def keys():
        for i in range(20_000):
            pulled[0] += 1
            yield f"gone/{i}"

    result = moto_client.batch_delete(keys(), BatchConfig(max_concurrent=2, **FAST))
    assert result.total == 20_000 and result.ok
    assert faults.count("DeleteObjects") == 20
    assert max(ahead) <= (2 * 2 + 1) * 1000 + 1


def test_seaweedfs_1001_keys_in_two_requests(seaweed_client):
    keys = put_over_http(seaweed_client, [f"s/{i:04d}" for i in range(1001)])
    faults = Faults(seaweed_client.s3)
    result = seaweed_client.batch_delete(keys, BatchConfig(max_concurrent=2))
    assert result.ok and result.successful == 1001
    assert sorted(len(b) for b in faults.delete_batches) == [1, 1000]
    assert _remaining(seaweed_client, "s/") == set()
