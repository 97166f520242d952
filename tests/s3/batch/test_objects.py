"""In-place batch changes: storage class, metadata, tags; S3 limits checked first."""

from __future__ import annotations

import pytest

from orbit_provider.s3 import BatchConfig
from orbit_provider.s3.errors import ConfigError
from tests.s3.batch.faults import Faults

FAST = {"retry_delay": 0.0}


def _seed(client, keys, **kwargs):
    for key in keys:
        client.upload_bytes(key.encode(), key, **kwargs)


def test_storage_class_change_on_seaweedfs_keeps_metadata_type_and_tags(seaweed_client):
    keys = [f"sc/{i}" for i in range(6)]
    _seed(
        seaweed_client,
        keys,
        metadata={"owner": "ops"},
        content_type="application/x-orbit",
        tags={"team": "data"},
    )
    result = seaweed_client.batch_change_storage_class(
        keys, "STANDARD_IA", BatchConfig(max_concurrent=3)
    )
    assert result.ok and result.successful == 6
    for key in keys:
        head = seaweed_client.get_metadata(key)
        assert head.storage_class == "STANDARD_IA"
        assert head.metadata == {"owner": "ops"}
        assert head.content_type == "application/x-orbit"
        assert seaweed_client.get_tags(key) == {"team": "data"}
        assert seaweed_client.download_bytes(key) == key.encode()

    again = seaweed_client.batch_change_storage_class(keys, "standard_ia")
    assert again.already_done == 6

    back = seaweed_client.batch_change_storage_class(keys[:2], "STANDARD")
    assert back.ok and seaweed_client.get_metadata(keys[0]).storage_class == "STANDARD"
    assert seaweed_client.get_metadata(keys[0]).metadata == {"owner": "ops"}


def test_invalid_storage_class_before_any_request(moto_client):
    faults = Faults(moto_client.s3)
    with pytest.raises(ConfigError, match="storage_class"):
        moto_client.batch_change_storage_class(["a"], "FROZEN")
    assert faults.calls == []


def test_archived_source_is_reported_per_key(moto_server_client):
    client = moto_server_client
    client.upload_bytes(b"cold", "cold", storage_class="GLACIER")
    client.upload_bytes(b"deep", "deep", storage_class="DEEP_ARCHIVE")
    client.upload_bytes(b"warm", "warm")
    result = client.batch_change_storage_class(
        ["cold", "deep", "warm"], "STANDARD_IA", BatchConfig(**FAST)
    )
    assert result.results["warm"].succeeded
    for key in ("cold", "deep"):
        outcome = result.results[key]
        assert outcome.code == "ArchivedObject" and "restore" in outcome.detail
    assert client.get_metadata("cold").storage_class == "GLACIER"
    meta = client.batch_update_metadata(["cold"], {"a": "b"})
    assert meta.results["cold"].code == "ArchivedObject"


def test_metadata_merge_and_replace(moto_client):
    _seed(
        moto_client,
        ["m1", "m2"],
        metadata={"keep": "1", "change": "old"},
        content_type="text/csv",
        tags={"t": "1"},
    )
    moto_client.s3.put_object(
        Bucket=moto_client.bucket,
        Key="ia",
        Body=b"x",
        StorageClass="STANDARD_IA",
        Metadata={"keep": "1"},
    )
    result = moto_client.batch_update_metadata(["m1", "m2", "ia"], {"Change": "new"})
    assert result.ok and result.already_done == 0
    head = moto_client.get_metadata("m1")
    assert head.metadata == {"keep": "1", "change": "new"}
    assert head.content_type == "text/csv" and moto_client.get_tags("m1") == {"t": "1"}
    assert moto_client.get_metadata("ia").storage_class == "STANDARD_IA"

    assert moto_client.batch_update_metadata(["m1"], {"change": "new"}).already_done == 1

    result = moto_client.batch_update_metadata(["m2"], {"only": "this"}, merge=False)
    assert result.ok and moto_client.get_metadata("m2").metadata == {"only": "this"}
    assert moto_client.download_bytes("m2") == b"m2"


def test_metadata_limits_checked_before_requests_and_per_key_after_merge(moto_client):
    moto_client.upload_bytes(b"x", "fat", metadata={"big": "v" * 1500})
    moto_client.upload_bytes(b"x", "thin")
    faults = Faults(moto_client.s3)
    with pytest.raises(ConfigError, match="2 KiB"):
        moto_client.batch_update_metadata(["thin"], {"huge": "v" * 2100})
    with pytest.raises(ConfigError, match="metadata"):
        moto_client.batch_update_metadata(["thin"], {"bad name": "v"})
    assert faults.calls == []
    result = moto_client.batch_update_metadata(["fat", "thin"], {"add": "w" * 600})
    assert result.results["thin"].succeeded
    assert (
        result.results["fat"].code == "ConfigError"
        and "after merge" in result.results["fat"].detail
    )
    assert faults.count("CopyObject", "fat") == 0


def test_tags_merge_and_replace(moto_client):
    _seed(moto_client, ["t1", "t2"], tags={"a": "1", "b": "2"})
    result = moto_client.batch_tag_objects(["t1", "t2"], {"b": "3", "c": "4"})
    assert result.ok
    assert moto_client.get_tags("t1") == {"a": "1", "b": "3", "c": "4"}
    faults = Faults(moto_client.s3)
    assert moto_client.batch_tag_objects(["t1"], {"c": "4"}).already_done == 1
    assert faults.count("PutObjectTagging") == 0

    assert moto_client.batch_tag_objects(["t2"], {"only": "x"}, merge=False).ok
    assert moto_client.get_tags("t2") == {"only": "x"}
    assert moto_client.batch_tag_objects(["t2"], {}, merge=False).ok
    assert moto_client.get_tags("t2") == {}


def test_tag_limits_checked_before_requests_and_per_key_after_merge(moto_client):
    moto_client.upload_bytes(b"x", "many", tags={f"k{i}": "v" for i in range(8)})
    moto_client.upload_bytes(b"x", "few")
    faults = Faults(moto_client.s3)
    for bad, match in [
        ({f"k{i}": "v" for i in range(11)}, "at most 10"),
        ({"k" * 129: "v"}, "1 to 128"),
        ({"k": "v" * 257}, "256"),
        ({"aws:x": "v"}, "reserved"),
    ]:
        with pytest.raises(ConfigError, match=match):
            moto_client.batch_tag_objects(["few"], bad)
    assert faults.calls == []
    result = moto_client.batch_tag_objects(["many", "few"], {"x": "1", "y": "2", "z": "3"})
    assert result.results["few"].succeeded
    assert result.results["many"].code == "ConfigError"
    assert len(moto_client.get_tags("many")) == 8


def test_object_rewritten_between_head_and_copy_is_not_clobbered(seaweed_client):
    """SeaweedFS honours CopySourceIfMatch (moto ignores it)."""
    client = seaweed_client
    client.upload_bytes(b"old", "race", metadata={"v": "1"})
    raced = []

    def rewrite_once(**_):
        if not raced:
            raced.append(True)
            client.s3.put_object(
                Bucket=client.bucket, Key="race", Body=b"new", Metadata={"v": "2"}
            )

    client.s3.meta.events.register("after-call.s3.HeadObject", rewrite_once)
    result = client.batch_update_metadata(["race"], {"extra": "x"}, BatchConfig(**FAST))
    assert result.results["race"].code == "PreconditionFailed"
    assert client.get_metadata("race").metadata == {"v": "2"}
    assert client.download_bytes("race") == b"new"
