"""S3Client single-object operations: against moto in-process, then against a real SeaweedFS."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import boto3
import pendulum
import pytest

from orbit_provider.s3 import Credentials, S3Client, S3Config
from orbit_provider.s3.config import MIB
from orbit_provider.s3.errors import (
    AccessDenied,
    ConfigError,
    Network,
    NotFound,
    Throttled,
    Timeout,
)
from orbit_provider.s3.recovery import RetryPolicy
from orbit_provider.s3.wire import checksums
from orbit_provider.testing.clients import config_for, create_bucket
from orbit_provider.testing.ports import free_port
from tests.seeding import put_over_http

MOTO_BUCKET = "test-bucket"


def record_requests(client: S3Client) -> list[str]:
    """Every HTTP attempt the client sends from now on, as 'METHOD url'."""
    sent: list[str] = []

    def hook(request, **_):
        sent.append(f"{request.method} {request.url}")

    client.s3.meta.events.register("before-send.s3", hook)
    return sent


def blob(size: int, seed: int = 0) -> bytes:
    """Deterministic non-repeating bytes."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest() * 64
        counter += 1
    return bytes(out[:size])


# -- the boto3 client underneath -----------------------------------------------------------


def test_boto_client_has_retries_off_and_a_pool_for_the_parallelism():
    for parallel in (1, 4, 64):
        client = S3Client(S3Config(bucket="my-bucket", region="us-east-1",
                                   parallel_operations=parallel))
        cfg = client.s3.meta.config
        assert cfg.retries["total_max_attempts"] == 1
        assert cfg.max_pool_connections >= parallel
        assert cfg.read_timeout == 300
        assert client.s3 is client.s3  # one shared client


def test_default_retry_policy_follows_max_retries():
    client = S3Client(S3Config(bucket="my-bucket", max_retries=5))
    assert client.retry_policy.max_attempts == 6
    policy = RetryPolicy(max_attempts=2)
    assert S3Client(S3Config(bucket="my-bucket"), retry_policy=policy).retry_policy is policy


def test_client_repr_hides_credentials():
    creds = Credentials("AKIDEXAMPLE", "super-secret-value", "token-value")
    client = S3Client(S3Config(bucket="my-bucket", credentials=creds))
    assert "super-secret-value" not in repr(client)
    assert "token-value" not in repr(client)


def test_client_needs_a_config():
    with pytest.raises(ConfigError, match="config"):
        S3Client({"bucket": "my-bucket"})


# -- moto: single-object operations -------------------------------------------------------


def raw_s3():
    return boto3.client("s3", region_name="us-east-1")


def test_check_access_heads_the_bucket_or_lists_buckets(make_moto_client):
    client = make_moto_client()
    assert client.check_access() == f"bucket {client.bucket!r} is reachable"
    assert client.check_access(list_buckets=True) == "1 bucket(s) listed"
    missing = make_moto_client(bucket="orbit-no-such-bucket", max_retries=0)
    with pytest.raises(NotFound):
        missing.check_access()
    assert missing.check_access(list_buckets=True) == "1 bucket(s) listed"


def test_upload_and_download_bytes(moto_client):
    data = b"hello orbit" * 100
    result = moto_client.upload_bytes(data, "dir/hello.txt")
    assert result.key == "dir/hello.txt"
    assert result.size == len(data)
    assert result.etag == hashlib.md5(data).hexdigest()
    assert result.version_id is None
    assert result.checksum_crc32
    assert moto_client.download_bytes("dir/hello.txt") == data
    assert raw_s3().get_object(Bucket=MOTO_BUCKET, Key="dir/hello.txt")["Body"].read() == data


def test_upload_accepts_bytearray_and_memoryview(moto_client):
    moto_client.upload_bytes(bytearray(b"abc"), "a")
    moto_client.upload_bytes(memoryview(b"xyz"), "b")
    moto_client.upload_bytes(b"", "empty")
    assert moto_client.download_bytes("a") == b"abc"
    assert moto_client.download_bytes("b") == b"xyz"
    assert moto_client.download_bytes("empty") == b""


