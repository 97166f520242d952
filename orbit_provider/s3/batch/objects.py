"""Batch changes to objects in place: storage class, user metadata, tags.

Storage class and metadata are changed by copying the object onto itself with
MetadataDirective=REPLACE, re-sending its metadata and content headers (SeaweedFS refuses
an in-place copy with COPY) and its storage class; tags stay (TaggingDirective defaults to
COPY). The copy carries CopySourceIfMatch with the ETag just read, so an object changed in
between fails (PreconditionFailed) instead of losing the newer write's metadata. Objects
above `multipart_copy_threshold` go through `transfer.copy.copy_object` (multipart, tags copied).
Archived objects (GLACIER, DEEP_ARCHIVE, not restored) fail per key with code "ArchivedObject".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from orbit_provider.s3.batch.engine import checked_key, result_key_of, run_batch
from orbit_provider.s3.batch.models import ALREADY_DONE, BatchConfig, BatchResult, resolve_config
from orbit_provider.s3.batch.restore import ensure_readable
from orbit_provider.s3.config import StorageClass
from orbit_provider.s3.limits import tag_set, validate_metadata, validate_tags
from orbit_provider.s3.models import ObjectMetadata
from orbit_provider.s3.progress import ProgressReporter
from orbit_provider.s3.transfer.copy import copy_object


def rewrite_in_place(
    bc: Any, head: ObjectMetadata, storage_class: str, metadata: dict[str, str]
) -> None:
    """Copy `head.key` onto itself with `storage_class` and `metadata`, keeping its
    encryption, content headers and tags (only if it is still the object `head` describes)."""
    copy_object(
        bc, head.key, head.key, storage_class=storage_class, metadata=metadata,
        source_metadata=head,
    )  # fmt: skip


def _run(
    client: Any,
    operation: str,
    keys: Iterable[Any],
    op: Callable,
    config: Any,
    progress: ProgressReporter | None,
    sleep: Callable[[float], None],
) -> BatchResult:
    return run_batch(
        client,
        operation,
        keys,
        op,
        resolve_config(config),
        prepare=checked_key,
        key_of=result_key_of,
        progress=progress,
        sleep=sleep,
    )


def batch_change_storage_class(
    client: Any,
    keys: Iterable[Any],
    storage_class: StorageClass | str,
    config: BatchConfig | None = None,
    *,
    progress: ProgressReporter | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchResult:
    """Move every key to `storage_class`; keys already there succeed as "already_done"."""
    target = StorageClass.parse(storage_class).value
    resolve_config(config)

    def change(bc: Any, key: str, _: str) -> str | None:
        head = bc.get_metadata(key)
        ensure_readable(head, bc.bucket, "changing its storage class")
        if head.storage_class == target:
            return ALREADY_DONE
        rewrite_in_place(bc, head, target, head.metadata)
        return None

    return _run(client, "change_storage_class", keys, change, config, progress, sleep)


def batch_update_metadata(
    client: Any,
    keys: Iterable[Any],
    metadata: dict[str, str],
    config: BatchConfig | None = None,
    merge: bool = True,
    *,
    progress: ProgressReporter | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchResult:
    """Set user metadata on every key: merged into what is there (merge=True) or replacing it.

    Names are lower-cased (S3 stores them so). The merged result of each key is checked
    against the 2 KiB limit; a key over it fails alone (code "ConfigError"), unchanged.
    """
    wanted = {k.lower(): v for k, v in validate_metadata(metadata).items()}
    resolve_config(config)

    def update(bc: Any, key: str, _: str) -> str | None:
        head = bc.get_metadata(key)
        ensure_readable(head, bc.bucket, "changing its metadata")
        new = {**head.metadata, **wanted} if merge else dict(wanted)
        validate_metadata(new, f"metadata of {key!r} after merge" if merge else "metadata")
        if new == head.metadata:
            return ALREADY_DONE
        rewrite_in_place(bc, head, head.storage_class, new)
        return None

    return _run(client, "update_metadata", keys, update, config, progress, sleep)


def batch_tag_objects(
    client: Any,
    keys: Iterable[Any],
    tags: dict[str, str],
    config: BatchConfig | None = None,
    merge: bool = True,
    *,
    progress: ProgressReporter | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchResult:
    """Tag every key: merged into its tags (merge=True: GET, union, PUT; unchanged keys are
    "already_done") or replacing them (one PUT; `{}` removes every tag). A merged set over
    10 tags fails that key alone (code "ConfigError")."""
    wanted = dict(validate_tags(tags))
    resolve_config(config)

    def tag(bc: Any, key: str, _: str) -> str | None:
        new = wanted
        if merge:
            current = bc.get_tags(key)
            new = validate_tags({**current, **wanted}, f"tags of {key!r} after merge")
            if new == current:
                return ALREADY_DONE
        if new:
            bc.call("put_object_tagging", key=key, Tagging={"TagSet": tag_set(new)})
        else:  # replace with nothing: DeleteObjectTagging (some stores refuse an empty TagSet)
            bc.call("delete_object_tagging", key=key)
        return None

    return _run(client, "tag_objects", keys, tag, config, progress, sleep)
