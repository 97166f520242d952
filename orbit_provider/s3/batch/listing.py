"""Lazy filters and sharding over object listings (for batch work across many workers):
shards of keys for explicit key lists, shards of key ranges for prefixes of any size."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar

import pendulum

from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.models import ObjectSummary

T = TypeVar("T")


def as_datetime(value: datetime | str | None, field_name: str) -> pendulum.DateTime | None:
    """An aware timestamp (pendulum/datetime/ISO string) in UTC; naive values are refused."""
    if value is None:
        return None
    try:
        if isinstance(value, str):
            parsed = pendulum.parse(value)
        elif isinstance(value, datetime):
            if value.tzinfo is None:
                raise ConfigError(f"{field_name}: {value!r} has no time zone")
            parsed = pendulum.instance(value)
        else:
            raise ConfigError(f"{field_name}: expected a datetime or ISO string, got {value!r}")
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{field_name}: {value!r} is not a valid timestamp") from exc
    if not isinstance(parsed, pendulum.DateTime):
        raise ConfigError(f"{field_name}: {value!r} is not a date and time")
    return parsed.in_timezone("UTC")


def filter_objects(
    objects: Iterable[ObjectSummary],
    *,
    suffix: str | tuple[str, ...] | None = None,
    modified_after: datetime | str | None = None,
    modified_before: datetime | str | None = None,
) -> Iterator[ObjectSummary]:
    """Objects whose key ends with `suffix` and whose last_modified lies in
    [modified_after, modified_before); lazily, so millions of keys stay unmaterialized."""
    after = as_datetime(modified_after, "modified_after")
    before = as_datetime(modified_before, "modified_before")
    if after and before and after >= before:
        raise ConfigError("modified_after: must be earlier than modified_before")
    suffixes = (suffix,) if isinstance(suffix, str) else suffix
    for obj in objects:
        if suffixes and not obj.key.endswith(tuple(suffixes)):
            continue
        if after and (obj.last_modified is None or obj.last_modified < after):
            continue
        if before and (obj.last_modified is None or obj.last_modified >= before):
            continue
        yield obj


def shard(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(f"shard_size: {size!r} must be a positive integer")
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


@dataclass(frozen=True)
class KeyRange:
    """One shard of a prefix as bounds, not keys: the keys under `prefix` after
    `start_after` (exclusive, None = from the start) up to `end_at` (inclusive, None = to the
    end). A shard's XCom stays a few hundred bytes whatever its size; each task lists its own
    range lazily."""

    prefix: str = ""
    start_after: str | None = None
    end_at: str | None = None

    def __post_init__(self) -> None:
        if (
            self.start_after is not None
            and self.end_at is not None
            and (self.end_at <= self.start_after)
        ):
            raise ConfigError(
                f"key range: end_at {self.end_at!r} is not after {self.start_after!r}"
            )

    def contains(self, key: str) -> bool:
        return (
            key.startswith(self.prefix)
            and (self.start_after is None or key > self.start_after)
            and (self.end_at is None or key <= self.end_at)
        )

    def to_dict(self) -> dict[str, str | None]:
        return {"prefix": self.prefix, "start_after": self.start_after, "end_at": self.end_at}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyRange:
        if not isinstance(data, dict) or not {"prefix", "start_after", "end_at"} >= set(data):
            raise ConfigError(f"key range: {data!r} is not a key range")
        return cls(data.get("prefix", ""), data.get("start_after"), data.get("end_at"))


def iter_range(session: Any, key_range: KeyRange, page_size: int = 1000) -> Iterator[ObjectSummary]:
    """The objects of one range, page after page from its lower bound (ListObjectsV2
    StartAfter), stopping at its upper bound: each shard reads only its own keys."""
    token = None
    while True:
        page = session.list_objects(
            key_range.prefix, token, page_size, start_after=None if token else key_range.start_after
        )
        for obj in page.objects:
            if key_range.end_at is not None and obj.key > key_range.end_at:
                return
            yield obj
        if not page.is_truncated or not page.continuation_token:
            return
        token = page.continuation_token


class _EvenSample:
    """Every `step`-th key of a sorted stream, in at most `capacity` keys: when full, every
    other kept key is dropped and the step doubles, so the kept keys stay evenly spaced in
    the stream whatever its length (memory flat in the number of keys)."""

    def __init__(self, capacity: int) -> None:
        self.capacity, self.step, self.count = capacity, 1, 0
        self.keys: list[str] = []

    def add(self, key: str) -> None:
        self.count += 1
        if self.count % self.step == 0:
            self.keys.append(key)
            if len(self.keys) >= self.capacity:
                self.keys = self.keys[1::2]
                self.step *= 2


def plan_ranges(
    objects: Iterable[ObjectSummary | str], shards: int, *, prefix: str = ""
) -> tuple[list[KeyRange], int]:
    """Split a sorted listing (or inventory) of `prefix` into at most `shards` ranges of
    about equal key counts, reading it once and keeping only an even sample of keys.
    Returns the ranges and the number of keys seen. Keys must come in S3's (lexical) order."""
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ConfigError(f"shards: {shards!r} must be a positive integer")
    sample = _EvenSample(capacity=max(64, shards * 8))
    previous = None
    for item in objects:
        key = item if isinstance(item, str) else item.key
        if previous is not None and key <= previous:
            raise ConfigError(f"plan_ranges: keys must be sorted ({key!r} after {previous!r})")
        previous = key
        sample.add(key)
    total = sample.count
    if total == 0:
        return [], 0
    # boundary j closes range j: the key at about (j+1)/shards of the stream
    bounds: list[str] = []
    count = min(shards, total)
    for j in range(1, count):
        position = j * total // count  # 1-based position of the last key of range j-1
        index = max(0, min(len(sample.keys) - 1, position // sample.step - 1))
        bound = sample.keys[index]
        if not bounds or bound > bounds[-1]:
            bounds.append(bound)
    lows: list[str | None] = [None, *bounds]
    highs: list[str | None] = [*bounds, None]
    return [KeyRange(prefix, lo, hi) for lo, hi in zip(lows, highs, strict=True)], total
