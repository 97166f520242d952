"""Bucket create and delete operators against moto."""

from __future__ import annotations

import pytest

from orbit_provider.operators.base import OrbitTaskError
from orbit_provider.operators.bucket import OrbitCreateBucketOperator, OrbitDeleteBucketOperator
from tests.operators.operator_context import make_context, moto_conn_fixture  # noqa: F401


def test_create_then_force_delete(moto_conn, moto_client):
    assert OrbitCreateBucketOperator(task_id="c", bucket_name="made-here").execute(
        make_context()
    ) == {"bucket": "made-here", "created": True}
    assert (
        OrbitCreateBucketOperator(task_id="c", bucket_name="made-here").execute(make_context())[
            "created"
        ]
        is False
    )
    moto_client.s3.put_object(Bucket="made-here", Key="k", Body=b"x")
    with pytest.raises(OrbitTaskError, match="force_delete=True"):
        OrbitDeleteBucketOperator(task_id="d", bucket_name="made-here").execute(make_context())
    done = OrbitDeleteBucketOperator(
        task_id="d", bucket_name="made-here", force_delete=True
    ).execute(make_context())
    assert done["deleted"] and done["objects_deleted"] == 1
    names = {b["Name"] for b in moto_client.s3.list_buckets()["Buckets"]}
    assert "made-here" not in names


def test_bad_names_fail_when_the_dag_is_parsed():
    with pytest.raises(OrbitTaskError, match="lowercase"):
        OrbitCreateBucketOperator(task_id="c", bucket_name="Not_Allowed_New")
    with pytest.raises(OrbitTaskError, match="force_delete"):
        OrbitDeleteBucketOperator(task_id="d", bucket_name="bkt", force_delete="yes")
