"""Single-object copy and create operators against moto."""

from __future__ import annotations

import pytest

from orbit_provider.operators.base import OrbitTaskError
from orbit_provider.operators.objects import OrbitCopyObjectOperator, OrbitCreateObjectOperator
from tests.operators.operator_context import make_context, moto_conn_fixture  # noqa: F401

BUCKET = "test-bucket"


@pytest.fixture
def other_bucket(moto_client):
    moto_client.s3.create_bucket(Bucket="other-bucket")
    return "other-bucket"


def test_copy_renames_across_buckets_keeping_metadata_and_tags(
    moto_conn, moto_client, other_bucket
):
    moto_client.upload_bytes(
        b"data", "in/a.csv", metadata={"team": "lake"}, content_type="text/csv", tags={"t": "1"}
    )
    op = OrbitCopyObjectOperator(
        task_id="copy",
        source_bucket_key=f"s3://{BUCKET}/in/a.csv",
        dest_bucket_key=f"s3://{other_bucket}/out/a.csv",
    )
    summary = op.execute(make_context())
    assert summary["succeeded"] == 1 and summary["bucket"] == other_bucket
    head = moto_client.s3.head_object(Bucket=other_bucket, Key="out/a.csv")
    assert head["Metadata"] == {"team": "lake"} and head["ContentType"] == "text/csv"
    tags = moto_client.s3.get_object_tagging(Bucket=other_bucket, Key="out/a.csv")["TagSet"]
    assert tags == [{"Key": "t", "Value": "1"}]


def test_copy_replace_directive_and_replace_false(moto_conn, moto_client):
    moto_client.upload_bytes(b"new", "src", metadata={"a": "1"})
    moto_client.upload_bytes(b"old", "dst")
    OrbitCopyObjectOperator(
        task_id="c",
        bucket=BUCKET,
        source_bucket_key="src",
        dest_bucket_key="copy",
        meta_data_directive="REPLACE",
        metadata={"b": "2"},
    ).execute(make_context())
    assert moto_client.s3.head_object(Bucket=BUCKET, Key="copy")["Metadata"] == {"b": "2"}
    op = OrbitCopyObjectOperator(
        task_id="c", bucket=BUCKET, source_bucket_key="src", dest_bucket_key="dst", replace=False
    )
    with pytest.raises(OrbitTaskError, match="already exists"):
        op.execute(make_context())
    assert moto_client.download_bytes("dst") == b"old"


def test_copy_bad_arguments_fail_when_the_dag_is_parsed():
    with pytest.raises(OrbitTaskError, match="give the bucket once"):
        OrbitCopyObjectOperator(
            task_id="c",
            source_bucket_name="one",
            source_bucket_key="s3://two/k",
            dest_bucket_key="d",
        )
    with pytest.raises(OrbitTaskError, match="COPY or REPLACE"):
        OrbitCopyObjectOperator(
            task_id="c", source_bucket_key="a", dest_bucket_key="b", meta_data_directive="MERGE"
        )
    # templates and XComs are checked after rendering
    OrbitCopyObjectOperator(task_id="c", source_bucket_key="{{ params.k }}", dest_bucket_key="b")


def test_create_object_from_str_and_bytes_refuses_to_overwrite_by_default(moto_conn, moto_client):
    OrbitCreateObjectOperator(
        task_id="w", s3_key=f"s3://{BUCKET}/notes/ü.txt", data="héllo", content_type="text/plain"
    ).execute(make_context())
    assert moto_client.download_bytes("notes/ü.txt") == "héllo".encode()
    op = OrbitCreateObjectOperator(task_id="w", bucket=BUCKET, s3_key="notes/ü.txt", data=b"x")
    with pytest.raises(OrbitTaskError, match="already exists"):
        op.execute(make_context())
    assert moto_client.download_bytes("notes/ü.txt") == "héllo".encode()
    OrbitCreateObjectOperator(
        task_id="w", bucket=BUCKET, s3_key="notes/ü.txt", data=b"x", replace=True
    ).execute(make_context())
    assert moto_client.download_bytes("notes/ü.txt") == b"x"


def test_create_object_bad_input():
    op = OrbitCreateObjectOperator(task_id="w", bucket=BUCKET, s3_key="k", data=123)
    with pytest.raises(OrbitTaskError, match="expected str or bytes"):
        op.execute(make_context())
    with pytest.raises(OrbitTaskError, match="replace"):
        OrbitCreateObjectOperator(task_id="w", s3_key="k", data="x", replace="no")
