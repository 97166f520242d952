"""Conditions that sensors and triggers wait for, as frozen dataclasses (no Airflow here).

A condition checks its own fields when built (ConfigError naming the field, before any
request), `evaluate`s once against an S3Session (a few requests, then a ConditionResult saying
whether it holds and, when not, why) and serializes as itself (`to_dict` / `from_dict`,
JSON-safe), so a sensor builds it once and a trigger carries that same value to the
triggerer. Result `details` are JSON-serializable, so the Airflow layer can log them, put
them in a trigger event and return them as an XCom; S3 failures raise the core's S3Error kinds.
"""

from __future__ import annotations

import abc
import fnmatch
import hashlib
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pendulum

from orbit_provider.s3.batch.restore import ARCHIVE_CLASSES, restore_status
from orbit_provider.s3.config import validate_key
from orbit_provider.s3.errors import ArchivedObject, ConfigError, NotFound
from orbit_provider.s3.transfer.incomplete_uploads import iter_incomplete_uploads
from orbit_provider.s3.versions.listing import NULL_VERSION
from orbit_provider.s3.versions.versioning import is_newer_version

if TYPE_CHECKING:
    from orbit_provider.s3.models import ObjectMetadata
    from orbit_provider.s3.session import S3Session

DETAIL_LIMIT = 100  # at most this many keys are described in `details`, so XComs stay small

C = TypeVar("C", bound="Condition")


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


# -- field checks ----------------------------------------------------------------------------


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name}: {value!r} must be True/False")


def _check_min_size(min_size: Any) -> None:
    """None, or a non-negative number of bytes."""
    if min_size is not None and (
        isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 0
    ):
        raise ConfigError(f"min_size: {min_size!r} must be a non-negative integer (bytes)")


def _check_keys(keys: Any) -> tuple[str, ...]:
    """A non-empty list of valid keys, without repeats (a lone string is refused: pass a list)."""
    if isinstance(keys, str) or not isinstance(keys, Iterable):
        raise ConfigError(f"keys: expected a list of object keys, got {keys!r}")
    checked = [validate_key(k, "keys") for k in keys]
    if not checked:
        raise ConfigError("keys: at least one key is required")
    return tuple(dict.fromkeys(checked))


def _check_seconds(name: str, value: Any) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or value < 0
    ):
        raise ConfigError(f"{name}: {value!r} must be a non-negative number of seconds")


def _check_size_age(min_size: Any, max_size: Any, min_age: Any, max_age: Any) -> None:
    """The size and age rules every object condition takes."""
    _check_min_size(min_size)
    if max_size is not None and (
        isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 0
    ):
        raise ConfigError(f"max_size: {max_size!r} must be a non-negative integer (bytes)")
    if min_size is not None and max_size is not None and max_size < min_size:
        raise ConfigError(f"max_size: {max_size} is smaller than min_size {min_size}")
    _check_seconds("min_age", min_age)
    _check_seconds("max_age", max_age)
    if min_age is not None and max_age is not None and max_age < min_age:
        raise ConfigError(f"max_age: {max_age} is smaller than min_age {min_age}")


def now() -> pendulum.DateTime:
    """The current time (UTC) that age rules are read against."""
    return pendulum.now("UTC")


def size_age_problem(c: Any, size: int, last_modified: pendulum.DateTime | None) -> str | None:
    """Why an object of `size` bytes last modified at `last_modified` fails condition `c`'s
    size and age rules (min_size, max_size, min_age, max_age), or None when it passes."""
    if c.min_size is not None and size < c.min_size:
        return f"{size} bytes, smaller than min_size {c.min_size}"
    if c.max_size is not None and size > c.max_size:
        return f"{size} bytes, larger than max_size {c.max_size}"
    if c.min_age is None and c.max_age is None:
        return None
    if last_modified is None:
        return "no last-modified time to read its age from"
    age = (now() - last_modified).total_seconds()
    if c.min_age is not None and age < c.min_age:
        return f"modified {age:.0f}s ago, younger than min_age {c.min_age}s"
    if c.max_age is not None and age > c.max_age:
        return f"modified {age:.0f}s ago, older than max_age {c.max_age}s"
    return None


