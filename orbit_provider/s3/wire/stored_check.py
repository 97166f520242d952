"""Did the store keep the bytes we sent? Its echoed checksum, else its MD5 ETag.

Every PUT and part carries a signed checksum (x-amz-checksum-crc32, or of the algorithm
configured: crc32c, crc64nvme, sha256) that a store with flexible checksums verifies and
echoes back. A store without them ignores the header and echoes
nothing; then the answer's ETag, the MD5 of the bytes it stored, is compared with ours, and
the upload sends Content-MD5 with its later parts so the store itself refuses bad bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from orbit_provider.s3.errors import IntegrityError
from orbit_provider.s3.wire import checksums

log = logging.getLogger("orbit_provider.s3.transfer.upload")


def check_stored(
    bucket: str,
    key: str,
    sent_crc: str | None,
    resp: dict[str, Any],
    what: str,
    md5_hex: Callable[[], str],
    *,
    warn: bool = True,
    algorithm: str = "CRC32",
) -> bool:
    """Raise IntegrityError when the store's answer shows other bytes than we sent.

    `sent_crc` is the `algorithm` checksum we sent (base64). Returns True when the store
    acknowledged it (or none was sent), False when it ignored it: the bytes were then
    checked by MD5 ETag (`md5_hex` computes ours), or could not be checked at all when the
    ETag is not an MD5 (SSE-KMS, SSE-C): logged when `warn`.
    """
    if not sent_crc:
        return True
    returned = resp.get(checksums.param_name(algorithm))
    if returned:
        if returned != sent_crc:
            raise IntegrityError(
                f"s3://{bucket}/{key}: {what}: the store recorded {algorithm.upper()} "
                f"{returned}, we sent {sent_crc}",
                bucket=bucket,
                key=key,
            )
        return True
    etag = resp.get("ETag")
    if checksums.is_md5_etag(etag):
        ours = md5_hex()
        if ours != checksums.plain_etag(etag):
            raise IntegrityError(
                f"s3://{bucket}/{key}: {what}: the store's ETag {checksums.plain_etag(etag)} "
                f"is not the MD5 of the bytes we sent ({ours})",
                bucket=bucket,
                key=key,
            )
    elif warn:
        log.warning(
            "s3://%s/%s: %s: the store neither verified our %s nor returned an MD5 ETag; "
            "only the size can be checked",
            bucket,
            key,
            what,
            algorithm.upper(),
        )
    return False
