"""Lifecycle expiration rules: S3's own scalable delete. S3 Batch Operations has no delete,
and deleting billions of keys request by request costs days; an expiration rule on a prefix
makes S3 remove them itself (within about a day of the date it names), at no request cost.

A bucket has one lifecycle configuration holding every rule, and PutBucketLifecycleConfiguration
replaces it whole: rules are always merged into what the bucket has, never dropped. The
read-merge-write is not atomic (S3 offers no condition on it): two writers racing on one
bucket's rules can lose one write, which is why the result is read back and checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pendulum

from orbit_provider.s3.errors import ConfigError, S3Error
from orbit_provider.s3.session import S3Session

MAX_RULES = 1000  # S3's limit per bucket


@dataclass(frozen=True)
class ExpirationRule:
    """Expire the objects under `prefix`: current versions `days` after creation or on
    `on_date`; optionally noncurrent versions, lone delete markers, and unfinished uploads."""

    prefix: str
    days: int | None = None
    on_date: date | datetime | str | None = None
    noncurrent_days: int | None = None
    expire_delete_markers: bool = False
    abort_incomplete_days: int | None = None
    rule_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str):
            raise ConfigError("prefix: must be a string")
        if (self.days is None) == (self.on_date is None) and not self.expire_delete_markers:
            raise ConfigError("give exactly one of days or on_date")
        for name in ("days", "noncurrent_days", "abort_incomplete_days"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ConfigError(f"{name}: {value!r} must be a positive integer")
        if self.expire_delete_markers and (self.days is not None or self.on_date is not None):
            raise ConfigError(
                "expire_delete_markers: S3 cannot combine it with days or on_date in one rule"
            )
        if self.rule_id is not None and not 1 <= len(self.rule_id) <= 255:
            raise ConfigError("rule_id: 1 to 255 characters")

    @property
    def id(self) -> str:
        """The rule's ID: the given one, or one derived from the prefix (so re-running the
        same call updates its own rule instead of adding another)."""
        if self.rule_id:
            return self.rule_id
        digest = hashlib.sha256(self.prefix.encode("utf-8")).hexdigest()[:12]
        return f"orbit-expire-{digest}"

    def to_rule(self) -> dict[str, Any]:
        """The rule as PutBucketLifecycleConfiguration takes it."""
        expiration: dict[str, Any] = {}
        if self.days is not None:
            expiration["Days"] = self.days
        elif self.on_date is not None:
            expiration["Date"] = _midnight_utc(self.on_date)
        if self.expire_delete_markers:
            expiration["ExpiredObjectDeleteMarker"] = True
        rule: dict[str, Any] = {
            "ID": self.id,
            "Filter": {"Prefix": self.prefix},
            "Status": "Enabled",
            "Expiration": expiration,
        }
        if self.noncurrent_days is not None:
            rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": self.noncurrent_days}
        if self.abort_incomplete_days is not None:
            rule["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": self.abort_incomplete_days
            }
        return rule


def _midnight_utc(value: date | datetime | str) -> datetime:
    """S3 takes expiration dates at midnight UTC only."""
    if isinstance(value, str):
        parsed = pendulum.parse(value)
        day = parsed.date() if isinstance(parsed, datetime) else parsed
    elif isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        raise ConfigError(f"on_date: {value!r} is not a date")
    return pendulum.datetime(day.year, day.month, day.day, tz="UTC")


def current_rules(session: S3Session, bucket: str | None = None) -> list[dict[str, Any]]:
    """The bucket's lifecycle rules ([] when it has none)."""
    try:
        return session.call("get_bucket_lifecycle_configuration", bucket=bucket).get("Rules", [])
    except S3Error as exc:
        if exc.code == "NoSuchLifecycleConfiguration":
            return []
        raise


def merged_rules(existing: list[dict[str, Any]], rule: dict[str, Any]) -> list[dict[str, Any]]:
    """`existing` with `rule` added, or replacing the rule of the same ID in its place."""
    merged = [rule if r.get("ID") == rule["ID"] else r for r in existing]
    if all(r.get("ID") != rule["ID"] for r in existing):
        merged.append(rule)
    if len(merged) > MAX_RULES:
        raise ConfigError(
            f"the bucket already has {len(existing)} lifecycle rules (S3 allows {MAX_RULES})"
        )
    return merged


@dataclass(frozen=True)
class LifecycleChange:
    """What add_expiration_rule did (or, in a dry run, would do)."""

    bucket: str
    rule: dict[str, Any]
    replaced: bool
    kept: int
    applied: bool

    def to_dict(self) -> dict[str, Any]:
        rule = dict(self.rule)
        expiration = dict(rule.get("Expiration", {}))
        if isinstance(expiration.get("Date"), datetime):
            expiration["Date"] = expiration["Date"].isoformat()
        rule["Expiration"] = expiration
        return {
            "bucket": self.bucket,
            "rule": rule,
            "replaced": self.replaced,
            "kept": self.kept,
            "applied": self.applied,
        }


def add_expiration_rule(
    session: S3Session,
    rule: ExpirationRule,
    *,
    bucket: str | None = None,
    allow_whole_bucket: bool = False,
    dry_run: bool = False,
) -> LifecycleChange:
    """Add (or update, by ID) an expiration rule, keeping every other rule of the bucket,
    then read the configuration back to check it holds. An empty prefix would expire the
    whole bucket: refused unless `allow_whole_bucket`."""
    if not rule.prefix and not allow_whole_bucket:
        raise ConfigError(
            "prefix: an empty prefix expires the whole bucket; pass allow_whole_bucket=True"
        )
    bucket = bucket or session.bucket
    existing = current_rules(session, bucket)
    new = rule.to_rule()
    merged = merged_rules(existing, new)
    replaced = len(merged) == len(existing)
    change = LifecycleChange(bucket, new, replaced, len(existing) - int(replaced), not dry_run)
    if dry_run:
        return change
    session.call(
        "put_bucket_lifecycle_configuration",
        bucket=bucket,
        LifecycleConfiguration={"Rules": merged},
    )
    after = {r.get("ID") for r in current_rules(session, bucket)}
    missing = {r.get("ID") for r in merged} - after
    if missing:
        raise S3Error(
            f"s3://{bucket}: lifecycle rules {sorted(missing)} are missing after the update "
            "(another writer changed the configuration at the same time): run it again"
        )
    return change


def remove_rule(session: S3Session, rule_id: str, *, bucket: str | None = None) -> bool:
    """Remove one rule by ID, keeping the others; False when the bucket had no such rule."""
    bucket = bucket or session.bucket
    existing = current_rules(session, bucket)
    kept = [r for r in existing if r.get("ID") != rule_id]
    if len(kept) == len(existing):
        return False
    if kept:
        session.call(
            "put_bucket_lifecycle_configuration",
            bucket=bucket,
            LifecycleConfiguration={"Rules": kept},
        )
    else:
        session.call("delete_bucket_lifecycle", bucket=bucket)
    return True
