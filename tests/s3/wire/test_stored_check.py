"""stored_check.check_stored: the store's echoed CRC32, else its MD5 ETag, against ours."""

from __future__ import annotations

import logging

import pytest

from orbit_provider.s3.errors import IntegrityError
from orbit_provider.s3.wire.stored_check import check_stored

MD5 = "0123456789abcdef0123456789abcdef"


def check(resp: dict, sent: str | None = "AAAAAA==", ours: str = MD5) -> bool:
    return check_stored("b", "k", sent, resp, "part 1", lambda: ours)


def test_an_echoed_crc_that_matches_is_acknowledged():
    assert check({"ChecksumCRC32": "AAAAAA==", "ETag": '"whatever"'}) is True


def test_an_echoed_crc_that_differs_raises():
    with pytest.raises(IntegrityError, match="recorded CRC32 BBBBBB==, we sent AAAAAA=="):
        check({"ChecksumCRC32": "BBBBBB==", "ETag": f'"{MD5}"'})


def test_without_an_echo_the_md5_etag_decides():
    assert check({"ETag": f'"{MD5}"'}) is False  # checked, but the store ignores CRC32
    with pytest.raises(IntegrityError, match="is not the MD5 of the bytes we sent"):
        check({"ETag": f'"{MD5}"'}, ours="f" * 32)


def test_without_an_echo_or_md5_etag_only_a_warning(caplog):
    caplog.set_level(logging.WARNING, logger="orbit_provider")
    assert check({"ETag": '"kms-style-etag-not-md5"'}) is False
    assert "only the size can be checked" in caplog.text


def test_the_warning_can_be_left_out(caplog):
    caplog.set_level(logging.WARNING, logger="orbit_provider")
    resp = {"ETag": '"kms-style-etag-not-md5"'}
    assert check_stored("b", "k", "AAAAAA==", resp, "part 2", lambda: MD5, warn=False) is False
    assert caplog.text == ""


def test_nothing_sent_nothing_to_check():
    def never() -> str:
        raise AssertionError("MD5 computed without need")

    assert check_stored("b", "k", None, {"ETag": '"x"'}, "PutObject", never) is True


def test_the_echo_of_the_algorithm_sent_is_compared():
    sha = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    resp = {"ChecksumSHA256": sha, "ChecksumCRC32": "BBBBBB==", "ETag": '"x"'}
    assert check_stored("b", "k", sha, resp, "part 1", lambda: MD5, algorithm="SHA256") is True
    with pytest.raises(IntegrityError, match="recorded CRC64NVME AAAAAAAAAAE=, we sent"):
        check_stored("b", "k", "AAAAAAAAAAA=", {"ChecksumCRC64NVME": "AAAAAAAAAAE="},
                     "part 1", lambda: MD5, algorithm="CRC64NVME")  # fmt: skip
    # an echo of another algorithm is not ours: the MD5 ETag decides
    assert check({"ChecksumCRC32C": "AAAAAA==", "ETag": f'"{MD5}"'}) is False
