"""Conditions that sensors wait for, evaluated once with one S3Client (no Airflow here).

Each function sends a few requests, then says whether the condition holds and, when it
does not, why: a ConditionResult whose `details` are JSON-serializable, so the Airflow
layer can log them, put them in a trigger event and return them as an XCom. Bad input
raises ConfigError before any request; S3 failures raise the core's S3Error kinds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orbit_provider.s3.batch.restore import restore_status
from orbit_provider.s3.config import validate_key
from orbit_provider.s3.errors import ArchivedObject, ConfigError, NotFound
from orbit_provider.s3.transfer.incomplete_uploads import iter_incomplete_uploads
from orbit_provider.s3.versions.versioning import is_newer_version

if TYPE_CHECKING:
    from orbit_provider.s3.models import ObjectMetadata
    from orbit_provider.s3.session import S3Session

NULL_VERSION = "null"  # S3's version id of an object written while versioning was off
DETAIL_LIMIT = 100  # at most this many keys are described in `details`, so XComs stay small


@dataclass(frozen=True)
class ConditionResult:
    """Whether a condition holds (`met`), why not (`reason`), and what was seen (`details`)."""

    met: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.met

    def to_dict(self) -> dict[str, Any]:
        return {"met": self.met, "reason": self.reason, "details": self.details}


# -- argument checks --------------------------------------------------------------------------


def validate_min_size(min_size: int | None) -> int | None:
    """None, or a non-negative number of bytes."""
    if min_size is None:
        return None
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 0:
        raise ConfigError(f"min_size: {min_size!r} must be a non-negative integer (bytes)")
    return min_size


def validate_min_count(min_count: int) -> int:
    """A positive number of keys."""
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ConfigError(f"min_count: {min_count!r} must be a positive integer")
    return min_count


def validate_keys(keys: Sequence[str] | None, field_name: str = "keys") -> list[str]:
    """A non-empty list of valid, distinct keys (a lone string is refused: pass a list)."""
    if isinstance(keys, str) or not isinstance(keys, Iterable):
        raise ConfigError(f"{field_name}: expected a list of object keys, got {keys!r}")
    checked = [validate_key(k, field_name) for k in keys]
    if not checked:
        raise ConfigError(f"{field_name}: at least one key is required")
    return list(dict.fromkeys(checked))


def validate_target(
    key: str | None, keys: Sequence[str] | None, prefix: str | None
) -> None:
    """Exactly one of key, keys and prefix."""
    named = (("key", key), ("keys", keys), ("prefix", prefix))
    given = [name for name, value in named if value is not None]
    if len(given) != 1:
        what = " and ".join(given) if given else "none of them"
        raise ConfigError(f"give exactly one of key, keys or prefix (got {what})")


def _validate_version_id(version_id: str | None) -> str | None:
    if version_id is not None and (not isinstance(version_id, str) or not version_id):
        raise ConfigError(f"newer_than_version: {version_id!r} must be a non-empty version id")
    return version_id


# -- object_ready -----------------------------------------------------------------------------


def object_ready(
    client: S3Session,
    key: str,
    *,
    min_size: int | None = None,
    no_pending_upload: bool = False,
    newer_than_version: str | None = None,
) -> ConditionResult:
    """Whether `key` exists, is at least `min_size` bytes, has no unfinished multipart upload
    (when `no_pending_upload`) and a current version newer than `newer_than_version`."""
    validate_key(key)
    validate_min_size(min_size)
    _validate_version_id(newer_than_version)
    return _object_ready(client, key, min_size, no_pending_upload, newer_than_version)


def _object_ready(
    client: S3Session,
    key: str,
    min_size: int | None,
    no_pending_upload: bool,
    newer_than_version: str | None,
    *,
    check_bucket: bool = True,
) -> ConditionResult:
    where = f"s3://{client.bucket}/{key}"
    head = _head(client, key, check_bucket=check_bucket)
    if head is None:
        return ConditionResult(False, f"{where} does not exist yet", {"key": key})
    details = describe(head)
    if min_size is not None and head.size < min_size:
        return ConditionResult(
            False, f"{where} is {head.size} bytes, smaller than min_size {min_size}", details
        )
    if no_pending_upload:
        pending = _pending_uploads(client, key, exact=True)
        if pending:
            details["pending_uploads"] = len(pending)
            return ConditionResult(
                False, f"{where} has {len(pending)} unfinished multipart upload(s)", details
            )
    if newer_than_version is not None:
        newer, reason = _is_newer(client, key, head, newer_than_version)
        if not newer:
            return ConditionResult(False, reason, details)
    return ConditionResult(True, f"{where} is ready", details)


def _head(client: S3Session, key: str, *, check_bucket: bool = True) -> ObjectMetadata | None:
    """HeadObject, or None when the key does not exist (a missing bucket still raises, unless
    `check_bucket` is False: then the caller checks the bucket once for many keys)."""
    try:
        return client.get_metadata(key)
    except NotFound as exc:
        if exc.key is None:
            raise
    if check_bucket:
        bucket_must_exist(client)
    return None


def bucket_must_exist(client: S3Session) -> None:
    """NotFound naming the bucket when it is missing. A 404 to HEAD of a key has no body, so
    some stores (SeaweedFS) give no way to tell a missing bucket from a missing key."""
    client.call("head_bucket")


def _pending_uploads(client: S3Session, prefix: str, *, exact: bool) -> list[Any]:
    """Unfinished multipart uploads of exactly `prefix` (exact) or under it."""

    uploads = iter_incomplete_uploads(client, prefix)
    return [u for u in uploads if u.key == prefix] if exact else list(uploads)


def _is_newer(
    client: S3Session, key: str, head: ObjectMetadata, version_id: str
) -> tuple[bool, str]:
    """Whether the current version of `key` was written after `version_id` (NotFound when
    `version_id` is not a version of the key: a typo must not wait for ever)."""

    where = f"s3://{client.bucket}/{key}"
    current = head.version_id or NULL_VERSION
    if current == version_id:
        return False, f"{where} is still at version {version_id}"
    # The key exists (HEAD said so), so its current version is the newest one listed.
    if is_newer_version(client, key, version_id):
        return True, f"{where} has version {current}, newer than {version_id}"
    return False, f"{where} has no version newer than {version_id} yet"


def describe(head: ObjectMetadata) -> dict[str, Any]:
    """The JSON-serializable facts a sensor reports about one object."""
    return {
        "key": head.key,
        "size": head.size,
        "etag": head.etag,
        "version_id": head.version_id,
        "last_modified": head.last_modified.isoformat() if head.last_modified else None,
        "storage_class": head.storage_class,
    }


# -- keys_ready -------------------------------------------------------------------------------


def keys_ready(
    client: S3Session,
    keys: Sequence[str] | None = None,
    prefix: str | None = None,
    min_count: int = 1,
    min_size: int | None = None,
    *,
    no_pending_upload: bool = False,
) -> ConditionResult:
    """Every key of `keys` is ready (see object_ready), or at least `min_count` objects of at
    least `min_size` bytes exist under `prefix` (and, with `no_pending_upload`, no multipart
    upload under it is unfinished)."""
    if (keys is None) == (prefix is None):
        raise ConfigError("give exactly one of keys or prefix")
    validate_min_size(min_size)
    validate_min_count(min_count)
    if keys is not None:
        return _all_keys_ready(client, validate_keys(keys), min_size, no_pending_upload)
    if not isinstance(prefix, str):
        raise ConfigError(f"prefix: expected a string, got {prefix!r}")
    return _prefix_ready(client, prefix, min_count, min_size, no_pending_upload)


def _all_keys_ready(
    client: S3Session, keys: list[str], min_size: int | None, no_pending_upload: bool
) -> ConditionResult:
    found: list[dict[str, Any]] = []
    waiting: list[str] = []
    reasons: list[str] = []
    for key in keys:
        result = _object_ready(
            client, key, min_size, no_pending_upload, None, check_bucket=False
        )
        if result.met:
            found.append(result.details)
        else:
            waiting.append(key)
            reasons.append(result.reason)
    if waiting:
        bucket_must_exist(client)  # once, not once per missing key
    details: dict[str, Any] = {
        "count": len(found),
        "total_size": sum(d["size"] for d in found),
        "keys": found[:DETAIL_LIMIT],
        "waiting_for": waiting[:DETAIL_LIMIT],
    }
    if waiting:
        more = f" (and {len(waiting) - 1} more)" if len(waiting) > 1 else ""
        return ConditionResult(
            False, f"{len(waiting)} of {len(keys)} keys not ready: {reasons[0]}{more}", details
        )
    return ConditionResult(True, f"all {len(keys)} keys are ready", details)


def _prefix_ready(
    client: S3Session,
    prefix: str,
    min_count: int,
    min_size: int | None,
    no_pending_upload: bool,
) -> ConditionResult:
    where = f"s3://{client.bucket}/{prefix}"
    enough = max(min_count, DETAIL_LIMIT)
    matches: list[dict[str, Any]] = []
    too_small = 0
    complete = True
    for obj in client.iter_objects(prefix):
        if min_size is not None and obj.size < min_size:
            too_small += 1
            continue
        matches.append(
            {
                "key": obj.key,
                "size": obj.size,
                "etag": obj.etag,
                "last_modified": obj.last_modified.isoformat() if obj.last_modified else None,
                "storage_class": obj.storage_class,
            }
        )
        if len(matches) >= enough:  # the condition holds; no need to list a huge prefix
            complete = False
            break
    details: dict[str, Any] = {
        "prefix": prefix,
        "count": len(matches),
        "listing_complete": complete,
        "total_size": sum(m["size"] for m in matches),
        "keys": matches[:DETAIL_LIMIT],
        "too_small": too_small,
    }
    if len(matches) < min_count:
        size_note = f" of at least {min_size} bytes" if min_size is not None else ""
        small_note = f" ({too_small} smaller objects ignored)" if too_small else ""
        return ConditionResult(
            False,
            f"{where}: {len(matches)} object(s){size_note}, waiting for {min_count}{small_note}",
            details,
        )
    if no_pending_upload:
        pending = _pending_uploads(client, prefix, exact=False)
        if pending:
            details["pending_uploads"] = len(pending)
            names = ", ".join(sorted({u.key for u in pending})[:5])
            return ConditionResult(
                False, f"{where}: {len(pending)} unfinished multipart upload(s) ({names})", details
            )
    return ConditionResult(True, f"{where}: {len(matches)} object(s) ready", details)


def objects_ready(
    client: S3Session,
    *,
    key: str | None = None,
    keys: Sequence[str] | None = None,
    prefix: str | None = None,
    min_count: int = 1,
    min_size: int | None = None,
    no_pending_upload: bool = False,
    newer_than_version: str | None = None,
) -> ConditionResult:
    """The object sensor's condition: `object_ready` for one key, else `keys_ready`."""
    if key is not None:
        return object_ready(
            client,
            key,
            min_size=min_size,
            no_pending_upload=no_pending_upload,
            newer_than_version=newer_than_version,
        )
    return keys_ready(
        client, keys, prefix, min_count, min_size, no_pending_upload=no_pending_upload
    )


