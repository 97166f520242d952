"""Report what a task read and wrote to Airflow's hook-level lineage collector.

Operators call `report_lineage(hook, inputs=..., outputs=...)` once; items are `s3://` URIs
(see `s3_uri`) or local paths. The collector is a no-op unless a lineage reader (e.g. the
OpenLineage provider) is enabled, so this costs nothing by default.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
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
