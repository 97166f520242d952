"""S3 Inventory reports (CSV.gz and Parquet) as a lazy key source, on moto."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from urllib.parse import quote_plus

import pendulum
import pytest

from orbit_provider.s3.batch.inventory import (
    InventoryFilter,
    InventoryManifest,
    iter_inventory,
    latest_manifest_key,
    read_manifest,
)
from orbit_provider.s3.errors import ConfigError, IntegrityError

MOTO_BUCKET = "test-bucket"  # made by the moto_client fixture
SCHEMA = (
    "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, "
    "StorageClass, IsMultipartUploaded, ReplicationStatus, EncryptionStatus"
)
# (key, version, latest, delete marker, size, modified, storage class)
ROWS = [
    ("data/a b.csv", "v1", "true", "false", "10", "2026-01-01T00:00:00.000Z", "STANDARD"),
    ("data/a b.csv", "v0", "false", "false", "9", "2025-12-01T00:00:00.000Z", "STANDARD"),
    ("data/ü+x.parquet", "v2", "true", "false", "2000", "2026-02-01T00:00:00.000Z", "GLACIER"),
    ("data/gone.csv", "v3", "true", "true", "", "2026-03-01T00:00:00.000Z", ""),
    ("logs/l1", "null", "true", "false", "5", "2026-01-15T00:00:00.000Z", "STANDARD_IA"),
]
REPORT = "inv/src/cfg/2026-03-02T01-00Z/"


def _csv_gz(rows) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_ALL)
    for key, version, latest, marker, size, modified, storage in rows:
        writer.writerow(
            [
                "src",
                quote_plus(key.encode("utf-8"), safe="/"),
                version,
                latest,
                marker,
                size,
                modified,
                "etag",
                storage,
                "FALSE",
                "",
                "SSE-S3",
            ]
        )
    return gzip.compress(text.getvalue().encode("utf-8"))


def _put_report(
    boto, files: dict[str, bytes], *, fmt="CSV", schema=SCHEMA, md5=None, folder=REPORT
):
    entries = []
    for name, data in files.items():
        boto.put_object(Bucket=MOTO_BUCKET, Key=folder + name, Body=data)
        entries.append(
            {
                "key": folder + name,
                "size": len(data),
                "MD5checksum": md5 or hashlib.md5(data).hexdigest(),
            }
        )
    manifest = {
        "sourceBucket": "src",
        "destinationBucket": f"arn:aws:s3:::{MOTO_BUCKET}",
        "version": "2016-11-30",
        "fileFormat": fmt,
        "fileSchema": schema,
        "files": entries,
    }
    boto.put_object(Bucket=MOTO_BUCKET, Key=folder + "manifest.json", Body=json.dumps(manifest))
    return folder + "manifest.json"


@pytest.fixture
def boto(moto_client):
    return moto_client.s3


def test_csv_report_yields_current_objects_with_decoded_keys(boto):
    key = _put_report(boto, {"f1.csv.gz": _csv_gz(ROWS[:3]), "f2.csv.gz": _csv_gz(ROWS[3:])})
    manifest = read_manifest(boto, MOTO_BUCKET, key)
    assert manifest.source_bucket == "src" and manifest.destination_bucket == MOTO_BUCKET
    objects = list(iter_inventory(boto, manifest))
    # the old version and the delete marker are not current objects
    assert [o.key for o in objects] == ["data/a b.csv", "data/ü+x.parquet", "logs/l1"]
    first = objects[0]
    assert (first.size, first.version_id, first.storage_class) == (10, "v1", "STANDARD")
    assert first.last_modified == pendulum.datetime(2026, 1, 1)


def test_filters_prefix_class_size_time_and_versions(boto):
    manifest = read_manifest(boto, MOTO_BUCKET, _put_report(boto, {"f.csv.gz": _csv_gz(ROWS)}))

    def keys(**kw):
        return [
            (o.key, o.version_id) for o in iter_inventory(boto, manifest, InventoryFilter(**kw))
        ]

    assert keys(prefix="logs/") == [("logs/l1", "null")]
    assert keys(storage_classes={"glacier"}) == [("data/ü+x.parquet", "v2")]
    assert keys(min_size=6, max_size=100) == [("data/a b.csv", "v1")]
    assert keys(modified_after="2026-01-10T00:00:00Z", modified_before="2026-02-01T00:00:00Z") == [
        ("logs/l1", "null")
    ]
    assert ("data/a b.csv", "v0") in keys(latest_only=False)
    assert ("data/gone.csv", "v3") in keys(include_delete_markers=True)


def test_reading_is_lazy_file_by_file(boto):
    manifest = read_manifest(
        boto, MOTO_BUCKET, _put_report(boto, {"f1.csv.gz": _csv_gz(ROWS[:1]), "f2.csv.gz": b"x"})
    )
    rows = iter_inventory(boto, manifest)
    assert next(rows).key == "data/a b.csv"  # the broken second file has not been read yet
    with pytest.raises(Exception):  # noqa: B017 - gzip's own error on the garbage file
        list(rows)


def test_one_shard_reads_only_its_files(boto):
    key = _put_report(boto, {"f1.csv.gz": _csv_gz(ROWS[:1]), "f2.csv.gz": _csv_gz(ROWS[4:])})
    manifest = read_manifest(boto, MOTO_BUCKET, key)
    assert [o.key for o in iter_inventory(boto, manifest, files=manifest.files[1:])] == ["logs/l1"]


def test_a_data_file_that_differs_from_the_manifest_md5_raises(boto):
    key = _put_report(boto, {"f.csv.gz": _csv_gz(ROWS)}, md5="0" * 32)
    with pytest.raises(IntegrityError, match="MD5"):
        list(iter_inventory(boto, read_manifest(boto, MOTO_BUCKET, key)))


def test_a_row_with_the_wrong_number_of_fields_raises(boto):
    key = _put_report(boto, {"f.csv.gz": _csv_gz(ROWS)}, schema="Bucket, Key, Size")
    with pytest.raises(IntegrityError, match="fields"):
        list(iter_inventory(boto, read_manifest(boto, MOTO_BUCKET, key)))


def test_bad_manifests_are_refused_clearly(boto):
    with pytest.raises(ConfigError, match="not an S3 Inventory manifest"):
        InventoryManifest.parse(b'{"files": []}')
    with pytest.raises(ConfigError, match="no Key column"):
        InventoryManifest.parse(
            json.dumps(
                {
                    "sourceBucket": "s",
                    "destinationBucket": "d",
                    "fileFormat": "CSV",
                    "fileSchema": "Bucket, Size",
                    "files": [],
                }
            )
        )
    with pytest.raises(ConfigError, match="manifest.json"):
        read_manifest(boto, MOTO_BUCKET, "inv/data.csv.gz")
    with pytest.raises(ConfigError, match="non-negative"):
        InventoryFilter(min_size=-1)


def test_latest_manifest_is_the_newest_complete_report(boto):
    _put_report(boto, {"f.csv.gz": _csv_gz(ROWS[:1])}, folder="inv/src/cfg/2026-03-01T01-00Z/")
    newest = _put_report(boto, {"f.csv.gz": _csv_gz(ROWS[:1])})
    # a report still being written (no manifest yet) is not picked
    boto.put_object(Bucket=MOTO_BUCKET, Key="inv/src/cfg/2026-03-03T01-00Z/data/x.csv.gz", Body=b"")
    assert latest_manifest_key(boto, MOTO_BUCKET, "inv/src/cfg") == newest
    with pytest.raises(ConfigError, match="no inventory manifest"):
        latest_manifest_key(boto, MOTO_BUCKET, "inv/other")


def test_parquet_report(boto):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "bucket": ["src", "src"],
            "key": ["p/a b", "p/old"],
            "version_id": ["v1", "v0"],
            "is_latest": [True, False],
            "is_delete_marker": [False, False],
            "size": [7, 8],
            "last_modified_date": pa.array(
                [pendulum.datetime(2026, 1, 1), pendulum.datetime(2025, 1, 1)],
                pa.timestamp("ms", tz="UTC"),
            ),
            "storage_class": ["DEEP_ARCHIVE", "STANDARD"],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    key = _put_report(boto, {"f.parquet": sink.getvalue()}, fmt="Parquet", schema="message s3 {}")
    objects = list(iter_inventory(boto, read_manifest(boto, MOTO_BUCKET, key)))
    assert [(o.key, o.size, o.storage_class) for o in objects] == [("p/a b", 7, "DEEP_ARCHIVE")]
    assert objects[0].last_modified == pendulum.datetime(2026, 1, 1)
