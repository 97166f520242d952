"""Is a local file already stored, byte for byte, as an object? (size + S3 checksum, no download)

Used to skip re-uploads in re-runs and backfills. One HEAD (ChecksumMode ENABLED) and, when the
sizes agree, one read of the local file computing the checksum the object keeps, whichever
it is (CRC64NVME, CRC32C, CRC32, SHA256, SHA1; CRCs cost about 0.02-0.04 CPU-s/GiB, SHA256
0.67):
- a full-object checksum (single PUT, or a FULL_OBJECT multipart upload) is compared with
  the file's;
- a composite one ('xxx==-N', multipart) is recomputed from the file's part checksums, with
  the part size recorded by our uploads (`orbit-fingerprint` metadata) or, for objects
  written by other tools, the part sizes that give N parts (ours, ceil(size/N) in MiB, 8 MiB);
- without a checksum, a plain-MD5 ETag (single part, no SSE-KMS) is compared with the MD5.
Anything else cannot be proven identical and counts as different (the upload then runs).
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orbit_provider.s3.config import MIB, validate_key
from orbit_provider.s3.errors import ConfigError, NotFound
from orbit_provider.s3.models import CHECKSUM_ALGORITHMS
from orbit_provider.s3.transfer.upload_io import LocalFile
from orbit_provider.s3.transfer.upload_plan import (
    FINGERPRINT_METADATA_KEY,
    Fingerprint,
    part_count,
    part_size_for,
    usable_part_size,
)
from orbit_provider.s3.wire import checksums

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session

READ_BLOCK = 8 * MIB  # bytes read at once while checksumming (bounded memory)
BOTO3_DEFAULT_PART = 8 * MIB


@dataclass(frozen=True)
class Comparison:
    """The answer for one file/key: `identical`, and why (`reason`, `method` of the check)."""

    key: str
    identical: bool
    reason: str
    method: str | None = None  # "crc32", "crc64nvme", "sha256-composite", "md5", ... (None:
    # nothing compared)
    remote_size: int | None = None
    local_size: int | None = None


def local_matches_remote(client: S3Session, path: str | os.PathLike, key: str) -> Comparison:
    """Whether `key` holds exactly the bytes of the local file `path` (see the module doc).

    Raises ConfigError when `path` is not a readable file (before any request).
    """
    validate_key(key)
    with LocalFile(path) as local:
        try:
            head = client.head(key)
        except NotFound:
            return Comparison(key, False, "the object does not exist", local_size=local.size)
        remote_size = int(head.get("ContentLength", -1))

        def answer(identical: bool, reason: str, method: str | None = None) -> Comparison:
            return Comparison(key, identical, reason, method, remote_size, local.size)

        if remote_size != local.size:
            return answer(False, f"sizes differ ({remote_size} != {local.size} bytes)")
        algorithm = next((a for a in CHECKSUM_ALGORITHMS if head.get(f"Checksum{a}")), None)
        crc = head.get(f"Checksum{algorithm}") if algorithm else None
        etag = checksums.plain_etag(head.get("ETag")) or ""
        parts = _remote_parts(crc, etag, head)
        if algorithm and crc and parts is None:
            (digest,) = _file_digests(local, algorithm, None)
            actual = base64.b64encode(digest).decode("ascii")
            return answer(actual == crc, _differs(algorithm, actual, crc), algorithm.lower())
        if algorithm and crc and parts is not None:
            method = f"{algorithm.lower()}-composite"
            for part_size in _candidate_part_sizes(client, head, local.size, parts):
                composite = checksums.composite_b64(
                    algorithm, _file_digests(local, algorithm, part_size)
                )
                expected = composite if "-" in crc else composite.split("-", 1)[0]
                if expected == crc:
                    return answer(True, f"composite {algorithm} matches", method)
            return answer(False, f"composite {algorithm} {crc} matches no part layout of the "
                          "file", method)  # fmt: skip
        if checksums.is_md5_etag(etag):
            actual = _file_md5(local)
            return answer(actual == etag, _differs("MD5", actual, etag), "md5")
        return answer(False, "the object has no checksum the file can be compared with")


def _differs(what: str, actual: str, remote: str) -> str:
    return f"{what} matches" if actual == remote else f"{what} differs ({actual} != {remote})"


def _remote_parts(crc: str | None, etag: str, head: dict) -> int | None:
    """The part count of a multipart object (None: a single-part / full-object checksum)."""
    if head.get("ChecksumType") == "FULL_OBJECT":
        return None
    for text in (crc or "", etag):
        if "-" in text:
            tail = text.rsplit("-", 1)[1]
            if tail.isdigit():
                return int(tail)
    if head.get("PartsCount"):
        return int(head["PartsCount"])
    return None


def _candidate_part_sizes(
    client: S3Session, head: dict, size: int, parts: int
) -> Iterable[int]:
    """Part sizes that cut `size` bytes into exactly `parts` parts, most likely first."""
    seen: set[int] = set()
    recorded = (head.get("Metadata") or {}).get(FINGERPRINT_METADATA_KEY)
    candidates: list[int] = []
    if recorded:
        try:
            candidates.append(Fingerprint.parse(recorded).part_size)
        except ConfigError:
            pass
    try:
        candidates.append(part_size_for(size, client.config.effective_chunk_size))
    except ConfigError:
        pass
    candidates.append(math.ceil(size / parts / MIB) * MIB)
    candidates.append(BOTO3_DEFAULT_PART)
    for part_size in candidates:
        if part_size in seen or not usable_part_size(size, part_size):
            continue
        seen.add(part_size)
        if part_count(size, part_size) == parts:
            yield part_size


def _file_digests(local: LocalFile, algorithm: str, part_size: int | None) -> list[bytes]:
    """The raw `algorithm` checksum of each `part_size` part of the file (of the whole file
    without a part size), in one pass in READ_BLOCK pieces."""
    size = local.size
    step = part_size or max(size, 1)
    digests: list[bytes] = []
    for start in range(0, max(size, 1), step):
        end = min(start + step, size)
        check = checksums.StreamingChecksum(algorithm)
        for offset in range(start, end, READ_BLOCK):
            check.update(local.read(offset, min(READ_BLOCK, end - offset)))
        digests.append(check.digest())
    return digests


def _file_md5(local: LocalFile) -> str:
    digest = hashlib.md5()
    for offset in range(0, local.size, READ_BLOCK):
        digest.update(local.read(offset, min(READ_BLOCK, local.size - offset)))
    return digest.hexdigest()
