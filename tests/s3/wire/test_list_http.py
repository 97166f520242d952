"""Listings over plain HTTP (wire/list_http.py): the same pages botocore's path gives, on
SeaweedFS and moto's server, with URL-encoded keys, pagination, delimiters and errors."""

from __future__ import annotations

import boto3
import pytest

from orbit_provider.s3.errors import S3Error
from orbit_provider.s3.models import ObjectSummary
from orbit_provider.s3.wire.list_http import LeanLister, parse_page
from orbit_provider.testing.clients import client_for

ODD_KEYS = [
    "odd/a b.txt", "odd/plus+sign", "odd/percent%41", "odd/amp&lt<>", "odd/ünïcødé/é",
    "odd/tab\there", "odd/q?x=1#frag", "odd/deep/er/k", "odd/~tilde", "odd/'quote\"",
]  # fmt: skip


def botocore_listing(client, prefix: str, **params) -> list[ObjectSummary]:
    """The same listing through botocore's own ListObjectsV2 (encoding and decoding)."""
    raw = client.s3.list_objects_v2(Bucket=client.bucket, Prefix=prefix, **params)
    return [ObjectSummary.from_listing(o) for o in raw.get("Contents", [])]


@pytest.fixture
def odd(seaweed_client):
    for i, key in enumerate(ODD_KEYS):
        seaweed_client.upload_bytes(b"x" * i, key)
    return seaweed_client


def test_the_session_lists_over_plain_http_with_every_field_botocore_gives(odd):
    assert isinstance(odd._lean_lister(), LeanLister)  # SeaweedFS on loopback: the lean path
    lean = list(odd.iter_objects("odd/"))
    assert [o.key for o in lean] == sorted(ODD_KEYS)  # odd keys come back decoded, in order
    assert lean == botocore_listing(odd, "odd/")  # size, ETag, LastModified, class too


def test_pages_start_after_and_delimiters_are_those_of_botocore(odd):
    first = odd.list_objects("odd/", max_keys=3)
    assert first.is_truncated and first.continuation_token and len(first.objects) == 3
    second = odd.list_objects("odd/", first.continuation_token, max_keys=3)
    assert [o.key for o in first.objects + second.objects] == sorted(ODD_KEYS)[:6]
    after = odd.list_objects("odd/", start_after="odd/q?x=1#frag")
    assert [o.key for o in after.objects] == [k for k in sorted(ODD_KEYS) if k > "odd/q?x=1#frag"]
    folders = odd.list_objects("odd/", delimiter="/")
    assert folders.common_prefixes == ["odd/deep/", "odd/ünïcødé/"]
    raw = odd.s3.list_objects_v2(Bucket=odd.bucket, Prefix="odd/", Delimiter="/")
    assert [o.key for o in folders.objects] == [o["Key"] for o in raw["Contents"]]


def test_moto_server_gives_the_same_listing(moto_server_client):
    for key in ODD_KEYS[:5]:
        moto_server_client.upload_bytes(b"y", key)
    assert moto_server_client._lean_lister() is not None
    lean = list(moto_server_client.iter_objects("odd/"))
    assert lean == botocore_listing(moto_server_client, "odd/")


def test_a_missing_bucket_is_the_same_error_as_through_botocore(seaweed):
    ghost = client_for(seaweed, "no-such-bucket-for-listing")
    with pytest.raises(S3Error) as lean:
        ghost.list_objects("")
    assert lean.value.code == "NoSuchBucket" and not lean.value.retryable
    setup = boto3.client(
        "s3", endpoint_url=seaweed.endpoint, aws_access_key_id=seaweed.access_key,
        aws_secret_access_key=seaweed.secret_key, region_name="us-east-1",
    )  # fmt: skip
    with pytest.raises(setup.exceptions.NoSuchBucket):
        setup.list_objects_v2(Bucket="no-such-bucket-for-listing")


def test_keys_are_decoded_only_when_the_answer_says_they_were_encoded():
    ns = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
    item = (
        "<Contents><Key>a%20b+c%2Bd</Key><Size>3</Size><ETag>&quot;abc&quot;</ETag>"
        "<LastModified>2026-11-30T10:00:00.123Z</LastModified></Contents>"
    )
    encoded = parse_page(
        f"<ListBucketResult {ns}><EncodingType>url</EncodingType>{item}"
        "<IsTruncated>true</IsTruncated><NextContinuationToken>t1</NextContinuationToken>"
        "<CommonPrefixes><Prefix>p%2Fq/</Prefix></CommonPrefixes></ListBucketResult>".encode()
    )
    assert [o.key for o in encoded.objects] == ["a b c+d"]
    assert encoded.common_prefixes == ["p/q/"]
    assert encoded.is_truncated and encoded.continuation_token == "t1"
    got = encoded.objects[0]
    assert (got.size, got.etag, got.storage_class) == (3, "abc", "STANDARD")
    assert got.last_modified.isoformat() == "2026-11-30T10:00:00.123000+00:00"
    plain = parse_page(f"<ListBucketResult>{item}<IsTruncated>false</IsTruncated>"
                       "</ListBucketResult>".encode())  # fmt: skip
    assert [o.key for o in plain.objects] == ["a%20b+c%2Bd"]  # not encoded: kept as sent
    assert not plain.is_truncated and plain.continuation_token is None
