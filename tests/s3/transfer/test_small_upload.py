"""put_small against SeaweedFS: one PUT with the session's checksum, what the store kept
checked, a file changing while read refused, arguments the lean PUT cannot send refused."""

from __future__ import annotations

import os

import pytest

from orbit_provider.s3.errors import IntegrityError
from orbit_provider.s3.transfer import small_upload
from orbit_provider.s3.transfer.small_http import make_lean
from orbit_provider.s3.transfer.small_upload import put_small


def test_one_put_with_its_checksum(seaweed_client, tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(5000))
    res = put_small(seaweed_client, make_lean(seaweed_client), path, "u/f.bin",
                    {"StorageClass": "STANDARD_IA"})  # fmt: skip
    assert res.size == 5000 and res.checksum and res.etag
    assert seaweed_client.download_bytes("u/f.bin") == path.read_bytes()
    assert seaweed_client.get_metadata("u/f.bin").storage_class == "STANDARD_IA"


def test_a_file_that_changes_while_read_is_not_stored(seaweed_client, tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(b"a" * 100)
    monkeypatch.setattr(small_upload.LocalFile, "changed", lambda self: "size 100 -> 200")
    with pytest.raises(IntegrityError, match="changed during the upload") as info:
        put_small(seaweed_client, make_lean(seaweed_client), path, "u/f.bin", {})
    assert info.value.code == "FileChanged" and not seaweed_client.exists("u/f.bin")


def test_a_store_that_keeps_other_bytes_is_caught(seaweed_client, tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(b"b" * 100)
    lean = make_lean(seaweed_client)
    real_put = lean.put

    def echo_wrong(key, data, args):
        answer = real_put(key, data, args)
        answer["ChecksumCRC32"] = "AAAAAA=="
        return answer

    monkeypatch.setattr(lean, "put", echo_wrong)
    with pytest.raises(IntegrityError, match="the store recorded"):
        put_small(seaweed_client, lean, path, "u/f.bin", {})


def test_write_arguments_the_lean_put_cannot_send_are_refused(seaweed_client, tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"c")
    with pytest.raises(ValueError, match="Metadata"):
        put_small(seaweed_client, make_lean(seaweed_client), path, "u/f", {"Metadata": {}})
