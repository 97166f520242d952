"""Roll every key under a prefix back to its state at a moment, keeping all history.

Planning reads ListObjectVersions lazily, one key's history at a time, and decides per key:
  restore                copy the version current at the moment back on top (server-side)
  remove_delete_markers  the version current then is still the newest version, only delete
                         markers came later: delete those markers
  delete                 the key did not exist then (or was deleted then): add a delete marker
  keep                   nothing changed since (or the current version has the same ETag
                         and size as the one then: an earlier rollback already restored it)
Nothing is ever destroyed: restores and deletes add new entries; only delete markers that
came after the moment are removed. The changes run through the batch engine (concurrency,
rate limit, retries, fail_fast, per-key outcomes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pendulum

from orbit_provider.s3.batch.engine import run_batch
from orbit_provider.s3.batch.models import resolve_config
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.transfer.copy import copy_object
from orbit_provider.s3.versions.listing import (
    DeleteMarker,
    Entry,
    ObjectVersion,
    VersionListing,
    entry_at,
    iter_key_histories,
)
from orbit_provider.s3.versions.versioning import get_versioning_status, parse_timestamp

if TYPE_CHECKING:
    from orbit_provider.s3.batch.models import BatchConfig, BatchResult
    from orbit_provider.s3.progress import ProgressReporter
    from orbit_provider.s3.session import S3Session

RESTORE = "restore"
REMOVE_DELETE_MARKERS = "remove_delete_markers"
DELETE = "delete"
KEEP = "keep"
ACTIONS = (RESTORE, REMOVE_DELETE_MARKERS, DELETE, KEEP)


@dataclass(frozen=True)
class RollbackAction:
    """What rolling one key back means.

    version_id: the version current at the moment (restore / remove_delete_markers / keep).
    delete_marker_ids: the markers to remove (remove_delete_markers), newest first.
    current_version_id: the key's latest entry now (a version or a delete marker).
    """

    key: str
    action: str
    version_id: str | None = None
    delete_marker_ids: tuple[str, ...] = ()
    current_version_id: str | None = None

    def describe(self) -> str:
        if self.action == RESTORE:
            return f"{self.key}: restore version {self.version_id} (now {self.current_version_id})"
        if self.action == REMOVE_DELETE_MARKERS:
            ids = ", ".join(self.delete_marker_ids)
            return f"{self.key}: remove delete marker(s) {ids} to bring back {self.version_id}"
        if self.action == DELETE:
            return f"{self.key}: delete (did not exist then; now {self.current_version_id})"
        return f"{self.key}: keep {self.version_id or 'absent'}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "action": self.action,
            "version_id": self.version_id,
            "delete_marker_ids": list(self.delete_marker_ids),
            "current_version_id": self.current_version_id,
        }


@dataclass(frozen=True)
class RollbackPlan:
    """Per-key actions that bring `prefix` back to `timestamp`."""

    prefix: str
    timestamp: pendulum.DateTime
    actions: list[RollbackAction]

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(a.action for a in self.actions)
        return {name: found.get(name, 0) for name in ACTIONS}

    @property
    def changes(self) -> list[RollbackAction]:
        """The actions that change something (everything but keep)."""
        return [a for a in self.actions if a.action != KEEP]

    def __iter__(self) -> Iterator[RollbackAction]:
        return iter(self.actions)

    def __len__(self) -> int:
        return len(self.actions)

    def to_dict(self, max_listed: int = 1000) -> dict[str, Any]:
        changes = self.changes
        return {
            "prefix": self.prefix,
            "timestamp": self.timestamp.isoformat(),
            "keys": len(self.actions),
            "counts": self.counts,
            "changes": [a.to_dict() for a in changes[:max_listed]],
            "changes_listed": min(len(changes), max_listed),
        }


@dataclass(frozen=True)
class RollbackResult:
    """What a rollback did (or, with dry_run, would do).

    counts: keys per planned action (keep included). batch: the run of the changes (None on
    a dry run): per-key outcomes, not_run after fail_fast. changes: the first `max_listed`
    changing actions, for logs and summaries.
    """

    prefix: str
    timestamp: pendulum.DateTime
    dry_run: bool
    keys: int
    counts: dict[str, int]
    changes: list[RollbackAction]
    batch: BatchResult | None = None
    duration: float = 0.0
    errors: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def changed(self) -> int:
        """Keys changed successfully (0 on a dry run)."""
        return self.batch.successful if self.batch else 0

    @property
    def failed(self) -> int:
        return self.batch.failed if self.batch else 0

    @property
    def not_run(self) -> int:
        return self.batch.not_run if self.batch else 0

    @property
    def ok(self) -> bool:
        return self.batch is None or self.batch.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "timestamp": self.timestamp.isoformat(),
            "dry_run": self.dry_run,
            "keys": self.keys,
            "counts": self.counts,
            "changed": self.changed,
            "failed": self.failed,
            "not_run": self.not_run,
            "errors": [list(e) for e in self.errors],
            "changes": [a.to_dict() for a in self.changes],
            "duration": self.duration,
        }


# -- planning -----------------------------------------------------------------------------


def plan_key(listing: VersionListing, timestamp: pendulum.DateTime) -> RollbackAction:
    """The action that brings one key (its full history, newest first) back to `timestamp`."""
    key = listing.key
    latest = listing.latest
    current_id = latest.version_id if latest else None
    then = entry_at(listing.history, timestamp)
    if not isinstance(then, ObjectVersion):  # absent then: never written yet, or deleted
        if latest is None or isinstance(latest, DeleteMarker):
            return RollbackAction(key, KEEP, current_version_id=current_id)
        return RollbackAction(key, DELETE, current_version_id=current_id)
    if latest is then or _same_content(latest, then):
        # Also when the current version is an earlier restore of that version (same ETag and
        # size): running a rollback twice changes nothing the second time.
        return RollbackAction(key, KEEP, then.version_id, current_version_id=current_id)
    newer = listing.history[: listing.history.index(then)]
    if all(isinstance(e, DeleteMarker) for e in newer):
        return RollbackAction(
            key,
            REMOVE_DELETE_MARKERS,
            then.version_id,
            tuple(e.version_id for e in newer),
            current_version_id=current_id,
        )
    return RollbackAction(key, RESTORE, then.version_id, current_version_id=current_id)


def _same_content(latest: Entry | None, then: ObjectVersion) -> bool:
    return (
        isinstance(latest, ObjectVersion)
        and latest.etag is not None
        and latest.etag == then.etag
        and latest.size == then.size
    )


def iter_rollback_actions(
    client: S3Session, prefix: str, timestamp: datetime | str, *, page_size: int = 1000
) -> Iterator[RollbackAction]:
    """One action per key under `prefix`, lazily, in key order."""
    when = parse_timestamp(timestamp)
    _check_prefix(prefix)
    for listing in iter_key_histories(client, prefix, page_size=page_size):
        yield plan_key(listing, when)


def plan_rollback(
    client: S3Session, prefix: str, timestamp: datetime | str, *, page_size: int = 1000
) -> RollbackPlan:
    """The full per-key plan (read-only) for rolling `prefix` back to `timestamp`."""
    when = parse_timestamp(timestamp)
    actions = list(iter_rollback_actions(client, prefix, when, page_size=page_size))
    return RollbackPlan(prefix, when, actions)


# -- running ------------------------------------------------------------------------------


def rollback_prefix(
    client: S3Session,
    prefix: str,
    timestamp: datetime | str,
    *,
    dry_run: bool = False,
    config: BatchConfig | None = None,
    progress: ProgressReporter | None = None,
    page_size: int = 1000,
    max_listed: int = 1000,
) -> RollbackResult:
    """Bring every key under `prefix` back to its state at `timestamp`.

    Refuses (ConfigError) a bucket whose versioning was never enabled, and, unless dry_run,
    a suspended one (there a restore or delete would overwrite the "null" version). With
    dry_run nothing is written: the result holds the counts and the planned changes.
    """

    when = parse_timestamp(timestamp)
    _check_prefix(prefix)
    config = resolve_config(config)
    _check_versioning(client, dry_run)
    started = pendulum.now("UTC")
    counts = {name: 0 for name in ACTIONS}
    listed: list[RollbackAction] = []
    keys = 0

    def changes() -> Iterator[RollbackAction]:
        nonlocal keys
        for action in iter_rollback_actions(client, prefix, when, page_size=page_size):
            keys += 1
            counts[action.action] += 1
            if action.action == KEEP:
                continue
            if len(listed) < max_listed:
                listed.append(action)
            if not dry_run:
                yield action

    batch = None
    if dry_run:
        for _ in changes():
            pass
    else:
        batch = run_batch(
            client,
            "rollback",
            changes(),
            _apply,
            config,
            prepare=lambda action: action,
            key_of=lambda action: action.key,
            progress=progress,
        )
    return RollbackResult(
        prefix=prefix,
        timestamp=when,
        dry_run=dry_run,
        keys=keys,
        counts=counts,
        changes=listed,
        batch=batch,
        duration=(pendulum.now("UTC") - started).total_seconds(),
        errors=list(batch.errors) if batch else [],
    )


def _apply(client: S3Session, key: str, action: RollbackAction) -> str:
    """Carry out one key's action through the batch's client; returns the outcome detail."""
    if action.action == RESTORE:
        assert action.version_id is not None
        result = copy_object(client, key, key, src_version_id=action.version_id)
        return f"restored {action.version_id} as {result.version_id or 'null'}"
    if action.action == REMOVE_DELETE_MARKERS:
        for marker_id in action.delete_marker_ids:
            client.delete(key, version_id=marker_id)
        return f"removed {len(action.delete_marker_ids)} delete marker(s)"
    if action.action == DELETE:
        result = client.delete(key)
        return f"delete marker {result.version_id}"
    raise ConfigError(f"rollback: unknown action {action.action!r} for {key!r}")


def _check_versioning(client: S3Session, dry_run: bool) -> None:
    status = get_versioning_status(client)
    if status.status is None:
        raise ConfigError(
            f"s3://{client.bucket}: versioning was never enabled on this bucket, so there are "
            "no earlier versions to roll back to"
        )
    if status.suspended and not dry_run:
        raise ConfigError(
            f"s3://{client.bucket}: versioning is suspended; a rollback now would overwrite "
            "the 'null' version of keys and lose history. Enable versioning first "
            "(dry_run=True still works)"
        )


def _check_prefix(prefix: str) -> None:
    if not isinstance(prefix, str):
        raise ConfigError(f"prefix: expected a string, got {type(prefix).__name__}")
