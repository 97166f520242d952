"""batch_copy: destination mapping checked before copying, skip_identical, any size."""

from __future__ import annotations

import boto3
import pytest

from orbit_provider.s3 import BatchConfig, S3Client, S3Config
from orbit_provider.s3.batch.copy import batch_copy
from orbit_provider.s3.config import MIB
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.wire.copy_http import HttpCopier
from orbit_provider.testing.clients import client_for, create_bucket
from tests.conftest import MOTO_BUCKET
from tests.s3.batch.faults import Faults
from tests.seeding import put_in_moto

FAST = {"retry_delay": 0.0}


@pytest.fixture
def sources(moto_client):
    keys = ["in/a/one.txt", "in/a/two.txt", "in/b/three.txt"]
    for key in keys:
        moto_client.upload_bytes(key.encode(), key, metadata={"src": "yes"}, tags={"t": "1"})
    return keys


def test_last_segment_by_default_and_strip_prefix(moto_client, sources):
    result = moto_client.batch_copy(sources, "flat/")
    assert result.ok and result.successful == 3
    assert moto_client.download_bytes("flat/three.txt") == b"in/b/three.txt"
    assert moto_client.get_metadata("flat/one.txt").metadata == {"src": "yes"}
    assert moto_client.get_tags("flat/one.txt") == {"t": "1"}

    result = moto_client.batch_copy(sources, "tree/", strip_prefix="in/")
    assert result.ok
    assert {o.key for o in moto_client.iter_objects("tree/")} == {
        "tree/a/one.txt",
        "tree/a/two.txt",
        "tree/b/three.txt",
    }


def test_bad_mappings_in_a_list_fail_before_any_request(moto_client, sources):
    moto_client.upload_bytes(b"x", "in/b/one.txt")
    faults = Faults(moto_client.s3)
    with pytest.raises(ConfigError, match="both map to"):
        moto_client.batch_copy(sources + ["in/b/one.txt"], "flat/")
    with pytest.raises(ConfigError, match="strip_prefix"):
        moto_client.batch_copy(sources + ["elsewhere/x"], "tree/", strip_prefix="in/")
    with pytest.raises(ConfigError, match="onto itself"):
        moto_client.batch_copy(["in/a/one.txt"], "in/a/", strip_prefix="in/a/")
    with pytest.raises(ConfigError, match="^bucket:"):
        moto_client.batch_copy(sources, "x/", dest_bucket="Bad Bucket")
    assert faults.calls == []


def test_bad_mapping_in_a_generator_fails_that_key_alone(moto_client, sources):
    moto_client.upload_bytes(b"x", "in/b/one.txt")
    result = moto_client.batch_copy(iter(sources + ["in/b/one.txt"]), "flat/")
    assert result.successful == 3 and result.failed == 1
    assert result.results["in/b/one.txt"].code == "ConfigError"
    assert "both map to" in result.results["in/b/one.txt"].detail
    assert moto_client.download_bytes("flat/one.txt") == b"in/a/one.txt"


def test_a_rerun_skips_identical_destinations_cheaply(moto_client, sources):
    assert moto_client.batch_copy(sources, "flat/").ok
    moto_client.upload_bytes(b"changed", "in/a/two.txt")
    faults = Faults(moto_client.s3)
    result = moto_client.batch_copy(sources, "flat/")
    assert result.ok and result.already_done == 2
    assert result.results["in/a/two.txt"].detail is None
    assert faults.count("CopyObject") == 1
    assert moto_client.download_bytes("flat/two.txt") == b"changed"

    # the destination prefix is listed once; the changed key's source was HEADed (its
    # destination exists), the others too (their ETags must be compared), no destination HEAD
    assert faults.count("ListObjectsV2") == 1
    assert faults.keys("HeadObject") <= set(sources)

    # from a listing the source ETag is known: one LIST of the destination, no HEAD at all
    listed = list(moto_client.iter_objects("in/"))
    faults.calls.clear()
    result = moto_client.batch_copy(listed, "flat/")
    assert result.already_done == 3
    assert faults.count("ListObjectsV2") == 1
    assert faults.count("HeadObject") == 0 and faults.count("CopyObject") == 0

    result = moto_client.batch_copy(sources, "flat/", skip_identical=False)
    assert result.already_done == 0 and faults.count("CopyObject") == 3


