"""README's "Coming from the amazon provider" section names every S3 operator and sensor of
apache-airflow-providers-amazon (operators/s3.py, sensors/s3.py, transfers/local_to_s3.py)
and maps them only to orbit classes that exist."""

from __future__ import annotations

import re
from pathlib import Path

from tests.docs.test_howto import public_classes

README = Path(__file__).parents[2] / "README.md"
AMAZON_S3 = {
    "S3CreateBucketOperator", "S3DeleteBucketOperator", "S3GetBucketTaggingOperator",
    "S3PutBucketTaggingOperator", "S3DeleteBucketTaggingOperator", "S3CopyObjectOperator",
    "S3CopyPrefixOperator", "S3CreateObjectOperator", "S3DeleteObjectsOperator",
    "S3FileTransformOperator", "S3ListOperator", "S3ListPrefixesOperator",
    "S3ReadObjectOperator", "S3KeySensor", "S3KeysUnchangedSensor",
    "LocalFilesystemToS3Operator",
}  # fmt: skip


def section() -> str:
    text = README.read_text()
    start = text.index("## Coming from the amazon provider")
    return text[start : text.index("\n## ", start + 1)]


def test_every_amazon_s3_operator_and_sensor_is_mapped():
    rows = [line for line in section().splitlines() if line.startswith("| `")]
    amazon_column = " ".join(row.split("|")[1] for row in rows)
    assert AMAZON_S3 <= set(re.findall(r"`(\w+)`", amazon_column))


def test_the_mapping_names_only_orbit_classes_that_exist():
    named = set(re.findall(r"`(Orbit\w+(?:Operator|Sensor))`", section()))
    assert named and named <= public_classes(), sorted(named - public_classes())
