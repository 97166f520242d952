"""OrbitUploadOperator / OrbitDownloadOperator execute() against moto: results, skips, lineage,
and bad input refused before any request with nothing changed in the bucket."""

from __future__ import annotations

import json
import os

import boto3
import pytest

from orbit_provider.operators.base import OrbitTaskError
from orbit_provider.operators.transfer import OrbitDownloadOperator, OrbitUploadOperator
from orbit_provider.s3.config import MIB
from tests.operators.operator_context import (  # noqa: F401 - fixtures
    MOTO_BUCKET,
    collector_fixture,
    make_context,
    moto_conn_fixture,
)


def keys_in_bucket() -> list[str]:
    resp = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=MOTO_BUCKET)
    return sorted(o["Key"] for o in resp.get("Contents", []))


@pytest.fixture
def tree(tmp_path):
    """src/a.txt, src/sub/b.csv, src/sub/deeper/c.csv (6 MiB: multipart at 5 MiB parts)."""
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"a" * 100)
    (src / "sub" / "b.csv").write_bytes(b"b,1\n" * 50)
    (src / "sub" / "deeper" / "c.csv").write_bytes(os.urandom(6 * MIB))
    return src


def upload(**kwargs) -> tuple[dict, dict]:
    context = make_context()
    op = OrbitUploadOperator(task_id="up", bucket=MOTO_BUCKET, **kwargs)
    return op.execute(context), context


# -- upload -------------------------------------------------------------------------------


def test_a_folder_uploads_recursively_with_forward_slash_keys(moto_conn, moto_client, tree):
    summary, context = upload(
        source=str(tree), prefix="in/", storage_class="STANDARD_IA",
        metadata={"team": "data"}, tags={"env": "test"}, content_type="text/plain",
        progress_xcom=True,
    )  # fmt: skip
    assert keys_in_bucket() == ["in/a.txt", "in/sub/b.csv", "in/sub/deeper/c.csv"]
    assert summary["succeeded"] == 3 and summary["failed"] == 0
    assert summary["bytes"] == 100 + 200 + 6 * MIB
    by_key = {o["key"]: o for o in summary["objects"]}
    assert by_key["in/sub/deeper/c.csv"]["parts"] == 2
    head = moto_client.get_metadata("in/sub/b.csv")
    assert head.storage_class == "STANDARD_IA" and head.content_type == "text/plain"
    assert head.metadata["team"] == "data"
    assert moto_client.get_tags("in/sub/b.csv") == {"env": "test"}
    assert moto_client.download_bytes("in/sub/b.csv") == (tree / "sub" / "b.csv").read_bytes()
    progress = context["ti"].values("orbit_progress")[-1]
    assert progress["final"] and progress["objects_done"] == 3 and progress["percent"] == 100.0


def test_a_single_file_goes_to_its_key_or_under_a_prefix(moto_conn, tree):
    upload(source=str(tree / "a.txt"), key="exact/name.txt")
    upload(source=tree / "a.txt", prefix="p/")
    assert keys_in_bucket() == ["exact/name.txt", "p/a.txt"]


def test_a_glob_uploads_matches_relative_to_its_fixed_folder(moto_conn, tree):
    summary, _ = upload(source=f"{tree}/**/*.csv", prefix="csv/")
    assert keys_in_bucket() == ["csv/sub/b.csv", "csv/sub/deeper/c.csv"]
    assert summary["succeeded"] == 2


def test_skip_if_identical_skips_unchanged_files_and_uploads_changed_ones(moto_conn, tree):
    upload(source=str(tree), prefix="in/")
    (tree / "sub" / "b.csv").write_bytes(b"b,2\n" * 50)  # same size, other bytes
    summary, _ = upload(source=str(tree), prefix="in/", skip_if_identical=True)
    assert summary["skipped_keys"] == ["in/a.txt", "in/sub/deeper/c.csv"]
    assert [o["key"] for o in summary["objects"]] == ["in/sub/b.csv"]
    assert summary["skipped"] == 2 and summary["succeeded"] == 1 and summary["total"] == 3


def test_without_skip_if_identical_everything_is_uploaded_again(moto_conn, tree):
    upload(source=str(tree), prefix="in/")
    summary, _ = upload(source=str(tree), prefix="in/")
    assert summary["succeeded"] == 3 and summary["skipped"] == 0


