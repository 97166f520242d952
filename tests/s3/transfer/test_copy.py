"""Copies and in-place rewrites keep what the object had: its SSE type, KMS key and bucket-key
setting, its checksum algorithm, content headers and tags, unless the call asks otherwise
(moto with KMS: it drops the key on a plain rewrite, as S3 does)."""

from __future__ import annotations

import boto3
import pytest

from orbit_provider.s3 import BatchConfig, S3Client, S3Config
from orbit_provider.s3.errors import ConfigError, PreconditionFailed
from orbit_provider.s3.models import ObjectMetadata
from orbit_provider.s3.transfer.copy import copy_object, kept_from_source
from tests.conftest import MOTO_BUCKET


@pytest.fixture
def kms_key(moto_s3) -> str:
    return boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]


@pytest.fixture
def client(moto_s3) -> S3Client:
    # the config's own default encryption must not replace an object's on a rewrite
    return S3Client(S3Config(bucket=MOTO_BUCKET, region="us-east-1",
                             server_side_encryption="AES256"))  # fmt: skip


def put_kms_object(client: S3Client, key: str, kms_key: str, body: bytes = b"secret") -> None:
    client.s3.put_object(
        Bucket=MOTO_BUCKET, Key=key, Body=body, ServerSideEncryption="aws:kms",
        SSEKMSKeyId=kms_key, BucketKeyEnabled=True, ChecksumAlgorithm="SHA256",
        ContentType="text/csv", CacheControl="max-age=60", Metadata={"owner": "lake"},
        Tagging="team=data",
    )  # fmt: skip


def assert_kept(client: S3Client, key: str, kms_key: str) -> ObjectMetadata:
    head = client.get_metadata(key)
    assert head.server_side_encryption == "aws:kms"
    assert head.sse_kms_key_id == kms_key and head.bucket_key_enabled is True
    assert head.checksum_algorithm == "SHA256"
    assert (head.content_type, head.cache_control) == ("text/csv", "max-age=60")
    assert client.get_tags(key) == {"team": "data"}
    return head


def test_a_storage_class_change_keeps_the_kms_key_and_checksum(client, kms_key):
    put_kms_object(client, "k", kms_key)
    result = client.batch_change_storage_class(["k"], "STANDARD_IA", BatchConfig())
    assert result.ok
    head = assert_kept(client, "k", kms_key)
    assert head.storage_class == "STANDARD_IA" and head.metadata == {"owner": "lake"}


def test_a_metadata_update_keeps_the_kms_key(client, kms_key):
    put_kms_object(client, "k", kms_key)
    assert client.batch_update_metadata(["k"], {"stage": "gold"}, BatchConfig()).ok
    head = assert_kept(client, "k", kms_key)
    assert head.metadata == {"owner": "lake", "stage": "gold"}


def test_an_in_place_copy_keeps_the_kms_key_unless_the_call_sets_one(client, kms_key):
    put_kms_object(client, "k", kms_key)
    client.copy_object("k", "k", storage_class="STANDARD_IA")
    assert_kept(client, "k", kms_key)
    client.copy_object("k", "k", sse="AES256")  # the call asks otherwise: it wins
    assert client.get_metadata("k").server_side_encryption == "AES256"
    assert client.get_metadata("k").sse_kms_key_id is None


def test_restoring_a_version_keeps_that_versions_encryption(client, kms_key):
    client.call("put_bucket_versioning", VersioningConfiguration={"Status": "Enabled"})
    put_kms_object(client, "k", kms_key, b"v1")
    first = client.get_metadata("k").version_id
    client.upload_bytes(b"v2", "k")  # a later version under the config's AES256
    client.restore_version("k", first)
    assert client.download_bytes("k") == b"v1"
    assert_kept(client, "k", kms_key)
    client.upload_bytes(b"v3", "k")
    client.copy_object("k", "k", src_version_id=first)  # what a rollback sends, no HEAD given
    assert client.download_bytes("k") == b"v1"
    assert_kept(client, "k", kms_key)


def test_kept_from_source_prefers_the_calls_encryption_and_keeps_the_checksum():
    head = ObjectMetadata.from_head("k", {
        "ContentLength": 1, "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "key-1",
        "BucketKeyEnabled": False, "ChecksumCRC32C": "AAAAAA==",
    })  # fmt: skip
    config_default = {"ServerSideEncryption": "AES256", "StorageClass": "GLACIER"}
    assert kept_from_source(config_default, head, sse_given=False) == {
        "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "key-1", "BucketKeyEnabled": False,
        "StorageClass": "GLACIER", "ChecksumAlgorithm": "CRC32C",
    }  # fmt: skip
    assert kept_from_source(config_default, head, sse_given=True)["ServerSideEncryption"] == (
        "AES256"
    )
    plain = ObjectMetadata.from_head("k", {"ContentLength": 1})
    assert kept_from_source(config_default, plain, sse_given=False) == config_default


@pytest.mark.parametrize("threshold", [None, 5 * 1024 * 1024])
def test_a_rewrite_can_replace_content_type_and_tags(moto_s3, kms_key, threshold):
    from orbit_provider.s3.transfer.copy import copy_object

    fields = {"multipart_copy_threshold": threshold} if threshold else {}
    client = S3Client(S3Config(bucket=MOTO_BUCKET, region="us-east-1", **fields))
    body = b"x" * (6 * 1024 * 1024 if threshold else 10)  # above the threshold: multipart
    put_kms_object(client, "k", kms_key, body)
    copy_object(client, "k", "k", content_type="application/json", tags={"stage": "gold"})
    head = client.get_metadata("k")
    assert head.content_type == "application/json" and head.cache_control == "max-age=60"
    assert head.sse_kms_key_id == kms_key and head.metadata == {"owner": "lake"}
    assert client.get_tags("k") == {"stage": "gold"}
    copy_object(client, "k", "k", tags={})
    assert client.get_tags("k") == {} and client.download_bytes("k") == body
    assert client.get_metadata("k").content_type == "application/json"


@pytest.mark.parametrize("threshold", [5 * 1024**3, 5 * 1024 * 1024])
def test_if_none_match_copies_only_onto_a_free_key(make_moto_client, threshold):
    client = make_moto_client(multipart_copy_threshold=threshold, chunk_size=5 * 1024 * 1024)
    client.upload_bytes(b"s" * (6 * 1024 * 1024), "src")
    client.upload_bytes(b"old", "taken")
    copy_object(client, "src", "free", if_none_match=True)
    assert client.download_bytes("free") == b"s" * (6 * 1024 * 1024)
    with pytest.raises(PreconditionFailed):
        copy_object(client, "src", "taken", if_none_match=True)
    assert client.download_bytes("taken") == b"old"
    assert client.list_incomplete_uploads() == []
    with pytest.raises(ConfigError, match="onto its own key"):
        copy_object(client, "src", "src", if_none_match=True, storage_class="STANDARD_IA")
