"""S3 Inventory reports as a lazy key source: past a few million keys, reading the daily
inventory is far cheaper and faster than listing (1,000 keys per ListObjectsV2 request).

A report is a `manifest.json` (its `fileFormat`, `fileSchema` and data `files`) next to
gzipped CSV, Parquet or ORC data files. CSV rows have no header, follow `fileSchema`'s order
and carry URL-encoded keys; Parquet columns carry the schema's snake_case names and plain keys
(read with pyarrow, only when it is installed). Data files are streamed and checked against
the manifest's MD5 as they are read; nothing is materialized.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from orbit_provider.s3.batch.listing import as_datetime
from orbit_provider.s3.errors import ConfigError, IntegrityError
from orbit_provider.s3.models import ObjectSummary, to_datetime

MANIFEST_NAME = "manifest.json"
#: the columns a key source needs; everything else in a report is ignored
_COLUMNS = {
    "bucket": "bucket",
    "key": "key",
    "versionid": "version_id",
    "islatest": "is_latest",
    "isdeletemarker": "is_delete_marker",
    "size": "size",
    "lastmodifieddate": "last_modified",
    "etag": "etag",
    "storageclass": "storage_class",
}
_READ_SIZE = 1024 * 1024


@dataclass(frozen=True)
class InventoryObject(ObjectSummary):
    """One row of an inventory report: a listing entry plus its version fields."""

    version_id: str | None = None
    is_latest: bool = True
    is_delete_marker: bool = False


@dataclass(frozen=True)
class InventoryFile:
    """One data file of a report: its key in the destination bucket, size and MD5."""

    key: str
    size: int | None = None
    md5: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "size": self.size, "md5": self.md5}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InventoryFile:
        return cls(data["key"], data.get("size"), data.get("md5"))


@dataclass(frozen=True)
class InventoryManifest:
    """What a report's manifest.json says: where its data files are and how to read them."""

    source_bucket: str
    destination_bucket: str
    file_format: str
    columns: tuple[str, ...]
    files: tuple[InventoryFile, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, raw: bytes | str) -> InventoryManifest:
        """A manifest from its JSON; a clear ConfigError when it is not an inventory manifest."""
        try:
            data = json.loads(raw)
            file_format = str(data["fileFormat"]).upper()
            files = tuple(
                InventoryFile(f["key"], f.get("size"), f.get("MD5checksum")) for f in data["files"]
            )
            source, dest = data["sourceBucket"], data["destinationBucket"]
            schema = data.get("fileSchema", "")
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"not an S3 Inventory manifest: {exc}") from exc
        if file_format not in ("CSV", "PARQUET", "ORC"):
            raise ConfigError(f"inventory format {file_format!r} is not CSV, Parquet or ORC")
        columns = _csv_columns(schema) if file_format == "CSV" else ()
        if file_format == "CSV" and "key" not in columns:
            raise ConfigError(f"inventory fileSchema has no Key column: {schema!r}")
        # the destination is an ARN (arn:aws:s3:::name)
        return cls(source, dest.rsplit(":", 1)[-1], file_format, columns, files)


def _csv_columns(schema: str) -> tuple[str, ...]:
    """CSV schema 'Bucket, Key, VersionId, ...' as our column names ('' for unused ones)."""
    return tuple(_COLUMNS.get(name.strip().lower(), "") for name in schema.split(","))


def read_manifest(boto: Any, bucket: str, manifest_key: str) -> InventoryManifest:
    """Read and parse a report's manifest.json (`boto` is a boto3 S3 client)."""
    if not manifest_key.endswith(MANIFEST_NAME):
        raise ConfigError(f"manifest_key: {manifest_key!r} is not a {MANIFEST_NAME}")
    body = boto.get_object(Bucket=bucket, Key=manifest_key)["Body"].read()
    return InventoryManifest.parse(body)


def latest_manifest_key(boto: Any, bucket: str, config_prefix: str) -> str:
    """The newest report's manifest under `<destination prefix>/<source bucket>/<config id>/`:
    report folders are named by their UTC time (YYYY-MM-DDTHH-MMZ), so the last one sorts last.
    """
    prefix = config_prefix.rstrip("/") + "/"
    folders: list[str] = []
    for page in boto.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    ):
        folders += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    for folder in sorted(folders, reverse=True):
        key = folder + MANIFEST_NAME
        found = boto.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
        if found and found[0]["Key"] == key:
            return key
    raise ConfigError(f"no inventory manifest under s3://{bucket}/{prefix}")


