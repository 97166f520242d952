"""Bad input for every operator and sensor, in one table, against the real SeaweedFS server.

Each case builds the operator and (when building succeeds) runs `execute` once: it must fail
with an error that names the problem, and the bucket must be unchanged (every key, version,
ETag and unfinished multipart upload, compared before and after). Many finer cases live in
tests/operators/* and tests/sensors/*; this table is the one place where every operator is
held to the same rule. The last test runs a few cases inside a real DAG run.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pendulum
import pytest
from airflow.sdk import DAG, task

from orbit_provider.operators.archive import OrbitArchiveRestoreOperator
from orbit_provider.operators.batch import (
    OrbitBatchCopyOperator,
    OrbitBatchDeleteOperator,
    OrbitBatchMetadataOperator,
    OrbitBatchTagOperator,
    OrbitStorageClassOperator,
)
from orbit_provider.operators.listing import OrbitListKeysOperator
from orbit_provider.operators.transfer import OrbitDownloadOperator, OrbitUploadOperator
from orbit_provider.operators.uploads import OrbitAbortIncompleteUploadsOperator
from orbit_provider.operators.versioning import (
    OrbitRestoreVersionOperator,
    OrbitRollbackPrefixOperator,
    OrbitVersioningOperator,
)
from orbit_provider.sensors.archive import OrbitArchiveRestoreSensor
from orbit_provider.sensors.object import OrbitObjectSensor
from tests.operators.operator_context import make_context

ELEVEN_TAGS = {f"t{i}": "v" for i in range(11)}
START = pendulum.datetime(2026, 1, 1, tz="UTC")


@dataclass
class Where:
    """What a case may refer to: the seeded bucket's facts and local paths."""

    bucket: str
    tmp: Path
    version_of_a: str  # a real version id of data/a.txt
    escape_dest: Path  # a download folder whose "data/link" points outside it
    pending_upload: str  # an unfinished multipart upload's key


