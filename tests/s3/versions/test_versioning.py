"""Versioning: status, restore, delete, undelete, compare, version_at, unknown versions.

Every behaviour runs on moto (in-process) and on a real SeaweedFS server.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pendulum
import pytest

from orbit_provider.s3 import ObjectVersion, VersionComparison
from orbit_provider.s3.config import MIB
from orbit_provider.s3.errors import ConfigError, NotFound
from tests.s3.versions.helpers import history_of, moment_after_write


@pytest.fixture(params=["moto", "seaweed"])
def make_client(request):
    """Build clients (with S3Config overrides) on a fresh bucket of moto or SeaweedFS."""
    return request.getfixturevalue(
        "make_moto_client" if request.param == "moto" else "make_seaweed_client"
    )


@pytest.fixture
def vclient(make_client):
    client = make_client()
    client.enable_versioning()
    return client


# -- status -------------------------------------------------------------------------------


def test_status_never_enabled_then_enabled_then_suspended(make_client):
    client = make_client()

    never = client.get_versioning_status()
    assert (never.status, never.enabled, never.suspended) == (None, False, False)
    assert not never.ever_enabled

    enabled = client.enable_versioning()
    assert (enabled.status, enabled.enabled, enabled.suspended) == ("Enabled", True, False)
    assert client.get_versioning_status() == enabled

    suspended = client.suspend_versioning()
    assert (suspended.status, suspended.enabled, suspended.suspended) == (
        "Suspended", False, True
    )
    assert suspended.to_dict() == {"status": "Suspended", "enabled": False, "suspended": True}


# -- restore ------------------------------------------------------------------------------


def test_restore_version_keeps_metadata_and_content_type(vclient):
    old = vclient.upload_bytes(
        b"first", "doc.txt", metadata={"owner": "ana"}, content_type="text/x-first"
    ).version_id
    vclient.upload_bytes(b"second", "doc.txt", metadata={"owner": "bo"}, content_type="text/plain")

    new_id = vclient.restore_version("doc.txt", old)

    assert new_id not in (old, "null")
    assert vclient.latest_version_id("doc.txt") == new_id
    assert vclient.download_bytes("doc.txt") == b"first"
    meta = vclient.get_metadata("doc.txt")
    assert meta.metadata == {"owner": "ana"}
    assert meta.content_type == "text/x-first"
    assert len(vclient.list_object_versions("doc.txt").versions) == 3  # history kept


def test_restore_of_a_multipart_sized_version_copies_in_parts(make_client):
    client = make_client(multipart_copy_threshold=5 * MIB)
    client.enable_versioning()
    big = os.urandom(11 * MIB)
    old = client.upload_bytes(
        big, "big.bin", metadata={"kind": "big"}, content_type="application/x-big"
    ).version_id
    client.upload_bytes(b"small now", "big.bin")

    new_id = client.restore_version("big.bin", old)

    meta = client.get_metadata("big.bin")
    assert meta.version_id == new_id
    assert meta.size == len(big)
    assert meta.etag.endswith("-3")  # three 5 MiB-sized UploadPartCopy parts
    assert meta.metadata == {"kind": "big"} and meta.content_type == "application/x-big"
    assert client.download_bytes("big.bin") == big


def test_restore_of_the_pre_versioning_null_version(make_client):
    client = make_client()
    client.upload_bytes(b"from before versioning", "k")
    client.enable_versioning()
    client.upload_bytes(b"later", "k")

    new_id = client.restore_version("k", "null")

    assert new_id != "null"
    assert client.download_bytes("k") == b"from before versioning"


def test_restore_refuses_a_delete_marker(vclient):
    vclient.upload_bytes(b"x", "k")
    marker = vclient.delete("k").version_id
    with pytest.raises(ConfigError, match="delete marker"):
        vclient.restore_version("k", marker)


# -- delete and undelete -------------------------------------------------------------------


def test_delete_version_removes_only_that_version(vclient):
    v1 = vclient.upload_bytes(b"1", "k").version_id
    v2 = vclient.upload_bytes(b"2", "k").version_id
    v3 = vclient.upload_bytes(b"3", "k").version_id

    result = vclient.delete_version("k", v2)

    assert (result.key, result.version_id, result.delete_marker) == ("k", v2, False)
    assert history_of(vclient, "k") == [("V", v3), ("V", v1)]
    assert vclient.download_bytes("k") == b"3"


def test_delete_version_of_the_latest_makes_the_previous_current(vclient):
    v1 = vclient.upload_bytes(b"1", "k").version_id
    v2 = vclient.upload_bytes(b"2", "k").version_id
    vclient.delete_version("k", v2)
    assert vclient.latest_version_id("k") == v1
    assert vclient.download_bytes("k") == b"1"


def test_undelete_removes_the_delete_marker(vclient):
    v1 = vclient.upload_bytes(b"alive", "k").version_id
    marker = vclient.delete("k").version_id
    assert not vclient.exists("k")
    assert vclient.latest_version_id("k") is None

    removed = vclient.undelete("k")

    assert removed == marker
    assert vclient.download_bytes("k") == b"alive"
    assert history_of(vclient, "k") == [("V", v1)]


def test_undelete_of_a_key_deleted_twice_removes_both_markers(vclient):
    vclient.upload_bytes(b"alive", "k")
    vclient.delete("k")
    vclient.delete("k")
    vclient.undelete("k")
    assert vclient.download_bytes("k") == b"alive"
    assert vclient.list_object_versions("k").delete_markers == []


def test_undelete_errors(vclient):
    vclient.upload_bytes(b"alive", "k")
    with pytest.raises(ConfigError, match="not deleted"):
        vclient.undelete("k")
    with pytest.raises(NotFound):
        vclient.undelete("never-written")
    only = vclient.upload_bytes(b"x", "only-marker").version_id
    vclient.delete("only-marker")
    vclient.delete_version("only-marker", only)  # a delete marker with nothing under it
    with pytest.raises(NotFound, match="only delete markers"):
        vclient.undelete("only-marker")
    assert len(vclient.list_object_versions("only-marker").delete_markers) == 1


# -- compare ------------------------------------------------------------------------------


def test_compare_single_part_versions(vclient):
    a = vclient.upload_bytes(b"same bytes", "k").version_id
    b = vclient.upload_bytes(b"same bytes", "k").version_id
    c = vclient.upload_bytes(b"diff bytes", "k").version_id
    d = vclient.upload_bytes(b"longer content", "k").version_id

    same = vclient.compare_versions("k", a, b)
    assert isinstance(same, VersionComparison)
    # SeaweedFS returns the stored CRC32s; moto keeps none for versions: its ETags decide.
    decided_by = "checksum" if vclient.config.endpoint else "etag"
    assert (same.content_differs, same.method, same.size_difference) == (False, decided_by, 0)
    assert same.time_difference.total_seconds() >= 0

    differ = vclient.compare_versions("k", a, c)
    assert (differ.content_differs, differ.method) == (True, decided_by)

    longer = vclient.compare_versions("k", a, d)
    assert (longer.content_differs, longer.method, longer.size_difference) == (True, "size", 4)
    assert vclient.compare_versions("k", d, a).size_difference == -4


def test_compare_by_etag_when_no_checksums_are_stored(make_client):
    client = make_client(verify_checksums=False)
    client.enable_versioning()
    a = client.upload_bytes(b"same bytes", "k").version_id
    b = client.upload_bytes(b"same bytes", "k").version_id
    c = client.upload_bytes(b"diff bytes", "k").version_id
    assert client.compare_versions("k", a, b).method == "etag"
    assert not client.compare_versions("k", a, b).content_differs
    assert client.compare_versions("k", a, c).content_differs


def test_compare_multipart_versions_by_streaming(make_client):
    client = make_client(multipart_copy_threshold=5 * MIB)
    client.enable_versioning()
    data = os.urandom(11 * MIB)
    single = client.upload_bytes(data, "k").version_id
    changed = bytearray(data)
    changed[-1] ^= 0xFF
    other = client.upload_bytes(bytes(changed), "k").version_id
    multipart_copy = client.restore_version("k", single)  # same bytes, '-3' ETag

    same = client.compare_versions("k", single, multipart_copy)
    assert (same.content_differs, same.method, same.size_difference) == (False, "stream", 0)

    differ = client.compare_versions("k", other, multipart_copy)
    assert (differ.content_differs, differ.method) == (True, "stream")


def test_compare_refuses_delete_markers(vclient):
    a = vclient.upload_bytes(b"x", "k").version_id
    marker = vclient.delete("k").version_id
    with pytest.raises(ConfigError, match="delete marker"):
        vclient.compare_versions("k", a, marker)


# -- version_at ----------------------------------------------------------------------------


def test_version_at_follows_writes_and_deletes(vclient):
    before_any = pendulum.now("UTC") - timedelta(seconds=5)
    v1 = vclient.upload_bytes(b"1", "k").version_id
    t1 = moment_after_write()
    v2 = vclient.upload_bytes(b"2", "k").version_id
    t2 = moment_after_write()
    vclient.delete("k")
    t3 = moment_after_write()
    v3 = vclient.upload_bytes(b"3", "k").version_id
    t4 = pendulum.now("UTC")

    def at(when):
        found = vclient.version_at("k", when)
        return found.version_id if found else None

    assert at(before_any) is None  # before the first version
    assert at(t1) == v1
    assert at(t2) == v2
    assert at(t3) is None  # a delete marker was current
    assert at(t4) == v3
    assert isinstance(vclient.version_at("k", t1), ObjectVersion)
    # Other spellings of the same moment: ISO string, stdlib datetime in another zone.
    assert at(t1.isoformat()) == v1
    plus_two = timezone(timedelta(hours=2))
    assert at(datetime.fromtimestamp(t2.timestamp(), plus_two)) == v2
    assert vclient.version_at("never-written", t4) is None


def test_version_at_refuses_naive_and_malformed_timestamps(moto_client):
    with pytest.raises(ConfigError, match="time zone"):
        moto_client.version_at("k", datetime(2024, 1, 1))
    with pytest.raises(ConfigError, match="timestamp"):
        moto_client.version_at("k", "not a time")


def test_restore_at_a_moment(vclient):
    v1 = vclient.upload_bytes(b"1", "k").version_id
    t1 = moment_after_write()
    vclient.upload_bytes(b"2", "k")

    done = vclient.restore_at("k", t1)
    assert (done.restored_version_id, done.changed) == (v1, True)
    assert vclient.download_bytes("k") == b"1"
    again = vclient.restore_at("k", pendulum.now("UTC"))
    assert (again.changed, again.current_version_id) == (False, done.current_version_id)
    with pytest.raises(NotFound, match="did not exist"):
        vclient.restore_at("k", t1 - timedelta(minutes=5))


# -- latest / newer -------------------------------------------------------------------------


def test_latest_version_id_and_is_newer_version(vclient):
    assert vclient.latest_version_id("k") is None
    v1 = vclient.upload_bytes(b"1", "k").version_id
    assert vclient.latest_version_id("k") == v1
    assert not vclient.is_newer_version("k", v1)
    vclient.delete("k")  # a delete marker is not a newer version
    assert not vclient.is_newer_version("k", v1)
    v2 = vclient.upload_bytes(b"2", "k").version_id
    assert vclient.is_newer_version("k", v1)
    assert not vclient.is_newer_version("k", v2)


# -- download -------------------------------------------------------------------------------


def test_download_version_writes_that_version(vclient, tmp_path):
    v1 = vclient.upload_bytes(b"version one", "k").version_id
    vclient.upload_bytes(b"version two", "k")

    result = vclient.download_version("k", v1, tmp_path / "out")

    assert (tmp_path / "out").read_bytes() == b"version one"
    assert result.version_id == v1 and result.size == len(b"version one")


# -- unknown version ids ---------------------------------------------------------------------


def test_unknown_version_id_is_not_found_naming_key_and_version(vclient, tmp_path):
    real = vclient.upload_bytes(b"x", "k").version_id
    bogus = "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd"
    calls = {
        "restore_version": lambda: vclient.restore_version("k", bogus),
        "delete_version": lambda: vclient.delete_version("k", bogus),
        "compare_versions": lambda: vclient.compare_versions("k", real, bogus),
        "download_version": lambda: vclient.download_version("k", bogus, tmp_path / "o"),
        "is_newer_version": lambda: vclient.is_newer_version("k", bogus),
    }
    for name, call in calls.items():
        with pytest.raises(NotFound) as info:
            call()
        assert info.value.version_id == bogus, name
        assert info.value.key == "k", name
        assert bogus in str(info.value) and "/k" in str(info.value), name
    assert history_of(vclient, "k") == [("V", real)]  # nothing changed
    assert not (tmp_path / "o").exists()


def test_empty_version_id_is_refused_before_any_request(moto_client):
    with pytest.raises(ConfigError, match="version_id"):
        moto_client.delete_version("k", "")
