"""S3Session: the one raw HEAD, and the session being all a feature module needs."""

from __future__ import annotations

import pytest

from orbit_provider.s3 import S3Config
from orbit_provider.s3.errors import NotFound
from orbit_provider.s3.session import S3Session
from orbit_provider.s3.transfer.copy import copy_object
from tests.conftest import MOTO_BUCKET


@pytest.fixture
def session(moto_s3) -> S3Session:
    return S3Session(S3Config(bucket=MOTO_BUCKET, region="us-east-1"))


def test_head_asks_for_checksums_and_passes_extra_arguments(session, moto_client):
    moto_client.upload_bytes(b"x" * 100, "k")
    sent = []
    session.s3.meta.events.register(
        "before-parameter-build.s3.HeadObject", lambda params, **_: sent.append(dict(params))
    )
    head = session.head("k", PartNumber=1)
    assert head["ContentLength"] == 100
    assert sent[-1]["ChecksumMode"] == "ENABLED" and sent[-1]["PartNumber"] == 1


def test_head_of_a_missing_version_names_the_version(session, moto_client):
    session.call("put_bucket_versioning", VersioningConfiguration={"Status": "Enabled"})
    version = moto_client.upload_bytes(b"x", "k").version_id
    moto_client.delete("k", version_id=version)
    with pytest.raises(NotFound) as caught:
        session.head("k", version_id=version)
    assert caught.value.key == "k" and version in str(caught.value)


def test_get_metadata_reads_another_bucket(session, moto_client):
    session.s3.create_bucket(Bucket="other-bucket")
    session.call("put_object", key="k", bucket="other-bucket", Body=b"abc")
    meta = session.get_metadata("k", bucket="other-bucket")
    assert (meta.key, meta.size) == ("k", 3)
    with pytest.raises(NotFound):
        session.get_metadata("k")  # not in the session's own bucket


def test_a_feature_module_runs_on_a_bare_session(session, moto_client):
    moto_client.upload_bytes(b"payload", "src", metadata={"a": "1"})
    result = copy_object(session, "src", "dst")
    assert result.dst_key == "dst" and moto_client.download_bytes("dst") == b"payload"
    assert moto_client.get_metadata("dst").metadata == {"a": "1"}


def test_transfer_acceleration_reaches_botocore_and_the_presigned_paths(moto_s3):
    fast = S3Session(S3Config(bucket="lake-bucket", region="us-east-1",
                              use_accelerate_endpoint=True))  # fmt: skip
    assert fast.s3.meta.config.s3["use_accelerate_endpoint"] is True
    # part PUTs and range GETs go out on presigned URLs made by this client
    url = fast.s3.generate_presigned_url(
        "upload_part", Params={"Bucket": "lake-bucket", "Key": "k", "UploadId": "u",
                               "PartNumber": 1},
    )  # fmt: skip
    assert url.startswith("https://lake-bucket.s3-accelerate.amazonaws.com/k?")
    plain = S3Session(S3Config(bucket="lake-bucket", region="us-east-1"))
    assert "s3-accelerate" not in plain.s3.generate_presigned_url(
        "get_object", Params={"Bucket": "lake-bucket", "Key": "k"}
    )


def test_s3control_client_shares_the_config_credentials_and_region():
    from orbit_provider.s3.config import Credentials, S3Config
    from orbit_provider.s3.session import S3Session

    session = S3Session(
        S3Config(bucket="bkt", region="eu-west-1", credentials=Credentials("AKIAEXAMPLE", "secret"))
    )
    control = session.s3control
    assert control is session.s3control  # built once
    assert control.meta.service_model.service_name == "s3control"
    assert control.meta.region_name == "eu-west-1"
    assert control._request_signer._credentials.access_key == "AKIAEXAMPLE"


def test_botocore_config_and_verify_reach_the_boto_client(tmp_path, monkeypatch):
    from botocore import UNSIGNED

    from orbit_provider.s3.session import build_boto_client

    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    config = S3Config(
        bucket="orbit-b", region="us-east-1", verify=str(bundle),
        botocore_config={"signature_version": "unsigned", "user_agent_extra": "mine",
                         "proxies": {"https": "http://127.0.0.1:9"},
                         "s3": {"payload_signing_enabled": True}},
    )  # fmt: skip
    client = build_boto_client(config)
    meta = client.meta.config
    assert meta.signature_version is UNSIGNED  # anonymous reads, as the amazon provider
    assert meta.proxies == {"https": "http://127.0.0.1:9"}
    assert meta.user_agent_extra.endswith("mine") and "orbit-provider/" in meta.user_agent_extra
    assert meta.s3["payload_signing_enabled"] is True
    assert meta.retries["total_max_attempts"] == 1  # orbit's own retry layer stays
    assert client._endpoint.http_session._verify == str(bundle)
    default = build_boto_client(S3Config(bucket="orbit-b", region="us-east-1"))
    assert default.meta.config.signature_version == "s3v4"