def test_upload_with_metadata_content_type_storage_class_sse_and_tags(moto_client):
    moto_client.upload_bytes(
        b"{}",
        "doc.json",
        metadata={"owner": "team-a", "run": "42"},
        content_type="application/json",
        storage_class="standard_ia",
        sse="AES256",
        tags={"env": "test", "team": "a b=c/d+e"},
    )
    head = raw_s3().head_object(Bucket=MOTO_BUCKET, Key="doc.json")
    assert head["Metadata"] == {"owner": "team-a", "run": "42"}
    assert head["ContentType"] == "application/json"
    assert head["StorageClass"] == "STANDARD_IA"
    assert head["ServerSideEncryption"] == "AES256"
    assert moto_client.get_tags("doc.json") == {"env": "test", "team": "a b=c/d+e"}


def test_config_storage_class_and_sse_apply_to_writes(make_moto_client):
    client = make_moto_client(storage_class="ONEZONE_IA", server_side_encryption="AES256")
    client.upload_bytes(b"x", "k")
    meta = client.get_metadata("k")
    assert meta.storage_class == "ONEZONE_IA"
    assert meta.server_side_encryption == "AES256"
    # a per-call storage class wins over the configured one
    client.upload_bytes(b"x", "k2", storage_class="STANDARD")
    assert client.get_metadata("k2").storage_class == "STANDARD"


def test_exists(moto_client):
    assert moto_client.exists("nope") is False
    moto_client.upload_bytes(b"1", "yes")
    assert moto_client.exists("yes") is True


def test_get_metadata_fields(moto_client):
    before = pendulum.now("UTC").subtract(seconds=2)
    moto_client.upload_bytes(
        b"0123456789", "m.bin", metadata={"k": "v"}, content_type="application/octet-stream"
    )
    after = pendulum.now("UTC").add(seconds=2)
    meta = moto_client.get_metadata("m.bin")
    assert meta.key == "m.bin"
    assert meta.size == 10
    assert meta.etag == hashlib.md5(b"0123456789").hexdigest()
    assert meta.content_type == "application/octet-stream"
    assert meta.storage_class == "STANDARD"
    assert meta.version_id is None
    assert meta.metadata == {"k": "v"}
    assert isinstance(meta.last_modified, pendulum.DateTime)
    assert meta.last_modified.timezone_name == "UTC"
    assert before <= meta.last_modified <= after
    assert meta.to_dict()["last_modified"] == meta.last_modified.isoformat()


def test_missing_key_is_not_found_with_bucket_and_key(moto_client):
    for op in (moto_client.download_bytes, moto_client.get_metadata):
        with pytest.raises(NotFound) as info:
            op("missing/key")
        assert (info.value.bucket, info.value.key) == (MOTO_BUCKET, "missing/key")


def test_versioned_bucket_returns_version_ids(moto_client):
    raw_s3().put_bucket_versioning(
        Bucket=MOTO_BUCKET, VersioningConfiguration={"Status": "Enabled"}
    )
    v1 = moto_client.upload_bytes(b"one", "v").version_id
    v2 = moto_client.upload_bytes(b"two", "v").version_id
    assert v1 and v2 and v1 != v2
    assert moto_client.download_bytes("v", version_id=v1) == b"one"
    assert moto_client.get_metadata("v", version_id=v1).version_id == v1
    deleted = moto_client.delete("v")
    assert deleted.delete_marker is True and deleted.version_id
    assert moto_client.exists("v") is False
    assert moto_client.exists("v", version_id=v2) is True
    with pytest.raises(NotFound) as info:
        moto_client.get_metadata("v", version_id="no-such-version")
    assert info.value.version_id == "no-such-version"


def test_list_objects_pagination(moto_client):
    keys = [f"logs/{i:03d}.txt" for i in range(25)]
    for k in keys:
        moto_client.upload_bytes(k.encode(), k)
    moto_client.upload_bytes(b"x", "other/file")

    first = moto_client.list_objects("logs/", max_keys=10)
    assert [o.key for o in first.objects] == keys[:10]
    assert first.is_truncated and first.continuation_token
    second = moto_client.list_objects("logs/", first.continuation_token, max_keys=10)
    assert [o.key for o in second.objects] == keys[10:20]
    third = moto_client.list_objects("logs/", second.continuation_token, max_keys=10)
    assert [o.key for o in third.objects] == keys[20:]
    assert not third.is_truncated and third.continuation_token is None

    obj = first.objects[0]
    assert obj.size == len(keys[0])
    assert obj.etag == hashlib.md5(keys[0].encode()).hexdigest()
    assert isinstance(obj.last_modified, pendulum.DateTime)
    assert obj.storage_class == "STANDARD"

    assert [o.key for o in moto_client.iter_objects("logs/", page_size=7)] == keys
    assert len(list(moto_client.iter_objects())) == 26
    assert list(moto_client.iter_objects("nothing/")) == []


