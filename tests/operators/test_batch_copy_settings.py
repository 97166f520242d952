"""OrbitBatchCopyOperator's storage class, encryption and metadata: set by the copy itself
(one request per object) in the worker, and in an S3 Batch Operations job's spec."""

from __future__ import annotations

import pytest

from orbit_provider.operators.base import OrbitTaskError
from orbit_provider.operators.batch import OrbitBatchCopyOperator
from tests.airflow_env import connection_env
from tests.operators.operator_context import FakeTI
from tests.s3.batch.faults import Faults

JOB = {
    "account_id": "123456789012",
    "role_arn": "arn:aws:iam::123456789012:role/batch",
    "engine": "s3_batch_operations",
}


@pytest.fixture
def moto_conn(monkeypatch, moto_client):
    name, value = connection_env(
        "orbit_s3_default", conn_type="orbit_s3", login="testing", password="testing",
        extra={"region_name": "us-east-1", "bucket": moto_client.bucket},
    )  # fmt: skip
    monkeypatch.setenv(name, value)
    return moto_client


def test_copies_are_archived_encrypted_and_labelled_in_one_request_each(moto_conn):
    for key in ("raw/a.csv", "raw/b.csv"):
        moto_conn.upload_bytes(b"x", key, content_type="text/csv", metadata={"old": "1"})
    op = OrbitBatchCopyOperator(
        task_id="archive", prefix="raw/", dest_prefix="archive/", storage_class="glacier_ir",
        sse="AES256", metadata={"archived-by": "orbit"},
    )  # fmt: skip
    faults = Faults(op.client.s3)  # the task's own client
    summary = op.execute({"ti": FakeTI()})
    assert summary["succeeded"] == 2
    assert faults.count("CopyObject") == 2  # no second rewrite to re-tier
    copied = moto_conn.get_metadata("archive/a.csv")
    assert copied.storage_class == "GLACIER_IR" and copied.server_side_encryption == "AES256"
    assert copied.metadata == {"archived-by": "orbit"} and copied.content_type == "text/csv"
    # a retry finds the copies done, class and metadata included
    assert op.execute({"ti": FakeTI()})["already_done"] == 2


def test_metadata_directive_replace_clears_the_sources_metadata(moto_conn):
    moto_conn.upload_bytes(b"x", "raw/a", metadata={"old": "1"})
    OrbitBatchCopyOperator(
        task_id="c", keys=["raw/a"], dest_prefix="out/", metadata_directive="REPLACE"
    ).execute({"ti": FakeTI()})
    assert moto_conn.get_metadata("out/a").metadata == {}


@pytest.mark.parametrize(
    "kwargs,error",
    [
        ({"storage_class": "COLD"}, "storage_class"),
        ({"sse": "DES"}, "server_side_encryption"),
        ({"kms_key_id": "k"}, "kms_key_id"),
        ({"sse": "AES256", "kms_key_id": "k"}, "kms_key_id"),
        ({"metadata": {"a": "b"}, "metadata_directive": "COPY"}, "COPY"),
        ({"metadata_directive": "MERGE"}, "metadata_directive"),
    ],
)
def test_bad_settings_are_refused_when_the_dag_is_parsed(kwargs, error):
    with pytest.raises(OrbitTaskError, match=error):
        OrbitBatchCopyOperator(task_id="c", bucket="b-1", prefix="p/", dest_prefix="q/", **kwargs)


def test_templated_settings_are_checked_when_rendered(moto_conn):
    op = OrbitBatchCopyOperator(
        task_id="c", keys=["raw/a"], dest_prefix="out/", storage_class="{{ params.cls }}"
    )
    op.storage_class = "COLD"  # as rendered
    with pytest.raises(OrbitTaskError, match="storage_class"):
        op.execute({"ti": FakeTI()})


def test_a_batch_operations_job_copies_with_the_same_settings(moto_conn):
    moto_conn.upload_bytes(b"x", "raw/a")
    op = OrbitBatchCopyOperator(
        task_id="c", prefix="raw/", dest_prefix="archive/", strip_prefix="",
        storage_class="DEEP_ARCHIVE", sse="aws:kms", kms_key_id="key-1",
        metadata={"m": "1"}, dry_run=True, **JOB,
    )  # fmt: skip
    spec = op.execute({"ti": FakeTI()})["request"]["Operation"]["S3PutObjectCopy"]
    assert spec["StorageClass"] == "DEEP_ARCHIVE"
    assert spec["MetadataDirective"] == "REPLACE"
    assert spec["NewObjectMetadata"] == {"UserMetadata": {"m": "1"}, "SSEAlgorithm": "KMS"}
    assert spec["SSEAwsKmsKeyId"] == "key-1" and spec["TargetKeyPrefix"] == "archive/"