CASES: list[tuple[str, Callable[[Where], Any], str]] = [
    # upload
    ("upload-missing-file", lambda w: OrbitUploadOperator(
        task_id="t", source=str(w.tmp / "no-such.bin"), key="x.bin"), "source: "),
    ("upload-bad-bucket", lambda w: OrbitUploadOperator(
        task_id="t", source=str(w.tmp / "f.bin"), key="x.bin", bucket="Bad_Bucket!"), "bucket"),
    ("upload-storage-class", lambda w: OrbitUploadOperator(
        task_id="t", source=str(w.tmp / "f.bin"), key="x.bin", storage_class="SUPER_COLD"),
     "SUPER_COLD"),
    ("upload-too-many-tags", lambda w: OrbitUploadOperator(
        task_id="t", source=str(w.tmp / "f.bin"), key="x.bin", tags=ELEVEN_TAGS), "tags"),
    ("upload-key-and-prefix", lambda w: OrbitUploadOperator(
        task_id="t", source=str(w.tmp / "f.bin"), key="x.bin", prefix="p/"), "key and prefix"),
    # download
    ("download-unknown-version", lambda w: OrbitDownloadOperator(
        task_id="t", key="data/a.txt", version_id="no-such-version", dest=str(w.tmp / "o")),
     "no-such-version"),
    ("download-missing-key", lambda w: OrbitDownloadOperator(
        task_id="t", key="data/missing.txt", dest=str(w.tmp / "o")), "data/missing.txt"),
    ("download-key-escapes-dest", lambda w: OrbitDownloadOperator(
        task_id="t", prefix="data/", dest=str(w.escape_dest)), "escape the destination"),
    ("download-version-with-prefix", lambda w: OrbitDownloadOperator(
        task_id="t", prefix="data/", version_id=w.version_of_a, dest=str(w.tmp / "o")),
     "version_id: only valid with key"),
    ("download-bad-bucket", lambda w: OrbitDownloadOperator(
        task_id="t", key="data/a.txt", dest=str(w.tmp / "o"), bucket="x"), "bucket"),
    # listing
    ("list-bad-bucket", lambda w: OrbitListKeysOperator(task_id="t", bucket="UP PER"), "bucket"),
    ("list-shard-size", lambda w: OrbitListKeysOperator(task_id="t", shard_size=0),
     "shard_size"),
    ("list-window-reversed", lambda w: OrbitListKeysOperator(
        task_id="t", modified_after="2026-02-01T00:00:00Z",
        modified_before="2026-01-01T00:00:00Z"), "modified_after"),
    # unfinished uploads
    ("abort-negative-age", lambda w: OrbitAbortIncompleteUploadsOperator(
        task_id="t", older_than=-5), "older_than"),
    ("abort-bad-bucket", lambda w: OrbitAbortIncompleteUploadsOperator(
        task_id="t", bucket="a/b"), "bucket"),
    # batch operations
    ("copy-keys-and-prefix", lambda w: OrbitBatchCopyOperator(
        task_id="t", keys=["data/a.txt"], prefix="data/", dest_prefix="copy/"),
     "keys and prefix"),
    ("copy-onto-itself", lambda w: OrbitBatchCopyOperator(
        task_id="t", prefix="data/", dest_prefix="data/"), "onto itself"),
    ("copy-bad-dest-bucket", lambda w: OrbitBatchCopyOperator(
        task_id="t", keys=["data/a.txt"], dest_prefix="copy/", dest_bucket="no_such!"),
     "no_such!"),
    ("delete-neither-keys-nor-prefix", lambda w: OrbitBatchDeleteOperator(task_id="t"),
     "keys or prefix"),
    ("delete-bad-key", lambda w: OrbitBatchDeleteOperator(
        task_id="t", keys=["data/a.txt", ""]), "key"),
    ("storage-class-invalid", lambda w: OrbitStorageClassOperator(
        task_id="t", keys=["data/a.txt"], storage_class="SUPER_COLD"), "SUPER_COLD"),
    ("tag-too-many", lambda w: OrbitBatchTagOperator(
        task_id="t", keys=["data/a.txt"], tags=ELEVEN_TAGS), "tags"),
    ("metadata-too-large", lambda w: OrbitBatchMetadataOperator(
        task_id="t", keys=["data/a.txt"], metadata={"big": "x" * 3000}), "2 KiB"),
    ("metadata-bad-name", lambda w: OrbitBatchMetadataOperator(
        task_id="t", keys=["data/a.txt"], metadata={"has space": "v"}), "has space"),
    # versioning
    ("versioning-bad-action", lambda w: OrbitVersioningOperator(task_id="t", action="destroy"),
     "destroy"),
    ("restore-unknown-version", lambda w: OrbitRestoreVersionOperator(
        task_id="t", key="data/a.txt", version_id="no-such-version"), "no-such-version"),
    ("restore-version-and-timestamp", lambda w: OrbitRestoreVersionOperator(
        task_id="t", key="data/a.txt", version_id=w.version_of_a,
        timestamp="2026-01-01T00:00:00Z"), "version_id or timestamp"),
    ("rollback-bad-timestamp", lambda w: OrbitRollbackPrefixOperator(
        task_id="t", prefix="data/", timestamp="not-a-date"), "not-a-date"),
    # archive restore
    ("archive-bad-tier", lambda w: OrbitArchiveRestoreOperator(
        task_id="t", keys=["data/a.txt"], tier="Quick"), "tier"),
    ("archive-zero-days", lambda w: OrbitArchiveRestoreOperator(
        task_id="t", keys=["data/a.txt"], days=0), "days"),
    # sensors
    ("object-sensor-key-and-prefix", lambda w: OrbitObjectSensor(
        task_id="t", key="data/a.txt", prefix="data/", bucket=w.bucket, timeout=5,
        poke_interval=1),
     "key"),
    ("object-sensor-min-count-without-prefix", lambda w: OrbitObjectSensor(
        task_id="t", key="data/a.txt", min_count=2, bucket=w.bucket, timeout=5,
        poke_interval=1), "min_count"),
    ("object-sensor-bad-bucket", lambda w: OrbitObjectSensor(
        task_id="t", key="data/a.txt", bucket="-bad!", timeout=5, poke_interval=1), "bucket"),
    ("archive-sensor-no-keys", lambda w: OrbitArchiveRestoreSensor(
        task_id="t", keys=[], bucket=w.bucket, timeout=5, poke_interval=1), "keys"),
]  # fmt: skip