# -- the base ---------------------------------------------------------------------------------


class Condition(abc.ABC):
    """What every condition shares: `evaluate` against a session, and serializing as itself.

    `to_dict()` is ``{"kind": <the class's kind>, <field>: <value>, ...}`` with tuples as
    lists (JSON-safe); `Condition.from_dict` rebuilds any kind, a subclass's only its own.
    """

    kind: ClassVar[str] = ""

    @abc.abstractmethod
    def evaluate(self, client: S3Session) -> ConditionResult:
        """Send a few requests and say whether the condition holds now."""

    def to_dict(self) -> dict[str, Any]:
        """The kind and every field, JSON-safe (what a trigger serializes)."""
        data: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):  # type: ignore[arg-type]  # every subclass is a dataclass
            value = getattr(self, f.name)
            data[f.name] = list(value) if isinstance(value, tuple) else value
        return data

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        """The condition `to_dict()` described (checked again, like any construction)."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"condition: expected a dict from to_dict(), got {data!r}")
        kind = data.get("kind")
        target = _KINDS.get(kind) if isinstance(kind, str) else None
        if target is None:
            raise ConfigError(f"condition kind: {kind!r} is not one of {sorted(_KINDS)}")
        if not issubclass(target, cls):
            raise ConfigError(f"condition kind: expected {cls.kind!r}, got {kind!r}")
        own = fields(target)
        names = {f.name for f in own}
        unknown = sorted(set(data) - names - {"kind"})
        if unknown:
            raise ConfigError(f"{unknown[0]}: not a field of the {kind} condition")
        missing = [
            f.name
            for f in own
            if f.default is MISSING and f.default_factory is MISSING and f.name not in data
        ]
        if missing:
            raise ConfigError(f"{missing[0]}: missing from the {kind} condition")
        return target(**{name: data[name] for name in names if name in data})


# -- one object -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectReady(Condition):
    """`key` exists, is at least `min_size` bytes, has no unfinished multipart upload (with
    `no_pending_upload`) and, with `newer_than_version`, a current version newer than that id."""

    kind: ClassVar[str] = "object_ready"

    key: str
    min_size: int | None = None
    no_pending_upload: bool = False
    newer_than_version: str | None = None
    max_size: int | None = None
    min_age: float | None = None
    max_age: float | None = None

    def __post_init__(self) -> None:
        validate_key(self.key)
        _check_size_age(self.min_size, self.max_size, self.min_age, self.max_age)
        _check_bool("no_pending_upload", self.no_pending_upload)
        version = self.newer_than_version
        if version is not None and (not isinstance(version, str) or not version):
            raise ConfigError(f"newer_than_version: {version!r} must be a non-empty version id")

    def evaluate(self, client: S3Session) -> ConditionResult:
        return self._evaluate(client, check_bucket=True)

    def _evaluate(self, client: S3Session, *, check_bucket: bool) -> ConditionResult:
        """`check_bucket` False: the caller checks the bucket once for many missing keys."""
        key = self.key
        where = f"s3://{client.bucket}/{key}"
        head = _head(client, key, check_bucket=check_bucket)
        if head is None:
            return ConditionResult(False, f"{where} does not exist yet", {"key": key})
        details = describe(head)
        problem = size_age_problem(self, head.size, head.last_modified)
        if problem:
            return ConditionResult(False, f"{where} is {problem}", details)
        if self.no_pending_upload:
            pending = _pending_uploads(client, key, exact=True)
            if pending:
                details["pending_uploads"] = len(pending)
                return ConditionResult(
                    False, f"{where} has {len(pending)} unfinished multipart upload(s)", details
                )
        if self.newer_than_version is not None:
            newer, reason = _is_newer(client, key, head, self.newer_than_version)
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


# -- a list of keys ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeysReady(Condition):
    """Every key of `keys` is ready as ObjectReady says (at least `min_size` bytes, no
    unfinished multipart upload with `no_pending_upload`). `keys` is kept as a tuple."""

    kind: ClassVar[str] = "keys_ready"

    keys: tuple[str, ...]
    min_size: int | None = None
    no_pending_upload: bool = False
    max_size: int | None = None
    min_age: float | None = None
    max_age: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", _check_keys(self.keys))
        _check_size_age(self.min_size, self.max_size, self.min_age, self.max_age)
        _check_bool("no_pending_upload", self.no_pending_upload)

    def evaluate(self, client: S3Session) -> ConditionResult:
        found: list[dict[str, Any]] = []
        waiting: list[str] = []
        reasons: list[str] = []
        for key in self.keys:
            one = ObjectReady(
                key=key,
                min_size=self.min_size,
                no_pending_upload=self.no_pending_upload,
                max_size=self.max_size,
                min_age=self.min_age,
                max_age=self.max_age,
            )
            result = one._evaluate(client, check_bucket=False)
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
        total = len(self.keys)
        if waiting:
            more = f" (and {len(waiting) - 1} more)" if len(waiting) > 1 else ""
            return ConditionResult(
                False, f"{len(waiting)} of {total} keys not ready: {reasons[0]}{more}", details
            )
        return ConditionResult(True, f"all {total} keys are ready", details)


# -- a prefix ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrefixReady(Condition):
    """At least `min_count` objects under `prefix` ("" is the whole bucket) whose keys match
    `glob` (fnmatch, ``*`` spans ``/``) or `regex` (re.fullmatch) when given, and that pass the
    size and age rules; with `no_pending_upload`, no multipart upload under it is unfinished.
    The listing stops once enough objects were seen."""

    kind: ClassVar[str] = "prefix_ready"

    prefix: str
    min_count: int = 1
    min_size: int | None = None
    no_pending_upload: bool = False
    max_size: int | None = None
    min_age: float | None = None
    max_age: float | None = None
    glob: str | None = None
    regex: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str):
            raise ConfigError(f"prefix: expected a string, got {self.prefix!r}")
        count = self.min_count
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"min_count: {count!r} must be a positive integer")
        _check_size_age(self.min_size, self.max_size, self.min_age, self.max_age)
        _check_bool("no_pending_upload", self.no_pending_upload)
        if self.glob is not None and self.regex is not None:
            raise ConfigError("glob and regex: give one pattern, not both")
        if self.glob is not None and (not isinstance(self.glob, str) or not self.glob):
            raise ConfigError(f"glob: {self.glob!r} must be a non-empty pattern")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except (re.error, TypeError) as exc:
                raise ConfigError(
                    f"regex: {self.regex!r} is not a regular expression: {exc}"
                ) from exc

    def matches(self, key: str) -> bool:
        if self.glob is not None:
            return fnmatch.fnmatchcase(key, self.glob)
        if self.regex is not None:
            return re.fullmatch(self.regex, key) is not None
        return True

    def evaluate(self, client: S3Session) -> ConditionResult:
        prefix, min_count = self.prefix, self.min_count
        where = f"s3://{client.bucket}/{prefix}"
        if self.glob or self.regex:
            where += f" matching {self.glob or self.regex!r}"
        enough = max(min_count, DETAIL_LIMIT)
        matches: list[dict[str, Any]] = []
        too_small = 0
        complete = True
        for obj in client.iter_objects(prefix):
            if not self.matches(obj.key):
                continue
            if size_age_problem(self, obj.size, obj.last_modified):
                too_small += 1
                continue
            matches.append(
                {
                    "key": obj.key,
                    "size": obj.size,
                    "etag": obj.etag,
                    "last_modified": (obj.last_modified.isoformat() if obj.last_modified else None),
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
            size_note = f" of at least {self.min_size} bytes" if self.min_size is not None else ""
            small_note = (
                f" ({too_small} objects outside the size or age rules ignored)" if too_small else ""
            )
            return ConditionResult(
                False,
                f"{where}: {len(matches)} object(s){size_note}, waiting for {min_count}"
                f"{small_note}",
                details,
            )
        if self.no_pending_upload:
            pending = _pending_uploads(client, prefix, exact=False)
            if pending:
                details["pending_uploads"] = len(pending)
                names = ", ".join(sorted({u.key for u in pending})[:5])
                return ConditionResult(
                    False,
                    f"{where}: {len(pending)} unfinished multipart upload(s) ({names})",
                    details,
                )
        return ConditionResult(True, f"{where}: {len(matches)} object(s) ready", details)


# -- a prefix that stopped changing -------------------------------------------------------------


@dataclass(frozen=True)
class PrefixUnchanged(Condition):
    """The objects under `prefix` have not changed (no key added, removed or rewritten) for
    `inactivity_period` seconds, and there are at least `min_objects` of them: a writer that
    drops many files is done (like the amazon provider's S3KeysUnchangedSensor).

    The condition remembers what it saw at its last evaluation (in this instance: a sensor's
    pokes and a trigger's polls reuse one), so the period is counted from the first look at
    the current state. With `allow_delete=False`, objects disappearing is an error.
    """

    kind: ClassVar[str] = "prefix_unchanged"

    prefix: str
    inactivity_period: float = 3600.0
    min_objects: int = 1
    allow_delete: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str):
            raise ConfigError(f"prefix: expected a string, got {self.prefix!r}")
        _check_seconds("inactivity_period", self.inactivity_period)
        count = self.min_objects
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ConfigError(f"min_objects: {count!r} must be a non-negative integer")
        _check_bool("allow_delete", self.allow_delete)
        object.__setattr__(self, "_seen", None)  # (digest, count, since) of the last look

    def evaluate(self, client: S3Session) -> ConditionResult:
        where = f"s3://{client.bucket}/{self.prefix}"
        digest, count, size = hashlib.sha256(), 0, 0
        for obj in client.iter_objects(self.prefix):
            digest.update(f"{obj.key}\0{obj.etag}\0{obj.size}\n".encode())
            count, size = count + 1, size + obj.size
        state, clock = digest.hexdigest(), time.monotonic()
        seen = self._seen  # type: ignore[attr-defined]
        details = {"prefix": self.prefix, "count": count, "total_size": size}
        if seen is not None and count < seen[1] and not self.allow_delete:
            raise ConfigError(
                f"{where}: {seen[1] - count} object(s) were deleted while waiting "
                "(allow_delete=False)"
            )
        if seen is None or seen[0] != state:
            object.__setattr__(self, "_seen", (state, count, clock))
            what = "first look" if seen is None else "changed"
            return ConditionResult(
                False,
                f"{where}: {what}, {count} object(s); waiting {self.inactivity_period}s "
                "without change",
                details,
            )
        quiet = clock - seen[2]
        details["unchanged_seconds"] = round(quiet, 1)
        if quiet < self.inactivity_period:
            return ConditionResult(
                False, f"{where}: unchanged for {quiet:.0f}s of {self.inactivity_period}s", details
            )
        if count < self.min_objects:
            return ConditionResult(
                False,
                f"{where}: unchanged, but {count} object(s) of min_objects {self.min_objects}",
                details,
            )
        return ConditionResult(
            True, f"{where}: {count} object(s), unchanged for {quiet:.0f}s", details
        )


# -- archive restore --------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveRestored(Condition):
    """Every key is readable: restored from its archive class, or never archived.

    A key still archived with no restore requested never becomes readable on its own: it
    keeps the result unmet, or raises ArchivedObject when `fail_if_not_requested`.
    A missing key keeps the result unmet. `keys` is kept as a tuple."""

    kind: ClassVar[str] = "archive_restored"

    keys: tuple[str, ...]
    fail_if_not_requested: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", _check_keys(self.keys))
        _check_bool("fail_if_not_requested", self.fail_if_not_requested)

    def evaluate(self, client: S3Session) -> ConditionResult:
        keys = self.keys
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
        if archived and self.fail_if_not_requested:
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


@dataclass(frozen=True)
class ArchivePrefixRestored(Condition):
    """Every object under `prefix` is readable: no GLACIER / DEEP_ARCHIVE object is still
    archived or being restored. The condition carries the prefix, not the keys (a restore of
    millions of keys waits with a few bytes in the trigger); each check lists the prefix
    lazily, asking ListObjectsV2 for each object's restore status (OptionalObjectAttributes
    RestoreStatus, one request per 1,000 keys on AWS) and HEADs only an archived object whose
    listing entry has none (stores that ignore the attribute, or no restore requested).

    An archived object with no restore requested keeps the result unmet, raises
    ArchivedObject when `fail_if_not_requested`, or is left out when `ignore_not_requested`
    (its restore request failed and the task allowed it). Objects written under the prefix
    after the restore count too."""

    kind: ClassVar[str] = "archive_prefix_restored"

    prefix: str
    fail_if_not_requested: bool = False
    ignore_not_requested: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str):
            raise ConfigError(f"prefix: expected a string, got {self.prefix!r}")
        _check_bool("fail_if_not_requested", self.fail_if_not_requested)
        _check_bool("ignore_not_requested", self.ignore_not_requested)
        if self.fail_if_not_requested and self.ignore_not_requested:
            raise ConfigError("fail_if_not_requested and ignore_not_requested: choose one")

    def _states(self, client: S3Session) -> Iterable[tuple[str, str, str | None]]:
        """(key, restore state, expiry or None) of every object under the prefix."""
        params: dict[str, Any] = {
            "Prefix": self.prefix, "MaxKeys": 1000, "OptionalObjectAttributes": ["RestoreStatus"],
        }  # fmt: skip
        while True:
            resp = client.call("list_objects_v2", bucket=client.bucket, **params)
            for item in resp.get("Contents", []):
                key = item["Key"]
                if (item.get("StorageClass") or "STANDARD") not in ARCHIVE_CLASSES:
                    yield key, "not_archived", None
                    continue
                listed = item.get("RestoreStatus")
                if listed is not None:
                    expiry = listed.get("RestoreExpiryDate")
                    if listed.get("IsRestoreInProgress"):
                        yield key, "in_progress", None
                    else:
                        yield key, "restored", expiry.isoformat() if expiry else None
                    continue
                try:
                    status = restore_status(client, key)
                except NotFound as exc:
                    if exc.key is None:
                        raise
                    continue  # deleted since it was listed
                expires = status.expires.isoformat() if status.expires else None
                yield key, status.state, expires
            token = resp.get("NextContinuationToken")
            if not (resp.get("IsTruncated") and token):
                return
            params["ContinuationToken"] = token

    def evaluate(self, client: S3Session) -> ConditionResult:
        counts = dict.fromkeys(("restored", "not_archived", "in_progress", "archived"), 0)
        samples: dict[str, list[str]] = {state: [] for state in counts}
        expires: dict[str, str] = {}
        for key, state, expiry in self._states(client):
            counts[state] = counts.get(state, 0) + 1
            if len(samples.setdefault(state, [])) < DETAIL_LIMIT:
                samples[state].append(key)
            if expiry is not None and len(expires) < DETAIL_LIMIT:
                expires[key] = expiry
            if state == "archived" and self.fail_if_not_requested:
                raise ArchivedObject(
                    f"s3://{client.bucket}/{key} is archived and no restore was requested",
                    bucket=client.bucket,
                    key=key,
                )
        total = sum(counts.values())
        readable = counts["restored"] + counts["not_archived"]
        details: dict[str, Any] = {
            "prefix": self.prefix, "total": total, "readable": readable,
            "counts": counts, **samples, "expires": expires,
        }  # fmt: skip
        waiting = counts["in_progress"] + (0 if self.ignore_not_requested else counts["archived"])
        where = f"s3://{client.bucket}/{self.prefix}"
        if not waiting:
            left = f" ({counts['archived']} not requested, left out)" if counts["archived"] else ""
            return ConditionResult(True, f"{where}: all {readable} objects readable{left}", details)
        parts = [f"{counts['in_progress']} still being restored"]
        if counts["archived"]:
            parts.append(f"{counts['archived']} archived with no restore requested")
        return ConditionResult(
            False, f"{where}: {readable} of {total} objects readable; " + "; ".join(parts), details
        )


# -- registry and the object sensor's choice --------------------------------------------------

_KINDS: dict[str, type[Condition]] = {
    c.kind: c
    for c in (
        ObjectReady, KeysReady, PrefixReady, PrefixUnchanged, ArchiveRestored,
        ArchivePrefixRestored,
    )
}

ObjectCondition = ObjectReady | KeysReady | PrefixReady

#: The object conditions by the argument that names what to watch.
OBJECT_TARGETS: dict[str, type[ObjectCondition]] = {
    "key": ObjectReady,
    "keys": KeysReady,
    "prefix": PrefixReady,
}
_TARGET_LABELS = {"key": "a single key", "keys": "keys", "prefix": "prefix"}

#: Every argument object_condition takes: the fields of the object conditions.
OBJECT_ARGUMENTS: tuple[str, ...] = tuple(
    dict.fromkeys(f.name for c in OBJECT_TARGETS.values() for f in fields(c))
)


_GLOB_CHARS = re.compile(r"[*?\[]")
_REGEX_CHARS = re.compile(r"[.^$*+?{}\[\]\\|()]")


def literal_prefix(pattern: str, regex: bool) -> str:
    """The part of a key pattern before its first wildcard: what can be listed."""
    found = (_REGEX_CHARS if regex else _GLOB_CHARS).search(pattern)
    return pattern[: found.start()] if found else pattern


def object_condition(
    *, wildcard_match: bool = False, use_regex: bool = False, **arguments: Any
) -> ObjectCondition:
    """The object condition the object sensor's arguments describe: the one of key, keys and
    prefix that is given picks the dataclass; an argument that dataclass has no field for must
    be left at its default (min_count only applies with prefix, newer_than_version with key).
    With `wildcard_match` (glob) or `use_regex`, `key` is a pattern: the objects under its
    literal prefix that match it, at least `min_count` of them (a PrefixReady)."""
    _check_bool("wildcard_match", wildcard_match)
    _check_bool("use_regex", use_regex)
    if wildcard_match or use_regex:
        if wildcard_match and use_regex:
            raise ConfigError("wildcard_match and use_regex: choose one")
        pattern = arguments.pop("key", None)
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError("key: a key pattern is required with wildcard_match / use_regex")
        if arguments.get("newer_than_version") is not None:
            raise ConfigError("newer_than_version: only applies to one exact key")
        arguments.pop("newer_than_version", None)
        arguments["prefix"] = literal_prefix(pattern, use_regex)
        arguments["regex" if use_regex else "glob"] = pattern
    given = [name for name in OBJECT_TARGETS if arguments.get(name) is not None]
    if len(given) != 1:
        what = " and ".join(given) if given else "none of them"
        raise ConfigError(f"give exactly one of key, keys or prefix (got {what})")
    chosen = OBJECT_TARGETS[given[0]]
    own = {f.name for f in fields(chosen)}
    for name, value in arguments.items():
        if name in own or name in OBJECT_TARGETS:
            continue
        owners = {
            target: f for target, c in OBJECT_TARGETS.items() for f in fields(c) if f.name == name
        }
        if not owners:
            raise ConfigError(f"{name}: not an argument of an object condition")
        if value != next(iter(owners.values())).default:
            where = " or ".join(_TARGET_LABELS[t] for t in owners)
            raise ConfigError(f"{name}: only applies with {where}")
    return chosen(**{name: value for name, value in arguments.items() if name in own})