def test_missing_source_fails_per_key(moto_client, sources):
    result = moto_client.batch_copy(sources + ["in/nope"], "flat/", BatchConfig(**FAST))
    assert result.successful == 3
    assert result.results["in/nope"].status == "failed"


def test_cross_bucket_copy_on_seaweedfs(seaweed, make_seaweed_client):
    client = make_seaweed_client()
    other = create_bucket(seaweed)
    keys = [f"src/{i}" for i in range(30)]
    for key in keys:
        client.upload_bytes(key.encode(), key, content_type="text/x-test")
    result = client.batch_copy(
        keys, "dst/", BatchConfig(max_concurrent=8), dest_bucket=other, strip_prefix="src/"
    )
    assert result.ok and result.successful == 30
    target = make_seaweed_client(bucket=other)
    assert target.download_bytes("dst/7") == b"src/7"
    assert target.get_metadata("dst/7").content_type == "text/x-test"
    # copying a key onto its own name in another bucket is fine
    assert client.batch_copy(["src/1"], "src/", dest_bucket=other, strip_prefix="src/").ok


def test_multipart_copy_above_the_threshold_on_seaweedfs(make_seaweed_client):
    client = make_seaweed_client(multipart_copy_threshold=5 * MIB, chunk_size=5 * MIB)
    data = bytes(range(256)) * (12 * MIB // 256)
    client.upload_bytes(data, "big/blob", metadata={"k": "v"})
    client.upload_bytes(b"small", "big/small")
    faults = Faults(client.s3)
    result = client.batch_copy(["big/blob", "big/small"], "copy/")
    assert result.ok
    assert faults.count("UploadPartCopy") == 3
    assert client.download_bytes("copy/blob") == data
    assert client.get_metadata("copy/blob").metadata == {"k": "v"}


def test_empty_destination_costs_one_list_and_no_destination_head(moto_client, sources):
    faults = Faults(moto_client.s3)
    result = moto_client.batch_copy(sources, "fresh/")
    assert result.ok and result.successful == 3 and result.already_done == 0
    assert faults.count("ListObjectsV2") == 1
    # each source is HEADed once, for the encryption and checksum its copy keeps
    assert sorted(k for op, k in faults.calls if op == "HeadObject") == sorted(sources)
    assert faults.count("CopyObject") == 3


def test_destination_listed_over_several_pages(moto_client, monkeypatch):
    keys = put_in_moto(moto_client.bucket, [f"src/k{i:04d}" for i in range(1030)], str.encode)
    assert moto_client.batch_copy(keys[:1010], "dst/", strip_prefix="src/").ok
    moto_client.upload_bytes(b"new", "src/k0007")
    faults = Faults(moto_client.s3)
    result = moto_client.batch_copy(iter(keys), "dst/", strip_prefix="src/")
    assert result.ok and result.already_done == 1009
    assert faults.count("ListObjectsV2") == 2  # 1,010 destinations: two pages
    assert faults.count("CopyObject") == 1 + 20
    assert moto_client.download_bytes("dst/k0007") == b"new"


def test_beyond_the_list_limit_each_destination_is_headed(moto_client, sources, monkeypatch):
    import orbit_provider.s3.batch.copy as batch_copy

    moto_client.batch_copy(sources, "flat/")
    for i in range(3):
        moto_client.upload_bytes(b"other", f"flat/zz{i}")
    monkeypatch.setattr(batch_copy, "LIST_LIMIT", 2)
    monkeypatch.setattr(batch_copy, "PAGE_SIZE", 2)
    faults = Faults(moto_client.s3)
    result = moto_client.batch_copy(iter(sources), "flat/")
    assert result.ok and result.already_done == 3
    assert faults.count("ListObjectsV2") == 1  # stopped at the limit
    assert faults.keys("HeadObject") >= {"flat/one.txt", "flat/two.txt", "flat/three.txt"}
    assert faults.count("CopyObject") == 0


def test_a_refused_listing_falls_back_to_head(moto_client, sources):
    moto_client.batch_copy(sources, "flat/")
    faults = Faults(moto_client.s3)
    faults.fail("ListObjectsV2", lambda key: True, "AccessDenied", 403)
    result = moto_client.batch_copy(sources, "flat/", BatchConfig(**FAST))
    assert result.ok and result.already_done == 3
    assert faults.count("CopyObject") == 0
    assert faults.keys("HeadObject") >= {"flat/one.txt", "flat/two.txt", "flat/three.txt"}


# -- copies keep their source's encryption and checksum algorithm -----------------------------


def kms_object(client, key: str, endpoint: str | None = None) -> str:
    """An object under SSE-KMS with its own key, a bucket key and a SHA256 checksum; returns
    the KMS key id."""
    kms = boto3.client("kms", region_name="us-east-1", endpoint_url=endpoint,
                       aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    client.s3.put_object(Bucket=client.bucket, Key=key, Body=b"secret",
                         ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id,
                         BucketKeyEnabled=True, ChecksumAlgorithm="SHA256")  # fmt: skip
    return key_id


@pytest.fixture(params=["boto", "lean"])
def kms_client(request, monkeypatch):
    """A client whose config encrypts with AES256 by default, on moto in-process (copies go
    through botocore) or on moto's server (the lean plain-HTTP copy); `lean_copies` counts
    copies sent by the lean path."""
    lean: list = []
    real = HttpCopier.copy
    monkeypatch.setattr(HttpCopier, "copy", lambda self, *a, **k: lean.append(a) or real(
        self, *a, **k))  # fmt: skip
    if request.param == "boto":
        request.getfixturevalue("moto_s3")
        client = S3Client(S3Config(bucket=MOTO_BUCKET, region="us-east-1",
                                   server_side_encryption="AES256"))  # fmt: skip
        endpoint = None
    else:
        server = request.getfixturevalue("moto_server")
        client = client_for(server, create_bucket(server), server_side_encryption="AES256")
        endpoint = server.endpoint
    client.lean_copies = lean
    client.kms_endpoint = endpoint
    return client


def test_a_batch_copy_keeps_the_source_kms_key_and_checksum(kms_client):
    key_id = kms_object(kms_client, "in/secret", kms_client.kms_endpoint)
    kms_client.upload_bytes(b"plain", "in/plain")
    assert kms_client.batch_copy(["in/secret", "in/plain"], "out/").ok
    copied = kms_client.get_metadata("out/secret")
    assert copied.server_side_encryption == "aws:kms"
    assert copied.sse_kms_key_id.endswith(key_id) and copied.bucket_key_enabled is True
    assert copied.checksum_algorithm == "SHA256"
    # a source without SSE-KMS gets the config's default, as copy_object gives it
    assert kms_client.get_metadata("out/plain").server_side_encryption == "AES256"
    assert len(kms_client.lean_copies) == (2 if kms_client.kms_endpoint else 0)


def test_a_batch_copy_with_its_own_sse_replaces_the_source_encryption(kms_client):
    kms_object(kms_client, "in/secret", kms_client.kms_endpoint)
    # the core function (S3Client.batch_copy does not pass `sse` on yet)
    assert batch_copy(kms_client, ["in/secret"], "out/", sse="AES256").ok
    copied = kms_client.get_metadata("out/secret")
    assert copied.server_side_encryption == "AES256" and copied.sse_kms_key_id is None
    assert copied.checksum_algorithm == "SHA256"


# -- storage class, encryption and metadata set by the copy itself ---------------------------


@pytest.fixture(params=["boto", "lean-moto", "lean-seaweedfs"])
def any_client(request, monkeypatch):
    """A client on moto in-process (botocore copies), moto's server or SeaweedFS (the lean
    copy); `copies` records every CopyObject sent, by either path."""
    copies: list = []
    real = HttpCopier.copy
    monkeypatch.setattr(HttpCopier, "copy", lambda self, *a, **k: copies.append(a[3]) or real(
        self, *a, **k))  # fmt: skip
    if request.param == "boto":
        client = request.getfixturevalue("moto_client")
    elif request.param == "lean-moto":
        client = request.getfixturevalue("moto_server_client")
    else:
        client = request.getfixturevalue("seaweed_client")
    faults = Faults(client.s3)
    client.copies = lambda: copies + [k for k in faults.keys("CopyObject")]
    client.faults = faults
    client.lean = request.param != "boto"
    client.store = request.param
    return client


def test_class_encryption_and_metadata_in_the_one_copy(any_client):
    keys = ["in/a.csv", "in/b.csv"]
    for key in keys:
        any_client.upload_bytes(key.encode(), key, metadata={"old": "1"}, content_type="text/csv")
    result = batch_copy(any_client, keys, "archive/", storage_class="GLACIER_IR", sse="AES256",
                        metadata={"archived": "2026-01-01"})  # fmt: skip
    assert result.ok and result.successful == 2
    assert sorted(any_client.copies()) == ["archive/a.csv", "archive/b.csv"]  # one request each
    for key in ("archive/a.csv", "archive/b.csv"):
        copied = any_client.get_metadata(key)
        assert copied.storage_class == "GLACIER_IR"
        assert copied.metadata == {"archived": "2026-01-01"}
        assert copied.content_type == "text/csv"  # content headers kept under REPLACE
    if any_client.lean:
        assert not any_client.faults.keys("CopyObject")  # none fell back to botocore
    assert any_client.get_metadata("archive/a.csv").server_side_encryption == "AES256"


def test_metadata_directive_replace_without_metadata_clears_it(any_client):
    any_client.upload_bytes(b"x", "in/x", metadata={"old": "1"})
    assert batch_copy(any_client, ["in/x"], "out/", metadata_directive="replace").ok
    assert any_client.get_metadata("out/x").metadata == {}
    # COPY (the default without metadata) keeps the source's
    assert batch_copy(any_client, ["in/x"], "kept/", metadata_directive="COPY").ok
    assert any_client.get_metadata("kept/x").metadata == {"old": "1"}


def test_a_rerun_skips_only_destinations_with_the_class_and_metadata_asked(any_client):
    any_client.upload_bytes(b"x", "in/x")
    assert batch_copy(any_client, ["in/x"], "out/").ok  # STANDARD, no metadata
    result = batch_copy(any_client, ["in/x"], "out/", storage_class="STANDARD_IA")
    assert result.ok and result.already_done == 0
    assert any_client.get_metadata("out/x").storage_class == "STANDARD_IA"
    again = batch_copy(any_client, ["in/x"], "out/", storage_class="STANDARD_IA")
    assert again.already_done == 1

    changed = batch_copy(any_client, ["in/x"], "out/", storage_class="STANDARD_IA",
                         metadata={"m": "1"})  # fmt: skip
    assert changed.already_done == 0
    assert any_client.get_metadata("out/x").metadata == {"m": "1"}
    same = batch_copy(any_client, ["in/x"], "out/", storage_class="STANDARD_IA",
                      metadata={"m": "1"})  # fmt: skip
    assert same.already_done == 1


def test_bad_metadata_settings_fail_before_any_request(moto_client, sources):
    faults = Faults(moto_client.s3)
    with pytest.raises(ConfigError, match="metadata_directive"):
        batch_copy(moto_client, sources, "out/", metadata_directive="MERGE")
    with pytest.raises(ConfigError, match="COPY"):
        batch_copy(moto_client, sources, "out/", metadata={"a": "b"}, metadata_directive="COPY")
    with pytest.raises(ConfigError, match="metadata"):
        batch_copy(moto_client, sources, "out/", metadata={"a": 1})
    with pytest.raises(ConfigError, match="storage"):
        batch_copy(moto_client, sources, "out/", storage_class="COLD")
    assert faults.calls == []


def test_multipart_copy_sets_class_and_metadata_on_seaweedfs(make_seaweed_client):
    client = make_seaweed_client(multipart_copy_threshold=5 * MIB, chunk_size=5 * MIB)
    data = bytes(range(256)) * (6 * MIB // 256)
    client.upload_bytes(data, "big/blob", metadata={"k": "v"})
    result = batch_copy(client, ["big/blob"], "copy/", storage_class="STANDARD_IA",
                        metadata={"k": "new"})  # fmt: skip
    assert result.ok
    copied = client.get_metadata("copy/blob")
    assert copied.storage_class == "STANDARD_IA" and copied.metadata == {"k": "new"}