def test_upload_reports_lineage(moto_conn, collector, tree):
    op = OrbitUploadOperator(task_id="up", bucket=MOTO_BUCKET, source=str(tree), prefix="in/")
    op.execute(make_context())
    collected = collector.collected_assets
    # Airflow normalises asset URIs (no trailing slash)
    assert [a.asset.uri for a in collected.outputs] == [f"s3://{MOTO_BUCKET}/in"]
    assert [a.asset.uri for a in collected.inputs] == [tree.as_uri()]
    facets = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in facets.outputs] == [(f"s3://{MOTO_BUCKET}", "in/")]
    assert [(d.namespace, d.name) for d in facets.inputs] == [("file", str(tree))]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "/no/such/file.bin", "key": "k"}, "source: '/no/such/file.bin' does not exist"),
        ({"source": "{tree}/*.parquet", "prefix": "p/"}, "matches no files"),
        ({"source": "{tree}", "key": "k"}, "is a folder .* use prefix"),
        ({"source": "{tree}/a.txt", "key": "k", "tags": {f"t{i}": "v" for i in range(11)}},
         "tags"),
        ({"source": "{tree}/a.txt", "key": "k", "metadata": {"bad key": "v"}}, "metadata"),
        ({"source": "{tree}/a.txt", "key": "k", "storage_class": "{{ params.sc }}"},
         "storage_class: unknown storage class 'PLATINUM'"),
    ],
)  # fmt: skip
def test_bad_upload_input_fails_before_any_request(moto_conn, tree, kwargs, message):
    kwargs = {k: v.replace("{tree}", str(tree)) if isinstance(v, str) else v
              for k, v in kwargs.items()}  # fmt: skip
    op = OrbitUploadOperator(task_id="up", bucket=MOTO_BUCKET, **kwargs)
    if op.storage_class == "{{ params.sc }}":
        op.storage_class = "PLATINUM"  # what rendering produced
    with pytest.raises(OrbitTaskError, match=message) as info:
        op.execute(make_context())
    assert info.value.code == "ConfigError"
    assert keys_in_bucket() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "k", "prefix": "p/"}, "key and prefix: give one of them"),
        ({}, "key or prefix"),
        ({"key": "k", "storage_class": "PLATINUM"}, "storage_class: unknown storage class"),
        ({"key": "k", "sse": "rot13"}, "server_side_encryption: unknown value 'rot13'"),
        ({"key": "k", "bucket": "UP PER"}, "bucket: 'UP PER'"),
    ],
)
def test_conflicting_or_invalid_arguments_fail_when_the_dag_is_parsed(kwargs, message):
    kwargs = {"bucket": MOTO_BUCKET, **kwargs}
    with pytest.raises(OrbitTaskError, match=message):
        OrbitUploadOperator(task_id="up", source="/tmp/x", **kwargs)


def test_a_failed_file_fails_the_task_after_the_others_are_uploaded(moto_conn, tree, monkeypatch):
    from orbit_provider.s3.errors import ServerError
    from orbit_provider.s3.transfer import upload as upload_module

    real = upload_module.upload_file

    def flaky(session, path, key, **kw):
        if key.endswith("b.csv"):
            raise ServerError(f"PutObject on s3://{session.bucket}/{key} failed: InternalError")
        return real(session, path, key, **kw)

    monkeypatch.setattr(upload_module, "upload_file", flaky)
    with pytest.raises(OrbitTaskError, match=r"upload: 1 of 3 object\(s\) failed .*in/sub/b.csv"):
        upload(source=str(tree), prefix="in/")
    assert keys_in_bucket() == ["in/a.txt", "in/sub/deeper/c.csv"]


def test_refused_credentials_stop_the_folder_at_once_with_one_error(moto_conn, tree, monkeypatch):
    from orbit_provider.s3.errors import AccessDenied
    from orbit_provider.s3.transfer import upload as upload_module

    calls = []

    def refused(session, path, key, **kw):
        calls.append(key)
        raise AccessDenied(f"PutObject on s3://{session.bucket}/{key} failed: "
                           "SignatureDoesNotMatch", code="SignatureDoesNotMatch")  # fmt: skip

    monkeypatch.setattr(upload_module, "upload_file", refused)
    with pytest.raises(OrbitTaskError, match="SignatureDoesNotMatch") as info:
        upload(source=str(tree), prefix="in/", max_concurrent_files=1)
    assert len(calls) == 1 and "the rest were not tried" in str(info.value)
    assert info.value.retryable is False  # a retry cannot fix credentials


