"""Version operators: versioning on/off, one key back to a version, a prefix back in time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orbit_provider.operators.base import OrbitBaseOperator, is_unrendered
from orbit_provider.operators.batch_base import OrbitBatchBaseOperator
from orbit_provider.s3.config import validate_key
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.versions.versioning import parse_timestamp

ACTIONS = ("enable", "suspend", "status")


def _check_timestamp(value: Any, field_name: str = "timestamp") -> None:
    if value is not None and not is_unrendered(value):
        parse_timestamp(value, field_name)


class OrbitVersioningOperator(OrbitBaseOperator):
    """Enable or suspend versioning of a bucket (or just read its state).

    :param action: ``"enable"``, ``"suspend"`` or ``"status"`` (read only).
    :return: ``{"bucket", "action", "status", "enabled", "suspended", "changed"}``; status is
        ``"Enabled"``, ``"Suspended"`` or None (never enabled).
    bucket, orbit_conn_id, client_options: see OrbitBaseOperator.
    """

    template_fields: Sequence[str] = OrbitBaseOperator.template_fields
    ui_color = "#e8f0d8"

    def __init__(self, *, action: str = "enable", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if action not in ACTIONS:
            self.run_checked(_bad_action(action))
        self.action = action

    def execute(self, context: Any) -> dict[str, Any]:
        client = self.client
        before = self.run_checked(client.get_versioning_status)
        if self.action == "enable":
            status = self.run_checked(client.enable_versioning)
        elif self.action == "suspend":
            status = self.run_checked(client.suspend_versioning)
        else:
            status = before
        changed = status.status != before.status
        self.log.info(
            "versioning of s3://%s: %s -> %s", client.bucket, before.status or "never enabled",
            status.status or "never enabled",
        )
        return {"bucket": client.bucket, "action": self.action, **status.to_dict(),
                "previous_status": before.status, "changed": changed}  # fmt: skip


def _bad_action(action: Any) -> Any:
    def fail() -> None:
        raise ConfigError(f"action: {action!r} must be one of {', '.join(ACTIONS)}")

    return fail


class OrbitRestoreVersionOperator(OrbitBaseOperator):
    """Make an earlier version of one key current again (server-side copy; history is kept).

    Give exactly one of ``version_id`` (that version) or ``timestamp`` (the version that was
    current then). An unknown version id, a delete marker, or a moment before the key's first
    version (or when it was deleted) fails the task with an error naming it; nothing changes.

    :param key: the object key (templated).
    :param version_id: the version to bring back (templated).
    :param timestamp: the moment to go back to (templated; aware datetime or ISO string, e.g.
        ``"{{ data_interval_start }}"``; parsed with pendulum, UTC when no zone is given).
    :return: ``{"bucket", "key", "restored_version_id", "current_version_id", "changed"}``.
    bucket, orbit_conn_id, client_options: see OrbitBaseOperator.
    """

    lineage_arguments = {"key": "outputs"}
    template_fields: Sequence[str] = (
        *OrbitBaseOperator.template_fields, "key", "version_id", "timestamp",
    )
    ui_color = "#e8f0d8"

    def __init__(
        self,
        *,
        key: str,
        version_id: str | None = None,
        timestamp: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.key = key
        self.version_id = version_id
        self.timestamp = timestamp
        self.run_checked(lambda: self.validate(rendered=False))

    def validate(self, *, rendered: bool) -> None:
        if (self.version_id is None) == (self.timestamp is None):
            raise ConfigError("version_id or timestamp: give exactly one of them")
        if rendered or not is_unrendered(self.key):
            if not isinstance(self.key, str):
                raise ConfigError(f"key: expected a string, got {self.key!r}")
            validate_key(self.key)
        if self.version_id is not None and (rendered or not is_unrendered(self.version_id)):
            if not isinstance(self.version_id, str) or not self.version_id.strip():
                raise ConfigError(f"version_id: {self.version_id!r} must be a non-empty string")
        if rendered:
            if self.timestamp is not None:
                parse_timestamp(self.timestamp)
        else:
            _check_timestamp(self.timestamp)

    def execute(self, context: Any) -> dict[str, Any]:
        self.take_urls("key")
        self.run_checked(lambda: self.validate(rendered=True))
        client = self.client
        if self.version_id is not None:
            current = self.run_checked(lambda: client.latest_version_id(self.key))
            if current == self.version_id:
                new_id, changed = current, False
            else:
                new_id = self.run_checked(lambda: client.restore_version(self.key, self.version_id))
                changed = True
            restored = self.version_id
        else:
            when = parse_timestamp(self.timestamp)
            result = self.run_checked(lambda: client.restore_at(self.key, when))
            restored, new_id, changed = (result.restored_version_id, result.current_version_id,
                                         result.changed)  # fmt: skip
        self.log.info(
            "s3://%s/%s: version %s is current again%s", client.bucket, self.key, restored,
            f" as {new_id}" if changed else " (it already was; nothing changed)",
        )
        self.add_lineage(outputs=[(client.bucket, self.key)])
        summary: dict[str, Any] = {
            "bucket": client.bucket,
            "key": self.key,
            "restored_version_id": restored,
            "current_version_id": new_id,
            "changed": changed,
        }
        if self.timestamp is not None:
            summary["timestamp"] = parse_timestamp(self.timestamp).isoformat()
        return summary


class OrbitRollbackPrefixOperator(OrbitBatchBaseOperator):
    """Bring every key under a prefix back to its state at a moment.

    Per key: restores the version current then, removes delete markers that came later,
    deletes (with a delete marker) keys created after it; keys unchanged since are kept.
    Nothing is destroyed: every change adds history. Refuses a bucket whose versioning was
    never enabled (and, unless ``dry_run``, a suspended one) with an error saying why.

    :param prefix: the prefix to roll back (templated; ``""`` is the whole bucket).
    :param timestamp: the moment (templated; aware datetime or ISO string, e.g.
        ``"{{ data_interval_start }}"``).
    :param dry_run: log the per-key plan (the first ``plan_limit`` changes) and the counts,
        return them, and change nothing.
    :param plan_limit: how many per-key changes the log and the return value list.
    :return: ``{"prefix", "timestamp", "dry_run", "keys", "counts", "changed", "failed",
        "not_run", "errors", "changes", ...}`` (counts per action: restore,
        remove_delete_markers, delete, keep).
    Batch options (max_concurrent, rate_limit, fail_fast, allow_partial, ...): see
    OrbitBatchBaseOperator.
    """

    template_fields: Sequence[str] = (*OrbitBaseOperator.template_fields, "prefix", "timestamp")
    lineage_arguments = {"prefix": "outputs"}
    ui_color = "#e8f0d8"

    def __init__(
        self,
        *,
        prefix: str,
        timestamp: Any,
        dry_run: bool = False,
        plan_limit: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix
        self.timestamp = timestamp
        self.dry_run = dry_run
        self.plan_limit = plan_limit
        self.run_checked(lambda: self.validate(rendered=False))

    def validate(self, *, rendered: bool) -> None:
        if rendered or not is_unrendered(self.prefix):
            if not isinstance(self.prefix, str):
                raise ConfigError(f"prefix: expected a string, got {self.prefix!r}")
        if self.timestamp is None:
            raise ConfigError("timestamp: the moment to roll back to is required")
        if rendered:
            parse_timestamp(self.timestamp)
        else:
            _check_timestamp(self.timestamp)
        if not isinstance(self.dry_run, bool):
            raise ConfigError(f"dry_run: {self.dry_run!r} must be True or False")
        limit = self.plan_limit
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ConfigError(f"plan_limit: {limit!r} must be an integer >= 0")

    def execute(self, context: Any) -> dict[str, Any]:
        self.take_urls("prefix")
        self.run_checked(lambda: self.validate(rendered=True))
        client = self.client
        when = parse_timestamp(self.timestamp)
        config = self.batch_config(context, "rollback")
        result = self.run_core(
            context,
            lambda reporter: client.rollback_prefix(
                self.prefix, when, dry_run=self.dry_run, config=config, progress=reporter,
            ),
            operation="rollback",
        )
        return self._report(context, result)

    def _report(self, context: Any, result: Any) -> dict[str, Any]:
        out = result.to_dict()
        out["bucket"] = self.client.bucket
        out["changes"] = out["changes"][: self.plan_limit]
        out["changes_listed"] = len(out["changes"])
        out["errors"] = out["errors"][: self.max_items]
        counts = ", ".join(f"{name} {n}" for name, n in result.counts.items())
        verb = "dry run, nothing is changed" if self.dry_run else "rolled back"
        self.log.info(
            "%s: s3://%s/%s to %s: %d key(s): %s", verb, self.client.bucket, self.prefix,
            out["timestamp"], result.keys, counts,
        )
        for action in result.changes[: self.plan_limit]:
            self.log.info("  %s", action.describe())
        hidden = sum(n for name, n in result.counts.items() if name != "keep") - len(
            out["changes"]
        )
        if hidden > 0:
            self.log.info("  ... and %d more change(s)", hidden)
        if self.dry_run:
            return out
        self.add_lineage(outputs=[(self.client.bucket, self.prefix)])
        if result.batch is not None and result.batch.already_done:
            out["already_done"] = result.batch.already_done
        summary = {
            **out,
            "operation": "rollback",
            "total": result.batch.total if result.batch else 0,
            "succeeded": result.changed,
            "failures": [
                {"key": k, "code": c, "error": e} for k, c, e in out["errors"]
            ],
        }
        return self.finish(context, summary)
