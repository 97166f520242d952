"""Lazy filters and sharding over object listings (for batch work across many workers)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import TypeVar

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
