"""How a download is split into ranges, and how the finished bytes are verified.

Each range is checksummed as it arrives with the CRC the object keeps (CRC32, CRC32C or
CRC64NVME; CRC32 when it keeps none of them: `range_algorithm`). Ranges are aligned to the
object's multipart parts when their size is known, so that the range CRCs combine
(`checksums.combine_crc`) into each part's CRC and then into S3's composite `xxx==-N`
checksum; a full-object CRC is the combination of all ranges. No second read is needed for
them. SHA1 / SHA256 (which cannot be combined) and an MD5 ETag need a second pass over the
file; an MD5 ETag is checked only below MD5_VERIFY_LIMIT (MD5 costs about 1.5 CPU-s/GiB here).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from orbit_provider.s3.wire import checksums

MIB = 1024 * 1024
MIN_RANGE_SIZE = 8 * MIB  # fewer, larger GETs: per-request cost dominates below this
MD5_VERIFY_LIMIT = 64 * MIB  # MD5-only objects larger than this are checked by size only
# One readinto + pwrite per this many bytes. Measured: 512 KiB-1 MiB buffers cost about
# 0.5 kernel CPU-s/GiB; 2-4 MiB buffers 1.0-2.8 (likely transparent huge pages on the
# per-thread buffers), so bigger is not cheaper here.
READ_SIZE = 1 * MIB


@dataclass(frozen=True)
class ObjectFacts:
    """What HEAD told us about the object a download must reproduce."""

    size: int
    etag: str | None  # quoted, as sent back in If-Match
    version_id: str | None
    checksum_crc32: str | None
    parts_count: int | None
    part_size: int | None  # part 1's length when the object is multipart and parts are uniform
    md5_etag_usable: bool  # ETag is an MD5 (or multipart MD5) of the plain bytes
    #: (algorithm, value) of a flexible checksum other than CRC32 (CRC64NVME, CRC32C, SHA256,
    #: SHA1), full-object or composite ('-N'); CRCs combined from the ranges, SHAs checked in
    #: a second pass over the file
    other_checksum: tuple[str, str] | None = None


def range_algorithm(facts: ObjectFacts) -> str:
    """The CRC each range is checksummed with as it arrives (and recorded with for resume):
    the object's own CRC when it keeps one, so that the ranges combine into it; else CRC32."""
    if facts.checksum_crc32:
        return "CRC32"
    if facts.other_checksum and facts.other_checksum[0] in checksums.CRC_ALGORITHMS:
        return facts.other_checksum[0]
    return "CRC32"


def range_check(algorithm: str) -> checksums.StreamingChecksum:
    """A running checksum of one range in `algorithm` (a CRC); `crc_value` reads it."""
    return checksums.StreamingChecksum(algorithm)


def crc_value(check: checksums.StreamingChecksum) -> int:
    """The CRC a range_check holds, as the integer combine_crc and the record take."""
    return int.from_bytes(check.digest(), "big")


def plan_ranges(
    size: int, range_size: int, part_size: int | None = None, extra: Sequence[int] = ()
) -> list[tuple[int, int]]:
    """[(start, end)) ranges covering 0..size, none longer than range_size, split at every
    part boundary (when part_size is given) and at every offset in `extra`."""
    if size <= 0:
        return []
    cuts = {0, size}
    if part_size:
        cuts.update(range(part_size, size, part_size))
    cuts.update(b for b in extra if 0 < b < size)
    bounds = sorted(cuts)
    ranges = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        ranges.extend((s, min(s + range_size, hi)) for s in range(lo, hi, range_size))
    return ranges


def crc_of_span(
    crcs: Sequence[int], ranges: Sequence[tuple[int, int]], algorithm: str = "CRC32"
) -> int:
    """The `algorithm` CRC of consecutive ranges from each range's own CRC."""
    value = 0
    for crc, (start, end) in zip(crcs, ranges, strict=True):
        value = checksums.combine_crc(algorithm, value, crc, end - start)
    return value


def group_by_part(
    ranges: Sequence[tuple[int, int]], part_size: int
) -> list[list[int]]:
    """Range indexes grouped by the multipart part they fall in."""
    groups: list[list[int]] = []
    for i, (start, _end) in enumerate(ranges):
        part = start // part_size
        while len(groups) <= part:
            groups.append([])
        groups[part].append(i)
    return groups


def _part_spans(facts: ObjectFacts) -> list[tuple[int, int]] | None:
    """The object's multipart parts as byte spans, when HEAD told enough to know them."""
    if not (facts.part_size and facts.parts_count):
        return None
    spans = [
        (s, min(s + facts.part_size, facts.size)) for s in range(0, facts.size, facts.part_size)
    ]
    return spans if len(spans) == facts.parts_count else None


