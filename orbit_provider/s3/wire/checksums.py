"""Checksums S3 understands, computed the cheap way: ISA-L's CRC32 (`isal`, about 0.04
CPU-s/GiB), or zlib's, the same polynomial (about 0.3), where no isal wheel exists.

S3 sends checksums base64-encoded big-endian; a multipart object's composite checksum is
the checksum of the concatenated part checksums, suffixed with "-<part count>".
"""

from __future__ import annotations

import base64
import hashlib
import zlib

from awscrt import checksums as _crt

try:  # isal (a runtime dependency): the same CRC32, about 6x less CPU (docs/architecture.md)
    from isal.isal_zlib import crc32 as _crc32
except ImportError:  # pragma: no cover - depends on what is installed
    _crc32 = zlib.crc32


def crc32(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    """Running CRC32 (the same polynomial as S3's ChecksumCRC32)."""
    return _crc32(data, value)


def crc32_b64(value: int) -> str:
    """The base64 form S3 puts in x-amz-checksum-crc32."""
    return base64.b64encode(value.to_bytes(4, "big")).decode("ascii")


#: The CRCs whose values combine: CRC(A+B) from CRC(A), CRC(B) and len(B), in awscrt.
CRC_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME")
_COMBINE = {
    "CRC32": _crt.combine_crc32,
    "CRC32C": _crt.combine_crc32c,
    "CRC64NVME": _crt.combine_crc64nvme,
}


def combine_crc(algorithm: str, crc1: int, crc2: int, len2: int) -> int:
    """The `algorithm` CRC of A+B from crc1 = CRC(A), crc2 = CRC(B) and len2 = len(B).

    Lets parallel range downloads and parallel part uploads get a whole-object CRC without a
    second pass over the bytes.
    """
    if len2 < 0:
        raise ValueError("len2 must not be negative")
    try:
        combine = _COMBINE[algorithm.upper()]
    except KeyError:
        raise ValueError(f"{algorithm!r} is not a CRC S3 uses (one of {CRC_ALGORITHMS})") from None
    return combine(crc1, crc2, len2)


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC32 of A+B from CRC32(A), CRC32(B) and len(B) (combine_crc for CRC32)."""
    return combine_crc("CRC32", crc1, crc2, len2)


def crc_b64(algorithm: str, value: int) -> str:
    """A CRC value in the base64 big-endian form S3 sends (8 bytes for CRC64NVME, else 4)."""
    width = 8 if algorithm.upper() == "CRC64NVME" else 4
    return base64.b64encode(value.to_bytes(width, "big")).decode("ascii")


def combine_parts_b64(algorithm: str, parts: list[tuple[bytes, int]]) -> str:
    """The full-object `algorithm` CRC (base64) of an object from its parts' raw CRC digests
    and sizes, in order: what a FULL_OBJECT multipart upload's object checksum must be."""
    whole = 0
    for digest, size in parts:
        whole = combine_crc(algorithm, whole, int.from_bytes(digest, "big"), size)
    return crc_b64(algorithm, whole)


def param_name(algorithm: str) -> str:
    """The boto3 parameter / response field of an algorithm's checksum: ChecksumCRC32C..."""
    return f"Checksum{algorithm.upper()}"


def header_name(algorithm: str) -> str:
    """The HTTP header of an algorithm's checksum: x-amz-checksum-crc32c..."""
    return f"x-amz-checksum-{algorithm.lower()}"


def composite_crc32(part_checksums_b64: list[str]) -> str:
    """S3's checksum of a multipart object built from its parts' CRC32s: 'xxxx==-N'."""
    return composite_b64("CRC32", [base64.b64decode(c) for c in part_checksums_b64])


def md5_hex(data: bytes | bytearray | memoryview) -> str:
    return hashlib.md5(data).hexdigest()


def b64_of_hex(digest_hex: str) -> str:
    """A hex digest in the base64 form headers use (Content-MD5 from an MD5 we already have)."""
    return base64.b64encode(bytes.fromhex(digest_hex)).decode("ascii")


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


#: The flexible checksums other than CRC32, in the order an object's is looked for.
OTHER_ALGORITHMS = ("CRC64NVME", "CRC32C", "SHA256", "SHA1")


class StreamingChecksum:
    """Any checksum S3 keeps (CRC32, CRC32C, CRC64NVME, SHA1, SHA256), fed piece by piece;
    `b64()` is the value as S3 sends it. CRC32C and CRC64NVME come from AWS's common runtime
    (`awscrt`, what botocore itself uses for them)."""

    _CRCS = {"CRC32": (crc32, 4), "CRC32C": (_crt.crc32c, 4), "CRC64NVME": (_crt.crc64nvme, 8)}

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm.upper()
        self._hash = None
        if self.algorithm in self._CRCS:
            self._crc, self._width = self._CRCS[self.algorithm]
            self._value = 0
        elif self.algorithm in ("SHA1", "SHA256"):
            self._hash = hashlib.new(self.algorithm.lower())
        else:
            raise ValueError(f"checksum algorithm {algorithm!r} is not one S3 uses")

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self._hash is not None:
            self._hash.update(data)
        else:
            self._value = self._crc(data, self._value)

    def digest(self) -> bytes:
        if self._hash is not None:
            return self._hash.digest()
        return self._value.to_bytes(self._width, "big")

    def b64(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")


def checksum_b64(algorithm: str, data: bytes | bytearray | memoryview) -> str:
    """The `algorithm` checksum of `data`, as S3 sends it."""
    check = StreamingChecksum(algorithm)
    check.update(data)
    return check.b64()


def composite_b64(algorithm: str, part_digests: list[bytes]) -> str:
    """S3's composite checksum of a multipart object from its parts' raw digests: the
    checksum of their concatenation, then '-<part count>'."""
    return f"{checksum_b64(algorithm, b''.join(part_digests))}-{len(part_digests)}"


def verify_full_object(data: bytes, response: dict) -> str | None:
    """Check `data` against a full-object checksum in a GetObject/HeadObject response.

    Returns a description of the mismatch, or None when the data matches or no full-object
    checksum was returned. Composite (multipart) checksums are skipped here.
    """
    for algorithm in ("CRC32", *OTHER_ALGORITHMS):
        expected = response.get(f"Checksum{algorithm}")
        if expected and "-" not in expected:
            actual = checksum_b64(algorithm, data)
            return None if actual == expected else f"{algorithm} {actual} != {expected}"
    return None
