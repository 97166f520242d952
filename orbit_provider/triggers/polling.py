"""The polling loop shared by orbit_provider's triggers.

A trigger carries one core condition (s3/conditions.py) and its own polling arguments; this
loop builds the client in the triggerer from the Airflow connection, evaluates the condition
in a worker thread so the triggerer's event loop never blocks, and yields one TriggerEvent:
``{"status": "success" | "timeout" | "error", "message": str, "details": dict}``.
`serialize()` stores the condition as itself (``condition.to_dict()``), and the constructor
takes that dict back.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from orbit_provider.hooks.orbit_s3 import NOTSET, resolve_conn_id
from orbit_provider.s3.conditions import Condition
from orbit_provider.s3.errors import ConfigError, S3Error

if TYPE_CHECKING:
    from orbit_provider.s3.client import S3Client
    from orbit_provider.s3.conditions import ConditionResult


def validate_interval(poke_interval: float, timeout: float | None) -> None:
    """poke_interval and timeout non-negative seconds (timeout may be None: no limit)."""
    if isinstance(poke_interval, bool) or not isinstance(poke_interval, int | float) or (
        poke_interval < 0
    ):
        raise ValueError(
            f"poke_interval: {poke_interval!r} must be a non-negative number of seconds"
        )
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0
    ):
        raise ValueError(f"timeout: {timeout!r} must be None or a non-negative number of seconds")


def _retryable(exc: BaseException) -> bool:
    """Whether the task's retry may help: a core error says so itself; bad input never."""
    if isinstance(exc, S3Error):
        return exc.retryable
    return not isinstance(exc, ValueError | TypeError)


class OrbitPollingTrigger(BaseTrigger):
    """Evaluates a core condition every `poke_interval` seconds until it holds or `timeout`
    passes. A subclass names the condition classes it waits for (`condition_types`).

    :param bucket: the bucket the condition is about.
    :param condition: the condition, or its `to_dict()` (as `serialize()` stores it).
    :param orbit_conn_id: the Airflow connection the client is built from (in the triggerer);
        None uses boto3's standard credential chain.
    :param aws_conn_id: alias of `orbit_conn_id` (the amazon provider's name).
    :param poke_interval: seconds between two checks.
    :param timeout: seconds after which a "timeout" event is sent; None waits for ever (the
        deferral's own timeout still applies).
    """

    condition_types: ClassVar[tuple[type[Condition], ...]] = (Condition,)

    def __init__(
        self,
        *,
        bucket: str,
        condition: Condition | Mapping[str, Any],
        orbit_conn_id: str | None = NOTSET,
        poke_interval: float = 60.0,
        timeout: float | None = None,
        aws_conn_id: str | None = NOTSET,
    ) -> None:
        super().__init__()
        orbit_conn_id = resolve_conn_id(orbit_conn_id, aws_conn_id)
        validate_interval(poke_interval, timeout)
        if isinstance(condition, Mapping):
            condition = Condition.from_dict(condition)
        if not isinstance(condition, self.condition_types):
            names = ", ".join(c.__name__ for c in self.condition_types)
            raise ConfigError(
                f"condition: {type(self).__name__} waits for {names}, got {condition!r}"
            )
        self.bucket = bucket
        self.condition = condition
        self.orbit_conn_id = orbit_conn_id
        self.poke_interval = poke_interval
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "bucket": self.bucket,
                "condition": self.condition.to_dict(),
                "orbit_conn_id": self.orbit_conn_id,
                "poke_interval": self.poke_interval,
                "timeout": self.timeout,
            },
        )

    def __eq__(self, other: object) -> bool:
        """Equal when of the same class and serialized alike (a trigger rebuilt from its own
        `serialize()` equals the original)."""
        if not isinstance(other, OrbitPollingTrigger):
            return NotImplemented
        return type(self) is type(other) and self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash(json.dumps(self.serialize(), sort_keys=True))

    def check(self, client: S3Client) -> ConditionResult:
        """Evaluate the condition once (blocking; runs in a worker thread)."""
        return self.condition.evaluate(client)

    def make_client(self) -> S3Client:
        """Build the client from the connection (blocking: the connection lookup is sync)."""
        from orbit_provider.hooks.orbit_s3 import OrbitS3Hook

        return OrbitS3Hook(orbit_conn_id=self.orbit_conn_id).get_client(self.bucket)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.monotonic()
        polls = 0
        try:
            client = await asyncio.to_thread(self.make_client)
            while True:
                polls += 1
                try:
                    result = await asyncio.to_thread(self.check, client)
                except S3Error as exc:
                    if not exc.retryable:
                        raise
                    # The client already retried; a flaky store is no reason to give up waiting.
                    self.log.warning("check failed, will try again: %s", exc)
                    reason, details = f"last check failed: {exc}", {}
                else:
                    if result.met:
                        self.log.info("condition met: %s", result.reason)
                        yield self._event("success", result.reason, result.details, polls)
                        return
                    self.log.info("not yet: %s", result.reason)
                    reason, details = result.reason, result.details
                elapsed = time.monotonic() - started
                if self.timeout is not None and elapsed >= self.timeout:
                    message = f"timed out after {elapsed:.1f}s (timeout {self.timeout}s): {reason}"
                    yield self._event("timeout", message, details, polls)
                    return
                wait = self.poke_interval
                if self.timeout is not None:
                    wait = min(wait, max(self.timeout - elapsed, 0))
                await asyncio.sleep(wait)
        except Exception as exc:  # every failure becomes an event the task can report
            self.log.error("stopped by an error: %s", exc)
            details = {"error_type": type(exc).__name__, "retryable": _retryable(exc)}
            yield self._event("error", str(exc) or type(exc).__name__, details, polls)

    def _event(
        self, status: str, message: str, details: dict[str, Any], polls: int
    ) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": status,
                "message": message,
                "details": {"bucket": self.bucket, **details},
                "polls": polls,
            }
        )
