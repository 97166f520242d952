"""orbit_provider.s3.conditions: what sensors wait for, against moto (and moto's server)."""

from __future__ import annotations

import json

import pytest

from orbit_provider.s3.conditions import (
    DETAIL_LIMIT,
    ConditionResult,
    keys_ready,
    object_ready,
    restored,
)
from orbit_provider.s3.errors import ArchivedObject, ConfigError, NotFound
from orbit_provider.testing.clients import client_for


def _start_upload(client, key: str) -> str:
    return client.s3.create_multipart_upload(Bucket=client.bucket, Key=key)["UploadId"]


def _abort_upload(client, key: str, upload_id: str) -> None:
    client.s3.abort_multipart_upload(Bucket=client.bucket, Key=key, UploadId=upload_id)


# -- object_ready --------------------------------------------------------------------------------


def test_missing_key_is_not_ready_and_says_so(moto_client):
    result = object_ready(moto_client, "incoming/data.csv")
    assert isinstance(result, ConditionResult)
    assert not result.met and not result
    assert "does not exist" in result.reason and "incoming/data.csv" in result.reason


def test_existing_key_is_ready_with_json_details(moto_client):
    put = moto_client.upload_bytes(b"x" * 1234, "incoming/data.csv")
    result = object_ready(moto_client, "incoming/data.csv")
    assert result.met and result
    assert result.details["key"] == "incoming/data.csv"
    assert result.details["size"] == 1234
    assert result.details["etag"] == put.etag
    assert result.details["storage_class"] == "STANDARD"
    json.dumps(result.to_dict())  # JSON-serializable, for trigger events and XComs


def test_min_size(moto_client):
    moto_client.upload_bytes(b"x" * 100, "k")
    small = object_ready(moto_client, "k", min_size=101)
    assert not small.met
    assert "100 bytes" in small.reason and "min_size 101" in small.reason
    assert small.details["size"] == 100
    assert object_ready(moto_client, "k", min_size=100).met
    assert object_ready(moto_client, "k", min_size=0).met


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True])
def test_bad_min_size_is_refused_before_any_request(bad):
    # No moto here: a request would fail on the missing bucket/credentials, not with ConfigError.
    from orbit_provider.s3 import S3Client, S3Config

    client = S3Client(S3Config(bucket="never-contacted", endpoint="http://127.0.0.1:9"))
    with pytest.raises(ConfigError, match="min_size"):
        object_ready(client, "k", min_size=bad)


def test_bad_key_is_refused(moto_client):
    with pytest.raises(ConfigError, match="key"):
        object_ready(moto_client, "")


def test_missing_bucket_is_an_error_not_a_wait(make_moto_client):
    client = make_moto_client(bucket="no-such-bucket-here")
    with pytest.raises(NotFound):
        object_ready(client, "k")


def test_missing_bucket_is_an_error_on_seaweedfs_too(seaweed):
    # SeaweedFS answers HEAD of a key in a missing bucket with a bare 404, like a missing key.
    client = client_for(seaweed, "no-such-bucket-sw")
    with pytest.raises(NotFound) as info:
        object_ready(client, "k")
    assert info.value.key is None and "no-such-bucket-sw" in str(info.value)
    with pytest.raises(NotFound):
        restored(client, ["k"])


def test_unfinished_multipart_upload_holds_the_key_back(moto_client):
    moto_client.upload_bytes(b"old", "big.bin")
    upload_id = _start_upload(moto_client, "big.bin")
    _start_upload(moto_client, "big.bin.other")  # another key's upload does not count
    result = object_ready(moto_client, "big.bin", no_pending_upload=True)
    assert not result.met
    assert "unfinished multipart upload" in result.reason
    assert result.details["pending_uploads"] == 1
    assert object_ready(moto_client, "big.bin").met  # without the option the key is enough
    _abort_upload(moto_client, "big.bin", upload_id)
    assert object_ready(moto_client, "big.bin", no_pending_upload=True).met


