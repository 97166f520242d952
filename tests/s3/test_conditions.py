"""orbit_provider.s3.conditions: what sensors wait for, against moto (and moto's server); the
conditions' own checks and their to_dict/from_dict round trip."""

from __future__ import annotations

import dataclasses
import json

import pytest

from orbit_provider.s3 import S3Config, conditions
from orbit_provider.s3.conditions import (
    DETAIL_LIMIT,
    ArchiveRestored,
    Condition,
    ConditionResult,
    KeysReady,
    ObjectReady,
    PrefixReady,
    PrefixUnchanged,
    object_condition,
)
from orbit_provider.s3.errors import ArchivedObject, ConfigError, NotFound
from orbit_provider.s3.session import S3Session
from orbit_provider.testing.clients import client_for


def _start_upload(client, key: str) -> str:
    return client.s3.create_multipart_upload(Bucket=client.bucket, Key=key)["UploadId"]


def _abort_upload(client, key: str, upload_id: str) -> None:
    client.s3.abort_multipart_upload(Bucket=client.bucket, Key=key, UploadId=upload_id)


# -- ObjectReady --------------------------------------------------------------------------------


def test_missing_key_is_not_ready_and_says_so(moto_client):
    result = ObjectReady(key="incoming/data.csv").evaluate(moto_client)
    assert isinstance(result, ConditionResult)
    assert not result.met and not result
    assert "does not exist" in result.reason and "incoming/data.csv" in result.reason


def test_existing_key_is_ready_with_json_details(moto_client):
    put = moto_client.upload_bytes(b"x" * 1234, "incoming/data.csv")
    result = ObjectReady(key="incoming/data.csv").evaluate(moto_client)
    assert result.met and result
    assert result.details["key"] == "incoming/data.csv"
    assert result.details["size"] == 1234
    assert result.details["etag"] == put.etag
    assert result.details["storage_class"] == "STANDARD"
    json.dumps(result.to_dict())  # JSON-serializable, for trigger events and XComs


def test_min_size(moto_client):
    moto_client.upload_bytes(b"x" * 100, "k")
    small = ObjectReady(key="k", min_size=101).evaluate(moto_client)
    assert not small.met
    assert "100 bytes" in small.reason and "min_size 101" in small.reason
    assert small.details["size"] == 100
    assert ObjectReady(key="k", min_size=100).evaluate(moto_client).met
    assert ObjectReady(key="k", min_size=0).evaluate(moto_client).met


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True])
def test_bad_min_size_is_refused_before_any_request(bad):
    # No moto here: a request would fail on the missing bucket/credentials, not with ConfigError.
    from orbit_provider.s3 import S3Client, S3Config

    client = S3Client(S3Config(bucket="never-contacted", endpoint="http://127.0.0.1:9"))
    with pytest.raises(ConfigError, match="min_size"):
        ObjectReady(key="k", min_size=bad).evaluate(client)


def test_bad_key_is_refused(moto_client):
    with pytest.raises(ConfigError, match="key"):
        ObjectReady(key="").evaluate(moto_client)


def test_missing_bucket_is_an_error_not_a_wait(make_moto_client):
    client = make_moto_client(bucket="no-such-bucket-here")
    with pytest.raises(NotFound):
        ObjectReady(key="k").evaluate(client)


def test_missing_bucket_is_an_error_on_seaweedfs_too(seaweed):
    # SeaweedFS answers HEAD of a key in a missing bucket with a bare 404, like a missing key.
    client = client_for(seaweed, "no-such-bucket-sw")
    with pytest.raises(NotFound) as info:
        ObjectReady(key="k").evaluate(client)
    assert info.value.key is None and "no-such-bucket-sw" in str(info.value)
    with pytest.raises(NotFound):
        ArchiveRestored(keys=["k"]).evaluate(client)


def test_unfinished_multipart_upload_holds_the_key_back(moto_client):
    moto_client.upload_bytes(b"old", "big.bin")
    upload_id = _start_upload(moto_client, "big.bin")
    _start_upload(moto_client, "big.bin.other")  # another key's upload does not count
    result = ObjectReady(key="big.bin", no_pending_upload=True).evaluate(moto_client)
    assert not result.met
    assert "unfinished multipart upload" in result.reason
    assert result.details["pending_uploads"] == 1
    # without the option the key is enough
    assert ObjectReady(key="big.bin").evaluate(moto_client).met
    _abort_upload(moto_client, "big.bin", upload_id)
    assert ObjectReady(key="big.bin", no_pending_upload=True).evaluate(moto_client).met


