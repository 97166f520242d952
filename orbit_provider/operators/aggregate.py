"""Sum the summaries of mapped (sharded) batch tasks into one, checking every key is counted.

Use the operator after ``.expand()``, or `aggregate_batch_summaries` inside a ``@task``::

    copy = OrbitBatchCopyOperator.partial(task_id="copy", ...).expand(keys=shards.output)
    OrbitAggregateSummariesOperator(task_id="total", summaries=copy.output,
                                    trigger_rule="all_done")
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator

from orbit_provider.operators.base import OrbitTaskError
from orbit_provider.operators.summary import DEFAULT_MAX_ITEMS, aggregate_summaries

log = logging.getLogger("orbit_provider.operators.aggregate")

_OUTCOMES = ("succeeded", "failed", "not_run", "skipped")


def aggregate_batch_summaries(
    summaries: Iterable[Mapping[str, Any] | None],
    *,
    expected_total: int | None = None,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> dict[str, Any]:
    """One summary of many (mapped) batch summaries; ``accounted`` says every key of every
    task has exactly one outcome. OrbitTaskError when the outcomes do not add up to the
    totals, or the total differs from `expected_total` (e.g. the number of listed keys)."""
    parts = list(summaries)
    missing = sum(1 for s in parts if not s)
    out = aggregate_summaries(parts, max_items=max_items)
    outcomes = sum(out[name] for name in _OUTCOMES)
    out["tasks_without_summary"] = missing
    out["accounted"] = outcomes == out["total"] and not missing
    if outcomes != out["total"]:
        raise OrbitTaskError(
            f"aggregate: outcomes ({outcomes}) do not add up to the total ({out['total']})",
            code="Accounting",
        )
    if missing:
        raise OrbitTaskError(
            f"aggregate: {missing} of {len(parts)} task(s) left no summary (did they run?)",
            code="Accounting",
        )
    if expected_total is not None and out["total"] != expected_total:
        raise OrbitTaskError(
            f"aggregate: {out['total']} key(s) accounted for, {expected_total} expected",
            code="Accounting",
        )
    return out


class OrbitAggregateSummariesOperator(BaseOperator):
    """Sum the summaries of mapped batch tasks into one: counts, bytes, failures (capped).

    Fails when a task left no summary or when the outcomes (succeeded, failed, not_run,
    skipped) do not add up to the total; with ``expected_total`` also when the total differs.
    Failed batch tasks still leave their summary, so with ``trigger_rule="all_done"`` the
    aggregate covers them too.

    :param summaries: the summaries, typically ``mapped_task.output`` (templated).
    :param expected_total: how many keys there should be (templated), e.g. the listed count.
    :param fail_on_failures: fail this task when any key failed (after logging the total).
    :param max_items: how many failures the aggregate lists.
    :return: the aggregated summary (``tasks``, ``total``, ``succeeded``, ``failed``,
        ``already_done``, ``bytes``, ``failures``, ``accounted``...).
    """

    template_fields: Sequence[str] = ("summaries", "expected_total")
    ui_color = "#f0e4d0"

    def __init__(
        self,
        *,
        summaries: Any,
        expected_total: int | str | None = None,
        fail_on_failures: bool = False,
        max_items: int = DEFAULT_MAX_ITEMS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.summaries = summaries
        self.expected_total = expected_total
        self.fail_on_failures = fail_on_failures
        self.max_items = max_items

    def execute(self, context: Any) -> dict[str, Any]:
        summaries = self.summaries
        if isinstance(summaries, Mapping):
            summaries = [summaries]
        if summaries is None or isinstance(summaries, str):
            raise OrbitTaskError(f"summaries: expected a list of summaries, got {summaries!r}")
        expected = self.expected_total
        if isinstance(expected, str):
            try:
                expected = int(expected)
            except ValueError as exc:
                raise OrbitTaskError(f"expected_total: {expected!r} is not a number") from exc
        out = aggregate_batch_summaries(
            list(summaries), expected_total=expected, max_items=self.max_items
        )
        self.log.info(
            "%s over %d task(s): %d key(s): %d succeeded (%d already done), %d failed, "
            "%d not run; %d bytes", out["operation"], out["tasks"], out["total"],
            out["succeeded"], out["already_done"], out["failed"], out["not_run"], out["bytes"],
        )
        if self.fail_on_failures and (out["failed"] or out["not_run"]):
            raise OrbitTaskError(
                f"aggregate: {out['failed']} key(s) failed and {out['not_run']} did not run "
                f"over {out['tasks']} task(s)",
                code="PartialFailure",
            )
        return out
