"""Bulk operators: copy, delete, storage class, tags and metadata over many keys.

Keys come as a list (templated, or one shard of `OrbitListKeysOperator` through
``.partial(...).expand(keys=...)``) or as a prefix (optionally filtered by suffix and a
last-modified window) listed lazily. Each operator resolves its inputs, calls one core batch
with progress, and returns a batch summary; ``dry_run=True`` returns the plan instead.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from orbit_provider.operators.base import OrbitBaseOperator, is_unrendered
from orbit_provider.operators.batch_base import OrbitBatchBaseOperator
from orbit_provider.operators.batch_engine import BatchOperationsEngine
from orbit_provider.s3.batch import batch_operations as bops
from orbit_provider.s3.batch.copy import CopyPlanner, batch_copy, metadata_to_set
from orbit_provider.s3.batch.inventory import (
    MANIFEST_NAME,
    InventoryFilter,
    iter_inventory,
    latest_manifest_key,
    read_manifest,
)
from orbit_provider.s3.batch.listing import KeyRange, as_datetime, filter_objects, iter_range
from orbit_provider.s3.batch.plan import (
    DEFAULT_MAX_LISTED,
    check_copy_target,
    plan_batch,
    plan_copy,
)
from orbit_provider.s3.config import (
    ServerSideEncryption,
    StorageClass,
    validate_bucket_name,
    validate_key,
)
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.limits import validate_metadata, validate_tags

_SOURCE_FIELDS = (
    "keys", "prefix", "key_range", "inventory_manifest", "suffix", "modified_after",
    "modified_before",
)  # fmt: skip
_SOURCES = ("keys", "prefix", "key_range", "inventory_manifest")


def key_list(keys: Any) -> list[str]:
    """`keys` as a list of key strings: a list/tuple of keys (or of dicts with a "key", as
    listings give), or a single key string. ConfigError naming a bad item."""
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list | tuple):
        raise ConfigError(f"keys: expected a list of object keys, got {type(keys).__name__}")
    out = []
    for item in keys:
        if isinstance(item, Mapping):
            item = item.get("key")
        if not isinstance(item, str):
            raise ConfigError(f"keys: every item must be a key string, got {item!r}")
        out.append(validate_key(item, f"keys: {item[:80]!r}"))
    return out


class _ByteCounter:
    """Passes listing items through, summing the sizes of those read (lazily)."""

    def __init__(self, items: Iterable[Any]) -> None:
        self._items = items
        self.bytes = 0

    def __iter__(self) -> Iterator[Any]:
        for item in self._items:
            self.bytes += int(getattr(item, "size", 0) or 0)
            yield item


class OrbitBulkOperator(BatchOperationsEngine, OrbitBatchBaseOperator):
    """Keys, prefix, key range or inventory input, dry run, and the run of one core batch or
    one S3 Batch Operations job (see the subclasses).

    Exactly one key source:

    :param keys: the object keys (templated): a list, a single key, or an XCom of keys such as
        one key-list shard of ``OrbitListKeysOperator``.
    :param prefix: work on every key under this prefix (templated), listed lazily, page by
        page: millions of keys are never held in memory.
    :param key_range: one range shard of ``OrbitListKeysOperator(shard_by="range")`` (a dict
        ``{"prefix", "start_after", "end_at"}``, templated / XCom): the task lists only its
        own range, lazily.
    :param inventory_manifest: an S3 Inventory report as the key source (templated): the key
        of its ``manifest.json``, or the report configuration's prefix
        (``<dest prefix>/<source bucket>/<config id>``) to take the newest report. CSV or
        Parquet (pyarrow). Filtered by ``inventory_filters`` and the time filters below.
    :param inventory_bucket: the bucket holding the report (default: the task's bucket).
    :param inventory_filters: InventoryFilter fields: ``prefix``, ``storage_classes``,
        ``min_size``, ``max_size``, ``latest_only``, ``include_delete_markers``.

    :param suffix: with ``prefix``/``key_range``: only keys ending with it (templated).
    :param modified_after: with a listing or an inventory: only objects last modified at or
        after it (templated; ISO string or aware datetime, e.g. ``"{{ data_interval_start }}"``).
    :param modified_before: only objects last modified before it (templated).
    :param dry_run: log and return the plan (count, bytes, first keys; for copies the
        source -> destination mapping) and change nothing.
    :param plan_limit: how many keys the dry-run plan lists.
    Batch options (max_concurrent, rate_limit, operation_timeout, fail_fast, max_retries,
    batch_retry_delay, allow_partial, max_items, report_dir, report_prefix) are
    OrbitBatchBaseOperator's; bucket, orbit_conn_id, client_options are OrbitBaseOperator's;
    engine, account_id, role_arn and the job options are BatchOperationsEngine's.
    """

    template_fields: Sequence[str] = (
        *OrbitBaseOperator.template_fields, *_SOURCE_FIELDS, "inventory_bucket",
        "inventory_filters", "account_id", "role_arn",
    )  # fmt: skip
    operation = "batch"
    #: what OpenLineage's START event names: the objects changed in place
    lineage_arguments = {"prefix": "outputs"}
    #: Whether the operation rewrites object data (copy, storage class): bytes_transferred.
    moves_data = False

    def __init__(
        self,
        *,
        keys: list[str] | str | None = None,
        prefix: str | None = None,
        key_range: Mapping[str, Any] | None = None,
        inventory_manifest: str | None = None,
        inventory_bucket: str | None = None,
        inventory_filters: Mapping[str, Any] | None = None,
        suffix: str | None = None,
        modified_after: Any = None,
        modified_before: Any = None,
        dry_run: bool = False,
        plan_limit: int = DEFAULT_MAX_LISTED,
        **kwargs: Any,
    ) -> None:
        engine = {name: kwargs.pop(name) for name in self.engine_args if name in kwargs}
        super().__init__(**kwargs)
        self.init_engine(**engine)
        self.keys = keys
        self.prefix = prefix
        self.key_range = key_range
        self.inventory_manifest = inventory_manifest
        self.inventory_bucket = inventory_bucket
        self.inventory_filters = inventory_filters
        self.suffix = suffix
        self.modified_after = modified_after
        self.modified_before = modified_before
        self.dry_run = dry_run
        self.plan_limit = plan_limit
        self.run_checked(lambda: self.validate_source(rendered=False))

    # -- validation -------------------------------------------------------------------------

    def validate(self, *, rendered: bool) -> None:
        """Every argument check that needs no request; before rendering, templated values
        are left for the check after rendering (in execute)."""
        self.validate_source(rendered=rendered)
        self.validate_operation(rendered=rendered)
        self.validate_engine(rendered=rendered)

    def validate_source(self, *, rendered: bool) -> None:
        """Checks of keys / prefix / filters / dry-run options."""
        given = [name for name in _SOURCES if getattr(self, name) is not None]
        if len(given) > 1:
            raise ConfigError(f"{' and '.join(given)}: give one key source, not both")
        if not given:
            raise ConfigError(
                "keys or prefix (or key_range, inventory_manifest): one of them is required"
            )
        if not isinstance(self.dry_run, bool):
            raise ConfigError(f"dry_run: {self.dry_run!r} must be True or False")
        limit = self.plan_limit
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ConfigError(f"plan_limit: {limit!r} must be an integer >= 0")
        filters = {"suffix": self.suffix, "modified_after": self.modified_after,
                   "modified_before": self.modified_before}  # fmt: skip
        if self.keys is not None:
            given = [name for name, value in filters.items() if value is not None]
            if given:
                raise ConfigError(
                    f"{', '.join(given)}: filters apply to a prefix listing, not to a key list"
                )
        if self.inventory_manifest is None and (
            self.inventory_filters is not None or self.inventory_bucket is not None
        ):
            raise ConfigError("inventory_filters / inventory_bucket: need inventory_manifest")
        if self.key_range is not None and (rendered or not is_unrendered(self.key_range)):
            KeyRange.from_dict(self.key_range)
        if self.inventory_manifest is not None and (
            rendered or not is_unrendered([self.inventory_manifest, self.inventory_filters])
        ):
            if not isinstance(self.inventory_manifest, str) or not self.inventory_manifest:
                raise ConfigError(f"inventory_manifest: {self.inventory_manifest!r} is not a key")
            if self.suffix is not None:
                raise ConfigError("suffix: use inventory_filters' prefix with an inventory")
            self.inventory_filter()
            if self.inventory_bucket is not None:
                validate_bucket_name(self.inventory_bucket)
        if rendered or not is_unrendered(self.keys):
            if self.keys is not None:
                key_list(self.keys)
        if self.prefix is not None and (rendered or not is_unrendered(self.prefix)):
            if not isinstance(self.prefix, str):
                raise ConfigError(f"prefix: expected a string, got {self.prefix!r}")
        if self.suffix is not None and (rendered or not is_unrendered(self.suffix)):
            if not isinstance(self.suffix, str | tuple | list) or not self.suffix:
                raise ConfigError(f"suffix: {self.suffix!r} must be a non-empty string")
        if rendered or not is_unrendered([self.modified_after, self.modified_before]):
            after = as_datetime(self.modified_after, "modified_after")
            before = as_datetime(self.modified_before, "modified_before")
            if after and before and after >= before:
                raise ConfigError("modified_after: must be earlier than modified_before")

    def validate_operation(self, *, rendered: bool) -> None:
        """The subclass's own argument checks (a subclass calls them at the end of its
        __init__ through `check_operation`)."""

    def check_operation(self) -> None:
        """The parse-time checks of the subclass's arguments and of the engine (called at
        the end of every subclass's __init__, once its attributes exist)."""
        self.run_checked(lambda: self.validate_operation(rendered=False))
        self.run_checked(lambda: self.validate_engine(rendered=False))

    # -- inputs -----------------------------------------------------------------------------

    def inventory_filter(self) -> InventoryFilter:
        """The inventory rows to keep: inventory_filters plus the time window."""
        fields = dict(self.inventory_filters or {})
        unknown = set(fields) - {
            "prefix", "storage_classes", "min_size", "max_size", "latest_only",
            "include_delete_markers",
        }  # fmt: skip
        if unknown:
            raise ConfigError(f"inventory_filters: unknown field(s) {sorted(unknown)}")
        if fields.get("storage_classes") is not None:
            fields["storage_classes"] = frozenset(fields["storage_classes"])
        return InventoryFilter(
            **fields, modified_after=self.modified_after, modified_before=self.modified_before
        )

    def inventory_source(self) -> tuple[str, str]:
        """(bucket, manifest.json key) of the inventory report, the newest one when a
        configuration prefix was given."""
        bucket = self.inventory_bucket or self.client.bucket
        key = self.inventory_manifest
        if not key.endswith(MANIFEST_NAME):
            key = latest_manifest_key(self.client.s3, bucket, key)
        return bucket, key

    def items(self) -> tuple[Iterable[Any], _ByteCounter | None]:
        """The batch's items: the key list, or a lazy filtered listing, range or inventory
        (with a byte counter)."""
        if self.keys is not None:
            return key_list(self.keys), None
        if self.inventory_manifest is not None:
            bucket, key = self.inventory_source()
            rows = iter_inventory(
                self.client.s3, read_manifest(self.client.s3, bucket, key), self.inventory_filter()
            )
            counter = _ByteCounter(rows)
            return counter, counter
        if self.key_range is not None:
            key_range = KeyRange.from_dict(self.key_range)
            source = iter_range(self.client, key_range)
        else:
            source = self.client.iter_objects(self.prefix)
        listing = filter_objects(
            source,
            suffix=tuple(self.suffix) if isinstance(self.suffix, list) else self.suffix,
            modified_after=self.modified_after,
            modified_before=self.modified_before,
        )
        counter = _ByteCounter(listing)
        return counter, counter

    def source_prefix(self) -> str:
        """The prefix the task reads (the given prefix, or the keys' common prefix)."""
        if self.prefix is not None:
            return self.prefix
        if self.key_range is not None:
            return KeyRange.from_dict(self.key_range).prefix
        if self.inventory_manifest is not None:
            return str((self.inventory_filters or {}).get("prefix", ""))
        keys = key_list(self.keys)
        return os.path.commonprefix(keys) if keys else ""

    # -- running ----------------------------------------------------------------------------

    def execute(self, context: Any) -> dict[str, Any]:
        self.take_urls("keys", "prefix")
        self.run_checked(lambda: self.validate(rendered=True))
        if self.engine == "s3_batch_operations":
            return self._run_on_batch_operations(context)
        items, counter = self.run_checked(self.items)
        if self.dry_run:
            return self.run_checked(lambda: self._dry_run(items))
        config = self.batch_config(context, self.operation)
        result = self.run_core(
            context, lambda reporter: self.run_batch(items, config, reporter),
            operation=self.operation,
        )
        summary = self.summarize(
            context, result, operation=self.operation,
            bytes_total=counter.bytes if counter else 0,
            bytes_known=counter is not None, **self.summary_fields(),
        )
        if not self.moves_data:  # tags, metadata, deletes: `bytes` is the objects' size
            summary["bytes_transferred"], summary["throughput_mib_s"] = 0, 0.0
        self.report_task_lineage()
        return self.finish(context, summary)

    def _run_on_batch_operations(self, context: Any) -> dict[str, Any]:
        """An S3 Batch Operations job over the same keys; an unfiltered CSV inventory report
        is the job's manifest as is."""
        inventory = None
        if self.inventory_manifest is not None and not self.inventory_filters and (
            self.modified_after is None and self.modified_before is None
        ):
            bucket, key = self.run_checked(self.inventory_source)
            fmt = self.run_checked(lambda: read_manifest(self.client.s3, bucket, key)).file_format
            inventory = (bucket, key) if fmt == "CSV" else None
        items, _ = self.run_checked(self.items)
        if self.dry_run or inventory is None:
            return self.run_job(context, items)
        return self.run_job(context, items, inventory=inventory)

    def _dry_run(self, items: Iterable[Any]) -> dict[str, Any]:
        plan = self.plan(items)
        lines = plan.describe()
        self.log.info("dry run, nothing is changed: %s", lines[0])
        for line in lines[1:]:
            self.log.info("%s", line)
        return {"dry_run": True, **plan.to_dict(), **self.summary_fields()}

    def plan(self, items: Iterable[Any]) -> Any:
        """The dry-run BatchPlan (read-only)."""
        return plan_batch(
            self.client, items, self.operation, max_listed=self.plan_limit,
            max_concurrent=self.max_concurrent,
        )

    @abc.abstractmethod
    def run_batch(self, items: Iterable[Any], config: Any, reporter: Any) -> Any:
        """Run the core batch over `items`; returns its BatchResult."""

    def summary_fields(self) -> dict[str, Any]:
        """Fields the subclass adds to the summary and the plan (targets, options)."""
        return {}

    def report_task_lineage(self) -> None:
        bucket = self.client.bucket
        self.add_lineage(outputs=[(bucket, self.source_prefix())])


