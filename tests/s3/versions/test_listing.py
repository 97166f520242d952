"""Version listings: exactly one key, every page, versions and delete markers in true order."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from orbit_provider.s3 import DeleteMarker, ObjectVersion
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.versions.listing import iter_key_histories
from tests.s3.versions.helpers import history_of


@pytest.fixture(params=["moto", "seaweed"])
def vclient(request):
    """A versioned bucket on moto (in-process) or on the real SeaweedFS server."""
    make = request.getfixturevalue(
        "make_moto_client" if request.param == "moto" else "make_seaweed_client"
    )
    client = make()
    client.enable_versioning()
    return client


def test_listing_holds_exactly_the_key_not_its_prefix_siblings(vclient):
    ids = [vclient.upload_bytes(b"a%d" % i, "a").version_id for i in range(3)]
    for sibling in ("a1", "a/b", "a-c", "ab"):
        vclient.upload_bytes(b"x", sibling)
    marker = vclient.delete("a")

    listing = vclient.list_object_versions("a")

    assert listing.key == "a"
    assert {v.key for v in listing.versions} == {"a"}
    assert [v.version_id for v in listing.versions] == ids[::-1]
    assert [m.version_id for m in listing.delete_markers] == [marker.version_id]
    assert listing.is_deleted and listing.latest.version_id == marker.version_id
    newest = listing.versions[0]
    assert isinstance(newest, ObjectVersion)
    assert newest.size == 2 and newest.etag and newest.storage_class == "STANDARD"
    assert newest.last_modified.tzinfo is not None and not newest.is_latest
    assert vclient.list_object_versions("a1").versions[0].key == "a1"


def test_versions_and_markers_interleave_in_history_order_within_one_second(
    make_seaweed_client,
):
    # All of these usually land in the same second: only the listing's document order tells
    # them apart (moto writes all versions before all markers, so this runs on SeaweedFS).
    vclient = make_seaweed_client()
    vclient.enable_versioning()
    v1 = vclient.upload_bytes(b"1", "k").version_id
    d1 = vclient.delete("k").version_id
    v2 = vclient.upload_bytes(b"2", "k").version_id
    d2 = vclient.delete("k").version_id
    d3 = vclient.delete("k").version_id
    v3 = vclient.upload_bytes(b"3", "k").version_id

    assert history_of(vclient, "k") == [
        ("V", v3), ("D", d3), ("D", d2), ("V", v2), ("D", d1), ("V", v1)
    ]
    # The same across pages of two entries.
    listing = vclient.list_object_versions("k", page_size=2)
    assert [e.version_id for e in listing.history] == [v3, d3, d2, v2, d1, v1]
    assert isinstance(listing.history[1], DeleteMarker) and listing.history[0].is_latest


def test_listing_reads_every_page_of_many_versions(vclient):
    vclient.upload_bytes(b"before", "a-")  # sorts before "a/", after "a"
    vclient.upload_bytes(b"sibling", "a1")

    def put(i: int) -> str:
        return vclient.upload_bytes(b"%d" % i, "a").version_id

    # 1,100 versions on SeaweedFS. moto's in-process store is not thread-safe (its listing
    # loses concurrent writes) and lists in O(n^2): 250 sequential versions there.
    on_moto = vclient.config.endpoint is None
    count = 250 if on_moto else 1100
    with ThreadPoolExecutor(max_workers=1 if on_moto else 8) as pool:
        ids = list(pool.map(put, range(count)))
    vclient.upload_bytes(b"sibling", "a1")

    listing = vclient.list_object_versions("a", page_size=100)

    assert len(listing.versions) == count
    assert sorted(v.version_id for v in listing.versions) == sorted(ids)
    assert {v.key for v in listing.versions} == {"a"}
    assert sum(v.is_latest for v in listing.versions) == 1
    assert listing.delete_markers == []


def test_key_histories_group_a_prefix_across_pages(vclient):
    for key, count in (("p/a", 3), ("p/b", 1), ("p/c", 2)):
        for i in range(count):
            vclient.upload_bytes(b"%d" % i, key)
    vclient.delete("p/b")
    vclient.upload_bytes(b"x", "q/outside")

    histories = list(iter_key_histories(vclient, "p/", page_size=2))

    assert [(h.key, len(h.versions), len(h.delete_markers)) for h in histories] == [
        ("p/a", 3, 0), ("p/b", 1, 1), ("p/c", 2, 0)
    ]


def test_pre_versioning_objects_keep_the_null_version_id(make_moto_client):
    client = make_moto_client()
    client.upload_bytes(b"old", "k")
    client.enable_versioning()
    new = client.upload_bytes(b"new", "k").version_id

    listing = client.list_object_versions("k")

    assert [v.version_id for v in listing.versions] == [new, "null"]
    assert client.download_bytes("k", version_id=listing.find("null").version_id) == b"old"


def test_missing_key_lists_empty_and_bad_page_size_is_refused(moto_client):
    listing = moto_client.list_object_versions("nothing")
    assert listing.history == [] and listing.latest is None and not listing.is_deleted
    with pytest.raises(ConfigError, match="page_size"):
        moto_client.list_object_versions("k", page_size=0)
    with pytest.raises(ConfigError, match="key"):
        moto_client.list_object_versions("")
