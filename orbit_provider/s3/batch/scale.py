"""What a bulk job costs and how long it takes, per engine: the figures `docs/scale.md` and
every dry run show, from S3's published prices (us-east-1, S3 Standard, 2025) and rates
(3,500 writes and 5,500 reads per second per prefix, 1,000 keys per ListObjectsV2 page).

Durations are estimates from stated assumptions (pages per second of one listing stream,
requests per second of one client task); AWS publishes no throughput for Batch Operations,
so its figure assumes it runs at the per-prefix write rate across the prefixes given.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from orbit_provider.s3.errors import ConfigError

# USD, us-east-1, S3 Standard (https://aws.amazon.com/s3/pricing/)
PRICE_PER_1000 = {
    "write": 0.005,  # PUT, COPY, POST, LIST
    "read": 0.0004,  # GET, HEAD
    "delete": 0.0,  # DELETE and multi-object delete are free
    "restore_bulk": 0.025,  # Deep Archive bulk restore requests
    "restore_standard": 0.10,  # Deep Archive standard restore requests
    "transition_glacier": 0.03,  # lifecycle transitions to Glacier Flexible Retrieval
    "transition_deep_archive": 0.05,
}
BATCH_OPERATIONS_PER_JOB = 0.25
BATCH_OPERATIONS_PER_MILLION = 1.00
INVENTORY_PER_MILLION = 0.0025
PREFIX_WRITES_PER_SECOND = 3500
PREFIX_READS_PER_SECOND = 5500
KEYS_PER_LIST_PAGE = 1000

#: what each operation sends per key with the client engine: (request class, requests)
CLIENT_REQUESTS = {
    "copy": ("write", 1.0),  # CopyObject
    "storage_class": ("write", 1.0),  # CopyObject in place
    "metadata": ("write", 1.0),
    "tag": ("write", 1.0),  # PutObjectTagging
    "restore": ("restore_bulk", 1.0),  # RestoreObject
    "delete": ("delete", 1 / 1000),  # DeleteObjects, 1,000 keys per request
}
ENGINES = ("client", "s3_batch_operations", "lifecycle")
CLIENT_ENGINE_LIMIT = 10_000_000  # past this, listing and requests from one place take days


@dataclass(frozen=True)
class Assumptions:
    """The rates durations are computed from (change them to match a deployment)."""

    list_pages_per_second: float = 8.0  # one ListObjectsV2 stream, ~125 ms a page
    task_requests_per_second: float = 800.0  # one client task at 64 concurrent requests
    tasks: int = 1  # mapped tasks running at once (client engine)
    prefixes: int = 1  # distinct prefixes the keys spread over (S3 scales per prefix)


@dataclass(frozen=True)
class Estimate:
    """One engine's cost (USD) and time (seconds) for a job, with the reason it is (not) the
    engine operators pick."""

    engine: str
    operation: str
    keys: int
    requests: int
    cost_usd: float
    listing_seconds: float
    work_seconds: float
    note: str = ""

    @property
    def seconds(self) -> float:
        return self.listing_seconds + self.work_seconds

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seconds"] = self.seconds
        return d

    def describe(self) -> str:
        return (
            f"{self.engine}: {self.keys:,} keys, {self.requests:,} requests, "
            f"${self.cost_usd:,.2f}, about {_duration(self.seconds)}"
            + (f" ({self.note})" if self.note else "")
        )


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:,.1f} {unit}"
    return f"{seconds:,.0f} s"


def estimate(
    keys: int,
    operation: str,
    engine: str,
    *,
    listed: bool = True,
    assumptions: Assumptions | None = None,
) -> Estimate:
    """Cost and time of `operation` on `keys` keys with `engine`. `listed`: the keys come
    from a ListObjectsV2 listing (False: from an inventory report or an explicit list)."""
    if isinstance(keys, bool) or not isinstance(keys, int) or keys < 0:
        raise ConfigError(f"keys: {keys!r} must be a non-negative integer")
    if operation not in CLIENT_REQUESTS:
        raise ConfigError(f"operation: {operation!r} is not one of {sorted(CLIENT_REQUESTS)}")
    if engine not in ENGINES:
        raise ConfigError(f"engine: {engine!r} is not one of {ENGINES}")
    a = assumptions or Assumptions()
    list_requests = math.ceil(keys / KEYS_PER_LIST_PAGE) if listed else 0
    list_cost = list_requests * PRICE_PER_1000["write"] / 1000
    inventory_cost = 0.0 if listed else keys / 1e6 * INVENTORY_PER_MILLION
    listing_seconds = list_requests / a.list_pages_per_second
    kind, per_key = CLIENT_REQUESTS[operation]
    if operation == "restore":
        kind = "restore_bulk"

    if engine == "lifecycle":
        if operation != "delete":
            raise ConfigError("engine 'lifecycle' expires keys: only for operation 'delete'")
        return Estimate(
            engine,
            operation,
            keys,
            1,
            0.0,
            0.0,
            86400.0,
            "S3 expires the objects itself, within about a day; no listing",
        )
    if engine == "s3_batch_operations":
        if operation == "delete":
            raise ConfigError("S3 Batch Operations has no delete: use engine 'lifecycle'")
        requests = keys
        cost = (
            BATCH_OPERATIONS_PER_JOB
            + keys / 1e6 * BATCH_OPERATIONS_PER_MILLION
            + requests * PRICE_PER_1000[kind] / 1000
        )
        rate = PREFIX_WRITES_PER_SECOND * max(1, a.prefixes)
        return Estimate(
            engine,
            operation,
            keys,
            requests + list_requests,
            round(cost + list_cost + inventory_cost, 2),
            listing_seconds,
            keys / rate,
            "AWS runs every key; this process only writes a manifest",
        )
    requests = math.ceil(keys * per_key)
    rate = min(
        a.task_requests_per_second * max(1, a.tasks), PREFIX_WRITES_PER_SECOND * max(1, a.prefixes)
    )
    cost = requests * PRICE_PER_1000[kind] / 1000
    note = "" if keys <= CLIENT_ENGINE_LIMIT else "past what one deployment should send itself"
    return Estimate(
        engine,
        operation,
        keys,
        requests + list_requests,
        round(cost + list_cost + inventory_cost, 2),
        listing_seconds,
        requests / rate,
        note,
    )


def recommended_engine(keys: int, operation: str) -> str:
    """The engine the operators recommend: the client up to ten million keys (hours, no
    per-object fee, immediate per-key outcome); past that S3 Batch Operations, or a
    lifecycle rule for deletes."""
    if keys <= CLIENT_ENGINE_LIMIT:
        return "client"
    return "lifecycle" if operation == "delete" else "s3_batch_operations"


def scale_table(operation: str, counts: tuple[int, ...] = (10**6, 10**8, 10**10)) -> list[Estimate]:
    """Every engine that can do `operation`, at each key count (what docs/scale.md shows)."""
    other = "lifecycle" if operation == "delete" else "s3_batch_operations"
    # the client lists the prefix; Batch Operations is fed an inventory report
    return [
        estimate(n, operation, engine, listed=engine == "client")
        for n in counts
        for engine in ("client", other)
    ]


def markdown_table(
    operations: tuple[str, ...] = ("storage_class", "copy", "tag", "restore", "delete"),
) -> str:
    """docs/scale.md's table (python -m orbit_provider.s3.batch.scale prints it)."""
    lines = [
        "| operation | keys | engine | requests | cost (USD) | time | picked |",
        "|---|---|---|---|---|---|---|",
    ]
    for operation in operations:
        for e in scale_table(operation):
            picked = "yes" if recommended_engine(e.keys, operation) == e.engine else ""
            lines.append(
                f"| {operation} | {e.keys:.0e} | {e.engine} | {e.requests:,} | "
                f"{e.cost_usd:,.2f} | {_duration(e.seconds)} | {picked} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