def test_list_objects_delimiter(moto_client):
    for k in ("a/1", "a/2", "b/1", "top"):
        moto_client.upload_bytes(b"x", k)
    page = moto_client.list_objects("", delimiter="/")
    assert [o.key for o in page.objects] == ["top"]
    assert page.common_prefixes == ["a/", "b/"]


@pytest.mark.parametrize("max_keys", [0, 1001, -1])
def test_list_objects_max_keys_range(moto_client, max_keys):
    with pytest.raises(ConfigError, match="^max_keys:"):
        moto_client.list_objects("", max_keys=max_keys)


def test_delete(moto_client):
    moto_client.upload_bytes(b"x", "gone")
    result = moto_client.delete("gone")
    assert result.key == "gone" and result.delete_marker is False
    assert moto_client.exists("gone") is False
    moto_client.delete("gone")  # deleting a missing key is not an error in S3


def test_copy_within_bucket_keeps_metadata_content_type_and_tags(moto_client):
    moto_client.upload_bytes(
        b"payload", "src.csv", metadata={"a": "1"}, content_type="text/csv", tags={"t": "v"}
    )
    result = moto_client.copy_object("src.csv", "copies/dst.csv")
    assert (result.src_key, result.dst_key, result.parts) == ("src.csv", "copies/dst.csv", 1)
    assert result.etag == hashlib.md5(b"payload").hexdigest()
    meta = moto_client.get_metadata("copies/dst.csv")
    assert meta.metadata == {"a": "1"}
    assert meta.content_type == "text/csv"
    assert moto_client.get_tags("copies/dst.csv") == {"t": "v"}
    assert moto_client.download_bytes("copies/dst.csv") == b"payload"


def test_copy_across_buckets(moto_client):
    raw_s3().create_bucket(Bucket="other-bucket")
    moto_client.upload_bytes(b"cross", "k", metadata={"m": "x"}, content_type="text/plain",
                             tags={"t": "1"})
    out = moto_client.copy_object("k", "k-copy", dst_bucket="other-bucket")
    assert (out.src_bucket, out.dst_bucket) == (MOTO_BUCKET, "other-bucket")
    other = S3Client(S3Config(bucket="other-bucket", region="us-east-1"))
    assert other.download_bytes("k-copy") == b"cross"
    assert other.get_metadata("k-copy").metadata == {"m": "x"}
    assert other.get_metadata("k-copy").content_type == "text/plain"
    assert other.get_tags("k-copy") == {"t": "1"}
    # and back again, naming the source bucket
    moto_client.copy_object("k-copy", "back", src_bucket="other-bucket")
    assert moto_client.download_bytes("back") == b"cross"
    assert moto_client.get_tags("back") == {"t": "1"}


def test_copy_replacing_metadata_keeps_content_type(moto_client):
    moto_client.upload_bytes(b"x", "s", metadata={"old": "1"}, content_type="image/png")
    moto_client.copy_object("s", "d", metadata={"new": "2"})
    meta = moto_client.get_metadata("d")
    assert meta.metadata == {"new": "2"}
    assert meta.content_type == "image/png"


def test_multipart_copy_keeps_metadata_and_tags(make_moto_client):
    client = make_moto_client(multipart_copy_threshold=5 * MIB)
    data = blob(12 * MIB + 123)
    client.upload_bytes(data, "big.bin", metadata={"origin": "test"},
                        content_type="application/x-big", tags={"size": "12"})
    result = client.copy_object("big.bin", "big-copy.bin")
    assert result.parts == 3
    assert result.size == len(data)
    meta = client.get_metadata("big-copy.bin")
    assert meta.size == len(data)
    assert meta.metadata == {"origin": "test"}
    assert meta.content_type == "application/x-big"
    assert client.get_tags("big-copy.bin") == {"size": "12"}
    assert client.download_bytes("big-copy.bin") == data
    assert raw_s3().list_multipart_uploads(Bucket=MOTO_BUCKET).get("Uploads", []) == []