OPERATORS = {
    OrbitUploadOperator, OrbitDownloadOperator, OrbitListKeysOperator,
    OrbitAbortIncompleteUploadsOperator, OrbitBatchCopyOperator, OrbitBatchDeleteOperator,
    OrbitStorageClassOperator, OrbitBatchTagOperator, OrbitBatchMetadataOperator,
    OrbitVersioningOperator, OrbitRestoreVersionOperator, OrbitRollbackPrefixOperator,
    OrbitArchiveRestoreOperator, OrbitObjectSensor, OrbitArchiveRestoreSensor,
}  # fmt: skip


def snapshot(client) -> tuple:
    """Every version and delete marker (key, version id, ETag, latest) and every unfinished
    upload of the bucket: what "nothing changed" compares."""
    versions = []
    for page in client.s3.get_paginator("list_object_versions").paginate(Bucket=client.bucket):
        versions += [(v["Key"], v["VersionId"], v["ETag"], v["IsLatest"], v["Size"])
                     for v in page.get("Versions", [])]  # fmt: skip
        versions += [(m["Key"], m["VersionId"], "marker", m["IsLatest"], 0)
                     for m in page.get("DeleteMarkers", [])]  # fmt: skip
    uploads = [(u.key, u.upload_id) for u in client.list_incomplete_uploads()]
    tags = {k: client.get_tags(k) for k in ("data/a.txt", "data/b.txt")}
    return sorted(versions), sorted(uploads), tags


@pytest.fixture
def where(orbit_conn, seaweed_client, tmp_path) -> Where:
    """A versioned bucket with data/a.txt (two versions), data/b.txt and an unfinished
    upload; a local file; a download folder with a symlink leading out of it."""
    client = seaweed_client
    client.enable_versioning()
    first = client.upload_bytes(b"a1", "data/a.txt").version_id
    client.upload_bytes(b"a2", "data/a.txt")
    client.upload_bytes(b"b", "data/b.txt")
    client.upload_bytes(b"l", "data/link/inside.txt")
    pending = client.call("create_multipart_upload", key="up/pending.bin")["UploadId"]
    assert pending
    (tmp_path / "f.bin").write_bytes(b"local")
    outside = tmp_path / "outside"
    outside.mkdir()
    escape = tmp_path / "escape"
    escape.mkdir()
    (escape / "link").symlink_to(outside, target_is_directory=True)
    return Where(orbit_conn, tmp_path, first, escape, "up/pending.bin")


def test_the_table_covers_every_operator_and_sensor():
    class Probe:
        bucket, tmp, version_of_a, escape_dest, pending_upload = "b", Path("/x"), "v", Path(
            "/x"), "k"

    covered = set()
    for _, build, _ in CASES:
        try:
            covered.add(type(build(Probe)))
        except Exception as exc:  # built lazily below; here only the class matters
            covered.add(_operator_class_of(exc, build))
    assert OPERATORS <= covered, OPERATORS - covered


def _operator_class_of(exc: Exception, build: Callable) -> type:
    """The class a factory tried to build (from its code's global names)."""
    names = build.__code__.co_names
    (cls,) = [c for c in OPERATORS if c.__name__ in names]
    return cls


def run_operator(build: Callable[[Where], Any], where: Where) -> None:
    op = build(where)  # many bad inputs fail here, when the DAG file is parsed
    op.render_template_fields(make_context())
    op.execute(make_context())  # a sensor pokes for the first time in execute


