"""OrbitBatchBaseOperator: batch options checked at parse time, failure messages, finish()."""

from __future__ import annotations

import pytest

from orbit_provider.operators.base import OrbitTaskError
from orbit_provider.operators.batch_base import (
    FAILURES_IN_MESSAGE,
    OrbitBatchBaseOperator,
    failure_message,
)
from tests.operators.operator_context import make_context


def _summary(failed: int, not_run: int = 0, failures: int = 0) -> dict:
    return {
        "operation": "delete", "total": 10, "succeeded": 10 - failed - not_run,
        "already_done": 0, "failed": failed, "not_run": not_run,
        "failures": [{"key": f"k{i}", "code": "AccessDenied", "error": "no"}
                     for i in range(failures)],
    }  # fmt: skip


def test_batch_options_become_a_batch_config():
    op = OrbitBatchBaseOperator(task_id="t", bucket="lake", max_concurrent=3,
                                batch_retry_delay=0.1)  # fmt: skip
    config = op.batch_config()
    assert (config.max_concurrent, config.retry_delay) == (3, 0.1)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"max_concurrent": 0}, "max_concurrent"),
        ({"allow_partial": "yes"}, "allow_partial"),
        ({"max_items": -1}, "max_items"),
    ],
)
def test_bad_batch_options_fail_when_the_dag_is_parsed(kwargs, named):
    with pytest.raises(OrbitTaskError, match=named):
        OrbitBatchBaseOperator(task_id="t", bucket="lake", **kwargs)


def test_failure_message_names_counts_and_the_first_failures_only():
    text = failure_message(_summary(failed=7, not_run=2, failures=7))
    assert text.startswith("delete: 7 of 10 key(s) failed, 2 not run (fail_fast)")
    assert f"k{FAILURES_IN_MESSAGE - 1} (AccessDenied)" in text
    assert f"k{FAILURES_IN_MESSAGE} " not in text
    assert "allow_partial=True" in text


def test_finish_fails_after_pushing_the_summary_unless_partial_is_allowed():
    context = make_context()
    strict = OrbitBatchBaseOperator(task_id="t", bucket="lake")
    with pytest.raises(OrbitTaskError, match="1 of 10 key"):
        strict.finish(context, _summary(failed=1, failures=1))
    assert context["ti"].values("return_value")[-1]["failed"] == 1
    lenient = OrbitBatchBaseOperator(task_id="t2", bucket="lake", allow_partial=True)
    assert lenient.finish(make_context(), _summary(failed=1))["failed"] == 1
    assert strict.finish(context, _summary(failed=0))["failed"] == 0
