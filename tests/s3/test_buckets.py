"""Bucket create and delete on moto, force_delete emptying every version first."""

from __future__ import annotations

import pytest

from orbit_provider.s3.buckets import create_bucket, delete_bucket
from orbit_provider.s3.config import S3Config
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.session import S3Session


def _session(bucket: str, region: str = "us-east-1") -> S3Session:
    return S3Session(S3Config(bucket=bucket, region=region))


def test_create_is_idempotent_and_takes_a_region(moto_s3):
    assert create_bucket(_session("fresh-bucket")) is True
    assert create_bucket(_session("fresh-bucket")) is False
    assert create_bucket(_session("eu-bucket", "eu-west-1")) is True
    s3 = _session("eu-bucket", "eu-west-1").s3
    assert s3.get_bucket_location(Bucket="eu-bucket")["LocationConstraint"] == "eu-west-1"


def test_a_new_bucket_name_follows_the_rules_for_new_buckets(moto_s3):
    with pytest.raises(ConfigError, match="lowercase"):
        create_bucket(_session("Legacy_Name"))


def test_a_bucket_with_objects_is_only_deleted_when_forced(moto_s3):
    session = _session("full-bucket")
    create_bucket(session)
    session.s3.put_bucket_versioning(
        Bucket="full-bucket", VersioningConfiguration={"Status": "Enabled"}
    )
    for i in range(5):
        session.s3.put_object(Bucket="full-bucket", Key="k", Body=str(i).encode())
    session.s3.delete_object(Bucket="full-bucket", Key="k")  # a delete marker
    session.s3.put_object(Bucket="full-bucket", Key="other", Body=b"x")
    session.s3.create_multipart_upload(Bucket="full-bucket", Key="big")
    with pytest.raises(ConfigError, match="force_delete=True"):
        delete_bucket(session)
    done = delete_bucket(session, force_delete=True)
    assert done.to_dict() == {
        "bucket": "full-bucket",
        "deleted": True,
        "objects_deleted": 7,
        "uploads_aborted": 1,
    }
    names = [b["Name"] for b in session.s3.list_buckets()["Buckets"]]
    assert "full-bucket" not in names
    assert delete_bucket(session).deleted is False  # already gone: nothing to do
