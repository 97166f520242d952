"""upload_io.LocalFile: positional reads and the piecewise digest used for streamed parts and
resume checks."""

from __future__ import annotations

import hashlib
import os
import zlib

import pytest

from orbit_provider.s3.errors import IntegrityError
from orbit_provider.s3.transfer.upload_io import LocalFile


@pytest.mark.parametrize("piece", [1, 4096, 1000 * 1000 + 7, None])
def test_digest_in_pieces_equals_the_whole(tmp_path, piece):
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "f"
    path.write_bytes(data)
    offset, size = 12345, 2 * 1024 * 1024 + 3
    if piece == 1:  # a tiny slice of the file, byte by byte
        size = 50
    buf = None if piece is None else memoryview(bytearray(piece))
    with LocalFile(path) as local:
        values, md5 = local.digests(offset, size, buf, md5=True)
        crc_only = local.digests(offset, size, buf)
    part = data[offset : offset + size]
    assert values == {"CRC32": zlib.crc32(part).to_bytes(4, "big")}
    assert md5 == hashlib.md5(part).hexdigest()
    assert crc_only == (values, None)


def test_digest_of_a_range_past_the_end_says_the_file_shrank(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    with LocalFile(path) as local, pytest.raises(IntegrityError, match="shrank"):
        local.digests(50, 100)


def test_digests_of_several_algorithms_in_one_read(tmp_path):
    from orbit_provider.s3.wire import checksums

    data = os.urandom(1024 * 1024 + 5)
    path = tmp_path / "f"
    path.write_bytes(data)
    names = ("CRC32", "CRC32C", "CRC64NVME", "SHA256")
    with LocalFile(path) as local:
        values, md5 = local.digests(7, len(data) - 7, memoryview(bytearray(4096)),
                                    algorithms=names, md5=True)  # fmt: skip
    part = data[7:]
    for name in names:
        assert checksums.StreamingChecksum(name).algorithm == name
        check = checksums.StreamingChecksum(name)
        check.update(part)
        assert values[name] == check.digest(), name
    assert md5 == hashlib.md5(part).hexdigest()