@pytest.fixture
def versioned(moto_client):
    moto_client.s3.put_bucket_versioning(
        Bucket=moto_client.bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    return moto_client


def test_newer_than_version(versioned):
    v1 = versioned.upload_bytes(b"one", "report.csv").version_id
    still = ObjectReady(key="report.csv", newer_than_version=v1).evaluate(versioned)
    assert not still.met and "still at version" in still.reason
    v2 = versioned.upload_bytes(b"two", "report.csv").version_id
    newer = ObjectReady(key="report.csv", newer_than_version=v1).evaluate(versioned)
    assert newer.met
    assert newer.details["version_id"] == v2
    assert not ObjectReady(key="report.csv", newer_than_version=v2).evaluate(versioned).met


def test_older_version_current_again_is_not_newer(versioned):
    v1 = versioned.upload_bytes(b"one", "report.csv").version_id
    v2 = versioned.upload_bytes(b"two", "report.csv").version_id
    v3 = versioned.upload_bytes(b"three", "report.csv").version_id
    versioned.delete("report.csv", version_id=v3)  # v2 is current again
    result = ObjectReady(key="report.csv", newer_than_version=v2).evaluate(versioned)
    assert not result.met and "still at version" in result.reason
    newer = ObjectReady(key="report.csv", newer_than_version=v1).evaluate(versioned)
    assert newer.met and newer.details["version_id"] == v2


def test_permanently_deleted_version_id_is_an_error(versioned):
    versioned.upload_bytes(b"one", "report.csv")
    v2 = versioned.upload_bytes(b"two", "report.csv").version_id
    versioned.delete("report.csv", version_id=v2)
    with pytest.raises(NotFound, match=v2):
        ObjectReady(key="report.csv", newer_than_version=v2).evaluate(versioned)


def test_newer_than_version_after_a_delete_marker(versioned):
    v1 = versioned.upload_bytes(b"one", "report.csv").version_id
    marker = versioned.delete("report.csv").version_id
    deleted = ObjectReady(key="report.csv", newer_than_version=v1).evaluate(versioned)
    assert not deleted.met
    versioned.upload_bytes(b"three", "report.csv")
    assert ObjectReady(key="report.csv", newer_than_version=marker).evaluate(versioned).met


def test_unknown_version_id_is_an_error(versioned):
    versioned.upload_bytes(b"one", "report.csv")
    with pytest.raises(NotFound, match="no-such-version"):
        ObjectReady(key="report.csv", newer_than_version="no-such-version").evaluate(versioned)


def test_newer_than_version_on_unversioned_bucket_is_an_error(moto_client):
    moto_client.upload_bytes(b"one", "report.csv")
    with pytest.raises(NotFound):
        ObjectReady(key="report.csv", newer_than_version="3HL4kqtJlcpXroDTDmjVBH40Nrjf").evaluate(
            moto_client
        )


# -- KeysReady, PrefixReady ----------------------------------------------------------------------


def test_keys_all_present(moto_client):
    for key in ("a.csv", "b.csv"):
        moto_client.upload_bytes(b"12345", key)
    result = KeysReady(keys=["a.csv", "b.csv"]).evaluate(moto_client)
    assert result.met
    assert result.details["count"] == 2
    assert result.details["total_size"] == 10
    assert [k["key"] for k in result.details["keys"]] == ["a.csv", "b.csv"]


def test_keys_one_missing(moto_client):
    moto_client.upload_bytes(b"12345", "a.csv")
    result = KeysReady(keys=["a.csv", "b.csv", "c.csv"]).evaluate(moto_client)
    assert not result.met
    assert result.reason.startswith("2 of 3 keys not ready")
    assert "b.csv" in result.reason
    assert result.details["waiting_for"] == ["b.csv", "c.csv"]


def test_keys_min_size_and_pending_upload(moto_client):
    moto_client.upload_bytes(b"1" * 10, "a.csv")
    moto_client.upload_bytes(b"1" * 3, "b.csv")
    assert not KeysReady(keys=["a.csv", "b.csv"], min_size=5).evaluate(moto_client).met
    assert KeysReady(keys=["a.csv", "b.csv"], min_size=3).evaluate(moto_client).met
    _start_upload(moto_client, "a.csv")
    result = KeysReady(keys=["a.csv", "b.csv"], no_pending_upload=True).evaluate(moto_client)
    assert not result.met and result.details["waiting_for"] == ["a.csv"]


def test_prefix_min_count(moto_client):
    moto_client.upload_bytes(b"x", "day/1.csv")
    moto_client.upload_bytes(b"x", "day/2.csv")
    moto_client.upload_bytes(b"x", "other/3.csv")
    waiting = PrefixReady(prefix="day/", min_count=3).evaluate(moto_client)
    assert not waiting.met
    assert "2 object(s)" in waiting.reason and "waiting for 3" in waiting.reason
    moto_client.upload_bytes(b"x", "day/3.csv")
    ready = PrefixReady(prefix="day/", min_count=3).evaluate(moto_client)
    assert ready.met
    assert ready.details["count"] == 3 and ready.details["listing_complete"]
    keys = sorted(k["key"] for k in ready.details["keys"])
    assert keys == ["day/1.csv", "day/2.csv", "day/3.csv"]


def test_prefix_min_size_ignores_small_objects(moto_client):
    moto_client.upload_bytes(b"x" * 50, "p/big")
    moto_client.upload_bytes(b"", "p/empty-marker")
    result = PrefixReady(prefix="p/", min_count=2, min_size=1).evaluate(moto_client)
    assert not result.met
    assert "1 objects outside the size or age rules ignored" in result.reason
    assert result.details["too_small"] == 1
    assert PrefixReady(prefix="p/", min_count=1, min_size=1).evaluate(moto_client).met


def test_prefix_pending_upload(moto_client):
    moto_client.upload_bytes(b"x", "p/done.csv")
    upload_id = _start_upload(moto_client, "p/partial.csv")
    result = PrefixReady(prefix="p/", no_pending_upload=True).evaluate(moto_client)
    assert not result.met and "p/partial.csv" in result.reason
    _abort_upload(moto_client, "p/partial.csv", upload_id)
    assert PrefixReady(prefix="p/", no_pending_upload=True).evaluate(moto_client).met


def test_empty_prefix_means_whole_bucket(moto_client):
    assert not PrefixReady(prefix="").evaluate(moto_client).met
    moto_client.upload_bytes(b"x", "anything")
    assert PrefixReady(prefix="").evaluate(moto_client).met


def test_large_prefix_stops_listing_once_met_and_caps_details(moto_client):
    for i in range(DETAIL_LIMIT + 5):
        moto_client.upload_bytes(b"x", f"many/{i:04d}")
    result = PrefixReady(prefix="many/", min_count=2).evaluate(moto_client)
    assert result.met
    assert result.details["count"] == DETAIL_LIMIT
    assert len(result.details["keys"]) == DETAIL_LIMIT
    assert result.details["listing_complete"] is False


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"keys": ["a"], "prefix": "p/"}, "exactly one of key, keys or prefix"),
        ({}, "exactly one of key, keys or prefix"),
        ({"prefix": "p/", "min_count": 0}, "min_count"),
        ({"prefix": "p/", "min_size": -5}, "min_size"),
        ({"keys": []}, "at least one key"),
        ({"keys": "a.csv"}, "list of object keys"),
        ({"keys": ["ok", ""]}, "keys"),
    ],
)
def test_keys_or_prefix_bad_arguments(kwargs, match):
    # object_condition picks KeysReady or PrefixReady (as the object sensor does), which
    # refuse bad fields when built: no client, so no request
    with pytest.raises(ConfigError, match=match):
        object_condition(**kwargs)


