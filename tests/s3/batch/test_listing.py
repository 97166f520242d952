import datetime as dt

import pendulum
import pytest

from orbit_provider.s3.batch.listing import filter_objects, shard
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.models import ObjectSummary

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