def planned_check(facts: ObjectFacts) -> str:
    """The check a download of this object will make, known from its HEAD alone (so that
    an object nothing can verify is known before anything is written): "crc32",
    "crc32-composite", "crc64nvme", "crc32c", "sha256", "sha1" (each also "-composite"),
    "md5", or "size" (the size alone)."""
    expected = facts.checksum_crc32
    if expected and "-" not in expected:
        return "crc32"
    if expected and _part_spans(facts) is not None:
        return "crc32-composite"
    if facts.other_checksum and not expected:
        name, value = facts.other_checksum
        if "-" not in value:
            return name.lower()
        if _part_spans(facts) is not None:
            return f"{name.lower()}-composite"
    if facts.md5_etag_usable and facts.etag and facts.size <= MD5_VERIFY_LIMIT:
        etag = checksums.plain_etag(facts.etag) or ""
        if "-" not in etag or _part_spans(facts) is not None:
            return "md5"
    return "size"


def verify(
    facts: ObjectFacts,
    ranges: Sequence[tuple[int, int]],
    crcs: Sequence[int],
    fd: int,
) -> tuple[str | None, str]:
    """Check the finished temp file (`fd`) against the object's checksum.

    `crcs` are the ranges' CRCs in `range_algorithm(facts)`. Returns (problem or None, method
    used): the `planned_check` of the object.
    """
    size = os.fstat(fd).st_size
    if size != facts.size:
        return f"file holds {size} bytes, object has {facts.size}", "size"
    method = planned_check(facts)
    name = method.removesuffix("-composite").upper()
    composite = method.endswith("-composite")
    expected = facts.checksum_crc32 if name == "CRC32" else (facts.other_checksum or ("", ""))[1]
    if name in checksums.CRC_ALGORITHMS and name == range_algorithm(facts):
        if composite:
            part_crcs = [
                crc_of_span([crcs[i] for i in g], [ranges[i] for i in g], name)
                for g in group_by_part(ranges, facts.part_size or 1)
            ]
            actual = checksums.composite_b64(
                name, [base64.b64decode(checksums.crc_b64(name, c)) for c in part_crcs]
            )
        else:
            actual = checksums.crc_b64(name, crc_of_span(crcs, ranges, name) if ranges else 0)
        return (None if actual == expected else f"{name} {actual} != {expected}"), method
    if facts.other_checksum and name == facts.other_checksum[0]:
        spans = (_part_spans(facts) or []) if composite else [(0, facts.size)]
        digests = _digests_of(fd, spans, lambda: checksums.StreamingChecksum(name))
        if composite:
            actual = checksums.composite_b64(name, digests)
        else:
            actual = base64.b64encode(digests[0]).decode("ascii")
        return (None if actual == expected else f"{name} {actual} != {expected}"), method
    if method == "md5":
        etag = checksums.plain_etag(facts.etag)
        spans = _part_spans(facts)
        if etag and "-" not in etag:
            actual = _md5_of(fd, [(0, facts.size)])[0]
            return (None if actual == etag else f"MD5 {actual} != ETag {etag}"), method
        actual = checksums.multipart_etag(_md5_of(fd, spans or []))
        return (None if actual == etag else f"ETag {actual} != {etag}"), method
    return None, method


def _digests_of(
    fd: int, spans: Sequence[tuple[int, int]], make: Callable[[], Any]
) -> list[bytes]:
    """The raw digest of each span of the file, each from a fresh `make()` (anything with
    update() and digest(): hashlib's, checksums.StreamingChecksum)."""
    out = []
    for start, end in spans:
        h = make()
        pos = start
        while pos < end:
            chunk = os.pread(fd, min(READ_SIZE, end - pos), pos)
            if not chunk:
                break
            h.update(chunk)
            pos += len(chunk)
        out.append(h.digest())
    return out


def _md5_of(fd: int, spans: Sequence[tuple[int, int]]) -> list[str]:
    return [digest.hex() for digest in _digests_of(fd, spans, hashlib.md5)]


def crc_from_disk(
    fd: int, start: int, end: int, buf: bytearray | None = None, algorithm: str = "CRC32"
) -> int:
    """The `algorithm` CRC of bytes [start, end) of the file, read in large blocks into one
    buffer."""
    buf = buf or bytearray(min(READ_SIZE, max(end - start, 1)))
    mv = memoryview(buf)
    check, pos = range_check(algorithm), start
    while pos < end:
        n = os.preadv(fd, [mv[: min(len(buf), end - pos)]], pos)
        if n <= 0:
            raise OSError(f"file ends at {pos}, expected {end} bytes")
        check.update(mv[:n])
        pos += n
    return crc_value(check)