class OrbitBatchCopyOperator(OrbitBulkOperator):
    """Server-side copy of many keys to ``dest_prefix`` (in ``dest_bucket``, default: the same
    bucket), any object size.

    The destination of a key is ``dest_prefix`` + the key without ``strip_prefix``; with no
    ``strip_prefix``, a prefix listing keeps the path below ``prefix``, and a key list keeps
    only each key's last path segment. Copying a key onto itself, or two keys onto one
    destination, is refused before any request.

    :param dest_prefix: the destination prefix (templated), e.g. ``"archive/{{ ds }}/"``.
    :param dest_bucket: the destination bucket (templated); default: the source bucket.
    :param strip_prefix: the part of each source key replaced by ``dest_prefix`` (templated).
    :param skip_identical: a destination that already holds the source's ETag (and the
        storage class and metadata asked for) is left alone and counted as ``already_done``
        (a retried task does not copy again).
    :param storage_class: the copies' storage class (templated), set by the copy itself: an
        archive needs no second rewrite to re-tier. Default: the connection's.
    :param sse: the copies' encryption, ``"AES256"`` or ``"aws:kms"`` (templated); default:
        each copy keeps its source's.
    :param kms_key_id: the KMS key of ``sse="aws:kms"`` (templated).
    :param metadata: user metadata every copy gets (templated); implies
        ``metadata_directive="REPLACE"``. Content type and other content headers are kept.
    :param metadata_directive: ``"COPY"`` keeps each source's metadata (the default without
        ``metadata``); ``"REPLACE"`` sets ``metadata`` ({} when not given).
    Key selection, dry run and batch options: see OrbitBulkOperator.
    """

    template_fields: Sequence[str] = (
        *OrbitBulkOperator.template_fields, "dest_prefix", "dest_bucket", "strip_prefix",
        "storage_class", "sse", "kms_key_id", "metadata", "metadata_directive",
    )
    operation = "copy"
    moves_data = True
    lineage_arguments = {"prefix": "inputs"}  # the destination may be another bucket

    def __init__(
        self,
        *,
        dest_prefix: str,
        dest_bucket: str | None = None,
        strip_prefix: str | None = None,
        skip_identical: bool = True,
        storage_class: str | None = None,
        sse: str | None = None,
        kms_key_id: str | None = None,
        metadata: dict[str, str] | None = None,
        metadata_directive: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dest_prefix = dest_prefix
        self.dest_bucket = dest_bucket
        self.strip_prefix = strip_prefix
        self.skip_identical = skip_identical
        self.storage_class = storage_class
        self.sse = sse
        self.kms_key_id = kms_key_id
        self.metadata = metadata
        self.metadata_directive = metadata_directive
        self.check_operation()

    def encryption(self) -> ServerSideEncryption | None:
        """`sse` and `kms_key_id` as one setting (None: each copy keeps its source's)."""
        if self.kms_key_id and not self.sse:
            raise ConfigError("kms_key_id: needs sse='aws:kms'")
        sse = ServerSideEncryption.parse(self.sse)
        if sse is not None and self.kms_key_id:
            sse = ServerSideEncryption(sse.algorithm, self.kms_key_id)
        return sse

    def effective_strip_prefix(self) -> str | None:
        if self.strip_prefix is None and self.prefix is not None:
            return self.prefix
        return self.strip_prefix

    def validate_operation(self, *, rendered: bool) -> None:
        fields = [self.dest_prefix, self.dest_bucket, self.strip_prefix, self.prefix,
                  self.bucket]  # fmt: skip
        if not rendered and is_unrendered(fields):
            return
        if not isinstance(self.skip_identical, bool):
            raise ConfigError(f"skip_identical: {self.skip_identical!r} must be True or False")
        settings = [self.storage_class, self.sse, self.kms_key_id, self.metadata,
                    self.metadata_directive]  # fmt: skip
        if rendered or not is_unrendered(settings):
            if self.storage_class:
                StorageClass.parse(self.storage_class)
            self.encryption()
            metadata_to_set(self.metadata, self.metadata_directive)
        if self.dest_bucket is not None:
            validate_bucket_name(self.dest_bucket)
        if self.strip_prefix is not None and not isinstance(self.strip_prefix, str):
            raise ConfigError(f"strip_prefix: {self.strip_prefix!r} must be a string")
        source_bucket = self.client.bucket if rendered else self.bucket
        if source_bucket is None and self.dest_bucket is not None:
            return  # the connection's bucket is known only at run time
        check_copy_target(
            source_bucket or "", self.dest_prefix, dest_bucket=self.dest_bucket,
            strip_prefix=self.effective_strip_prefix(), prefix=self.prefix,
        )
        if self.keys is not None and (rendered or not is_unrendered(self.keys)):
            source = source_bucket or ""
            planner = CopyPlanner(source, self.dest_prefix, self.dest_bucket or source,
                                  self.effective_strip_prefix())  # fmt: skip
            for key in key_list(self.keys):
                planner(key)

    def batch_operation(self, bucket: str) -> dict[str, Any]:
        if self.effective_strip_prefix() != "":
            raise ConfigError(
                "engine='s3_batch_operations' copies each key to dest_prefix + the whole "
                "source key: pass strip_prefix='' (and a prefix or keys, not a key list's last "
                "path segments)"
            )
        sse = self.encryption()
        return bops.copy_operation(
            self.dest_bucket or bucket, target_key_prefix=self.dest_prefix or None,
            storage_class=StorageClass.parse(self.storage_class) if self.storage_class else None,
            metadata=metadata_to_set(self.metadata, self.metadata_directive),
            sse=sse.algorithm.value if sse else None, kms_key_id=sse.kms_key_id if sse else None,
        )

    def run_batch(self, items: Iterable[Any], config: Any, reporter: Any) -> Any:
        return batch_copy(
            self.client, items, self.dest_prefix, config, dest_bucket=self.dest_bucket,
            strip_prefix=self.effective_strip_prefix(), skip_identical=self.skip_identical,
            progress=reporter, storage_class=self.storage_class or None, sse=self.encryption(),
            metadata=self.metadata, metadata_directive=self.metadata_directive or None,
        )

    def plan(self, items: Iterable[Any]) -> Any:
        return plan_copy(
            self.client, items, self.dest_prefix, dest_bucket=self.dest_bucket,
            strip_prefix=self.effective_strip_prefix(), max_listed=self.plan_limit,
            max_concurrent=self.max_concurrent,
        )

    def summary_fields(self) -> dict[str, Any]:
        return {
            "dest_bucket": self.dest_bucket or self.client.bucket,
            "dest_prefix": self.dest_prefix,
        }

    def report_task_lineage(self) -> None:
        bucket = self.client.bucket
        self.add_lineage(
            inputs=[(bucket, self.source_prefix())],
            outputs=[(self.dest_bucket or bucket, self.dest_prefix)],
        )


class OrbitBatchDeleteOperator(OrbitBulkOperator):
    """Delete many keys with DeleteObjects (1,000 keys a request, requests run concurrently).

    A key already gone counts as deleted (a retried task does not fail on what the failed try
    removed). On a versioned bucket this adds delete markers; old versions stay.

    Key selection, dry run (missing keys are listed as already gone) and batch options: see
    OrbitBulkOperator.
    """

    operation = "delete"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_operation()

    def batch_operation(self, bucket: str) -> dict[str, Any]:
        return bops.delete_operation()  # refused: lifecycle rules are S3's scalable delete

    def run_batch(self, items: Iterable[Any], config: Any, reporter: Any) -> Any:
        return self.client.batch_delete(items, config, progress=reporter)

    def plan(self, items: Iterable[Any]) -> Any:
        plan = super().plan(items)
        plan.already_done = plan.missing  # a key already gone is a delete already done
        return plan


class OrbitStorageClassOperator(OrbitBulkOperator):
    """Move many keys to another storage class, in place, keeping metadata, content type and
    tags. Keys already in that class are ``already_done``; archived keys (not restored) fail.

    :param storage_class: the target class, e.g. ``"STANDARD_IA"``, ``"GLACIER"``.
    Key selection, dry run and batch options: see OrbitBulkOperator.
    """

    operation = "change_storage_class"
    moves_data = True

    def __init__(self, *, storage_class: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.storage_class = storage_class
        self.check_operation()

    def validate_operation(self, *, rendered: bool) -> None:
        StorageClass.parse(self.storage_class)

    def batch_operation(self, bucket: str) -> dict[str, Any]:
        # an in-place copy: MetadataDirective COPY keeps metadata, content headers and tags
        return bops.copy_operation(bucket, storage_class=StorageClass.parse(self.storage_class))

    def run_batch(self, items: Iterable[Any], config: Any, reporter: Any) -> Any:
        return self.client.batch_change_storage_class(
            items, self.storage_class, config, progress=reporter
        )

    def plan(self, items: Iterable[Any]) -> Any:
        return plan_batch(
            self.client, items, self.operation, storage_class=self.storage_class,
            max_listed=self.plan_limit, max_concurrent=self.max_concurrent,
        )

    def summary_fields(self) -> dict[str, Any]:
        return {"storage_class": StorageClass.parse(self.storage_class).value}


class OrbitBatchTagOperator(OrbitBulkOperator):
    """Tag many keys: merged into each key's tags (``merge=True``; keys already carrying them
    are ``already_done``) or replacing them.

    :param tags: tag key -> value (templated values), at most 10, S3's length limits.
    :param merge: merge into the existing tags (default) or replace them all.
    Key selection, dry run and batch options: see OrbitBulkOperator.
    """

    template_fields: Sequence[str] = (*OrbitBulkOperator.template_fields, "tags")
    operation = "tag_objects"

    def __init__(self, *, tags: dict[str, str], merge: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tags = tags
        self.merge = merge
        self.check_operation()

    def validate_operation(self, *, rendered: bool) -> None:
        if not isinstance(self.merge, bool):
            raise ConfigError(f"merge: {self.merge!r} must be True or False")
        if rendered or not is_unrendered(self.tags):
            validate_tags(self.tags)

    def batch_operation(self, bucket: str) -> dict[str, Any]:
        if self.merge:
            raise ConfigError(
                "engine='s3_batch_operations' replaces each object's whole tag set: pass "
                "merge=False (or use engine='client' to merge)"
            )
        return bops.tagging_operation(dict(self.tags))

    def run_batch(self, items: Iterable[Any], config: Any, reporter: Any) -> Any:
        return self.client.batch_tag_objects(items, self.tags, config, self.merge,
                                             progress=reporter)  # fmt: skip

    def summary_fields(self) -> dict[str, Any]:
        return {"tags": dict(self.tags), "merge": self.merge}


class OrbitBatchMetadataOperator(OrbitBulkOperator):
    """Set user metadata on many keys, in place (content type, storage class and tags kept):
    merged into what each key has (``merge=True``; unchanged keys are ``already_done``) or
    replacing it.

    :param metadata: name -> value (templated values), at most 2 KiB in all.
    :param merge: merge into the existing metadata (default) or replace it.
    :param content_type: engine='s3_batch_operations' only, and required there with
        ``merge=False`` and ``storage_class``: a job's in-place copy gives every object this
        content type (and drops its other content headers).
    :param storage_class: engine='s3_batch_operations' only: the class every object gets.
    Key selection, dry run and batch options: see OrbitBulkOperator.
    """

    template_fields: Sequence[str] = (*OrbitBulkOperator.template_fields, "metadata")
    operation = "update_metadata"

    def __init__(
        self, *, metadata: dict[str, str], merge: bool = True, content_type: str | None = None,
        storage_class: str | None = None, **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.metadata = metadata
        self.merge = merge
        self.content_type = content_type
        self.storage_class = storage_class
        self.check_operation()

    def validate_operation(self, *, rendered: bool) -> None:
        if not isinstance(self.merge, bool):
            raise ConfigError(f"merge: {self.merge!r} must be True or False")
        if rendered or not is_unrendered(self.metadata):
            validate_metadata(self.metadata)
        if self.engine == "client" and (self.content_type or self.storage_class):
            raise ConfigError(
                "content_type / storage_class: only with engine='s3_batch_operations' (the "
                "client engine keeps each object's own)"
            )

    def batch_operation(self, bucket: str) -> dict[str, Any]:
        metadata = self.metadata if not is_unrendered(self.metadata) else {}
        return bops.metadata_operation(
            bucket, metadata, merge=self.merge, content_type=self.content_type,
            storage_class=self.storage_class,
        )  # fmt: skip

    def run_batch(self, items: Iterable[Any], config: Any, reporter: Any) -> Any:
        return self.client.batch_update_metadata(items, self.metadata, config, self.merge,
                                                 progress=reporter)  # fmt: skip

    def summary_fields(self) -> dict[str, Any]:
        fields = {"metadata": dict(self.metadata), "merge": self.merge}
        if self.engine == "s3_batch_operations":
            fields.update(content_type=self.content_type, storage_class=self.storage_class)
        return fields
