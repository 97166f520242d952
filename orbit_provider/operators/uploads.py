"""OrbitAbortIncompleteUploadsOperator: clean up multipart uploads nobody will resume."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pendulum

from orbit_provider.operators.base import OrbitBaseOperator, OrbitTaskError, is_unrendered
from orbit_provider.operators.summary import DEFAULT_MAX_ITEMS
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.progress import BatchProgress


def parse_age(value: Any) -> float:
    """Seconds from a number, a timedelta / pendulum Duration, a numeric string ("3600") or an
    ISO 8601 duration ("PT6H", "P2D"); raise ConfigError naming `older_than` otherwise."""
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                parsed = pendulum.parse(text)
            except Exception:
                parsed = None
            if not isinstance(parsed, dt.timedelta):
                raise ConfigError(
                    f"older_than: {value!r} is not seconds, a timedelta or an ISO 8601 "
                    "duration such as 'PT6H'"
                ) from None
            seconds = parsed.total_seconds()
    else:
        raise ConfigError(
            f"older_than: {value!r} must be seconds, a timedelta or an ISO 8601 duration"
        )
    if seconds < 0:
        raise ConfigError(f"older_than: {value!r} must not be negative")
    return seconds


class OrbitAbortIncompleteUploadsOperator(OrbitBaseOperator):
    """Abort unfinished multipart uploads under a prefix that are older than an age.

    A failed upload is kept on purpose so that a retry can resume it; this operator removes
    the ones nobody is going to resume (and that S3 keeps billing for). Keep ``older_than``
    well above your tasks' retry window so a resumable upload is never cut off.

    :param bucket: The bucket (templated; default: the connection's ``bucket``).
    :param prefix: Only uploads whose key starts with this (templated; ``""``: all).
    :param older_than: Minimum age: seconds, a timedelta, or (templated) a numeric string or
        ISO 8601 duration such as ``"P1D"``. Default: one day.
    :param dry_run: Only list the uploads that would be aborted.
    :param max_items: Uploads listed in the returned summary (the count is always complete).
    :return: ``{"bucket", "prefix", "older_than_seconds", "dry_run", "count", "uploads":
        [{"key", "upload_id", "initiated"}], "uploads_truncated"}``.
    """

    template_fields: Sequence[str] = (*OrbitBaseOperator.template_fields, "prefix", "older_than")

    def __init__(
        self,
        *,
        prefix: str = "",
        older_than: float | dt.timedelta | str = dt.timedelta(days=1),
        dry_run: bool = False,
        max_items: int = DEFAULT_MAX_ITEMS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not is_unrendered(older_than):
            self._fail_fast(lambda: parse_age(older_than))
        if not isinstance(prefix, str) and not is_unrendered(prefix):
            raise OrbitTaskError("prefix: must be a string", code="ConfigError")
        self.prefix = prefix
        self.older_than = older_than
        self.dry_run = dry_run
        self.max_items = max_items

    def execute(self, context: Any) -> dict:
        seconds = self.run_checked(lambda: parse_age(self.older_than))
        client = self.client
        prefix = self.prefix or ""
        verb = "would abort" if self.dry_run else "aborted"

        def run(reporter: Any) -> list[Any]:
            found = client.abort_incomplete_uploads(prefix, seconds, self.dry_run)
            reporter.emit(
                BatchProgress("abort_uploads", len(found), len(found), 0, total=len(found))
            )
            return found

        uploads = self.run_core(context, run)
        for upload in uploads[: self.max_items]:
            self.log.info("%s %s (upload %s, started %s)", verb, upload.key, upload.upload_id,
                          upload.initiated.isoformat())  # fmt: skip
        self.log.info(
            "%s %d unfinished upload(s) under s3://%s/%s older than %ss",
            verb, len(uploads), client.bucket, prefix, seconds,
        )  # fmt: skip
        return {
            "bucket": client.bucket,
            "prefix": prefix,
            "older_than_seconds": seconds,
            "dry_run": bool(self.dry_run),
            "count": len(uploads),
            "uploads": [
                {"key": u.key, "upload_id": u.upload_id, "initiated": u.initiated.isoformat()}
                for u in uploads[: self.max_items]
            ],
            "uploads_truncated": len(uploads) > self.max_items,
        }
