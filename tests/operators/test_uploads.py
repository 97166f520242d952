"""OrbitAbortIncompleteUploadsOperator execute() against moto: dry run, abort, age, bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from orbit_provider.operators.base import OrbitTaskError
from orbit_provider.operators.uploads import OrbitAbortIncompleteUploadsOperator, parse_age
from orbit_provider.s3.errors import ConfigError
from tests.operators.operator_context import (  # noqa: F401 - fixtures
    MOTO_BUCKET,
    make_context,
    moto_conn_fixture,
)


@pytest.fixture
def unfinished(moto_client) -> list[str]:
    ids = []
    for key in ("tmp/a.bin", "tmp/b.bin", "keep/c.bin"):
        ids.append(moto_client.call("create_multipart_upload", key=key)["UploadId"])
    return ids


def abort(**kwargs) -> tuple[dict, dict]:
    context = make_context()
    op = OrbitAbortIncompleteUploadsOperator(task_id="abort", bucket=MOTO_BUCKET, **kwargs)
    return op.execute(context), context


def test_dry_run_lists_without_aborting(moto_conn, moto_client, unfinished):
    summary, context = abort(prefix="tmp/", older_than=0, dry_run=True, progress_xcom=True)
    assert summary["dry_run"] is True and summary["count"] == 2
    assert sorted(u["key"] for u in summary["uploads"]) == ["tmp/a.bin", "tmp/b.bin"]
    assert len(moto_client.list_incomplete_uploads()) == 3
    assert context["ti"].values("orbit_progress")[-1]["final"] is True


def test_abort_removes_only_those_under_the_prefix(moto_conn, moto_client, unfinished):
    summary, _ = abort(prefix="tmp/", older_than="0", max_items=1)
    assert summary["count"] == 2 and len(summary["uploads"]) == 1
    assert summary["uploads_truncated"] is True
    assert [u.key for u in moto_client.list_incomplete_uploads()] == ["keep/c.bin"]


def test_younger_uploads_are_kept(orbit_conn, seaweed_client):
    # SeaweedFS, not moto: moto reports every upload as initiated in 2010
    seaweed_client.call("create_multipart_upload", key="tmp/young.bin")
    context = make_context()
    op = OrbitAbortIncompleteUploadsOperator(task_id="a", bucket=orbit_conn, older_than="PT1H")
    summary = op.execute(context)
    assert summary["count"] == 0 and summary["older_than_seconds"] == 3600
    assert [u.key for u in seaweed_client.list_incomplete_uploads()] == ["tmp/young.bin"]
    summary = OrbitAbortIncompleteUploadsOperator(
        task_id="a", bucket=orbit_conn, older_than=0
    ).execute(make_context())
    assert summary["count"] == 1 and seaweed_client.list_incomplete_uploads() == []


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(90, 90.0), (1.5, 1.5), ("3600", 3600.0), ("P1D", 86400.0), (dt.timedelta(minutes=2), 120)],
)
def test_parse_age(value, seconds):
    assert parse_age(value) == seconds


@pytest.mark.parametrize("value", ["soon", -5, None, True, "{{ x }}-rendered-badly"])
def test_parse_age_refuses_what_is_not_an_age(value):
    with pytest.raises(ConfigError, match="older_than"):
        parse_age(value)


def test_a_bad_age_fails_when_parsed_or_after_rendering(moto_conn, moto_client, unfinished):
    with pytest.raises(OrbitTaskError, match="older_than: 'soon'"):
        OrbitAbortIncompleteUploadsOperator(task_id="a", bucket=MOTO_BUCKET, older_than="soon")
    op = OrbitAbortIncompleteUploadsOperator(
        task_id="a", bucket=MOTO_BUCKET, older_than="{{ params.age }}"
    )
    op.older_than = "-1"  # what rendering produced
    with pytest.raises(OrbitTaskError, match="older_than: '-1' must not be negative"):
        op.execute(make_context())
    assert len(moto_client.list_incomplete_uploads()) == 3
