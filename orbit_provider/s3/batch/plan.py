"""Dry-run plans of batch work: how many keys, how many bytes, the first keys (and, for copies,
where each goes), which keys are missing, and which already need no work. Read-only.

Items are read lazily (a listing of millions of keys is never materialized): only counts and
the first `max_listed` entries are kept. Listing items (ObjectSummary) carry their size and
storage class; bare key strings are HEADed, `max_concurrent` at a time, in bounded chunks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any

from orbit_provider.s3.batch.copy import CopyPlanner
from orbit_provider.s3.batch.engine import checked_key
from orbit_provider.s3.config import StorageClass, validate_bucket_name
from orbit_provider.s3.errors import ConfigError, NotFound

DEFAULT_MAX_LISTED = 20
_HEAD_CHUNK = 100


@dataclass(frozen=True)
class PlannedKey:
    """One key as the plan sees it: size and storage class (None when it does not exist)."""

    key: str
    size: int | None
    storage_class: str | None
    exists: bool = True
    destination: str | None = None


@dataclass
class BatchPlan:
    """What a batch would do. `already_done` counts keys that need no work (e.g. already in
    the target storage class); `missing` keys do not exist (a delete counts them as done, any
    other operation would fail on them)."""

    operation: str
    bucket: str
    count: int = 0
    bytes: int = 0
    missing: int = 0
    already_done: int = 0
    max_listed: int = DEFAULT_MAX_LISTED
    first: list[PlannedKey] = field(default_factory=list)
    missing_keys: list[str] = field(default_factory=list)
    dest_bucket: str | None = None

    def add(self, entry: PlannedKey, already_done: bool = False) -> None:
        self.count += 1
        if not entry.exists:
            self.missing += 1
            if len(self.missing_keys) < self.max_listed:
                self.missing_keys.append(entry.key)
        else:
            self.bytes += entry.size or 0
        self.already_done += int(already_done)
        if len(self.first) < self.max_listed:
            self.first.append(entry)

    def describe(self) -> list[str]:
        """Human-readable lines: a headline, then one line per listed key."""
        what = f"{self.operation}: {self.count} key(s), {self.bytes} bytes"
        if self.missing:
            what += f", {self.missing} missing"
        if self.already_done:
            what += f", {self.already_done} already done"
        lines = [what]
        for entry in self.first:
            line = f"  {entry.key}"
            if entry.destination is not None:
                line += f" -> s3://{self.dest_bucket or self.bucket}/{entry.destination}"
            if not entry.exists:
                line += " (missing)"
            lines.append(line)
        if self.count > len(self.first):
            lines.append(f"  ... and {self.count - len(self.first)} more")
        return lines

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "operation": self.operation,
            "bucket": self.bucket,
            "count": self.count,
            "bytes": self.bytes,
            "missing": self.missing,
            "missing_keys": list(self.missing_keys),
            "already_done": self.already_done,
            "first_keys": [e.key for e in self.first],
            "listed": len(self.first),
        }
        if any(e.destination is not None for e in self.first) or self.dest_bucket:
            out["dest_bucket"] = self.dest_bucket or self.bucket
            out["mapping"] = [[e.key, e.destination] for e in self.first]
        return out


def _head(client: Any, key: str) -> PlannedKey:
    try:
        head = client.get_metadata(key)
    except NotFound as exc:
        if exc.key is None:  # the bucket is missing: an error, not a missing key
            raise
        return PlannedKey(key, None, None, exists=False)
    return PlannedKey(key, head.size, head.storage_class)


def _resolve(client: Any, items: Iterable[Any], max_concurrent: int) -> Iterator[PlannedKey]:
    """Each item as a PlannedKey, in order: listing items as they are, key strings HEADed."""
    iterator = iter(items)
    with ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="orbit-plan") as pool:
        while chunk := list(islice(iterator, _HEAD_CHUNK)):
            keys = [checked_key(item) for item in chunk]
            heads = {
                key: pool.submit(_head, client, key)
                for key, item in zip(keys, chunk, strict=True)
                if getattr(item, "size", None) is None
            }
            for key, item in zip(keys, chunk, strict=True):
                dst = getattr(item, "destination", None)
                if key in heads:
                    yield replace(heads[key].result(), destination=dst)
                else:
                    size, storage_class = int(item.size), getattr(item, "storage_class", None)
                    yield PlannedKey(key, size, storage_class, destination=dst)


def plan_batch(
    client: Any,
    items: Iterable[Any],
    operation: str,
    *,
    storage_class: StorageClass | str | None = None,
    destination: Callable[[Any], str] | None = None,
    dest_bucket: str | None = None,
    max_listed: int = DEFAULT_MAX_LISTED,
    max_concurrent: int = 10,
) -> BatchPlan:
    """The plan of `operation` over `items` (keys, or listing items), read-only.

    :param storage_class: the target class of a storage-class change: keys already in it
        count as already done.
    :param destination: maps an item to its destination key (copies); ConfigError on a bad one.
    :param max_listed: how many keys (and missing keys) the plan lists.
    """
    if isinstance(max_listed, bool) or not isinstance(max_listed, int) or max_listed < 0:
        raise ConfigError(f"max_listed: {max_listed!r} must be an integer >= 0")
    target = StorageClass.parse(storage_class).value if storage_class is not None else None
    plan = BatchPlan(operation, client.bucket, max_listed=max_listed, dest_bucket=dest_bucket)
    if destination is not None:
        items = _with_destinations(items, destination)
    for entry in _resolve(client, items, max_concurrent):
        done = target is not None and entry.exists and entry.storage_class == target
        plan.add(entry, already_done=done)
    return plan


class _Mapped:
    """An item with its planned destination (keeps `.size` / `.storage_class` of listings)."""

    def __init__(self, item: Any, destination: str) -> None:
        self.key = checked_key(item)
        self.size = getattr(item, "size", None)
        self.storage_class = getattr(item, "storage_class", None)
        self.destination = destination


def _with_destinations(items: Iterable[Any], destination: Callable[[Any], str]) -> Iterator[Any]:
    for item in items:
        yield _Mapped(item, destination(item))


def plan_copy(
    client: Any,
    items: Iterable[Any],
    dest_prefix: str,
    *,
    dest_bucket: str | None = None,
    strip_prefix: str | None = None,
    max_listed: int = DEFAULT_MAX_LISTED,
    max_concurrent: int = 10,
) -> BatchPlan:
    """The plan of `batch_copy(items, dest_prefix, ...)`: the source -> destination mapping of
    the first keys; a key copied onto itself or two keys onto one destination raise
    ConfigError, exactly as batch_copy would."""
    dest = validate_bucket_name(dest_bucket) if dest_bucket else client.bucket
    planner = CopyPlanner(client.bucket, dest_prefix, dest, strip_prefix)
    return plan_batch(
        client, items, "copy", destination=lambda item: planner(item).dst, dest_bucket=dest,
        max_listed=max_listed, max_concurrent=max_concurrent,
    )


def check_copy_target(
    bucket: str,
    dest_prefix: str,
    *,
    dest_bucket: str | None = None,
    strip_prefix: str | None = None,
    prefix: str | None = None,
) -> None:
    """Checks of a copy that need no key list: ConfigError when every key would be copied onto
    itself, or when keys listed under `prefix` cannot all start with `strip_prefix`."""
    if not isinstance(dest_prefix, str):
        raise ConfigError(f"dest_prefix: {dest_prefix!r} must be a string")
    same_bucket = dest_bucket in (None, bucket)
    if same_bucket and strip_prefix is not None and dest_prefix == strip_prefix:
        raise ConfigError(
            f"dest_prefix: {dest_prefix!r} equals strip_prefix in the same bucket s3://{bucket}: "
            "every key would be copied onto itself"
        )
    if prefix is not None and strip_prefix is not None and not prefix.startswith(strip_prefix):
        raise ConfigError(
            f"strip_prefix: {strip_prefix!r} is not a prefix of the listed prefix {prefix!r}: "
            "keys under it would not start with it"
        )
