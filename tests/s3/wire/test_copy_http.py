"""copy_http.HttpCopier: the lean CopyObject of batch copies, against SeaweedFS and a fake."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orbit_provider.s3.batch.engine import batch_client
from orbit_provider.s3.batch.models import BatchConfig
from orbit_provider.s3.client import S3Client
from orbit_provider.s3.config import Credentials
from orbit_provider.s3.errors import AccessDenied, NotFound, S3Error
from orbit_provider.s3.recovery import RetryPolicy
from orbit_provider.s3.wire import copy_http
from orbit_provider.s3.wire.copy_http import HttpCopier, make_copier
from orbit_provider.testing.clients import config_for


def copier_for(client: S3Client, write: dict | None = None) -> HttpCopier:
    copier = make_copier(client, write or {}, None)
    assert copier is not None
    return copier


def test_copy_keeps_content_metadata_and_tags(seaweed_client):
    seaweed_client.upload_bytes(
        b"hello", "src/a b+c.txt", metadata={"m": "1"}, tags={"t": "x"}, content_type="text/x"
    )
    copier = copier_for(seaweed_client)
    result = copier.copy(seaweed_client.bucket, "src/a b+c.txt", seaweed_client.bucket, "d/é 1")
    copier.close()
    assert result["ETag"] == seaweed_client.get_metadata("src/a b+c.txt").etag
    assert seaweed_client.download_bytes("d/é 1") == b"hello"
    head = seaweed_client.get_metadata("d/é 1")
    assert head.metadata == {"m": "1"}
    assert head.content_type == "text/x"
    assert seaweed_client.get_tags("d/é 1") == {"t": "x"}


def test_copy_with_storage_class_header(seaweed_client):
    seaweed_client.upload_bytes(b"x", "s")
    copier = copier_for(seaweed_client, {"StorageClass": "STANDARD_IA"})
    copier.copy(seaweed_client.bucket, "s", seaweed_client.bucket, "d")
    assert seaweed_client.get_metadata("d").storage_class == "STANDARD_IA"


def test_missing_source_is_not_found(seaweed_client):
    with pytest.raises(NotFound):
        copier_for(seaweed_client).copy(seaweed_client.bucket, "nope", seaweed_client.bucket, "d")


def test_wrong_credentials_are_access_denied(seaweed, seaweed_client):
    seaweed_client.upload_bytes(b"x", "s")
    bad = S3Client(
        config_for(
            seaweed, seaweed_client.bucket, credentials=Credentials(seaweed.access_key, "wrong")
        ),
        retry_policy=RetryPolicy(max_attempts=1),
    )
    with pytest.raises(AccessDenied):
        copier_for(bad).copy(bad.bucket, "s", bad.bucket, "d")


def test_batch_copy_goes_through_the_copier(seaweed_client, monkeypatch):
    calls = []
    real = HttpCopier.copy

    def spy(self, *args, **kwargs):
        calls.append(args)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(HttpCopier, "copy", spy)
    keys = [f"in/{i}" for i in range(20)]
    for key in keys:
        seaweed_client.upload_bytes(key.encode(), key, metadata={"k": "v"})
    result = seaweed_client.batch_copy(keys, "out/", BatchConfig(rate_limit=1000))
    assert result.ok and result.successful == 20
    assert len(calls) == 20
    assert seaweed_client.download_bytes("out/7") == b"in/7"
    assert seaweed_client.get_metadata("out/7").metadata == {"k": "v"}


def test_falls_back_to_botocore_for_unsupported_write_args(seaweed_client):
    assert make_copier(seaweed_client, {"Tagging": "a=b"}, None) is None
    assert make_copier(seaweed_client, {"Metadata": {"a": "é"}}, None) is None  # not ASCII
    assert make_copier(batch_client(seaweed_client, BatchConfig()), {}, None) is not None


def test_moto_in_process_uses_botocore(moto_client):
    assert make_copier(moto_client, {}, None) is None  # the mock intercepts botocore only


class _Fake(BaseHTTPRequestHandler):
    """Answers CopyObject with the queued (status, body) replies, recording the headers."""

    replies: list[tuple[int, bytes]] = []
    seen: list[dict[str, str]] = []

    def do_PUT(self) -> None:  # noqa: N802 (http.server's name)
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        status, body = type(self).replies.pop(0)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amz-version-id", "v42")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Fake.replies, _Fake.seen = [], []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Server:
    access_key = "K"
    secret_key = "S"

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint


def fake_client(endpoint: str, attempts: int) -> S3Client:
    return S3Client(
        config_for(_Server(endpoint), "bkt"),
        retry_policy=RetryPolicy(max_attempts=attempts, initial_delay=0.0, jitter_factor=0.0),
    )


OK = b'<CopyObjectResult><ETag>&quot;abc&quot;</ETag></CopyObjectResult>'
ERROR_ON_200 = b"  \n<Error><Code>InternalError</Code><Message>We hit a snag</Message></Error>"


def test_error_body_on_200_is_an_error_and_retried(fake):
    _Fake.replies = [(200, ERROR_ON_200), (200, OK)]
    copier = copier_for(fake_client(fake, attempts=2), {"StorageClass": "GLACIER"})
    result = copier.copy("src-bkt", "a b/c+d", "bkt", "k", src_version_id="v/1")
    assert result == {"ETag": "abc", "VersionId": "v42"}
    assert len(_Fake.seen) == 2
    headers = _Fake.seen[-1]
    assert headers["x-amz-copy-source"] == "src-bkt/a%20b/c%2Bd?versionId=v%2F1"
    assert headers["x-amz-storage-class"] == "GLACIER"
    assert "x-amz-copy-source" in headers["authorization"]  # signed


def test_error_body_on_200_fails_after_the_last_attempt(fake):
    _Fake.replies = [(200, ERROR_ON_200)]
    with pytest.raises(S3Error) as info:
        copier_for(fake_client(fake, attempts=1)).copy("bkt", "a", "bkt", "k")
    assert info.value.code == "InternalError"


def test_server_errors_are_shaped_like_botocore(fake):
    _Fake.replies = [(404, b"<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>")]
    with pytest.raises(NotFound):
        copier_for(fake_client(fake, attempts=1)).copy("bkt", "a", "bkt", "k")


def test_module_is_documented():
    assert copy_http.__doc__ and HttpCopier.copy.__doc__


def test_head_reads_what_a_copy_must_keep(seaweed_client):
    seaweed_client.s3.put_object(Bucket=seaweed_client.bucket, Key="s p", Body=b"hello",
                                 ChecksumAlgorithm="CRC32C")  # fmt: skip
    copier = copier_for(seaweed_client)
    answer = copier.head(seaweed_client.bucket, "s p")
    head = seaweed_client.get_metadata("s p")
    assert answer["ContentLength"] == 5 and answer["ETag"].strip('"') == head.etag
    assert answer["ChecksumCRC32C"] == seaweed_client.s3.head_object(
        Bucket=seaweed_client.bucket, Key="s p", ChecksumMode="ENABLED")["ChecksumCRC32C"]
    with pytest.raises(NotFound):
        copier.head(seaweed_client.bucket, "nope")
    copier.close()


def test_a_copy_sends_its_own_write_arguments(seaweed_client):
    seaweed_client.upload_bytes(b"x", "s")
    copier = copier_for(seaweed_client)
    copier.copy(seaweed_client.bucket, "s", seaweed_client.bucket, "d",
                write={"StorageClass": "STANDARD_IA", "ChecksumAlgorithm": "CRC32"})  # fmt: skip
    assert seaweed_client.get_metadata("d").storage_class == "STANDARD_IA"
    with pytest.raises(ValueError, match="cannot send"):
        copier.copy(seaweed_client.bucket, "s", seaweed_client.bucket, "e",
                    write={"Tagging": "a=b"})  # fmt: skip
    copier.close()


def test_a_copy_replaces_metadata_and_head_reads_it(seaweed_client):
    seaweed_client.upload_bytes(b"x", "s", metadata={"old": "1"}, content_type="text/csv")
    copier = copier_for(seaweed_client)
    head = copier.head(seaweed_client.bucket, "s")
    assert head["Metadata"] == {"old": "1"} and head["ContentType"] == "text/csv"
    copier.copy(seaweed_client.bucket, "s", seaweed_client.bucket, "d",
                write={"MetadataDirective": "REPLACE", "Metadata": {"New": "2"},
                       "ContentType": "text/csv"})  # fmt: skip
    copied = seaweed_client.get_metadata("d")
    assert copied.metadata == {"new": "2"} and copied.content_type == "text/csv"
    copier.close()