# -- ArchiveRestored (moto's HTTP server: archive classes and RestoreObject) ---------------------


@pytest.fixture
def archive_client(moto_server, moto_server_bucket):
    return client_for(moto_server, moto_server_bucket)


def test_not_archived_keys_are_readable(archive_client):
    archive_client.upload_bytes(b"hot", "hot.csv")
    archive_client.upload_bytes(b"ia", "ia.csv", storage_class="STANDARD_IA")
    result = ArchiveRestored(keys=["hot.csv", "ia.csv"]).evaluate(archive_client)
    assert result.met
    assert result.details["readable"] == 2
    assert sorted(result.details["not_archived"]) == ["hot.csv", "ia.csv"]


def test_archived_without_restore_waits_or_fails(archive_client):
    archive_client.upload_bytes(b"cold", "cold.csv", storage_class="GLACIER")
    archive_client.upload_bytes(b"hot", "hot.csv")
    result = ArchiveRestored(keys=["cold.csv", "hot.csv"]).evaluate(archive_client)
    assert not result.met
    assert "1 of 2 keys readable" in result.reason
    assert "archived with no restore requested" in result.reason
    assert result.details["archived"] == ["cold.csv"]
    with pytest.raises(ArchivedObject, match="cold.csv"):
        ArchiveRestored(keys=["cold.csv", "hot.csv"], fail_if_not_requested=True).evaluate(
            archive_client
        )


