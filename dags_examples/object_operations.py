"""Single objects and buckets: what an S3CreateObjectOperator / S3CopyObjectOperator user does.

Shows, in a scratch bucket this DAG creates and deletes again:
- ``OrbitCreateBucketOperator`` and ``OrbitVersioningOperator(action="enable")``;
- ``OrbitCreateObjectOperator``: a small object from a string, written twice (``replace=True``);
- ``OrbitRestoreVersionOperator``: the first version brought back on top;
- ``OrbitCopyObjectOperator``: a server-side copy that sets storage class and metadata;
- ``OrbitBatchMetadataOperator`` and ``OrbitStorageClassOperator`` over a prefix (in place);
- ``OrbitLifecycleExpirationOperator``: an expiration rule for the prefix;
- ``OrbitDeleteBucketOperator(force_delete=True)``: every version removed, then the bucket.

Params: ``bucket`` (an existing bucket, default ``ORBIT_EXAMPLES_BUCKET`` or
``orbit-examples``; the scratch bucket is named after it with ``-ops``).
Connection: ``orbit_s3_default`` (``AIRFLOW_CONN_ORBIT_S3_DEFAULT``).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param

from orbit_provider.operators.batch import OrbitBatchMetadataOperator, OrbitStorageClassOperator
from orbit_provider.operators.bucket import OrbitCreateBucketOperator, OrbitDeleteBucketOperator
from orbit_provider.operators.lifecycle import OrbitLifecycleExpirationOperator
from orbit_provider.operators.objects import OrbitCopyObjectOperator, OrbitCreateObjectOperator
from orbit_provider.operators.versioning import (
    OrbitRestoreVersionOperator,
    OrbitVersioningOperator,
)

SCRATCH = "{{ params.bucket }}-ops"

with DAG(
    "orbit_example_object_operations",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    max_active_runs=1,  # runs share the scratch bucket: one at a time
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "bucket": Param(os.environ.get("ORBIT_EXAMPLES_BUCKET", "orbit-examples"), type="string"),
    },
    tags=["orbit", "example"],
) as dag:
    # [START howto_operator_orbit_create_bucket]
    create_bucket = OrbitCreateBucketOperator(task_id="create_bucket", bucket_name=SCRATCH)
    # [END howto_operator_orbit_create_bucket]

    # [START howto_operator_orbit_versioning]
    versioning = OrbitVersioningOperator(task_id="versioning", bucket=SCRATCH, action="enable")
    # [END howto_operator_orbit_versioning]

    # [START howto_operator_orbit_create_object]
    create_object = OrbitCreateObjectOperator(
        task_id="create_object",
        s3_bucket=SCRATCH,
        s3_key="reports/summary.json",
        data='{"rows": 3, "version": 1}',
        content_type="application/json",
        replace=True,  # the default, False, refuses to overwrite (atomically where S3 can)
    )
    # [END howto_operator_orbit_create_object]

    overwrite = OrbitCreateObjectOperator(
        task_id="overwrite",
        s3_bucket=SCRATCH,
        s3_key="reports/summary.json",
        data='{"rows": 4, "version": 2}',
        content_type="application/json",
        replace=True,
    )

    # [START howto_operator_orbit_restore_version]
    restore_version = OrbitRestoreVersionOperator(
        task_id="restore_version",
        bucket=SCRATCH,
        key="reports/summary.json",
        version_id="{{ ti.xcom_pull(task_ids='create_object')['objects'][0]['version_id'] }}",
    )
    # [END howto_operator_orbit_restore_version]

    # [START howto_operator_orbit_copy_object]
    copy_object = OrbitCopyObjectOperator(
        task_id="copy_object",
        source_bucket_name=SCRATCH,
        source_bucket_key="reports/summary.json",
        dest_bucket_name=SCRATCH,
        dest_bucket_key="published/summary.json",
        storage_class="STANDARD_IA",
        metadata={"published-by": "{{ dag.dag_id }}"},
    )
    # [END howto_operator_orbit_copy_object]

    # [START howto_operator_orbit_batch_metadata]
    label = OrbitBatchMetadataOperator(
        task_id="label", bucket=SCRATCH, prefix="published/", metadata={"reviewed": "yes"}
    )  # merged into each object's own metadata (merge=False replaces it)
    # [END howto_operator_orbit_batch_metadata]

    # [START howto_operator_orbit_storage_class]
    retier = OrbitStorageClassOperator(
        task_id="retier", bucket=SCRATCH, prefix="published/", storage_class="GLACIER_IR"
    )
    # [END howto_operator_orbit_storage_class]

    # [START howto_operator_orbit_lifecycle_expiration]
    expire = OrbitLifecycleExpirationOperator(
        task_id="expire", bucket=SCRATCH, prefix="reports/", days=30, noncurrent_days=7
    )
    # [END howto_operator_orbit_lifecycle_expiration]

    # [START howto_operator_orbit_delete_bucket]
    delete_bucket = OrbitDeleteBucketOperator(
        task_id="delete_bucket", bucket_name=SCRATCH, force_delete=True
    )
    # [END howto_operator_orbit_delete_bucket]

    (
        create_bucket >> versioning >> create_object >> overwrite >> restore_version
        >> copy_object >> label >> retier >> expire >> delete_bucket
    )
