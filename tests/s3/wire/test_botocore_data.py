"""botocore_data: S3Clients share one parsed S3 model (one loader per process), except a
session whose configuration names its own data path."""

from __future__ import annotations

import boto3

from orbit_provider.s3.client import S3Client
from orbit_provider.s3.config import Credentials, S3Config
from orbit_provider.s3.wire.botocore_data import share_data, shared_loader


def _client() -> S3Client:
    return S3Client(S3Config(bucket="shared-model", endpoint="http://127.0.0.1:9",
                             region="us-east-1", force_path_style=True,
                             credentials=Credentials("AKID", "secret")))  # fmt: skip


def test_clients_share_one_parsed_model():
    first, second = _client().s3, _client().s3
    assert first is not second
    assert first._loader is second._loader is shared_loader()  # its cache: parsed once
    assert first.meta.service_model.operation_model("GetObject").name == "GetObject"


def test_a_session_with_its_own_data_path_keeps_its_own_loader(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    session = share_data(boto3.session.Session(region_name="us-east-1"))
    assert session._session.get_component("data_loader") is not shared_loader()
    monkeypatch.delenv("AWS_DATA_PATH")
    session = share_data(boto3.session.Session(region_name="us-east-1"))
    assert session._session.get_component("data_loader") is shared_loader()
