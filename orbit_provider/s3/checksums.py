"""Checksums S3 understands, computed the cheap way (zlib CRC32: about 0.3 CPU-s/GiB).

S3 sends checksums base64-encoded big-endian; a multipart object's composite checksum is
the checksum of the concatenated part checksums, suffixed with "-<part count>".
"""

from __future__ import annotations

import base64
import hashlib
import zlib


def crc32(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    """Running CRC32 (the same polynomial as S3's ChecksumCRC32)."""
    return zlib.crc32(data, value)


def crc32_b64(value: int) -> str:
    """The base64 form S3 puts in x-amz-checksum-crc32."""
    return base64.b64encode(value.to_bytes(4, "big")).decode("ascii")


def crc32_from_b64(text: str) -> int:
    return int.from_bytes(base64.b64decode(text), "big")


def composite_crc32(part_checksums_b64: list[str]) -> str:
    """S3's checksum of a multipart object built from its parts' CRC32s: 'xxxx==-N'."""
    raw = b"".join(base64.b64decode(c) for c in part_checksums_b64)
    return f"{crc32_b64(zlib.crc32(raw))}-{len(part_checksums_b64)}"


def md5_b64(data: bytes | bytearray | memoryview) -> str:
    """Content-MD5 header value."""
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def md5_hex(data: bytes | bytearray | memoryview) -> str:
    return hashlib.md5(data).hexdigest()


def multipart_etag(part_md5_hex: list[str]) -> str:
    """The ETag S3 gives a multipart upload: md5 of the part md5s, '-N'."""
    raw = b"".join(bytes.fromhex(h) for h in part_md5_hex)
    return f"{hashlib.md5(raw).hexdigest()}-{len(part_md5_hex)}"


def plain_etag(etag: str | None) -> str | None:
    """The ETag without quotes, or None."""
    return etag.strip('"') if etag else None


def is_md5_etag(etag: str | None) -> bool:
    """Whether an ETag is the plain MD5 of the content (single-part, not SSE-KMS/SSE-C)."""
    e = plain_etag(etag)
    return bool(e) and len(e) == 32 and "-" not in e and all(c in "0123456789abcdef" for c in e)


_HASHES = {"ChecksumSHA256": "sha256", "ChecksumSHA1": "sha1"}


def verify_full_object(data: bytes, response: dict) -> str | None:
    """Check `data` against a full-object checksum in a GetObject/HeadObject response.

    Returns a description of the mismatch, or None when the data matches or no full-object
    checksum we can compute was returned. Composite (multipart) checksums are skipped here.
    """
    crc = response.get("ChecksumCRC32")
    if crc and "-" not in crc:
        actual = crc32_b64(zlib.crc32(data))
        return None if actual == crc else f"CRC32 {actual} != {crc}"
    for field, algo in _HASHES.items():
        expected = response.get(field)
        if expected and "-" not in expected:
            actual = base64.b64encode(hashlib.new(algo, data).digest()).decode("ascii")
            return None if actual == expected else f"{algo} {actual} != {expected}"
    return None