@dataclass(frozen=True)
class InventoryFilter:
    """Which rows a key source keeps. Current versions that are not delete markers by
    default, as a listing would show them."""

    prefix: str = ""
    storage_classes: frozenset[str] | None = None
    min_size: int | None = None
    max_size: int | None = None
    modified_after: datetime | str | None = None
    modified_before: datetime | str | None = None
    latest_only: bool = True
    include_delete_markers: bool = False

    def __post_init__(self) -> None:
        if self.storage_classes is not None:
            object.__setattr__(
                self, "storage_classes", frozenset(s.upper() for s in self.storage_classes)
            )
        for name in ("min_size", "max_size"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ConfigError(f"{name}: {value!r} must be a non-negative integer")
        after = as_datetime(self.modified_after, "modified_after")
        before = as_datetime(self.modified_before, "modified_before")
        if after and before and after >= before:
            raise ConfigError("modified_after: must be earlier than modified_before")
        object.__setattr__(self, "_after", after)
        object.__setattr__(self, "_before", before)

    def keeps(self, obj: InventoryObject) -> bool:
        if not obj.key.startswith(self.prefix):
            return False
        if obj.is_delete_marker and not self.include_delete_markers:
            return False
        if self.latest_only and not obj.is_latest:
            return False
        if self.storage_classes is not None and obj.storage_class not in self.storage_classes:
            return False
        if self.min_size is not None and obj.size < self.min_size:
            return False
        if self.max_size is not None and obj.size > self.max_size:
            return False
        after, before = self._after, self._before  # type: ignore[attr-defined]
        if after and (obj.last_modified is None or obj.last_modified < after):
            return False
        return not (before and (obj.last_modified is None or obj.last_modified >= before))


def iter_inventory(
    boto: Any,
    manifest: InventoryManifest,
    filters: InventoryFilter | None = None,
    *,
    files: Iterable[InventoryFile] | None = None,
) -> Iterator[InventoryObject]:
    """Every row of the report (or of the given data `files`, e.g. one shard's) that
    `filters` keeps, lazily, data file after data file. A data file whose bytes do not match
    the manifest's MD5 raises IntegrityError once it has been read."""
    keep = filters or InventoryFilter()
    for data_file in manifest.files if files is None else files:
        rows = _read_rows(boto, manifest, data_file)
        for obj in rows:
            if keep.keeps(obj):
                yield obj


def _read_rows(
    boto: Any, manifest: InventoryManifest, data_file: InventoryFile
) -> Iterator[InventoryObject]:
    body = boto.get_object(Bucket=manifest.destination_bucket, Key=data_file.key)["Body"]
    checked = _Md5Reader(body, data_file)
    if manifest.file_format == "CSV":
        yield from _csv_rows(checked, manifest.columns)
    elif manifest.file_format == "PARQUET":
        yield from _parquet_rows(checked)
    else:
        raise ConfigError("ORC inventory reports are not supported: choose CSV or Parquet")
    checked.finish()


class _Md5Reader(io.RawIOBase):
    """A readable stream over a GetObject body that hashes what passes through it."""

    def __init__(self, body: Any, data_file: InventoryFile) -> None:
        self._body, self._file = body, data_file
        self._md5 = hashlib.md5()
        self._count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._body.read(len(buffer))
        self._md5.update(chunk)
        self._count += len(chunk)
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def finish(self) -> None:
        """Read what is left, then check size and MD5 against the manifest."""
        while chunk := self._body.read(_READ_SIZE):
            self._md5.update(chunk)
            self._count += len(chunk)
        size, md5 = self._file.size, self._file.md5
        if size is not None and size != self._count:
            raise IntegrityError(
                f"inventory file {self._file.key}: {self._count} bytes, manifest says {size}"
            )
        if md5 and md5 != self._md5.hexdigest():
            raise IntegrityError(f"inventory file {self._file.key}: MD5 differs from manifest")


def _csv_rows(raw: io.RawIOBase, columns: tuple[str, ...]) -> Iterator[InventoryObject]:
    text = io.TextIOWrapper(
        gzip.GzipFile(fileobj=io.BufferedReader(raw, _READ_SIZE)), encoding="utf-8", newline=""
    )
    for number, row in enumerate(csv.reader(text), 1):
        if not row:
            continue
        if len(row) != len(columns):
            raise IntegrityError(
                f"inventory row {number} has {len(row)} fields, fileSchema names {len(columns)}"
            )
        fields = {name: value for name, value in zip(columns, row, strict=True) if name}
        yield _row_object(fields, url_encoded=True)


def _parquet_rows(raw: io.RawIOBase) -> Iterator[InventoryObject]:
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - depends on what is installed
        raise ConfigError(
            "this inventory report is Parquet: install pyarrow (pip install "
            "'orbit-provider[inventory]') or configure the report as CSV"
        ) from None
    data = io.BytesIO(raw.read())  # a Parquet footer is at the end: pyarrow needs a seekable file
    parquet = pq.ParquetFile(data)
    wanted = [c for c in parquet.schema_arrow.names if c.replace("_", "") in _COLUMNS]
    for batch in parquet.iter_batches(columns=wanted, batch_size=10_000):
        for row in batch.to_pylist():
            yield _row_object(
                {_COLUMNS[name.replace("_", "")]: value for name, value in row.items()},
                url_encoded=False,
            )


def _flag(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def _row_object(row: dict[str, Any], *, url_encoded: bool) -> InventoryObject:
    key = row["key"]
    size = row.get("size")
    modified = row.get("last_modified")
    if isinstance(modified, int | float):  # Parquet timestamps are epoch milliseconds
        modified = datetime.fromtimestamp(modified / 1000, tz=UTC)
    return InventoryObject(
        key=unquote_plus(key) if url_encoded else key,
        size=int(size) if size not in (None, "") else 0,
        last_modified=to_datetime(modified) if modified not in (None, "") else None,
        etag=(row.get("etag") or None),
        storage_class=row.get("storage_class") or "STANDARD",
        version_id=row.get("version_id") or None,
        is_latest=_flag(row.get("is_latest"), True),
        is_delete_marker=_flag(row.get("is_delete_marker"), False),
    )
