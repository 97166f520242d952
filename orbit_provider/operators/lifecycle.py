"""OrbitLifecycleExpirationOperator: the scalable delete. Writes a lifecycle expiration rule
for a prefix (merged with the bucket's rules, never dropping one) and S3 removes the objects
itself, within about a day, at no request cost. S3 Batch Operations has no delete; past ten
million keys this is the way (docs/scale.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from orbit_provider.operators.base import OrbitBaseOperator, is_unrendered
from orbit_provider.s3.lifecycle import ExpirationRule, add_expiration_rule


class OrbitLifecycleExpirationOperator(OrbitBaseOperator):
    """Expire every object under `prefix`: the current versions `days` after they were
    written, or on `on_date` (midnight UTC); optionally noncurrent versions and unfinished
    multipart uploads. Running it again updates its own rule (same prefix, same rule id).

    :param prefix: the keys to expire (templated). An empty prefix would expire the whole
        bucket and is refused unless ``allow_whole_bucket=True``.
    :param days: days after creation (give this or `on_date`).
    :param on_date: the day the objects expire (a date or ISO string; templated).
    :param noncurrent_days: also expire noncurrent versions this many days after they became
        noncurrent (versioned buckets).
    :param abort_incomplete_days: also abort multipart uploads left unfinished this long.
    :param rule_id: the rule's ID (default: derived from the prefix).
    :param allow_whole_bucket: allow an empty prefix.
    :param dry_run: return the rule and what it would keep, change nothing.
    :return: ``{"bucket", "rule", "replaced", "kept", "applied"}``.
    """

    template_fields: Sequence[str] = (*OrbitBaseOperator.template_fields, "prefix", "on_date")
    ui_color = "#f5dcdc"
    lineage_arguments = {"prefix": "outputs"}

    def __init__(
        self,
        *,
        prefix: str,
        days: int | None = None,
        on_date: date | str | None = None,
        noncurrent_days: int | None = None,
        abort_incomplete_days: int | None = None,
        rule_id: str | None = None,
        allow_whole_bucket: bool = False,
        dry_run: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix
        self.days = days
        self.on_date = on_date
        self.noncurrent_days = noncurrent_days
        self.abort_incomplete_days = abort_incomplete_days
        self.rule_id = rule_id
        self.allow_whole_bucket = allow_whole_bucket
        self.dry_run = dry_run
        if not is_unrendered(prefix) and not is_unrendered(on_date):
            self.run_checked(self.rule)  # literals are checked when the DAG is parsed

    def rule(self) -> ExpirationRule:
        return ExpirationRule(
            prefix=self.prefix,
            days=self.days,
            on_date=self.on_date,
            noncurrent_days=self.noncurrent_days,
            abort_incomplete_days=self.abort_incomplete_days,
            rule_id=self.rule_id,
        )

    def execute(self, context: Any) -> dict[str, Any]:
        rule = self.run_checked(self.rule)
        change = self.run_checked(
            lambda: add_expiration_rule(
                self.client,
                rule,
                allow_whole_bucket=self.allow_whole_bucket,
                dry_run=self.dry_run,
            )
        )
        verb = "would write" if self.dry_run else ("updated" if change.replaced else "added")
        self.log.info(
            "%s lifecycle rule %s on s3://%s: expire %r (%d other rule(s) kept)",
            verb,
            rule.id,
            change.bucket,
            rule.prefix,
            change.kept,
        )
        return change.to_dict()
