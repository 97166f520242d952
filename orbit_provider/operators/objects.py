"""Single-object operators with the amazon provider's argument names: copy one object
(rename, cross-bucket, any size) and create one from a string or bytes. Keys may be
``s3://bucket/key`` URLs; ``replace=False`` refuses to overwrite, atomically on AWS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orbit_provider.operators.base import OrbitBaseOperator, is_unrendered
from orbit_provider.operators.summary import transfer_summary
from orbit_provider.s3.config import StorageClass, validate_key
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.urls import bucket_and_key

_DIRECTIVES = ("COPY", "REPLACE")


class OrbitCopyObjectOperator(OrbitBaseOperator):
    """Copy one object server-side: a rename, a copy to another bucket, any size (parallel
    part copies past ``multipart_copy_threshold``). Like ``S3CopyObjectOperator``.

    The copy keeps the source's metadata, content headers, tags, encryption (its own KMS
    key) and checksum algorithm unless an argument replaces them.

    :param source_bucket_key: the source key, or ``s3://bucket/key`` (templated).
    :param dest_bucket_key: the destination key, or ``s3://bucket/key`` (templated).
    :param source_bucket_name: the source bucket when the key is not a URL (templated;
        default: the connection's bucket).
    :param dest_bucket_name: the destination bucket (templated; default: the source's).
    :param source_version_id: copy this version of the source (templated).
    :param meta_data_directive: ``"COPY"`` (keep the source's metadata) or ``"REPLACE"``
        (use ``metadata``, empty when not given).
    :param metadata: user metadata for the copy (templated; implies REPLACE).
    :param content_type: a new content type (templated).
    :param storage_class: the copy's storage class.
    :param sse: the copy's server-side encryption (``"AES256"`` or ``"aws:kms"``); default:
        the source's.
    :param tags: the copy's tags (templated; ``{}`` removes them); default: the source's.
    :param replace: when False, refuse if the destination exists (If-None-Match: *).
    :return: a transfer summary with the copy as its one object.
    """

    template_fields: Sequence[str] = (
        *OrbitBaseOperator.template_fields, "source_bucket_key", "dest_bucket_key",
        "dest_bucket_name", "source_version_id", "metadata", "content_type", "tags",
    )  # fmt: skip
    ui_color = "#dcebf5"
    lineage_arguments = {"source_bucket_key": "inputs"}  # the copy may go to another bucket

    def __init__(
        self,
        *,
        source_bucket_key: str,
        dest_bucket_key: str,
        source_bucket_name: str | None = None,
        dest_bucket_name: str | None = None,
        source_version_id: str | None = None,
        meta_data_directive: str | None = None,
        metadata: dict[str, str] | None = None,
        content_type: str | None = None,
        storage_class: str | None = None,
        sse: str | None = None,
        tags: dict[str, str] | None = None,
        replace: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("bucket", source_bucket_name)
        super().__init__(**kwargs)
        self.source_bucket_key = source_bucket_key
        self.dest_bucket_key = dest_bucket_key
        self.dest_bucket_name = dest_bucket_name
        self.source_version_id = source_version_id
        self.meta_data_directive = meta_data_directive
        self.metadata = metadata
        self.content_type = content_type
        self.storage_class = storage_class
        self.sse = sse
        self.tags = tags
        self.replace = replace
        self.run_checked(lambda: self.locations(rendered=False))

    def locations(self, *, rendered: bool) -> tuple[str | None, str, str | None, str] | None:
        """(source bucket, key, destination bucket, key) with URLs resolved; None before
        rendering when any of them is still a template or an XCom."""
        if self.meta_data_directive not in (None, *_DIRECTIVES):
            raise ConfigError(f"meta_data_directive: {self.meta_data_directive!r} is not COPY "
                              "or REPLACE")  # fmt: skip
        if self.meta_data_directive == "COPY" and self.metadata is not None:
            raise ConfigError("metadata: given with meta_data_directive='COPY'")
        if not isinstance(self.replace, bool):
            raise ConfigError(f"replace: {self.replace!r} must be True or False")
        if self.storage_class is not None:
            StorageClass.parse(self.storage_class)
        fields = [self.source_bucket_key, self.dest_bucket_key, self.bucket, self.dest_bucket_name]
        if not rendered and is_unrendered(fields):
            return None
        src_bucket, src_key = bucket_and_key(self.bucket, self.source_bucket_key,
                                             "source_bucket_key")  # fmt: skip
        dst_bucket, dst_key = bucket_and_key(self.dest_bucket_name, self.dest_bucket_key,
                                             "dest_bucket_key")  # fmt: skip
        validate_key(src_key, "source_bucket_key")
        validate_key(dst_key, "dest_bucket_key")
        return src_bucket, src_key, dst_bucket, dst_key

    def execute(self, context: Any) -> dict[str, Any]:
        src_bucket, src_key, dst_bucket, dst_key = self.run_checked(
            lambda: self.locations(rendered=True)
        )
        self.bucket = src_bucket
        client = self.client
        metadata = self.metadata
        if self.meta_data_directive == "REPLACE" and metadata is None:
            metadata = {}
        result = self.run_core(
            context,
            lambda reporter: client.copy_object(
                src_key, dst_key, dst_bucket=dst_bucket, src_version_id=self.source_version_id,
                storage_class=self.storage_class, sse=self.sse, metadata=metadata,
                content_type=self.content_type, tags=self.tags, progress=reporter,
                if_none_match=not self.replace,
            ),
        )  # fmt: skip
        dst_bucket = dst_bucket or client.bucket
        self.log.info("copied s3://%s/%s to s3://%s/%s (%s bytes)", client.bucket, src_key,
                      dst_bucket, dst_key, result.size)  # fmt: skip
        self.add_lineage(inputs=[(client.bucket, src_key)], outputs=[(dst_bucket, dst_key)])
        return transfer_summary([result], operation="copy", bucket=dst_bucket)


class OrbitCreateObjectOperator(OrbitBaseOperator):
    """Write one object from a string or bytes (one verified PUT). Like
    ``S3CreateObjectOperator``.

    :param s3_key: the key, or ``s3://bucket/key`` (templated).
    :param data: the content (templated): ``str`` (encoded with ``encoding``) or ``bytes``.
    :param s3_bucket: the bucket when the key is not a URL (templated; default: the
        connection's bucket).
    :param replace: when False (the default, as in the amazon provider), refuse if the key
        exists: If-None-Match: * (atomic on AWS), after a HEAD that catches stores ignoring it.
    :param encoding: the encoding of a ``str`` ``data``.
    :param content_type: the object's content type (templated).
    :param metadata: user metadata (templated).
    :param storage_class: the storage class.
    :param sse: server-side encryption (``"AES256"`` or ``"aws:kms"``).
    :param tags: object tags (templated).
    :return: a transfer summary with the object.
    """

    template_fields: Sequence[str] = (
        *OrbitBaseOperator.template_fields, "s3_key", "data", "content_type", "metadata", "tags",
    )  # fmt: skip
    ui_color = "#dcebf5"
    lineage_arguments = {"s3_key": "outputs"}

    def __init__(
        self,
        *,
        s3_key: str,
        data: str | bytes,
        s3_bucket: str | None = None,
        replace: bool = False,
        encoding: str = "utf-8",
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        storage_class: str | None = None,
        sse: str | None = None,
        tags: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("bucket", s3_bucket)
        super().__init__(**kwargs)
        self.s3_key = s3_key
        self.data = data
        self.replace = replace
        self.encoding = encoding
        self.content_type = content_type
        self.metadata = metadata
        self.storage_class = storage_class
        self.sse = sse
        self.tags = tags
        self.run_checked(lambda: self.location(rendered=False))

    def location(self, *, rendered: bool) -> tuple[str | None, str] | None:
        if not isinstance(self.replace, bool):
            raise ConfigError(f"replace: {self.replace!r} must be True or False")
        if self.storage_class is not None:
            StorageClass.parse(self.storage_class)
        if not rendered and is_unrendered([self.s3_key, self.bucket]):
            return None
        bucket, key = bucket_and_key(self.bucket, self.s3_key, "s3_key")
        return bucket, validate_key(key, "s3_key")

    def payload(self) -> bytes:
        if isinstance(self.data, bytes | bytearray):
            return bytes(self.data)
        if isinstance(self.data, str):
            try:
                return self.data.encode(self.encoding)
            except LookupError as exc:
                raise ConfigError(f"encoding: {self.encoding!r} is not a known encoding") from exc
        raise ConfigError(f"data: expected str or bytes, got {type(self.data).__name__}")

    def execute(self, context: Any) -> dict[str, Any]:
        bucket, key = self.run_checked(lambda: self.location(rendered=True))
        body = self.run_checked(self.payload)
        self.bucket = bucket
        client = self.client
        result = self.run_checked(
            lambda: client.upload_bytes(
                body, key, metadata=self.metadata, content_type=self.content_type,
                storage_class=self.storage_class, sse=self.sse, tags=self.tags,
                if_none_match=not self.replace,
            )
        )  # fmt: skip
        self.log.info("wrote s3://%s/%s (%d bytes)", client.bucket, key, len(body))
        self.add_lineage(outputs=[(client.bucket, key)])
        return transfer_summary([result], operation="create", bucket=client.bucket)
