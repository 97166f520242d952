"""Batch work over many keys: the configuration, per-key outcomes and results.

The engine that runs a batch lives in `engine.py` beside this module; the operations in
`delete.py`, `copy.py`, `objects.py` (storage class, metadata, tags) and `restore.py`. They
are reached through one-line methods on `S3Client`.
"""

from __future__ import annotations

import enum
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pendulum

from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.recovery import Backoff, RetryPolicy
from orbit_provider.s3.wire.ratelimit import TokenBucket

#: Detail of a key that needed no work: a retried task finds it already in the target state.
#: per-key outcomes a BatchResult keeps in memory for a lazy source (see BatchConfig)
LAZY_RESULTS_CAP = 1000
ALREADY_DONE = "already_done"
#: Detail of a restore that S3 had already started (RestoreAlreadyInProgress).
ALREADY_IN_PROGRESS = "already_in_progress"
#: Detail of a restore of an object that was already restored (S3 answered 200).
ALREADY_RESTORED = "already_restored"
_ALREADY = frozenset({ALREADY_DONE, ALREADY_IN_PROGRESS, ALREADY_RESTORED})


class KeyStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    NOT_RUN = "not_run"


@dataclass(frozen=True)
class BatchConfig:
    """How a batch runs.

    max_concurrent: requests in flight at once (threads). rate_limit: requests/second over
    the whole batch, or a `TokenBucket` to share one budget between batches. operation_timeout:
    seconds one key (or one DeleteObjects request) may take, retries included; None = no limit.
    fail_fast: stop scheduling at the first failed key; the rest are reported `not_run`.
    max_retries / retry_delay: retries of retryable per-key failures (exponential from
    retry_delay). max_results: how many per-key outcomes (and failures) the BatchResult keeps
    in memory; None: all of them for a list (it is in memory already), LAZY_RESULTS_CAP for a
    lazy source such as a listing, so memory stays flat in the number of keys (the counts
    are always exact). report_path: a local file that receives every key's outcome as one
    JSON line as it completes (the full record, whatever max_results keeps).
    """

    max_concurrent: int = 10
    rate_limit: float | TokenBucket | None = None
    operation_timeout: float | None = 120.0
    fail_fast: bool = False
    max_retries: int = 3
    retry_delay: float = 0.5
    max_results: int | None = None
    report_path: str | os.PathLike | None = None

    def __post_init__(self) -> None:
        _positive_int("max_concurrent", self.max_concurrent, minimum=1)
        if self.max_results is not None:
            _positive_int("max_results", self.max_results, minimum=0)
        if self.report_path is not None and not isinstance(self.report_path, str | os.PathLike):
            raise ConfigError(f"report_path: {self.report_path!r} must be a path")
        _positive_int("max_retries", self.max_retries, minimum=0)
        if self.rate_limit is not None and not isinstance(self.rate_limit, TokenBucket):
            _number("rate_limit", self.rate_limit, "requests per second", strict=True)
        if self.operation_timeout is not None:
            _number("operation_timeout", self.operation_timeout, "seconds", strict=True)
        _number("retry_delay", self.retry_delay, "seconds", strict=False)
        if not isinstance(self.fail_fast, bool):
            raise ConfigError(f"fail_fast: {self.fail_fast!r} must be True or False")

    def retry_policy(self) -> RetryPolicy:
        """The per-key retry policy: max_retries + 1 attempts, exponential from retry_delay."""
        return RetryPolicy(
            max_attempts=self.max_retries + 1,
            initial_delay=self.retry_delay,
            max_delay=max(self.retry_delay * 16, self.retry_delay),
            backoff=Backoff.EXPONENTIAL,
            jitter_factor=0.2,
        )

    def limiter(self) -> TokenBucket | None:
        """The token bucket every request of the batch takes one token from (or None)."""
        if self.rate_limit is None or isinstance(self.rate_limit, TokenBucket):
            return self.rate_limit
        return TokenBucket(self.rate_limit)


def _positive_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}: {value!r} must be an integer >= {minimum}")


def _number(name: str, value: Any, unit: str, strict: bool) -> None:
    ok = not isinstance(value, bool) and isinstance(value, int | float)
    if not ok or (value <= 0 if strict else value < 0) or value != value:
        bound = "> 0" if strict else ">= 0"
        raise ConfigError(f"{name}: {value!r} must be a number {bound} ({unit})")


def resolve_config(config: BatchConfig | None) -> BatchConfig:
    """None means the defaults."""
    if config is None:
        return BatchConfig()
    if not isinstance(config, BatchConfig):
        raise ConfigError(f"config: expected a BatchConfig, got {type(config).__name__}")
    return config


@dataclass(frozen=True)
class KeyOutcome:
    """What happened to one key. `detail` says why (error message, or e.g. "already_done");
    `code` is the S3 / orbit error code of a failure."""

    status: Literal["succeeded", "failed", "not_run"]
    detail: str | None = None
    code: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == KeyStatus.SUCCEEDED


@dataclass(frozen=True)
class BatchResult:
    """Every key of a batch exactly once: the counts add up to `total`; `results` holds each
    key's outcome (all of them when `results_complete`, else the first `max_results`, with
    the full record in the JSON Lines file at `report_path` when one was asked for).

    `errors` lists (key, code, message) of failed keys (capped like `results`). `already_done`
    counts the succeeded keys that needed no work (a retried task). `duplicates` counts
    repeated keys of a list that were not processed a second time.
    """

    total: int
    successful: int
    failed: int
    results: dict[str, KeyOutcome]
    errors: list[tuple[str, str, str]]
    duration: float
    not_run: int = 0
    already_done: int = 0
    duplicates: int = 0
    operation: str = ""
    results_complete: bool = True
    report_path: str | None = None

    @property
    def ok(self) -> bool:
        """True when every key succeeded."""
        return self.failed == 0 and self.not_run == 0

    def keys_with(self, status: str) -> list[str]:
        return [k for k, o in self.results.items() if o.status == status]

    def to_dict(self, max_keys: int | None = None) -> dict[str, Any]:
        """JSON-friendly summary; `max_keys` caps the per-key lists (errors, results)."""
        results = list(self.results.items())
        errors = list(self.errors)
        if max_keys is not None:
            results, errors = results[:max_keys], errors[:max_keys]
        return {
            "operation": self.operation,
            "total": self.total,
            "successful": self.successful,
            "failed": self.failed,
            "not_run": self.not_run,
            "already_done": self.already_done,
            "duplicates": self.duplicates,
            "duration": self.duration,
            "errors": [list(e) for e in errors],
            "results": {k: asdict(o) for k, o in results},
            "results_complete": self.results_complete,
            "report_path": self.report_path,
        }


def is_already(detail: str | None) -> bool:
    """Whether a success detail means the key needed no work."""
    return detail in _ALREADY


def result_key(key: str, version_id: str | None = None) -> str:
    """The `results` key of a key, or of one version of it (`key?versionId=...`)."""
    return f"{key}?versionId={version_id}" if version_id else key


RestoreState = Literal["not_archived", "archived", "in_progress", "restored"]


@dataclass(frozen=True)
class RestoreStatus:
    """Where an archived object's restore stands; `expires` is when a restored copy goes."""

    state: RestoreState
    expires: pendulum.DateTime | None = None
    storage_class: str | None = field(default=None)

    @property
    def readable(self) -> bool:
        return self.state in ("not_archived", "restored")
