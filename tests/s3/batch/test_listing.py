import datetime as dt
import json

import pendulum
import pytest

from orbit_provider.s3.batch.listing import (
    KeyRange,
    filter_objects,
    iter_range,
    plan_ranges,
    shard,
)
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.models import ObjectSummary
from tests.seeding import put_in_moto

T0 = pendulum.datetime(2026, 1, 1, 12)


def obj(key: str, minutes: int) -> ObjectSummary:
    return ObjectSummary(key=key, size=1, last_modified=T0.add(minutes=minutes), etag="e")


OBJECTS = [obj("a.csv", 0), obj("b.json", 10), obj("c.csv", 20), obj("d.csv", 30)]


def keys(it):
    return [o.key for o in it]


def test_filter_by_suffix_and_window():
    assert keys(filter_objects(OBJECTS, suffix=".csv")) == ["a.csv", "c.csv", "d.csv"]
    assert keys(filter_objects(OBJECTS, suffix=(".json", ".csv"))) == keys(OBJECTS)
    window = filter_objects(
        OBJECTS, modified_after=T0.add(minutes=10), modified_before="2026-01-01T12:30:00Z"
    )
    assert keys(window) == ["b.json", "c.csv"]


def test_filter_is_lazy():
    consumed = []

    def source():
        for o in OBJECTS:
            consumed.append(o.key)
            yield o

    it = filter_objects(source(), suffix=".json")
    assert next(it).key == "b.json"
    assert consumed == ["a.csv", "b.json"]


def test_filter_rejects_bad_windows():
    with pytest.raises(ConfigError, match="modified_after"):
        list(filter_objects(OBJECTS, modified_after=T0, modified_before=T0))
    with pytest.raises(ConfigError, match="time zone"):
        list(filter_objects(OBJECTS, modified_after=dt.datetime(2026, 1, 1)))
    with pytest.raises(ConfigError, match="not a valid timestamp"):
        list(filter_objects(OBJECTS, modified_before="yesterday-ish"))


def test_shard_sizes_and_validation():
    assert list(shard(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(shard([], 3)) == []
    with pytest.raises(ConfigError, match="shard_size"):
        list(shard([1], 0))


def _names(count: int) -> list[str]:
    return [f"p/{i:06d}" for i in range(count)]


@pytest.mark.parametrize("count,shards", [(10_000, 7), (100_003, 20), (5, 20), (1, 1)])
def test_range_plan_covers_every_key_once_in_even_shards(count, shards):
    names = _names(count)
    ranges, total = plan_ranges(iter(names), shards, prefix="p/")
    assert total == count
    assert len(ranges) == min(shards, count)
    groups = [[k for k in names if r.contains(k)] for r in ranges]
    assert sorted(k for g in groups for k in g) == names  # every key in exactly one range
    mean = count / len(ranges)
    assert all(abs(len(g) - mean) <= max(1, 0.25 * mean) for g in groups)
    # a shard is bounds, not keys: small whatever the prefix holds
    assert all(len(json.dumps(r.to_dict())) < 1024 for r in ranges)
    assert [KeyRange.from_dict(r.to_dict()) for r in ranges] == ranges


def test_range_plan_refuses_unsorted_keys_and_bad_counts():
    with pytest.raises(ConfigError, match="sorted"):
        plan_ranges(["b", "a"], 2)
    with pytest.raises(ConfigError, match="positive"):
        plan_ranges(["a"], 0)
    assert plan_ranges([], 3) == ([], 0)
    with pytest.raises(ConfigError, match="not after"):
        KeyRange("", "b", "a")
    with pytest.raises(ConfigError, match="not a key range"):
        KeyRange.from_dict({"keys": ["a"]})


def test_each_range_lists_only_its_own_keys(moto_client):
    names = put_in_moto(moto_client.bucket, [f"r/{i:04d}" for i in range(1, 2201)], b"")
    moto_client.s3.put_object(Bucket="test-bucket", Key="other/x", Body=b"")
    ranges, total = plan_ranges(moto_client.iter_objects("r/"), 3, prefix="r/")
    assert total == 2200 and len(ranges) == 3
    listed = [[o.key for o in iter_range(moto_client, r, page_size=500)] for r in ranges]
    assert [k for part in listed for k in part] == names
    assert all(600 <= len(part) <= 870 for part in listed)