def test_restored_after_restore_object(archive_client):
    archive_client.upload_bytes(b"cold", "cold.csv", storage_class="DEEP_ARCHIVE")
    archive_client.s3.restore_object(
        Bucket=archive_client.bucket,
        Key="cold.csv",
        RestoreRequest={"Days": 2, "GlacierJobParameters": {"Tier": "Standard"}},
    )
    result = ArchiveRestored(keys=["cold.csv"], fail_if_not_requested=True).evaluate(archive_client)
    assert result.met, result.reason
    assert result.details["restored"] == ["cold.csv"]
    assert "cold.csv" in result.details["expires"]
    assert archive_client.download_bytes("cold.csv") == b"cold"  # readable indeed
    json.dumps(result.details)


def test_missing_key_keeps_restore_waiting(archive_client):
    archive_client.upload_bytes(b"hot", "hot.csv")
    result = ArchiveRestored(keys=["hot.csv", "gone.csv"]).evaluate(archive_client)
    assert not result.met
    assert result.details["missing"] == ["gone.csv"]
    assert "missing" in result.reason


def test_restored_bad_keys(archive_client):
    with pytest.raises(ConfigError):
        ArchiveRestored(keys=[]).evaluate(archive_client)
    with pytest.raises(ConfigError):
        ArchiveRestored(keys="one-key-as-string").evaluate(archive_client)


def test_keys_in_a_missing_bucket_on_seaweedfs_is_an_error(seaweed):
    with pytest.raises(NotFound) as info:
        KeysReady(keys=["a", "b"]).evaluate(client_for(seaweed, "no-such-bucket-sw"))
    assert info.value.key is None


# -- the dataclasses themselves: checks, to_dict / from_dict ----------------------------------


SAMPLES = [
    ObjectReady(key="in/data.csv"),
    ObjectReady(key="k", min_size=10, no_pending_upload=True, newer_than_version="v1"),
    KeysReady(keys=["a.csv", "b.csv"]),
    KeysReady(keys=("a.csv",), min_size=0, no_pending_upload=True),
    PrefixReady(prefix=""),
    PrefixReady(prefix="day/", min_count=3, min_size=1, no_pending_upload=True),
    ArchiveRestored(keys=["cold.csv"]),
    ArchiveRestored(keys=["a", "b"], fail_if_not_requested=True),
]


@pytest.mark.parametrize("condition", SAMPLES, ids=repr)
def test_round_trip_through_to_dict_and_json(condition):
    data = condition.to_dict()
    assert data["kind"] == condition.kind
    assert set(data) == {"kind"} | {f.name for f in dataclasses.fields(condition)}
    stored = json.loads(json.dumps(data))  # JSON-safe: what a trigger's kwargs hold
    assert stored == data
    assert Condition.from_dict(stored) == condition
    assert type(condition).from_dict(stored) == condition
    assert hash(Condition.from_dict(stored)) == hash(condition)


def test_to_dict_shape():
    assert KeysReady(keys=["a", "b"], min_size=5).to_dict() == {
        "kind": "keys_ready",
        "keys": ["a", "b"],
        "min_size": 5,
        "no_pending_upload": False,
        "max_size": None,
        "min_age": None,
        "max_age": None,
    }
    assert PrefixReady(prefix="p/", min_count=2).to_dict() == {
        "kind": "prefix_ready",
        "prefix": "p/",
        "min_count": 2,
        "min_size": None,
        "no_pending_upload": False,
        "max_size": None,
        "min_age": None,
        "max_age": None,
        "glob": None,
        "regex": None,
    }
    assert ObjectReady(key="k", newer_than_version="v").to_dict() == {
        "kind": "object_ready",
        "key": "k",
        "min_size": None,
        "no_pending_upload": False,
        "newer_than_version": "v",
        "max_size": None,
        "min_age": None,
        "max_age": None,
    }
    assert ArchiveRestored(keys=["a"]).to_dict() == {
        "kind": "archive_restored",
        "keys": ["a"],
        "fail_if_not_requested": False,
    }


