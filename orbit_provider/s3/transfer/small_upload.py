"""The short path for small files of a tree upload: read the file once, one PUT with its
checksum, the store's answer checked; over plain HTTP (small_http.py) where possible.

The same steps as the single PUT of upload.upload_file (the file re-stat'ed so a file that
changed while it was read is not stored, the session's checksum header and Content-MD5 for
stores that ignore it, `session.check_stored` on the answer), without botocore's per-request
cost. Write arguments the lean PUT cannot send go through upload.upload_file instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orbit_provider.s3.errors import IntegrityError, S3Error
from orbit_provider.s3.models import _version
from orbit_provider.s3.transfer.small_http import LeanObjects, can_put
from orbit_provider.s3.transfer.upload_io import LocalFile
from orbit_provider.s3.wire import checksums
from orbit_provider.s3.wire.ratelimit import TokenBucket

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session


@dataclass(frozen=True)
class SmallPut:
    """What one short-path PUT stored."""

    key: str
    size: int
    etag: str | None
    version_id: str | None
    checksum: str | None  # the checksum sent and acknowledged (None: not sent)


def put_small(
    session: S3Session,
    lean: LeanObjects,
    path: str | os.PathLike,
    key: str,
    write: dict[str, Any],
    limiter: TokenBucket | None = None,
) -> SmallPut:
    """PUT the file at `path` as `key` over `lean`; `write` are boto3 write arguments that
    `small_http.can_put` accepts."""
    if not can_put(write):
        raise ValueError(f"write: the lean PUT cannot send {sorted(write)}")
    with LocalFile(path) as local:
        try:
            data = local.read(0, local.size)
        except OSError as exc:
            raise S3Error(f"{local.path}: cannot be read: {exc}", key=key,
                          code="LocalReadError") from exc  # fmt: skip
        change = local.changed()
        if change:
            raise IntegrityError(
                f"{local.path} changed during the upload to s3://{session.bucket}/{key}: "
                f"{change}; the object was not stored",
                bucket=session.bucket,
                key=key,
                code="FileChanged",
            )
        args = dict(write)
        crc, md5 = session.integrity_args(data, args)
        if limiter is not None and data:
            limiter.acquire(len(data))
        resp = session.retry(lambda: lean.put(key, data, args), key=key)
        session.check_stored(key, crc, resp, "PutObject", lambda: md5 or checksums.md5_hex(data))
        return SmallPut(key, local.size, checksums.plain_etag(resp.get("ETag")),
                        _version(resp.get("VersionId")), crc)  # fmt: skip