def test_small_object_below_the_threshold_is_one_copy(make_moto_client):
    client = make_moto_client(multipart_copy_threshold=5 * MIB)
    client.upload_bytes(b"small", "s")
    assert client.copy_object("s", "d").parts == 1


def test_in_place_storage_class_change(moto_client):
    moto_client.upload_bytes(b"data", "obj", metadata={"keep": "me"}, content_type="text/x",
                             tags={"t": "1"})
    moto_client.copy_object("obj", "obj", storage_class="STANDARD_IA")
    meta = moto_client.get_metadata("obj")
    assert meta.storage_class == "STANDARD_IA"
    assert meta.metadata == {"keep": "me"}
    assert meta.content_type == "text/x"
    assert moto_client.get_tags("obj") == {"t": "1"}
    # and back to STANDARD: an explicit STANDARD is a change, not "nothing"
    moto_client.copy_object("obj", "obj", storage_class="STANDARD")
    assert moto_client.get_metadata("obj").storage_class == "STANDARD"
    assert moto_client.download_bytes("obj") == b"data"


def test_copy_onto_itself_changing_nothing_is_rejected_before_any_request(moto_client):
    moto_client.upload_bytes(b"data", "obj")
    sent = record_requests(moto_client)
    with pytest.raises(ConfigError, match="onto itself changes nothing"):
        moto_client.copy_object("obj", "obj")
    assert sent == []


def test_copy_missing_source_is_not_found(moto_client):
    with pytest.raises(NotFound) as info:
        moto_client.copy_object("no-such-source", "dst", metadata={"a": "b"})
    assert (info.value.bucket, info.value.key) == (MOTO_BUCKET, "no-such-source")


def test_bad_input_is_rejected_before_any_request(moto_client):
    sent = record_requests(moto_client)
    bad_calls = [
        lambda: moto_client.upload_bytes(b"x", ""),
        lambda: moto_client.upload_bytes(b"x", "k" * 1025),
        lambda: moto_client.upload_bytes("text, not bytes", "k"),
        lambda: moto_client.upload_bytes(b"x", "k", storage_class="FROZEN"),
        lambda: moto_client.upload_bytes(b"x", "k", sse="DES"),
        lambda: moto_client.upload_bytes(b"x", "k", tags={f"t{i}": "v" for i in range(11)}),
        lambda: moto_client.upload_bytes(b"x", "k", tags={"aws:reserved": "v"}),
        lambda: moto_client.upload_bytes(b"x", "k", metadata={"big": "v" * 2048}),
        lambda: moto_client.upload_bytes(b"x", "k", metadata={"has space": "v"}),
        lambda: moto_client.download_bytes(""),
        lambda: moto_client.get_metadata(""),
        lambda: moto_client.exists(""),
        lambda: moto_client.delete(""),
        lambda: moto_client.copy_object("", "dst"),
        lambda: moto_client.copy_object("src", ""),
        lambda: moto_client.copy_object("src", "dst", src_bucket="Bad Bucket"),
        lambda: moto_client.copy_object("src", "dst", dst_bucket="bad/bucket"),
        lambda: moto_client.list_objects(max_keys=0),
        lambda: moto_client.presigned_url(""),
    ]
    for call in bad_calls:
        with pytest.raises(ConfigError):
            call()
    assert sent == []


@pytest.mark.parametrize("method", ["POST", "PATCH", "", None])
def test_presigned_url_rejects_unknown_methods(moto_client, method):
    with pytest.raises(ConfigError, match="^method:"):
        moto_client.presigned_url("k", 60, method)


@pytest.mark.parametrize("expires", [0, -1, 604801, 1.5, "60", True])
def test_presigned_url_rejects_bad_expiry(moto_client, expires):
    with pytest.raises(ConfigError, match="^expires_in:"):
        moto_client.presigned_url("k", expires)


def test_presigned_url_methods(moto_client):
    for method, verb in (("get", "GET"), ("PUT", "PUT"), ("head", "HEAD"), ("delete", "DELETE")):
        url = moto_client.presigned_url("a/b.txt", 120, method)
        parsed = urlparse(url)
        assert "a/b.txt" in parsed.path
        assert "X-Amz-Expires=120" in parsed.query
        assert "X-Amz-Signature=" in parsed.query
        assert verb  # the method only changes the signature
    assert "testing" not in urlparse(moto_client.presigned_url("k")).query.replace(
        "X-Amz-Credential=testing", ""
    ).replace("X-Amz-Security-Token=testing", "")


