"""Planning a multipart upload: the part size, the parts' byte ranges, and the fingerprint.

Planning is pure arithmetic (no I/O), so the running of an upload (upload.py) and the
matching of an unfinished one (upload_resume.py) agree on the same layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from orbit_provider.s3.config import (
    DEFAULT_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
    MAX_PARTS,
    MIB,
    MIN_CHUNK_SIZE,
)
from orbit_provider.s3.errors import ConfigError

FINGERPRINT_METADATA_KEY = "orbit-fingerprint"
AUTO_PART_SIZE = 16 * MIB  # the largest part size chosen automatically for large files
AUTO_BUFFER_BUDGET = 64 * MIB  # parallel_operations x part size, when chosen automatically


@dataclass(frozen=True)
class PartPlan:
    """One part: its 1-based number and the byte range [offset, offset + size) of the file."""

    number: int
    offset: int
    size: int


def part_size_for(size: int, chunk_size: int) -> int:
    """`chunk_size`, grown (in whole MiB) just enough that `size` bytes fit in 10,000 parts."""
    needed = math.ceil(size / MAX_PARTS)
    part_size = max(chunk_size, math.ceil(needed / MIB) * MIB)
    if part_size > MAX_CHUNK_SIZE:
        raise ConfigError(
            f"file of {size} bytes is too large for S3: it would need parts larger than "
            f"5 GiB ({MAX_PARTS} parts at most)"
        )
    return part_size


def upload_part_size(size: int, chunk_size: int | None, parallel: int) -> int:
    """The part size an upload of `size` bytes uses (docs/architecture.md, "Part size").

    A chunk_size the user set is used as it is, whatever its value. When none is set
    (None), parts are DEFAULT_CHUNK_SIZE (5 MiB), and a file large enough to give every
    worker at least two parts gets bigger ones, up to 16 MiB and at most 64 MiB of part
    buffers in all: each part costs a request (client CPU), and fewer, larger parts cost
    less. Either way the part grows further to stay within 10,000 parts.
    """
    part_size = chunk_size if chunk_size is not None else DEFAULT_CHUNK_SIZE
    if chunk_size is None and parallel > 0:
        auto = min(AUTO_PART_SIZE, AUTO_BUFFER_BUDGET // parallel // MIB * MIB)
        if auto > part_size and size >= 2 * parallel * auto:
            part_size = auto
    return part_size_for(size, part_size)


def part_buffer_size(part_size: int, chunk_size: int | None, parallel: int) -> int:
    """Bytes of part buffer each upload worker holds: the whole part, unless the part had to
    grow (to fit 10,000 parts) past what the chunk size and the automatic budget allow;
    such parts are streamed from the file in pieces of this size, so memory stays at about
    parallel x max(chunk_size, automatic part size) at any file size."""
    auto = min(AUTO_PART_SIZE, AUTO_BUFFER_BUDGET // max(parallel, 1) // MIB * MIB)
    chunk = chunk_size if chunk_size is not None else DEFAULT_CHUNK_SIZE
    return min(part_size, max(chunk, auto))


def part_count(size: int, part_size: int) -> int:
    """How many parts of `part_size` hold `size` bytes (a 0-byte file still has one part)."""
    return max(1, math.ceil(size / part_size))


def plan_parts(size: int, part_size: int) -> list[PartPlan]:
    """Every part of a `size`-byte file cut into `part_size` pieces (the last one ragged)."""
    return [
        PartPlan(i + 1, offset, min(part_size, size - offset))
        for i, offset in enumerate(range(0, size, part_size))
    ] or [PartPlan(1, 0, 0)]


def expected_part_size(size: int, part_size: int, number: int) -> int | None:
    """Size part `number` must have in this layout, or None if the layout has no such part."""
    count = part_count(size, part_size)
    if not 1 <= number <= count:
        return None
    return min(part_size, size - (number - 1) * part_size)


def usable_part_size(size: int, part_size: int) -> bool:
    """Whether S3 accepts this part size for a file of `size` bytes."""
    if not MIN_CHUNK_SIZE <= part_size <= MAX_CHUNK_SIZE:
        return False
    return part_count(size, part_size) <= MAX_PARTS


@dataclass(frozen=True)
class Fingerprint:
    """What identifies one state of a local file for resuming: size, part size, mtime.

    Recorded in the multipart upload's metadata (`orbit-fingerprint`, so it also ends up on
    the finished object) and in ResumeTokens.
    """

    size: int
    part_size: int
    mtime_ns: int

    def __str__(self) -> str:
        return f"v1:{self.size}:{self.part_size}:{self.mtime_ns}"

    @classmethod
    def parse(cls, text: str) -> Fingerprint:
        try:
            version, size, part_size, mtime_ns = text.split(":")
            if version != "v1":
                raise ValueError(version)
            return cls(int(size), int(part_size), int(mtime_ns))
        except ValueError:
            raise ConfigError(f"fingerprint: {text!r} is not an orbit upload fingerprint") from None
