"""sync() against SeaweedFS: each direction, identical files skipped, extraneous files deleted
only when asked and listed by a dry run first, S3 -> S3 by server-side copy."""

from __future__ import annotations

import os

import pytest

from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.transfer.tree_sync import parse_location, sync
from orbit_provider.testing.clients import client_for, create_bucket


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    for name in ("a.txt", "b.txt", "sub/c.txt"):
        (src / name).write_bytes(os.urandom(3000))
    return src


def keys(client, prefix="") -> list[str]:
    return sorted(o.key for o in client.iter_objects(prefix))


def test_local_to_s3_and_back_skip_what_is_identical(seaweed_client, folder, tmp_path):
    url = f"s3://{seaweed_client.bucket}/s/"
    first = sync(seaweed_client, folder, url)
    assert first.files_sent == 3 and keys(seaweed_client) == ["s/a.txt", "s/b.txt", "s/sub/c.txt"]
    again = sync(seaweed_client, folder, url)
    assert again.files_sent == 0 and again.files_skipped == 3

    back = tmp_path / "back"
    down = sync(seaweed_client, url, back)
    assert down.files_sent == 3
    assert (back / "sub" / "c.txt").read_bytes() == (folder / "sub" / "c.txt").read_bytes()
    assert sync(seaweed_client, url, back).files_skipped == 3


def test_extraneous_files_are_kept_unless_asked_and_a_dry_run_lists_them(
    seaweed_client, folder, tmp_path
):
    url = f"s3://{seaweed_client.bucket}/s/"
    sync(seaweed_client, folder, url)
    (folder / "b.txt").unlink()
    kept = sync(seaweed_client, folder, url)
    assert "s/b.txt" in keys(seaweed_client) and kept.files_deleted == 0

    plan = sync(seaweed_client, folder, url, delete_extraneous=True, dry_run=True)
    assert plan.files_would_delete == 1
    assert [e.dest for e in plan.entries if e.status == "would_delete"] == ["s/b.txt"]
    assert "s/b.txt" in keys(seaweed_client)

    done = sync(seaweed_client, folder, url, delete_extraneous=True)
    assert done.files_deleted == 1 and keys(seaweed_client) == ["s/a.txt", "s/sub/c.txt"]

    back = tmp_path / "back"
    back.mkdir()
    (back / "stale.txt").write_bytes(b"old")
    plan = sync(seaweed_client, url, back, delete_extraneous=True, dry_run=True)
    assert plan.files_would_delete == 1 and (back / "stale.txt").exists()
    sync(seaweed_client, url, back, delete_extraneous=True)
    assert sorted(p.name for p in back.rglob("*") if p.is_file()) == ["a.txt", "c.txt"]


def test_s3_to_s3_copies_server_side_and_skips_identical(seaweed, seaweed_client, folder):
    other = create_bucket(seaweed)
    sync(seaweed_client, folder, f"s3://{seaweed_client.bucket}/s/")
    dest = f"s3://{other}/copy/"
    first = sync(seaweed_client, f"s3://{seaweed_client.bucket}/s/", dest)
    assert first.files_sent == 3 and first.bytes_sent == 9000
    assert first.verification == {"server-side": 3}
    target = client_for(seaweed, other)
    assert keys(target) == ["copy/a.txt", "copy/b.txt", "copy/sub/c.txt"]
    assert target.download_bytes("copy/a.txt") == (folder / "a.txt").read_bytes()
    again = sync(seaweed_client, f"s3://{seaweed_client.bucket}/s/", dest)
    assert again.files_skipped == 3 and again.files_sent == 0

    target.upload_bytes(b"extra", "copy/extra.txt")
    done = sync(seaweed_client, f"s3://{seaweed_client.bucket}/s/", dest, delete_extraneous=True)
    assert done.files_deleted == 1 and "copy/extra.txt" not in keys(target)


@pytest.mark.parametrize(
    ("source", "dest", "message"),
    [
        ("/a", "/b", "both local"),
        ("s3://ab/x", "/b", "bucket"),
        ("gs://bucket/x", "/b", "only local paths and s3://"),
        ("s3://bucket-one/data/", "s3://bucket-one/data/sub/", "overlap"),
    ],
)
def test_bad_locations_fail_before_any_request(seaweed_client, source, dest, message):
    with pytest.raises(ConfigError, match=message):
        sync(seaweed_client, source, dest)
    assert keys(seaweed_client) == []


def test_parse_location():
    assert parse_location("s3://bkt/a/b/") == ("bkt", "a/b/")
    assert parse_location("s3://bkt") == ("bkt", "")
    assert parse_location("/tmp/x") == (None, "/tmp/x")
