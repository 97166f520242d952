"""checksums.crc32 (ISA-L's, or zlib's as fallback) against zlib's, the reference."""

from __future__ import annotations

import random
import zlib

import pytest

from orbit_provider.s3.wire import checksums


@pytest.mark.parametrize("size", [0, 1, 63, 4096 + 17, 3 * 1024 * 1024 + 5])
def test_crc32_equals_zlib_for_every_buffer_type_and_running_value(size):
    data = random.Random(size).randbytes(size)
    expected = zlib.crc32(data)
    assert checksums.crc32(data) == expected
    assert checksums.crc32(bytearray(data)) == expected
    assert checksums.crc32(memoryview(data)) == expected
    half = size // 2
    assert checksums.crc32(data[half:], checksums.crc32(data[:half])) == expected
    assert checksums.crc32(memoryview(bytearray(data))[half:], zlib.crc32(data[:half])) == expected