@pytest.fixture
def versioned(moto_client):
    moto_client.s3.put_bucket_versioning(
        Bucket=moto_client.bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    return moto_client


def test_newer_than_version(versioned):
    v1 = versioned.upload_bytes(b"one", "report.csv").version_id
    still = object_ready(versioned, "report.csv", newer_than_version=v1)
    assert not still.met and "still at version" in still.reason
    v2 = versioned.upload_bytes(b"two", "report.csv").version_id
    newer = object_ready(versioned, "report.csv", newer_than_version=v1)
    assert newer.met
    assert newer.details["version_id"] == v2
    assert not object_ready(versioned, "report.csv", newer_than_version=v2).met


def test_older_version_current_again_is_not_newer(versioned):
    v1 = versioned.upload_bytes(b"one", "report.csv").version_id
    v2 = versioned.upload_bytes(b"two", "report.csv").version_id
    v3 = versioned.upload_bytes(b"three", "report.csv").version_id
    versioned.delete("report.csv", version_id=v3)  # v2 is current again
    result = object_ready(versioned, "report.csv", newer_than_version=v2)
    assert not result.met and "still at version" in result.reason
    newer = object_ready(versioned, "report.csv", newer_than_version=v1)
    assert newer.met and newer.details["version_id"] == v2


def test_permanently_deleted_version_id_is_an_error(versioned):
    versioned.upload_bytes(b"one", "report.csv")
    v2 = versioned.upload_bytes(b"two", "report.csv").version_id
    versioned.delete("report.csv", version_id=v2)
    with pytest.raises(NotFound, match=v2):
        object_ready(versioned, "report.csv", newer_than_version=v2)


def test_newer_than_version_after_a_delete_marker(versioned):
    v1 = versioned.upload_bytes(b"one", "report.csv").version_id
    marker = versioned.delete("report.csv").version_id
    assert not object_ready(versioned, "report.csv", newer_than_version=v1).met  # deleted
    versioned.upload_bytes(b"three", "report.csv")
    assert object_ready(versioned, "report.csv", newer_than_version=marker).met


def test_unknown_version_id_is_an_error(versioned):
    versioned.upload_bytes(b"one", "report.csv")
    with pytest.raises(NotFound, match="no-such-version"):
        object_ready(versioned, "report.csv", newer_than_version="no-such-version")


def test_newer_than_version_on_unversioned_bucket_is_an_error(moto_client):
    moto_client.upload_bytes(b"one", "report.csv")
    with pytest.raises(NotFound):
        object_ready(moto_client, "report.csv", newer_than_version="3HL4kqtJlcpXroDTDmjVBH40Nrjf")


# -- keys_ready -----------------------------------------------------------------------------------


def test_keys_all_present(moto_client):
    for key in ("a.csv", "b.csv"):
        moto_client.upload_bytes(b"12345", key)
    result = keys_ready(moto_client, ["a.csv", "b.csv"])
    assert result.met
    assert result.details["count"] == 2
    assert result.details["total_size"] == 10
    assert [k["key"] for k in result.details["keys"]] == ["a.csv", "b.csv"]


def test_keys_one_missing(moto_client):
    moto_client.upload_bytes(b"12345", "a.csv")
    result = keys_ready(moto_client, ["a.csv", "b.csv", "c.csv"])
    assert not result.met
    assert result.reason.startswith("2 of 3 keys not ready")
    assert "b.csv" in result.reason
    assert result.details["waiting_for"] == ["b.csv", "c.csv"]


def test_keys_min_size_and_pending_upload(moto_client):
    moto_client.upload_bytes(b"1" * 10, "a.csv")
    moto_client.upload_bytes(b"1" * 3, "b.csv")
    assert not keys_ready(moto_client, ["a.csv", "b.csv"], min_size=5).met
    assert keys_ready(moto_client, ["a.csv", "b.csv"], min_size=3).met
    _start_upload(moto_client, "a.csv")
    result = keys_ready(moto_client, ["a.csv", "b.csv"], no_pending_upload=True)
    assert not result.met and result.details["waiting_for"] == ["a.csv"]


def test_prefix_min_count(moto_client):
    moto_client.upload_bytes(b"x", "day/1.csv")
    moto_client.upload_bytes(b"x", "day/2.csv")
    moto_client.upload_bytes(b"x", "other/3.csv")
    waiting = keys_ready(moto_client, prefix="day/", min_count=3)
    assert not waiting.met
    assert "2 object(s)" in waiting.reason and "waiting for 3" in waiting.reason
    moto_client.upload_bytes(b"x", "day/3.csv")
    ready = keys_ready(moto_client, prefix="day/", min_count=3)
    assert ready.met
    assert ready.details["count"] == 3 and ready.details["listing_complete"]
    keys = sorted(k["key"] for k in ready.details["keys"])
    assert keys == ["day/1.csv", "day/2.csv", "day/3.csv"]


def test_prefix_min_size_ignores_small_objects(moto_client):
    moto_client.upload_bytes(b"x" * 50, "p/big")
    moto_client.upload_bytes(b"", "p/empty-marker")
    result = keys_ready(moto_client, prefix="p/", min_count=2, min_size=1)
    assert not result.met
    assert "1 smaller objects ignored" in result.reason
    assert result.details["too_small"] == 1
    assert keys_ready(moto_client, prefix="p/", min_count=1, min_size=1).met


def test_prefix_pending_upload(moto_client):
    moto_client.upload_bytes(b"x", "p/done.csv")
    upload_id = _start_upload(moto_client, "p/partial.csv")
    result = keys_ready(moto_client, prefix="p/", no_pending_upload=True)
    assert not result.met and "p/partial.csv" in result.reason
    _abort_upload(moto_client, "p/partial.csv", upload_id)
    assert keys_ready(moto_client, prefix="p/", no_pending_upload=True).met


def test_empty_prefix_means_whole_bucket(moto_client):
    assert not keys_ready(moto_client, prefix="").met
    moto_client.upload_bytes(b"x", "anything")
    assert keys_ready(moto_client, prefix="").met


def test_large_prefix_stops_listing_once_met_and_caps_details(moto_client):
    for i in range(DETAIL_LIMIT + 5):
        moto_client.upload_bytes(b"x", f"many/{i:04d}")
    result = keys_ready(moto_client, prefix="many/", min_count=2)
    assert result.met
    assert result.details["count"] == DETAIL_LIMIT
    assert len(result.details["keys"]) == DETAIL_LIMIT
    assert result.details["listing_complete"] is False


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"keys": ["a"], "prefix": "p/"}, "exactly one of keys or prefix"),
        ({}, "exactly one of keys or prefix"),
        ({"prefix": "p/", "min_count": 0}, "min_count"),
        ({"prefix": "p/", "min_size": -5}, "min_size"),
        ({"keys": []}, "at least one key"),
        ({"keys": "a.csv"}, "list of object keys"),
        ({"keys": ["ok", ""]}, "keys"),
    ],
)
def test_keys_ready_bad_arguments(moto_client, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        keys_ready(moto_client, **kwargs)


# -- restored (moto's HTTP server: archive classes and RestoreObject) ---------------------------


@pytest.fixture
def archive_client(moto_server, moto_server_bucket):
    return client_for(moto_server, moto_server_bucket)


def test_not_archived_keys_are_readable(archive_client):
    archive_client.upload_bytes(b"hot", "hot.csv")
    archive_client.upload_bytes(b"ia", "ia.csv", storage_class="STANDARD_IA")
    result = restored(archive_client, ["hot.csv", "ia.csv"])
    assert result.met
    assert result.details["readable"] == 2
    assert sorted(result.details["not_archived"]) == ["hot.csv", "ia.csv"]


def test_archived_without_restore_waits_or_fails(archive_client):
    archive_client.upload_bytes(b"cold", "cold.csv", storage_class="GLACIER")
    archive_client.upload_bytes(b"hot", "hot.csv")
    result = restored(archive_client, ["cold.csv", "hot.csv"])
    assert not result.met
    assert "1 of 2 keys readable" in result.reason
    assert "archived with no restore requested" in result.reason
    assert result.details["archived"] == ["cold.csv"]
    with pytest.raises(ArchivedObject, match="cold.csv"):
        restored(archive_client, ["cold.csv", "hot.csv"], fail_if_not_requested=True)


def test_restored_after_restore_object(archive_client):
    archive_client.upload_bytes(b"cold", "cold.csv", storage_class="DEEP_ARCHIVE")
    archive_client.s3.restore_object(
        Bucket=archive_client.bucket,
        Key="cold.csv",
        RestoreRequest={"Days": 2, "GlacierJobParameters": {"Tier": "Standard"}},
    )
    result = restored(archive_client, ["cold.csv"], fail_if_not_requested=True)
    assert result.met, result.reason
    assert result.details["restored"] == ["cold.csv"]
    assert "cold.csv" in result.details["expires"]
    assert archive_client.download_bytes("cold.csv") == b"cold"  # readable indeed
    json.dumps(result.details)


def test_missing_key_keeps_restore_waiting(archive_client):
    archive_client.upload_bytes(b"hot", "hot.csv")
    result = restored(archive_client, ["hot.csv", "gone.csv"])
    assert not result.met
    assert result.details["missing"] == ["gone.csv"]
    assert "missing" in result.reason


def test_restored_bad_keys(archive_client):
    with pytest.raises(ConfigError):
        restored(archive_client, [])
    with pytest.raises(ConfigError):
        restored(archive_client, "one-key-as-string")


def test_keys_in_a_missing_bucket_on_seaweedfs_is_an_error(seaweed):
    with pytest.raises(NotFound) as info:
        keys_ready(client_for(seaweed, "no-such-bucket-sw"), ["a", "b"])
    assert info.value.key is None