def test_a_large_failure_list_goes_to_the_report(moto_conn, moto_client, tree, monkeypatch):
    from orbit_provider.s3.errors import ServerError
    from orbit_provider.s3.transfer import upload as upload_module

    def broken(session, path, key, **kw):
        raise ServerError(f"PutObject on s3://{session.bucket}/{key} failed: InternalError")

    monkeypatch.setattr(upload_module, "upload_file", broken)
    with pytest.raises(OrbitTaskError, match="3 of 3 object") as info:
        upload(source=str(tree), prefix="in/", max_items=1, report_prefix="reports/")
    assert "full list: " in str(info.value)
    (report,) = [k for k in keys_in_bucket() if k.startswith("reports/")]
    lines = moto_client.download_bytes(report).decode().splitlines()
    assert sorted(json.loads(x)["key"] for x in lines) == [
        "in/a.txt", "in/sub/b.csv", "in/sub/deeper/c.csv"]


def test_include_and_exclude_pick_the_files(moto_conn, tree):
    summary, _ = upload(source=str(tree), prefix="in/", include="*.csv", exclude="*/deeper/*")
    assert keys_in_bucket() == ["in/sub/b.csv"] and summary["succeeded"] == 1
    with pytest.raises(OrbitTaskError, match="include"):
        OrbitUploadOperator(task_id="up", bucket=MOTO_BUCKET, source="/x", prefix="p/",
                            include=[""])  # fmt: skip


# -- download -----------------------------------------------------------------------------


def put(client, key: str, data: bytes) -> None:
    client.upload_bytes(data, key)


def test_a_key_downloads_to_a_file_or_into_a_folder(moto_conn, moto_client, tmp_path):
    put(moto_client, "data/x.bin", b"x" * 1000)
    context = make_context()
    summary = OrbitDownloadOperator(
        task_id="d", bucket=MOTO_BUCKET, key="data/x.bin", dest=str(tmp_path / "new" / "y.bin"),
        progress_xcom=True,
    ).execute(context)
    assert (tmp_path / "new" / "y.bin").read_bytes() == b"x" * 1000
    assert summary["objects"][0]["path"] == str(tmp_path / "new" / "y.bin")
    assert context["ti"].values("orbit_progress")[-1]["final"] is True
    OrbitDownloadOperator(
        task_id="d", bucket=MOTO_BUCKET, key="data/x.bin", dest=str(tmp_path)
    ).execute(make_context())
    assert (tmp_path / "x.bin").read_bytes() == b"x" * 1000


def test_a_prefix_downloads_into_a_folder_tree(moto_conn, moto_client, tmp_path, collector):
    put(moto_client, "data/a.txt", b"a")
    put(moto_client, "data/sub/b.txt", b"bb")
    put(moto_client, "data/sub/", b"")  # a folder marker: not a file
    put(moto_client, "other/c.txt", b"c")
    op = OrbitDownloadOperator(task_id="d", bucket=MOTO_BUCKET, prefix="data", dest=str(tmp_path))
    summary = op.execute(make_context())
    assert (tmp_path / "a.txt").read_bytes() == b"a"
    assert (tmp_path / "sub" / "b.txt").read_bytes() == b"bb"
    assert not (tmp_path / "c.txt").exists()
    assert summary["succeeded"] == 2 and summary["bytes"] == 3
    assert [a.asset.uri for a in collector.collected_assets.inputs] == [
        f"s3://{MOTO_BUCKET}/data"
    ]
    facets = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in facets.inputs] == [(f"s3://{MOTO_BUCKET}", "data")]


def test_keys_escaping_the_folder_are_refused_before_anything_is_written(
    moto_conn, moto_client, tmp_path
):
    put(moto_client, "data/good.txt", b"g")
    put(moto_client, "data/../../evil.txt", b"e")
    dest = tmp_path / "dest"
    dest.mkdir()
    op = OrbitDownloadOperator(task_id="d", bucket=MOTO_BUCKET, prefix="data/", dest=str(dest))
    with pytest.raises(OrbitTaskError, match=r"would escape the destination .*'data/\.\./\.\./"):
        op.execute(make_context())
    assert list(dest.iterdir()) == []
    assert not (tmp_path.parent / "evil.txt").exists()


def test_a_missing_key_fails_naming_it(moto_conn, tmp_path):
    op = OrbitDownloadOperator(
        task_id="d", bucket=MOTO_BUCKET, key="nope.bin", dest=str(tmp_path / "f")
    )
    with pytest.raises(OrbitTaskError, match="nope.bin") as info:
        op.execute(make_context())
    assert info.value.code == "NotFound"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "k", "prefix": "p/"}, "key and prefix: give one of them"),
        ({}, "key or prefix"),
        ({"prefix": "p/", "version_id": "v1"}, "version_id: only valid with key"),
    ],
)
def test_conflicting_download_arguments(kwargs, message):
    with pytest.raises(OrbitTaskError, match=message):
        OrbitDownloadOperator(task_id="d", bucket=MOTO_BUCKET, dest="/tmp/x", **kwargs)