def test_keys_are_kept_as_a_tuple_without_repeats_and_conditions_are_frozen():
    condition = KeysReady(keys=["a", "b", "a"])
    assert condition.keys == ("a", "b")
    assert condition == KeysReady(keys=("a", "b"))
    assert ArchiveRestored(keys=iter(["x", "x"])).keys == ("x",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        condition.min_size = 3


class _NoRequests(S3Session):
    """A session that fails the test if any request is sent."""

    def call(self, operation, **params):
        raise AssertionError(f"a request was sent: {operation}")

    def retry(self, fn, **kwargs):
        raise AssertionError("a request was sent")


@pytest.mark.parametrize(
    ("cls", "kwargs", "named"),
    [
        (ObjectReady, {"key": ""}, "key"),
        (ObjectReady, {"key": None}, "key"),
        (ObjectReady, {"key": "k" * 1025}, "key"),
        (ObjectReady, {"key": "k", "min_size": -1}, "min_size"),
        (ObjectReady, {"key": "k", "min_size": True}, "min_size"),
        (ObjectReady, {"key": "k", "no_pending_upload": "yes"}, "no_pending_upload"),
        (ObjectReady, {"key": "k", "newer_than_version": ""}, "newer_than_version"),
        (ObjectReady, {"key": "k", "newer_than_version": 3}, "newer_than_version"),
        (KeysReady, {"keys": "a.csv"}, "keys"),
        (KeysReady, {"keys": []}, "keys"),
        (KeysReady, {"keys": None}, "keys"),
        (KeysReady, {"keys": ["a", 5]}, "keys"),
        (KeysReady, {"keys": ["a"], "min_size": "10"}, "min_size"),
        (KeysReady, {"keys": ["a"], "no_pending_upload": 1}, "no_pending_upload"),
        (PrefixReady, {"prefix": None}, "prefix"),
        (PrefixReady, {"prefix": ["p/"]}, "prefix"),
        (PrefixReady, {"prefix": "p/", "min_count": 0}, "min_count"),
        (PrefixReady, {"prefix": "p/", "min_count": 2.0}, "min_count"),
        (PrefixReady, {"prefix": "p/", "min_count": True}, "min_count"),
        (PrefixReady, {"prefix": "p/", "min_size": 1.5}, "min_size"),
        (PrefixReady, {"prefix": "p/", "no_pending_upload": None}, "no_pending_upload"),
        (ArchiveRestored, {"keys": "cold.csv"}, "keys"),
        (ArchiveRestored, {"keys": []}, "keys"),
        (ArchiveRestored, {"keys": ["a"], "fail_if_not_requested": "no"}, "fail_if_not_requested"),
    ],
)
def test_bad_fields_are_refused_naming_the_field_before_any_request(cls, kwargs, named):
    with pytest.raises(ConfigError, match=rf"^{named}: "):
        cls(**kwargs).evaluate(_NoRequests(S3Config(bucket="never-contacted")))
    with pytest.raises(ConfigError, match=rf"^{named}: "):  # the same checks from a dict
        Condition.from_dict({"kind": cls.kind, **kwargs})


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (["object_ready"], "expected a dict"),
        ({"key": "k"}, "condition kind: None"),
        ({"kind": "object_present", "key": "k"}, "condition kind: 'object_present'"),
        ({"kind": "object_ready", "key": "k", "size": 3}, "size: not a field"),
        ({"kind": "prefix_ready"}, "prefix: missing"),
        ({"kind": "archive_restored", "fail_if_not_requested": True}, "keys: missing"),
    ],
)
def test_from_dict_refuses_what_to_dict_never_gives(data, match):
    with pytest.raises(ConfigError, match=match):
        Condition.from_dict(data)