@pytest.mark.parametrize(("case", "build", "names"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_fails_clearly_and_changes_nothing(case, build, names, where, seaweed_client):
    before = snapshot(seaweed_client)
    with pytest.raises(Exception) as caught:
        run_operator(build, where)
    message = str(caught.value)
    assert names in message, f"{case}: {type(caught.value).__name__}: {message}"
    assert type(caught.value).__name__ in {"OrbitTaskFailure", "ConfigError"}, (
        f"{case}: {type(caught.value).__name__}: {message}"
    )
    assert snapshot(seaweed_client) == before, case
    assert not (where.tmp / "outside" / "inside.txt").exists()
    assert not (where.tmp / "o").exists()


def test_bad_inputs_inside_a_dag_run_fail_their_tasks_and_change_nothing(
    dag_runner, where, seaweed_client, capsys
):
    """Runtime-only bad input (templated values, a version id unknown to the store): each
    task fails with the problem in its log; the others are not affected."""
    before = snapshot(seaweed_client)
    with DAG("orbit_bad_inputs", schedule=None, start_date=START) as dag:
        OrbitUploadOperator(task_id="missing_file", source=str(where.tmp / "gone-{{ ds }}.bin"),
                            key="x.bin", retries=0)  # fmt: skip
        OrbitUploadOperator(task_id="bad_class", source=str(where.tmp / "f.bin"), key="x.bin",
                            storage_class="{{ 'SUPER' + '_COLD' }}", retries=0)  # fmt: skip
        OrbitRestoreVersionOperator(task_id="unknown_version", key="data/a.txt", retries=0,
                                    version_id="{{ 'no-such-' + 'version' }}")  # fmt: skip
        OrbitDownloadOperator(task_id="escaping_key", prefix="data/", retries=0,
                              dest=str(where.escape_dest))  # fmt: skip
        OrbitListKeysOperator(task_id="fine", prefix="data/")
    result = dag_runner(dag)
    assert result.task_states() == {
        "missing_file": "failed", "bad_class": "failed", "unknown_version": "failed",
        "escaping_key": "failed", "fine": "success",
    }  # fmt: skip
    log = capsys.readouterr().out
    assert f"source: '{where.tmp}/gone-" in log
    assert "SUPER_COLD" in log
    assert "'no-such-version'" in log
    assert "escape the destination" in log
    assert snapshot(seaweed_client) == before
    assert not (where.tmp / "outside" / "inside.txt").exists()
    assert os.listdir(where.escape_dest) == ["link"]


# -- XCom and mapped inputs --------------------------------------------------------------------

# Arguments that make each operator valid; the test feeds one template field at a time by XCom.
# Operators and sensors outside the bad-input table are named by their class path.
VALID: dict[Any, dict[str, Any]] = {
    "operators.aggregate.OrbitAggregateSummariesOperator": {"summaries": []},
    "operators.objects.OrbitCopyObjectOperator": {"source_bucket_key": "a",
                                                  "dest_bucket_key": "b"},
    "operators.objects.OrbitCreateObjectOperator": {"s3_key": "k", "data": "x"},
    "operators.bucket.OrbitCreateBucketOperator": {"bucket_name": "new-bucket"},
    "operators.bucket.OrbitDeleteBucketOperator": {"bucket_name": "old-bucket"},
    "operators.lifecycle.OrbitLifecycleExpirationOperator": {"prefix": "p/", "days": 3},
    "operators.sync.OrbitSyncOperator": {"source": "/tmp/x", "dest": "s3://ok-bucket/p/"},
    "sensors.unchanged.OrbitPrefixUnchangedSensor": {"bucket": "ok-bucket", "prefix": "p/"},
    OrbitUploadOperator: {"source": "/tmp/f.bin", "key": "k"},
    OrbitDownloadOperator: {"key": "k", "dest": "/tmp/o"},
    OrbitListKeysOperator: {},
    OrbitAbortIncompleteUploadsOperator: {},
    OrbitBatchCopyOperator: {"prefix": "p/", "dest_prefix": "x/"},
    OrbitBatchDeleteOperator: {"prefix": "p/"},
    OrbitStorageClassOperator: {"prefix": "p/", "storage_class": "GLACIER"},
    OrbitBatchTagOperator: {"prefix": "p/", "tags": {"a": "b"}},
    OrbitBatchMetadataOperator: {"prefix": "p/", "metadata": {"a": "b"}},
    OrbitVersioningOperator: {"action": "enable"},
    OrbitRestoreVersionOperator: {"key": "k", "version_id": "v"},
    OrbitRollbackPrefixOperator: {"prefix": "p/", "timestamp": "2026-01-01T00:00:00Z"},
    OrbitArchiveRestoreOperator: {"keys": ["a"]},
    OrbitObjectSensor: {"bucket": "ok-bucket", "key": "k"},
    OrbitArchiveRestoreSensor: {"bucket": "ok-bucket", "keys": ["k"]},
}
# A field fed by XCom that replaces another (one key source, one of key / prefix, ...).
REPLACES = {"keys": ("key", "prefix"), "prefix": ("key", "keys"), "key": ("prefix",),
            "timestamp": ("version_id",), "key_range": ("prefix",),
            "inventory_manifest": ("prefix",)}  # fmt: skip
NEEDS_OTHERS = {"inventory_bucket", "inventory_filters"}  # only with inventory_manifest


def _class(entry: Any) -> type:
    if isinstance(entry, type):
        return entry
    module, _, name = f"orbit_provider.{entry}".rpartition(".")
    return getattr(importlib.import_module(module), name)


def _every_operator_and_sensor() -> set[type]:
    """Every concrete operator and sensor class the package defines."""
    from airflow.sdk import BaseOperator

    found = set()
    for package in ("orbit_provider.operators", "orbit_provider.sensors"):
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
            module = importlib.import_module(f"{package}.{info.name}")
            for value in vars(module).values():
                if (isinstance(value, type) and issubclass(value, BaseOperator)
                        and value.__module__ == module.__name__
                        and not inspect.isabstract(value) and "Base" not in value.__name__
                        and not value.__name__.startswith("_")):
                    found.add(value)  # fmt: skip
    return found


def test_the_xcom_table_covers_every_operator_and_sensor():
    assert OPERATORS <= {_class(c) for c in VALID}
    assert _every_operator_and_sensor() <= {_class(c) for c in VALID}


@pytest.mark.parametrize("entry", VALID, ids=lambda c: _class(c).__name__)
def test_every_template_field_takes_an_xcom_when_the_dag_is_parsed(entry):
    """`field=upstream_task()` (an XComArg) never breaks parsing: checked at execute."""
    cls = _class(entry)
    for field in cls.template_fields:
        if field in NEEDS_OTHERS:
            continue
        with DAG(f"orbit_xcom_parse_{cls.__name__}_{field}", schedule=None, start_date=START):

            @task
            def upstream() -> str:
                return "x"

            kwargs = {k: v for k, v in VALID[entry].items() if k not in REPLACES.get(field, ())}
            if field == "bucket" and "bucket_name" in kwargs:  # the bucket operators' name
                field = "bucket_name"
            kwargs[field] = upstream()
            cls(task_id="op", **kwargs)  # raises on failure


def test_xcom_fed_inputs_run_in_a_dag_and_bad_ones_fail_without_retries(
    dag_runner, where, seaweed_client
):
    """The reproduced cases of issue 14 (keys=, key=, bucket= from an upstream task), inside
    a real DAG run; a bad bucket name from XCom fails at execute, once, despite retries."""
    with DAG("orbit_xcom_inputs", schedule=None, start_date=START) as dag:

        @task
        def names() -> dict:
            return {"bucket": where.bucket, "key": "data/a.txt",
                    "keys": ["data/a.txt", "data/b.txt"], "bad": "not a bucket!"}  # fmt: skip

        found = names()
        OrbitObjectSensor(task_id="keys", bucket=found["bucket"], keys=found["keys"],
                          timeout=30, poke_interval=1)  # fmt: skip
        OrbitObjectSensor(task_id="key", bucket=found["bucket"], key=found["key"],
                          timeout=30, poke_interval=1)  # fmt: skip
        OrbitArchiveRestoreSensor(task_id="restored", bucket=found["bucket"],
                                  keys=found["keys"], timeout=30, poke_interval=1)  # fmt: skip
        OrbitListKeysOperator(task_id="listed", bucket=found["bucket"], prefix="data/")
        OrbitBatchTagOperator(task_id="tagged", bucket=found["bucket"], keys=found["keys"],
                              tags={"seen": "yes"})  # fmt: skip
        OrbitListKeysOperator(task_id="bad_bucket", bucket=found["bad"], retries=3,
                              retry_delay=dt.timedelta(seconds=0))  # fmt: skip
        @task
        def key_list() -> list[str]:
            return ["data/a.txt", "data/b.txt"]

        OrbitObjectSensor.partial(task_id="mapped", bucket=where.bucket, timeout=30,
                                  poke_interval=1).expand(key=key_list())  # fmt: skip
    result = dag_runner(dag)
    states = result.task_states()
    assert states == {
        "names": "success", "keys": "success", "key": "success", "restored": "success",
        "listed": "success", "tagged": "success", "bad_bucket": "failed",
        "key_list": "success", "mapped[0]": "success", "mapped[1]": "success",
    }, states  # fmt: skip
    assert result.xcom("keys")["count"] == 2
    assert result.xcom("restored")["bucket"] == where.bucket
    assert seaweed_client.get_tags("data/b.txt") == {"seen": "yes"}
    ti = result.dag_run.get_task_instance("bad_bucket")
    assert ti.try_number == 1  # an AirflowFailException: no retry was spent on it