def test_each_download_says_which_check_ran_and_unverifiable_ones_can_be_refused(
    moto_conn, moto_client, tmp_path
):
    put(moto_client, "data/plain.bin", b"p" * 1000)
    kms = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    moto_client.s3.put_object(  # no checksum, and an SSE-KMS ETag is no MD5: size alone
        Bucket=MOTO_BUCKET, Key="data/sealed.bin", Body=b"s" * 1000,
        ServerSideEncryption="aws:kms", SSEKMSKeyId=kms,
    )  # fmt: skip
    summary = OrbitDownloadOperator(
        task_id="d", bucket=MOTO_BUCKET, prefix="data/", dest=str(tmp_path / "all")
    ).execute(make_context())
    checks = {o["key"]: o["verification"] for o in summary["objects"]}
    assert checks == {"data/plain.bin": "md5", "data/sealed.bin": "size"}

    strict = OrbitDownloadOperator(
        task_id="d", bucket=MOTO_BUCKET, key="data/sealed.bin",
        dest=str(tmp_path / "strict.bin"), require_verification=True,
    )  # fmt: skip
    with pytest.raises(OrbitTaskError, match="cannot be verified"):
        strict.execute(make_context())
    assert list(tmp_path.glob("*strict*")) == []  # nothing written, not even a temp file
    with pytest.raises(OrbitTaskError, match="require_verification: 'yes'"):
        OrbitDownloadOperator(task_id="d", key="k", dest="x", require_verification="yes")


def test_a_file_where_the_download_folder_should_be_is_named(moto_conn, moto_client, tmp_path):
    put(moto_client, "data/x.bin", b"x")
    (tmp_path / "blocker").write_bytes(b"not a folder")
    op = OrbitDownloadOperator(
        task_id="d", bucket=MOTO_BUCKET, key="data/x.bin", dest=str(tmp_path / "blocker" / "y.bin")
    )
    with pytest.raises(OrbitTaskError, match="blocker") as info:
        op.execute(make_context())
    assert "File exists" not in str(info.value) and "Errno" not in str(info.value)
    assert (tmp_path / "blocker").read_bytes() == b"not a folder"


def test_replace_false_never_overwrites_a_file_or_a_folders_keys(moto_conn, moto_client, tree):
    moto_client.upload_bytes(b"old", "one/a.txt")
    op = OrbitUploadOperator(task_id="u", bucket=MOTO_BUCKET, source=str(tree / "a.txt"),
                             key="one/a.txt", replace=False)
    with pytest.raises(OrbitTaskError, match="already exists"):
        op.execute(make_context())
    assert moto_client.download_bytes("one/a.txt") == b"old"
    moto_client.upload_bytes(b"old", "many/a.txt")
    folder = OrbitUploadOperator(task_id="u", bucket=MOTO_BUCKET, source=str(tree),
                                 prefix="many/", replace=False)
    with pytest.raises(OrbitTaskError, match="1 of"):
        folder.execute(make_context())
    assert moto_client.download_bytes("many/a.txt") == b"old"  # the taken key is left alone
    sent = {o.key for o in moto_client.iter_objects("many/")}
    assert len(sent) > 1  # the free keys were written


def test_s3_urls_name_the_bucket_of_an_upload_and_a_download(moto_conn, moto_client, tree,
                                                             tmp_path):
    OrbitUploadOperator(task_id="u", source=str(tree / "a.txt"),
                        key=f"s3://{MOTO_BUCKET}/url/a.txt").execute(make_context())
    assert moto_client.download_bytes("url/a.txt") == b"a" * 100
    OrbitDownloadOperator(task_id="d", prefix=f"s3://{MOTO_BUCKET}/url/",
                          dest=str(tmp_path / "back")).execute(make_context())
    assert (tmp_path / "back" / "a.txt").read_bytes() == b"a" * 100
    op = OrbitUploadOperator(task_id="u", bucket="other-bucket", source=str(tree / "a.txt"),
                             key=f"s3://{MOTO_BUCKET}/x")
    with pytest.raises(OrbitTaskError, match="give the bucket once"):
        op.execute(make_context())
