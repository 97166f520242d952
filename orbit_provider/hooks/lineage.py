"""Report what a task read and wrote: to Airflow's hook-level lineage collector, as
OpenLineage datasets, and as extras of the task's asset events.

Operators call `report_lineage(hook, inputs=..., outputs=...)` once; items are `s3://` URIs
(see `s3_uri`) or local paths. The collector is a no-op unless a lineage reader (e.g. the
OpenLineage provider) is enabled, so this costs nothing by default. `asset_extra` and
`attach_asset_extras` describe the data (bytes, objects, version ids) in the asset events of
an operator's ``outlets``; `openlineage` builds the OpenLineage provider's OperatorLineage.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("orbit_provider.hooks.lineage")


def s3_uri(bucket: str, key: str = "") -> str:
    """`s3://bucket/key` (or `s3://bucket/prefix`, or `s3://bucket/` for a whole bucket)."""
    return f"s3://{bucket}/{key.lstrip('/')}"


def _uri(item: str | os.PathLike) -> str:
    text = os.fspath(item)
    if "://" in text:
        # Checked here, not left to whichever provider registered the scheme: without the
        # amazon provider Airflow would accept "s3://" with no bucket as an asset.
        if text.startswith("s3://") and not urlsplit(text).netloc:
            raise ValueError(f"{text!r} names no bucket")
        return text
    return Path(text).absolute().as_uri()


def report_lineage(
    hook: Any,
    *,
    inputs: Iterable[str | os.PathLike] = (),
    outputs: Iterable[str | os.PathLike] = (),
) -> None:
    """Add `inputs` and `outputs` (s3:// URIs or local paths) to the hook lineage collector."""
    from airflow.sdk import lineage

    collector = lineage.get_hook_lineage_collector()
    for add, items in ((collector.add_input_asset, inputs), (collector.add_output_asset, outputs)):
        for item in items:
            try:
                add(context=hook, uri=_uri(item))
            except Exception as exc:  # lineage must never fail a transfer
                log.warning("could not report lineage for %s: %s", item, exc)


# -- asset event extras ----------------------------------------------------------------------

#: At most this many version ids go into an asset event's extra (the summary's own cap holds too).
MAX_VERSION_IDS = 100


def asset_extra(
    result: Any, *, operation: str | None = None, bytes_moved: int = 0, objects: int = 0
) -> dict[str, Any]:
    """What an asset event of this task says about the data: ``operation``, ``bytes`` (the
    objects' size), ``objects`` (how many succeeded) and ``version_ids`` (key -> version id of
    what was written, at most MAX_VERSION_IDS; ``version_ids_truncated`` when there were more).

    Taken from the task's summary (`result`, the operators' common keys) when it is one, else
    from what the task's progress counted (`bytes_moved`, `objects`).
    """
    extra: dict[str, Any] = {}
    summary = result if isinstance(result, Mapping) else {}
    op = summary.get("operation") or operation
    if op:
        extra["operation"] = str(op)
    size = summary.get("bytes")
    extra["bytes"] = int(size) if isinstance(size, int) else int(bytes_moved)
    done = summary.get("succeeded")
    extra["objects"] = int(done) if isinstance(done, int) else int(objects)
    versions = {
        str(o["key"]): str(o["version_id"])
        for o in summary.get("objects") or ()
        if isinstance(o, Mapping) and o.get("key") and o.get("version_id")
    }
    if versions:
        keep = dict(list(versions.items())[:MAX_VERSION_IDS])
        extra["version_ids"] = keep
        if len(keep) < len(versions) or summary.get("objects_truncated"):
            extra["version_ids_truncated"] = True
    return extra


def attach_asset_extras(
    context: Any, outlets: Iterable[Any], extra: Mapping[str, Any]
) -> list[str]:
    """Put `extra` into the asset event of every `Asset` outlet (keys the task already set
    win); returns the URIs it went to. Without outlet events (no task runner) it does nothing."""
    from airflow.sdk import Asset

    events = context.get("outlet_events") if isinstance(context, Mapping) else None
    if events is None:
        return []
    attached = []
    for outlet in outlets or ():
        if not isinstance(outlet, Asset):
            continue  # an AssetAlias names no one asset to describe
        try:
            event = events[outlet]
            event.extra = {**extra, **(event.extra or {})}
        except Exception as exc:  # an asset event must never fail a finished transfer
            log.warning("could not add extras to the event of %s: %s", outlet.uri, exc)
            continue
        attached.append(outlet.uri)
    return attached


# -- OpenLineage -----------------------------------------------------------------------------


def openlineage(
    inputs: Iterable[tuple[str, str]],
    outputs: Iterable[tuple[str, str]],
    local_inputs: Iterable[str] = (),
    local_outputs: Iterable[str] = (),
) -> Any:
    """An OpenLineage OperatorLineage: S3 datasets (namespace ``s3://bucket``, name = key or
    prefix, ``/`` for a whole bucket) and local ones (namespace ``file``, absolute path).
    None when the OpenLineage provider is not installed."""
    try:
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None

    def datasets(pairs: Iterable[tuple[str, str]], local: Iterable[str]) -> list[Any]:
        found = [
            Dataset(namespace=f"s3://{b}", name=k or "/")
            for b, k in dict.fromkeys(tuple(p) for p in pairs)
        ]
        found += [Dataset(namespace="file", name=p) for p in dict.fromkeys(local)]
        return found

    return OperatorLineage(
        inputs=datasets(inputs, local_inputs), outputs=datasets(outputs, local_outputs)
    )


def watched(task: Any, limit: int = 100) -> list[tuple[str, str]]:
    """(bucket, key or prefix) pairs a sensor watches, from its rendered arguments: its
    ``key`` (unless a glob or regex pattern), up to `limit` of its ``keys``, its ``prefix``;
    ``s3://`` URLs name their own bucket."""
    from orbit_provider.s3.urls import is_s3_url, parse_s3_url

    found: list[str] = []
    key = getattr(task, "key", None)
    if isinstance(key, str) and not (
        getattr(task, "wildcard_match", False) or getattr(task, "use_regex", False)
    ):
        found.append(key)
    keys = getattr(task, "keys", None)
    keys = [keys] if isinstance(keys, str) else keys
    if isinstance(keys, list | tuple):
        found += [k for k in keys if isinstance(k, str)][:limit]
    prefix = getattr(task, "prefix", None)
    if isinstance(prefix, str):
        found.append(prefix)
    bucket = getattr(task, "bucket", None)
    pairs = [parse_s3_url(k) if is_s3_url(k) else (bucket, k) for k in dict.fromkeys(found)]
    return [(b, k) for b, k in pairs if isinstance(b, str) and b]