# -- restored ---------------------------------------------------------------------------------


def restored(
    client: S3Session, keys: Sequence[str], *, fail_if_not_requested: bool = False
) -> ConditionResult:
    """Whether every key is readable: restored from its archive class, or never archived.

    A key still archived with no restore requested never becomes readable on its own: it
    keeps the result unmet, or raises ArchivedObject when `fail_if_not_requested`.
    A missing key keeps the result unmet."""
    keys = validate_keys(keys)
    by_state: dict[str, list[str]] = {
        "restored": [],
        "not_archived": [],
        "in_progress": [],
        "archived": [],
        "missing": [],
    }
    expires: dict[str, str] = {}
    for key in keys:
        try:
            status = restore_status(client, key)
        except NotFound as exc:
            if exc.key is None:
                raise
            by_state["missing"].append(key)
            continue
        by_state.setdefault(status.state, []).append(key)
        if status.expires is not None:
            expires[key] = status.expires.isoformat()
    if by_state["missing"]:
        bucket_must_exist(client)
    readable = len(by_state["restored"]) + len(by_state["not_archived"])
    details: dict[str, Any] = {
        "total": len(keys),
        "readable": readable,
        **{state: names[:DETAIL_LIMIT] for state, names in by_state.items()},
        "expires": dict(list(expires.items())[:DETAIL_LIMIT]),
    }
    archived = by_state["archived"]
    if archived and fail_if_not_requested:
        raise ArchivedObject(
            f"s3://{client.bucket}: {len(archived)} key(s) are archived and no restore was "
            f"requested: {', '.join(archived[:5])}",
            bucket=client.bucket,
            key=archived[0],
        )
    if readable == len(keys):
        return ConditionResult(True, f"all {len(keys)} keys are readable", details)
    parts = []
    for state, label in (
        ("in_progress", "still being restored"),
        ("archived", "archived with no restore requested"),
        ("missing", "missing"),
    ):
        if by_state[state]:
            parts.append(f"{len(by_state[state])} {label} (e.g. {by_state[state][0]})")
    return ConditionResult(
        False,
        f"s3://{client.bucket}: {readable} of {len(keys)} keys readable; " + "; ".join(parts),
        details,
    )
