"""OrbitListKeysOperator: list a prefix into shards for dynamic task mapping: shards of keys,
or shards of key ranges (a few hundred bytes of XCom each, whatever the prefix holds)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from orbit_provider.operators.base import OrbitBaseOperator, OrbitTaskError
from orbit_provider.s3.batch.listing import as_datetime, filter_objects, plan_ranges, shard
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.progress import BatchProgress

RECOMMENDED_MAX_KEYS = 100_000
DEFAULT_MAX_MAP_LENGTH = 1024  # Airflow's [core] max_map_length default


def _max_map_length() -> int:
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # pragma: no cover - older layouts
        from airflow.configuration import conf
    try:
        return conf.getint("core", "max_map_length", fallback=DEFAULT_MAX_MAP_LENGTH)
    except Exception:
        return DEFAULT_MAX_MAP_LENGTH


class OrbitListKeysOperator(OrbitBaseOperator):
    """List the keys under a prefix (optionally filtered) as shards for ``.expand()``.

    The return value is a list of shards, each a list of at most ``shard_size`` keys (plain
    strings: JSON-serializable, no metadata), so one batch runs across many workers::

        shards = OrbitListKeysOperator(task_id="list", bucket="b", prefix="raw/")
        OrbitBatchCopyOperator.partial(task_id="copy", ...).expand(keys=shards.output)

    The whole list is one XCom stored in Airflow's metadata database. Keep it below about
    100,000 keys (a few MB) per run: cap it with ``max_keys``, narrow the prefix or the
    modified window, or configure an object-storage XCom backend for more. The number of
    shards must stay within Airflow's ``[core] max_map_length`` (1024 by default).

    :param bucket: The bucket to list (templated; default: the connection's ``bucket``).
    :param prefix: The prefix to list (templated; ``""`` lists the whole bucket).
    :param suffix: Keep only keys ending with this (or any of these) suffix(es) (templated).
    :param modified_after: Keep keys last modified at or after this aware timestamp or ISO
        string (templated, e.g. ``"{{ data_interval_start }}"``).
    :param modified_before: Keep keys last modified before this (templated, e.g.
        ``"{{ data_interval_end }}"``).
    :param shard_size: Keys per shard (one mapped task each).
    :param max_keys: Stop after this many matching keys (a warning says the list was cut).
    :param include_folder_markers: Keep zero-byte keys ending in ``/`` (default: left out).
    :param shard_by: ``"keys"`` (the default: shards of key lists) or ``"range"``: ``shards``
        key ranges of about equal size, as dicts ``{"prefix", "start_after", "end_at"}`` for
        ``.expand(key_range=...)``. The prefix is listed once and only an even sample of keys
        is kept, so memory and XCom stay flat at any size (each mapped task lists its own
        range); filters (suffix, modified window) then go to the bulk operator, which applies
        them to its range.
    :param shards: with ``shard_by="range"``: how many ranges (mapped tasks).
    :return: ``list[list[str]]`` (or ``list[dict]`` of ranges); ``[]`` when nothing matches
        (``.expand()`` then skips).
    """

    lineage_arguments = {"prefix": "inputs"}
    template_fields: Sequence[str] = (
        *OrbitBaseOperator.template_fields,
        "prefix",
        "suffix",
        "modified_after",
        "modified_before",
    )

    def __init__(
        self,
        *,
        prefix: str = "",
        suffix: str | Sequence[str] | None = None,
        modified_after: datetime | str | None = None,
        modified_before: datetime | str | None = None,
        shard_size: int = 1000,
        max_keys: int | None = None,
        include_folder_markers: bool = False,
        shard_by: str = "keys",
        shards: int = 20,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if shard_by not in ("keys", "range"):
            raise OrbitTaskError(
                f"shard_by: {shard_by!r} must be 'keys' or 'range'", code="ConfigError"
            )
        if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
            raise OrbitTaskError(f"shards: {shards!r} must be a positive integer",
                                 code="ConfigError")  # fmt: skip
        if shard_by == "range" and (suffix or modified_after or modified_before or max_keys):
            raise OrbitTaskError(
                "suffix, modified_after, modified_before, max_keys: with shard_by='range' give "
                "the filters to the bulk operator, which applies them to its own range",
                code="ConfigError",
            )
        if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
            raise OrbitTaskError(
                f"shard_size: {shard_size!r} must be a positive integer", code="ConfigError"
            )
        if max_keys is not None and (
            isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1
        ):
            raise OrbitTaskError(
                f"max_keys: {max_keys!r} must be a positive integer or None", code="ConfigError"
            )
        self.prefix = prefix
        self.suffix = suffix
        self.modified_after = modified_after
        self.modified_before = modified_before
        self.shard_size = shard_size
        self.max_keys = max_keys
        self.include_folder_markers = include_folder_markers
        self.shard_by = shard_by
        self.shards = shards

    def _suffixes(self) -> str | tuple[str, ...] | None:
        if self.suffix is None or self.suffix == "":
            return None
        return self.suffix if isinstance(self.suffix, str) else tuple(self.suffix)

    def _check_window(self) -> None:
        after = as_datetime(self.modified_after or None, "modified_after")
        before = as_datetime(self.modified_before or None, "modified_before")
        if after and before and after >= before:
            raise ConfigError(
                f"modified_after: {self.modified_after!r} must be earlier than "
                f"modified_before {self.modified_before!r}"
            )

    def execute(self, context: Any) -> list[list[str]] | list[dict[str, Any]]:
        if self.shard_by == "range":
            return self._range_shards(context)
        self.run_checked(self._check_window)
        client = self.client
        prefix = self.prefix or ""
        counts = {"listed": 0, "matched": 0}
        truncated = False

        def listed(reporter: Any):
            for obj in client.iter_objects(prefix):
                counts["listed"] += 1
                if counts["listed"] % 1000 == 0:
                    reporter.emit(BatchProgress("list", counts["listed"], counts["matched"], 0))
                yield obj

        def run(reporter: Any) -> list[list[str]]:
            nonlocal truncated
            keys: list[str] = []
            matches = filter_objects(
                listed(reporter), suffix=self._suffixes(),
                modified_after=self.modified_after or None,
                modified_before=self.modified_before or None,
            )  # fmt: skip
            for obj in matches:
                if obj.key.endswith("/") and not self.include_folder_markers:
                    continue
                if self.max_keys is not None and len(keys) >= self.max_keys:
                    truncated = True
                    break
                keys.append(obj.key)
                counts["matched"] = len(keys)
            reporter.emit(
                BatchProgress("list", counts["listed"], len(keys), 0, total=counts["listed"])
            )
            return list(shard(keys, self.shard_size))

        shards = self.run_core(context, run)
        matched = sum(len(s) for s in shards)
        self.log.info(
            "listed %d key(s) under s3://%s/%s: %d matched, in %d shard(s) of up to %d",
            counts["listed"], client.bucket, prefix, matched, len(shards), self.shard_size,
        )  # fmt: skip
        if truncated:
            self.log.warning("stopped at max_keys=%d: more keys match", self.max_keys)
        if matched > RECOMMENDED_MAX_KEYS:
            self.log.warning(
                "%d keys in one XCom is large (recommended: at most %d); narrow the prefix or "
                "window, set max_keys, or use an object-storage XCom backend",
                matched, RECOMMENDED_MAX_KEYS,
            )  # fmt: skip
        limit = _max_map_length()
        if len(shards) > limit:
            self.log.warning(
                "%d shards exceed [core] max_map_length=%d: .expand() over them will fail; "
                "raise shard_size to at least %d",
                len(shards), limit, -(-matched // limit),
            )  # fmt: skip
        self.add_lineage(inputs=[(client.bucket, prefix)])
        return shards

    def _range_shards(self, context: Any) -> list[dict[str, Any]]:
        client = self.client
        prefix = self.prefix or ""

        def run(reporter: Any) -> tuple[list[Any], int]:
            def listed():
                for number, obj in enumerate(client.iter_objects(prefix), 1):
                    if number % 1000 == 0:
                        reporter.emit(BatchProgress("list", number, number, 0))
                    yield obj

            return plan_ranges(listed(), self.shards, prefix=prefix)

        ranges, total = self.run_core(context, run)
        self.log.info(
            "listed %d key(s) under s3://%s/%s into %d range shard(s) of about %d",
            total, client.bucket, prefix, len(ranges), total // max(len(ranges), 1),
        )  # fmt: skip
        self.add_lineage(inputs=[(client.bucket, prefix)])
        return [r.to_dict() for r in ranges]
