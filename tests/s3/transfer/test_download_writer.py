"""download_writer: O_DIRECT writes of unaligned ranges from many threads land byte for byte;
the page-cache writer is used wherever O_DIRECT is not allowed, not worth it or refused."""

from __future__ import annotations

import errno
import os
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from orbit_provider.s3.transfer import download_writer as dw
from orbit_provider.s3.transfer.download_writer import (
    BLOCK,
    BufferedWriter,
    DirectWriter,
    open_writer,
)

needs_o_direct = pytest.mark.skipif(not hasattr(os, "O_DIRECT"), reason="no O_DIRECT on this OS")


def new_file(path: Path, size: int) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.ftruncate(fd, size)
    return fd


def direct_writer(path: Path, size: int, monkeypatch) -> tuple[int, DirectWriter]:
    monkeypatch.setattr(dw, "DIRECT_IO_MIN_SIZE", 0)
    fd = new_file(path, size)
    writer = open_writer(path, fd, size, allow_direct=True)
    if not isinstance(writer, DirectWriter):
        os.close(fd)
        pytest.skip(f"the filesystem of {path} refuses O_DIRECT")
    return fd, writer


def write_range(writer, data: bytes, start: int, end: int, buf_size: int) -> None:
    """What a download worker does: receive the next_length() bytes into the writer's
    buffer, hand them to write()."""
    buf = writer.buffer(buf_size)
    pos = start
    while pos < end:
        n = writer.next_length(pos, end, len(buf))
        assert 0 < n <= len(buf)
        buf[:n] = data[pos : pos + n]
        writer.write(pos, buf[:n])
        pos += n


def cuts_for(size: int, rng: random.Random) -> list[tuple[int, int]]:
    """Ranges with every awkward boundary: unaligned, inside one block, a block apart."""
    points = {0, size, BLOCK, 3 * BLOCK + 1, 3 * BLOCK + 7, 5 * BLOCK - 1, 5 * BLOCK + 1}
    points.update(rng.randrange(size) for _ in range(40))
    bounds = sorted(p for p in points if 0 <= p <= size)
    return list(zip(bounds, bounds[1:], strict=False))


@needs_o_direct
@pytest.mark.parametrize("size", [3 * 1024 * 1024 + 4097, 2 * 1024 * 1024])
def test_parallel_unaligned_ranges_land_byte_for_byte(tmp_path, monkeypatch, size):
    rng = random.Random(size)
    data = os.urandom(size)
    path = tmp_path / "out"
    fd, writer = direct_writer(path, size, monkeypatch)
    ranges = cuts_for(size, rng)
    rng.shuffle(ranges)
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda r: write_range(writer, data, *r, 64 * 1024 + 123), ranges))
    finally:
        writer.close()
        os.close(fd)
    assert path.stat().st_size == size  # the whole last block was written, then cut back
    assert path.read_bytes() == data


@needs_o_direct
def test_a_range_inside_one_block_and_across_two(tmp_path, monkeypatch):
    size = 4 * BLOCK
    data = os.urandom(size)
    path = tmp_path / "out"
    fd, writer = direct_writer(path, size, monkeypatch)
    try:
        for start, end in [(0, 10), (10, BLOCK - 5), (BLOCK - 5, BLOCK + 5), (BLOCK + 5, size)]:
            write_range(writer, data, start, end, BLOCK)
    finally:
        writer.close()
        os.close(fd)
    assert path.read_bytes() == data


@needs_o_direct
def test_edges_keep_bytes_already_on_disk(tmp_path, monkeypatch):
    """A resumed download writes next to bytes of an earlier try: the read-modify-write of a
    shared block must keep them."""
    size = 2 * BLOCK + 100
    old = os.urandom(size)
    path = tmp_path / "out"
    path.write_bytes(old)
    monkeypatch.setattr(dw, "DIRECT_IO_MIN_SIZE", 0)
    fd = os.open(path, os.O_RDWR)
    writer = open_writer(path, fd, size, allow_direct=True)
    if not isinstance(writer, DirectWriter):
        os.close(fd)
        pytest.skip("the filesystem refuses O_DIRECT")
    new = os.urandom(size)
    try:
        write_range(writer, new, BLOCK + 10, 2 * BLOCK + 50, BLOCK)
    finally:
        writer.close()
        os.close(fd)
    expected = old[: BLOCK + 10] + new[BLOCK + 10 : 2 * BLOCK + 50] + old[2 * BLOCK + 50 :]
    assert path.read_bytes() == expected


@needs_o_direct
def test_buffers_are_whole_blocks(tmp_path, monkeypatch):
    fd, writer = direct_writer(tmp_path / "out", BLOCK * 10, monkeypatch)
    try:
        assert len(writer.buffer(3 * BLOCK + 100)) == 3 * BLOCK
        assert len(writer.buffer(100)) == BLOCK
    finally:
        writer.close()
        os.close(fd)


def test_small_files_and_opt_out_use_the_page_cache(tmp_path):
    path = tmp_path / "out"
    fd = new_file(path, 10)
    try:
        assert isinstance(open_writer(path, fd, dw.DIRECT_IO_MIN_SIZE - 1, True), BufferedWriter)
        assert isinstance(open_writer(path, fd, dw.DIRECT_IO_MIN_SIZE, False), BufferedWriter)
    finally:
        os.close(fd)


@needs_o_direct
def test_a_filesystem_that_refuses_o_direct_falls_back(tmp_path, monkeypatch):
    monkeypatch.setattr(dw, "DIRECT_IO_MIN_SIZE", 0)
    real_open = os.open

    def refuse_direct(path, flags, *args):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)

    path = tmp_path / "out"
    size = 3 * BLOCK + 1
    fd = new_file(path, size)
    monkeypatch.setattr(dw.os, "open", refuse_direct)
    data = os.urandom(size)
    try:
        writer = open_writer(path, fd, size, allow_direct=True)
        assert isinstance(writer, BufferedWriter)
        write_range(writer, data, 0, size, 1000)
        writer.close()
    finally:
        os.close(fd)
    assert path.read_bytes() == data


@needs_o_direct
def test_an_alignment_the_device_refuses_falls_back(tmp_path, monkeypatch):
    monkeypatch.setattr(dw, "DIRECT_IO_MIN_SIZE", 0)

    def refuse(*_args):
        raise OSError(errno.EINVAL, "Invalid argument")

    path = tmp_path / "out"
    fd = new_file(path, BLOCK)
    monkeypatch.setattr(dw.os, "preadv", refuse)
    try:
        assert isinstance(open_writer(path, fd, BLOCK, allow_direct=True), BufferedWriter)
    finally:
        os.close(fd)