def test_a_subclass_from_dict_reads_only_its_own_kind():
    data = ArchiveRestored(keys=["a"]).to_dict()
    with pytest.raises(ConfigError, match="expected 'object_ready', got 'archive_restored'"):
        ObjectReady.from_dict(data)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"key": "k", "min_size": 3}, ObjectReady(key="k", min_size=3)),
        ({"key": "k", "newer_than_version": "v"}, ObjectReady(key="k", newer_than_version="v")),
        ({"keys": ["a"], "no_pending_upload": True}, KeysReady(keys=["a"], no_pending_upload=True)),
        ({"prefix": "p/", "min_count": 2}, PrefixReady(prefix="p/", min_count=2)),
        # the object sensor passes every argument; those at their default are not its choice
        (
            {
                "key": None,
                "keys": None,
                "prefix": "p/",
                "min_count": 1,
                "min_size": None,
                "no_pending_upload": False,
                "newer_than_version": None,
            },
            PrefixReady(prefix="p/"),
        ),
    ],
)
def test_object_condition_picks_the_dataclass(kwargs, expected):
    assert object_condition(**kwargs) == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"key": "k", "prefix": "p/"}, r"\(got key and prefix\)"),
        ({"key": "k", "min_count": 2}, "min_count: only applies with prefix"),
        ({"keys": ["a"], "newer_than_version": "v"}, "newer_than_version: only applies with a "),
        ({"key": "k", "colour": "red"}, "colour: not an argument"),
    ],
)
def test_object_condition_refuses_arguments_that_do_not_fit(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        object_condition(**kwargs)


# -- patterns, size and age rules, a prefix that stopped changing ------------------------------


def test_glob_and_regex_patterns_over_the_literal_prefix(moto_client):
    for key in ("logs/2026/a.parquet", "logs/2026/b.csv", "logs/2025/c.parquet", "other/d.parquet"):
        moto_client.upload_bytes(b"x", key)
    glob = object_condition(key="logs/*/*.parquet", wildcard_match=True, min_count=2)
    assert isinstance(glob, PrefixReady) and glob.prefix == "logs/"
    assert glob.evaluate(moto_client).met
    regex = object_condition(key=r"logs/2026/.*\.csv", use_regex=True)
    assert regex.prefix == "logs/2026/" and regex.evaluate(moto_client).met
    missing = object_condition(key="logs/2024/*", wildcard_match=True)
    result = missing.evaluate(moto_client)
    assert not result.met and "matching 'logs/2024/*'" in result.reason
    with pytest.raises(ConfigError, match="choose one"):
        object_condition(key="a*", wildcard_match=True, use_regex=True)
    with pytest.raises(ConfigError, match="not a regular expression"):
        PrefixReady(prefix="", regex="(")
    with pytest.raises(ConfigError, match="one exact key"):
        object_condition(key="a*", wildcard_match=True, newer_than_version="v1")


def test_size_and_age_rules(moto_client, monkeypatch):
    moto_client.upload_bytes(b"x" * 10, "k")
    assert ObjectReady(key="k", min_size=5, max_size=10).evaluate(moto_client).met
    too_big = ObjectReady(key="k", max_size=9).evaluate(moto_client)
    assert not too_big.met and "larger than max_size 9" in too_big.reason
    written = moto_client.get_metadata("k").last_modified
    monkeypatch.setattr(conditions, "now", lambda: written.add(seconds=30))
    assert ObjectReady(key="k", min_age=20, max_age=60).evaluate(moto_client).met
    young = KeysReady(keys=["k"], min_age=60).evaluate(moto_client)
    assert not young.met and "younger than min_age 60" in young.reason
    assert not PrefixReady(prefix="", max_age=10).evaluate(moto_client).met
    with pytest.raises(ConfigError, match="smaller than min_size"):
        ObjectReady(key="k", min_size=5, max_size=4)
    with pytest.raises(ConfigError, match="non-negative number of seconds"):
        PrefixReady(prefix="", min_age=-1)


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


def test_prefix_unchanged_waits_out_the_inactivity_period(moto_client, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(conditions, "time", clock)
    moto_client.upload_bytes(b"1", "drop/1")
    condition = PrefixUnchanged(prefix="drop/", inactivity_period=60, min_objects=2)
    assert "first look" in condition.evaluate(moto_client).reason
    clock.now += 30
    moto_client.upload_bytes(b"2", "drop/2")
    assert "changed" in condition.evaluate(moto_client).reason  # the period starts again
    clock.now += 59
    assert not condition.evaluate(moto_client).met
    clock.now += 2
    result = condition.evaluate(moto_client)
    assert result.met and result.details["count"] == 2
    rebuilt = Condition.from_dict(condition.to_dict())
    assert rebuilt == condition and not rebuilt.evaluate(moto_client).met  # a new look


def test_prefix_unchanged_min_objects_and_deletes(moto_client, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(conditions, "time", clock)
    moto_client.upload_bytes(b"1", "d/1")
    strict = PrefixUnchanged(prefix="d/", inactivity_period=0, min_objects=2, allow_delete=False)
    strict.evaluate(moto_client)
    assert "min_objects 2" in strict.evaluate(moto_client).reason
    moto_client.s3.delete_object(Bucket=moto_client.bucket, Key="d/1")
    with pytest.raises(ConfigError, match="deleted while waiting"):
        strict.evaluate(moto_client)
