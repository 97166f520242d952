"""A resumed upload ends with the settings of the call that finishes it: a first try with
settings A is cut after some parts, a retry with settings B resumes its parts and the object
ends with B's encryption (SSE-KMS key, under moto with KMS), metadata, tags and content type,
and the file's bytes. SeaweedFS covers what it keeps (metadata, tags, content type)."""

from __future__ import annotations

import random

import boto3
import pytest

from orbit_provider.s3.config import MIB
from orbit_provider.s3.errors import S3Error, UploadInterrupted
from orbit_provider.s3.transfer import upload as upload_module
from orbit_provider.s3.transfer import upload_settle

CHUNK = 5 * MIB


@pytest.fixture
def kms_keys(moto_s3) -> tuple[str, str]:
    kms = boto3.client("kms", region_name="us-east-1")
    return tuple(kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(2))


@pytest.fixture
def rewrites(monkeypatch) -> list[str]:
    """Records every rewrite the settling makes."""
    calls: list[str] = []
    real = upload_settle.copy_object

    def recording(client, src, dst, **kw):
        calls.append(src)
        return real(client, src, dst, **kw)

    monkeypatch.setattr(upload_settle, "copy_object", recording)
    return calls


def cut_first_try(client, path, key: str, data: bytes, monkeypatch, **settings) -> None:
    """Upload with `settings` until part 3, which fails as a cut connection would."""
    marker = data[2 * CHUNK : 2 * CHUNK + 64]
    real = upload_module.part_checksum

    def failing(algorithm, part):
        if bytes(part[:64]) == marker:
            raise S3Error("connection cut", key=key, code="Cut")
        return real(algorithm, part)

    with monkeypatch.context() as m:
        m.setattr(upload_module, "part_checksum", failing)
        with pytest.raises(UploadInterrupted):
            client.upload_file(path, key, **settings)


def a_file(tmp_path, seed: int) -> tuple:
    data = random.Random(seed).randbytes(3 * CHUNK + 11)
    path = tmp_path / "f"
    path.write_bytes(data)
    return path, data


@pytest.fixture
def moto_kms_client(make_moto_client, kms_keys):
    return make_moto_client(parallel_operations=1)


def test_a_retry_with_another_kms_key_ends_with_that_key(
    moto_kms_client, kms_keys, tmp_path, monkeypatch, rewrites
):
    client, (first, second) = moto_kms_client, kms_keys
    path, data = a_file(tmp_path, 1)
    cut_first_try(client, path, "k", data, monkeypatch, sse=f"aws:kms:{first}")
    result = client.upload_file(path, "k", sse=f"aws:kms:{second}")
    assert result.parts_resumed == 2 and rewrites == ["k"]
    meta = client.get_metadata("k")
    assert meta.server_side_encryption == "aws:kms"
    assert meta.sse_kms_key_id.endswith(second)
    assert client.download_bytes("k") == data
    assert client.list_incomplete_uploads() == []
    assert result.etag == meta.etag


def test_a_retry_asking_aes256_after_kms_ends_with_aes256(
    moto_kms_client, kms_keys, tmp_path, monkeypatch, rewrites
):
    client = moto_kms_client
    path, data = a_file(tmp_path, 2)
    cut_first_try(client, path, "k", data, monkeypatch, sse=f"aws:kms:{kms_keys[0]}")
    client.upload_file(path, "k", sse="AES256")
    meta = client.get_metadata("k")
    assert meta.server_side_encryption == "AES256" and meta.sse_kms_key_id is None
    assert client.download_bytes("k") == data


@pytest.mark.parametrize(
    ("first", "second", "check"),
    [
        ({"metadata": {"owner": "a"}}, {"metadata": {"owner": "b", "stage": "gold"}},
         lambda c: c.get_metadata("k").metadata),
        ({"metadata": {"owner": "a"}}, {}, lambda c: c.get_metadata("k").metadata),
        ({"tags": {"team": "a"}}, {"tags": {"team": "b"}}, lambda c: c.get_tags("k")),
        ({"tags": {"team": "a"}}, {}, lambda c: c.get_tags("k")),
        ({"content_type": "text/csv"}, {"content_type": "application/json"},
         lambda c: c.get_metadata("k").content_type),
        ({"storage_class": "STANDARD_IA"}, {"storage_class": "STANDARD"},
         lambda c: c.get_metadata("k").storage_class),
    ],
    ids=["metadata", "metadata-dropped", "tags", "tags-dropped", "content-type",
         "storage-class"],
)  # fmt: skip
@pytest.mark.parametrize("store", ["moto", "seaweedfs"])
def test_a_retry_ends_with_its_own_settings(
    request, tmp_path, monkeypatch, rewrites, store, first, second, check
):
    if store == "moto":
        client = request.getfixturevalue("make_moto_client")(parallel_operations=1)
    else:
        client = request.getfixturevalue("make_seaweed_client")(parallel_operations=1)
    path, data = a_file(tmp_path, 3)
    cut_first_try(client, path, "k", data, monkeypatch, **first)
    result = client.upload_file(path, "k", **second)
    assert result.parts_resumed == 2 and rewrites == ["k"]
    expected = {
        "metadata": lambda: second.get("metadata", {}),
        "tags": lambda: second.get("tags", {}),
        "content_type": lambda: second["content_type"],
        "storage_class": lambda: second["storage_class"],
    }[next(iter(first))]()
    got = check(client)
    if isinstance(got, dict) and "orbit-fingerprint" in got:
        assert got.pop("orbit-fingerprint").startswith(f"v1:{len(data)}:{CHUNK}:")
    assert got == expected
    assert client.download_bytes("k") == data
    assert client.list_incomplete_uploads() == []


def test_a_retry_with_the_same_settings_is_not_rewritten(
    make_seaweed_client, tmp_path, monkeypatch, rewrites
):
    client = make_seaweed_client(parallel_operations=1)
    path, data = a_file(tmp_path, 4)
    settings = {"metadata": {"owner": "a"}, "tags": {"team": "a"}, "content_type": "text/csv"}
    cut_first_try(client, path, "k", data, monkeypatch, **settings)
    result = client.upload_file(path, "k", **settings)
    assert result.parts_resumed == 2 and rewrites == []
    assert client.get_tags("k") == {"team": "a"}
    assert client.download_bytes("k") == data


def test_on_a_versioned_bucket_only_the_rewritten_version_remains(
    make_moto_client, tmp_path, monkeypatch, rewrites
):
    client = make_moto_client(parallel_operations=1)
    client.s3.put_bucket_versioning(
        Bucket=client.bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    path, data = a_file(tmp_path, 5)
    cut_first_try(client, path, "k", data, monkeypatch, metadata={"owner": "a"})
    result = client.upload_file(path, "k", metadata={"owner": "b"})
    versions = client.s3.list_object_versions(Bucket=client.bucket, Prefix="k")["Versions"]
    assert [v["VersionId"] for v in versions] == [result.version_id]
    assert client.get_metadata("k").metadata["owner"] == "b"
    assert client.download_bytes("k") == data
