"""Batch delete: DeleteObjects with up to 1,000 keys a request, requests run concurrently.

Quiet=False, so the response lists every key: deleted ones succeed, per-key Errors are
reported per key, and keys with retryable errors (InternalError, SlowDown) are sent again in
a smaller request under the batch's retry policy. A key (or version) already gone counts as
done: S3 reports it deleted; stores that answer NoSuchKey/NoSuchVersion get "already_done".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError

from orbit_provider.s3.batch.engine import BatchRun, Done, Outcome, batch_client, outcome_of
from orbit_provider.s3.batch.models import (
    ALREADY_DONE,
    BatchConfig,
    BatchResult,
    resolve_config,
    result_key,
)
from orbit_provider.s3.config import validate_key
from orbit_provider.s3.errors import ConfigError, NotFound, S3Error, ServerError, classify
from orbit_provider.s3.progress import ProgressReporter
from orbit_provider.s3.recovery import with_retry

#: S3's limit (SeaweedFS rejects 1,001).
MAX_KEYS_PER_REQUEST = 1000

KeyVersion = tuple[str, str | None]


def _split(item: Any) -> KeyVersion:
    """A delete item as (key, version_id): a key, a (key, version_id) tuple, or an object
    with `.key` (and optionally `.version_id`), e.g. ObjectSummary."""
    if isinstance(item, str):
        return item, None
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
        if item[1] is not None and not isinstance(item[1], str):
            raise ConfigError(f"keys: version id of {item[0]!r} must be a string or None")
        return item[0], item[1] or None
    key = getattr(item, "key", None)
    if isinstance(key, str):
        return key, getattr(item, "version_id", None) or None
    raise ConfigError(
        f"keys: expected a key, a (key, version_id) tuple or an object with .key, "
        f"got {type(item).__name__}"
    )


def _key_of(item: Any) -> str:
    try:
        return result_key(*_split(item))
    except ConfigError:
        return repr(item)


def _prepare(item: Any) -> KeyVersion:
    key, version = _split(item)
    validate_key(key, f"keys: {key[:80]!r}")
    return key, version


def _entry_error(entry: dict, bucket: str) -> S3Error:
    """A per-key entry of DeleteObjects' Errors as the S3Error it stands for."""
    code = entry.get("Code") or "InternalError"
    message = entry.get("Message") or code
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {}}
    return classify(ClientError(response, "DeleteObjects"), bucket=bucket, key=entry.get("Key"))


def _chunk_runner(
    bc: Any, config: BatchConfig, sleep: Callable[[float], None]
) -> Callable[[list[tuple[str, KeyVersion]]], dict[str, Outcome]]:
    policy = config.retry_policy()

    def run(items: list[tuple[str, KeyVersion]]) -> dict[str, Outcome]:
        remaining = dict(items)
        out: dict[str, Outcome] = {}
        last_error: dict[str, S3Error] = {}

        def lookup(entry: dict) -> str | None:
            for rkey in (result_key(entry["Key"], entry.get("VersionId")), entry["Key"]):
                if rkey in remaining:
                    return rkey
            return None

        def attempt() -> None:
            objects = [
                {"Key": k, "VersionId": v} if v else {"Key": k} for k, v in remaining.values()
            ]
            resp = bc.call("delete_objects", Delete={"Objects": objects, "Quiet": False})
            for entry in resp.get("Deleted", []):
                rkey = lookup(entry)
                if rkey is not None:
                    out[rkey] = Done()
                    del remaining[rkey]
            for entry in resp.get("Errors", []):
                rkey = lookup(entry)
                if rkey is None:
                    continue
                error = _entry_error(entry, bc.bucket)
                if isinstance(error, NotFound):
                    out[rkey] = Done(ALREADY_DONE)
                elif not error.retryable:
                    out[rkey] = error
                else:
                    last_error[rkey] = error
                    continue
                del remaining[rkey]
            if remaining:
                first = next(iter(remaining))
                raise ServerError(
                    f"DeleteObjects left {len(remaining)} key(s) undeleted with retryable "
                    f"errors (first: {first!r})",
                    bucket=bc.bucket,
                    code="InternalError",
                )

        try:
            with_retry(policy, attempt, None, sleep, bucket=bc.bucket)
        except Exception as exc:
            error = outcome_of(exc)
            for rkey in remaining:
                out[rkey] = last_error.get(rkey, error)
        return out

    return run


def batch_delete(
    client: Any,
    keys: Iterable[Any],
    config: BatchConfig | None = None,
    *,
    progress: ProgressReporter | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchResult:
    """Delete every key (or (key, version_id)) in DeleteObjects requests of up to 1,000 keys."""
    config = resolve_config(config)
    bc = batch_client(client, config)
    return BatchRun(
        "delete",
        config,
        _chunk_runner(bc, config, sleep),
        breaker=client.circuit_breaker,
        progress=progress,
        chunk_size=MAX_KEYS_PER_REQUEST,
    ).run(keys, _key_of, _prepare)