# -- SeaweedFS: the real server -----------------------------------------------------------


def test_seaweed_upload_download_and_metadata(seaweed_client):
    data = blob(300_000, seed=1)
    put = seaweed_client.upload_bytes(
        data, "dir/file.bin", metadata={"owner": "me"}, content_type="application/x-test",
        tags={"env": "ci"}
    )
    assert put.etag == hashlib.md5(data).hexdigest()
    assert seaweed_client.download_bytes("dir/file.bin") == data
    meta = seaweed_client.get_metadata("dir/file.bin")
    assert meta.size == len(data)
    assert meta.etag == put.etag
    assert meta.content_type == "application/x-test"
    assert meta.metadata == {"owner": "me"}
    assert isinstance(meta.last_modified, pendulum.DateTime)
    assert meta.storage_class == "STANDARD"
    assert seaweed_client.get_tags("dir/file.bin") == {"env": "ci"}
    assert seaweed_client.exists("dir/file.bin") is True
    assert seaweed_client.exists("dir/other.bin") is False


def test_seaweed_missing_key_is_not_found(seaweed_client):
    for op in (seaweed_client.download_bytes, seaweed_client.get_metadata):
        with pytest.raises(NotFound) as info:
            op("no/such/key")
        assert info.value.bucket == seaweed_client.bucket
        assert info.value.key == "no/such/key"


def test_seaweed_pagination_over_1000_keys(make_seaweed_client):
    client = make_seaweed_client(parallel_operations=16)
    keys = put_over_http(client, [f"many/{i:05d}" for i in range(1050)])
    client.upload_bytes(b"y", "zzz-outside")

    first = client.list_objects("many/")
    assert len(first.objects) == 1000
    assert first.is_truncated and first.continuation_token
    second = client.list_objects("many/", first.continuation_token)
    assert [o.key for o in second.objects] == keys[1000:]
    assert not second.is_truncated

    assert [o.key for o in client.iter_objects("many/")] == keys
    assert [o.key for o in client.iter_objects("many/", page_size=400)] == keys
    assert sum(1 for _ in client.iter_objects()) == 1051


def test_seaweed_copy_and_multipart_copy(make_seaweed_client, seaweed):
    client = make_seaweed_client(multipart_copy_threshold=5 * MIB)
    small = b"small object"
    client.upload_bytes(small, "s", metadata={"a": "1"}, content_type="text/plain",
                        tags={"t": "s"})
    one = client.copy_object("s", "s-copy")
    assert one.parts == 1
    assert client.download_bytes("s-copy") == small
    assert client.get_metadata("s-copy").metadata == {"a": "1"}
    assert client.get_metadata("s-copy").content_type == "text/plain"
    assert client.get_tags("s-copy") == {"t": "s"}

    data = blob(12 * MIB, seed=2)
    client.upload_bytes(data, "big", metadata={"b": "2"}, content_type="application/x-big",
                        tags={"t": "big"})
    multi = client.copy_object("big", "big-copy")
    assert multi.parts == 3
    assert client.download_bytes("big-copy") == data
    meta = client.get_metadata("big-copy")
    assert meta.metadata == {"b": "2"}
    assert meta.content_type == "application/x-big"
    assert client.get_tags("big-copy") == {"t": "big"}

    other = create_bucket(seaweed)
    client.copy_object("big", "x/big", dst_bucket=other)
    other_client = make_seaweed_client(bucket=other)
    assert other_client.download_bytes("x/big") == data
    assert other_client.get_tags("x/big") == {"t": "big"}


def test_seaweed_in_place_storage_class_change(seaweed_client):
    seaweed_client.upload_bytes(b"abc", "k", metadata={"keep": "1"}, content_type="text/y")
    seaweed_client.copy_object("k", "k", storage_class="STANDARD_IA")
    meta = seaweed_client.get_metadata("k")
    assert meta.storage_class == "STANDARD_IA"
    assert meta.metadata == {"keep": "1"}
    assert meta.content_type == "text/y"
    assert seaweed_client.download_bytes("k") == b"abc"


def test_seaweed_delete(seaweed_client):
    seaweed_client.upload_bytes(b"x", "del/me")
    seaweed_client.delete("del/me")
    assert seaweed_client.exists("del/me") is False
    assert list(seaweed_client.iter_objects("del/")) == []


def test_seaweed_presigned_get_and_put_with_urllib(seaweed_client):
    seaweed_client.upload_bytes(b"shared bytes", "share/me.txt", content_type="text/plain")
    url = seaweed_client.presigned_url("share/me.txt", 300)
    assert url.startswith(seaweed_client.config.endpoint)
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"shared bytes"

    put_url = seaweed_client.presigned_url("share/up.bin", 300, "PUT")
    req = urllib.request.Request(put_url, data=b"uploaded", method="PUT")
    req.add_header("Content-Type", "")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    assert seaweed_client.download_bytes("share/up.bin") == b"uploaded"

    # a tampered signature is refused
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=10)
    assert info.value.code == 403


def test_seaweed_path_style_and_custom_endpoint(make_seaweed_client, seaweed):
    port = urlparse(seaweed.endpoint).port
    localhost = f"http://localhost:{port}"
    path_style = make_seaweed_client(endpoint=localhost, force_path_style=True)
    sent = record_requests(path_style)
    path_style.upload_bytes(b"p", "p/key")
    assert path_style.download_bytes("p/key") == b"p"
    bucket = path_style.bucket
    assert sent and all(r.split(" ", 1)[1].startswith(f"{localhost}/{bucket}/") for r in sent)
    assert path_style.presigned_url("p/key").startswith(f"{localhost}/{bucket}/p/key?")



def test_addressing_style_on_aws():
    # on AWS itself the bucket goes in the host name unless path style is forced (botocore's
    # "auto" keeps path style for custom endpoints, which every S3-compatible store accepts)
    virtual = S3Client(S3Config(bucket="my-bucket", region="us-east-1"))
    assert virtual.presigned_url("p/key").startswith("https://my-bucket.s3.amazonaws.com/p/key?")
    path = S3Client(S3Config(bucket="my-bucket", region="us-east-1", force_path_style=True))
    assert path.presigned_url("p/key").startswith("https://s3.amazonaws.com/my-bucket/p/key?")


def test_seaweed_explicit_credentials_beat_the_environment(make_seaweed_client, seaweed):
    # the environment holds other credentials ("testing"): the explicit ones must be used
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    client = make_seaweed_client(credentials=Credentials(seaweed.access_key, seaweed.secret_key))
    client.upload_bytes(b"c", "creds")
    assert client.download_bytes("creds") == b"c"


def test_seaweed_standard_chain_from_environment(seaweed, seaweed_bucket, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed.secret_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    client = S3Client(config_for(seaweed, seaweed_bucket, credentials=None))
    client.upload_bytes(b"env", "from-env")
    assert client.download_bytes("from-env") == b"env"


@pytest.mark.parametrize("which", ["secret", "access_key"])
def test_seaweed_bad_credentials_are_access_denied_not_retried(make_seaweed_client, seaweed,
                                                              which):
    if which == "secret":
        creds = Credentials(seaweed.access_key, "wrong-" + seaweed.secret_key)
    else:
        creds = Credentials("nobody-knows-me", seaweed.secret_key)
    client = make_seaweed_client(credentials=creds, max_retries=3)
    sent = record_requests(client)
    with pytest.raises(AccessDenied) as info:
        client.upload_bytes(b"x", "k")
    assert len(sent) == 1
    assert info.value.retryable is False
    assert seaweed.secret_key not in str(info.value)
    with pytest.raises(AccessDenied):
        client.download_bytes("k")


def test_closed_port_is_network_error_retried_max_retries_times(seaweed_bucket):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    config = S3Config(bucket=seaweed_bucket, endpoint=endpoint, region="us-east-1",
                      credentials=Credentials("AK", "SK"), force_path_style=True, max_retries=2)
    client = S3Client(config, retry_policy=RetryPolicy(max_attempts=3, initial_delay=0))
    sent = record_requests(client)
    with pytest.raises(Network) as info:
        client.upload_bytes(b"x", "k")
    assert len(sent) == 3  # the first try and max_retries=2 retries
    assert info.value.retryable is True
    assert (info.value.bucket, info.value.key) == (seaweed_bucket, "k")

    # the default policy built from max_retries does the same
    default = S3Client(config.with_changes(max_retries=1))
    sent = record_requests(default)
    with pytest.raises(Network):
        default.get_metadata("k")
    assert len(sent) == 2


def test_silent_server_is_timeout_retried(seaweed_bucket):
    with socket.socket() as listener:  # accepts connections (kernel backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        config = S3Config(bucket=seaweed_bucket, endpoint=f"http://127.0.0.1:{port}",
                          region="us-east-1", credentials=Credentials("AK", "SK"),
                          force_path_style=True, timeout_seconds=0.3, max_retries=1)
        client = S3Client(config, retry_policy=RetryPolicy(max_attempts=2, initial_delay=0))
        sent = record_requests(client)
        with pytest.raises(Timeout) as info:
            client.get_metadata("k")
        assert len(sent) == 2
        assert info.value.retryable is True


SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message><RequestId>r1</RequestId></Error>"
)


class ThrottlingProxy:
    """A loopback HTTP proxy that answers 503 SlowDown `throttle` times, then forwards every
    request unchanged (Host header included, so signatures hold) to `upstream`."""

    def __init__(self, upstream: str, throttle: int) -> None:
        self.upstream = urlparse(upstream)
        self.remaining = throttle
        self.methods: list[str] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # answers botocore's "Expect: 100-continue" at once

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy.lock:
                    proxy.methods.append(self.command)
                    throttle = proxy.remaining > 0
                    proxy.remaining -= throttle
                if throttle:
                    self.send_response(503, "Slow Down")
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(SLOW_DOWN)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(SLOW_DOWN)
                    return
                conn = http.client.HTTPConnection(
                    proxy.upstream.hostname, proxy.upstream.port, timeout=30
                )
                try:
                    conn.request(self.command, self.path, body=body, headers=dict(self.headers))
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                self.send_response(resp.status, resp.reason)
                for name, value in resp.getheaders():
                    if name.lower() in ("transfer-encoding", "connection", "date", "server"):
                        continue
                    if name.lower() == "content-length" and self.command != "HEAD":
                        continue
                    self.send_header(name, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_HEAD = do_POST = do_DELETE = handle_any

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ThrottlingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def test_throttling_is_retried_then_succeeds(make_seaweed_client, seaweed_client, seaweed):
    with ThrottlingProxy(seaweed.endpoint, throttle=2) as proxy:
        client = make_seaweed_client(
            endpoint=proxy.endpoint, max_retries=3
        )
        client.retry_policy = RetryPolicy(max_attempts=4, initial_delay=0)
        put = client.upload_bytes(b"through the proxy", "throttled")
        assert proxy.methods == ["PUT", "PUT", "PUT"]
        assert put.etag == hashlib.md5(b"through the proxy").hexdigest()
        proxy.remaining = 2
        assert client.download_bytes("throttled") == b"through the proxy"
        assert proxy.methods[3:] == ["GET", "GET", "GET"]
    assert seaweed_client.download_bytes("throttled") == b"through the proxy"


def test_persistent_throttling_raises_throttled(make_seaweed_client, seaweed):
    with ThrottlingProxy(seaweed.endpoint, throttle=100) as proxy:
        client = make_seaweed_client(endpoint=proxy.endpoint, max_retries=2)
        client.retry_policy = RetryPolicy(max_attempts=3, initial_delay=0)
        with pytest.raises(Throttled) as info:
            client.get_metadata("k")
        assert proxy.methods == ["HEAD"] * 3
        assert info.value.retryable is True
        assert info.value.status == 503


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA256"])
def test_upload_bytes_sends_the_configured_checksum_and_the_store_keeps_it(
    make_seaweed_client, algorithm
):
    client = make_seaweed_client(checksum_algorithm=algorithm)
    data = b"checksummed" * 1000
    result = client.upload_bytes(data, "k")
    head = client.head("k")
    assert head[f"Checksum{algorithm}"] == checksums.checksum_b64(algorithm, data)
    assert result.checksum_crc32 == (head["ChecksumCRC32"] if algorithm == "CRC32" else None)
    assert client.store_ignores_crc32 is False  # SeaweedFS echoed and verified it
