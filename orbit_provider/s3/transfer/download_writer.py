"""How downloaded bytes reach the temporary file: O_DIRECT for large files, pwrite otherwise.

Writing a large download through the page cache costs this machine 1-2 kernel CPU-s/GiB
(fresh page-cache pages, then an fsync that writes the whole file at the end) and halves
the throughput; O_DIRECT writes go from our buffer to the device for about 0.1 CPU-s/GiB
and the final fsync has nothing left to write (docs/architecture.md has the measurements).

O_DIRECT needs block-aligned offsets, lengths and buffers. `DirectWriter` writes each
range's aligned interior straight from a page-aligned buffer and the unaligned edges
(where two ranges, or the end of the file, share a block) by read-modify-write of that one
block under a lock, so two threads never write the same block. `BufferedWriter` is the
fallback where O_DIRECT is unavailable (other OSes, tmpfs on old kernels) or not worth it.
"""

from __future__ import annotations

import errno
import logging
import mmap
import os
import threading
from pathlib import Path

log = logging.getLogger("orbit_provider.s3.transfer.download")

BLOCK = 4096  # O_DIRECT alignment: the page size, a multiple of every common sector size
DIRECT_IO_MIN_SIZE = 32 * 1024 * 1024  # smaller files are cheaper through the page cache


class BufferedWriter:
    """pwrite through the page cache, one writer at a time.

    Parallel buffered writes to one file contend on its inode lock, where the kernel spins
    and burns CPU; a Python lock sleeps instead."""

    direct = False

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._lock = threading.Lock()

    def buffer(self, size: int) -> memoryview:
        return memoryview(bytearray(size))

    def next_length(self, pos: int, end: int, buf_size: int) -> int:
        """How many bytes the caller should receive before calling write(pos, ...)."""
        return min(buf_size, end - pos)

    def write(self, pos: int, data: memoryview) -> None:
        with self._lock:
            pwrite_all(self.fd, data, pos)

    def close(self) -> None:
        pass


class DirectWriter:
    """O_DIRECT writes on a second descriptor of the file; see the module docstring."""

    direct = True

    def __init__(self, fd: int, direct_fd: int, size: int) -> None:
        self.fd = fd
        self.direct_fd = direct_fd
        self.size = size
        self._edge_lock = threading.Lock()
        self._scratch = mmap.mmap(-1, BLOCK)  # page-aligned, used only under _edge_lock
        self._buffers: list[mmap.mmap] = []
        self._buffers_lock = threading.Lock()

    def buffer(self, size: int) -> memoryview:
        """A page-aligned buffer of `size` rounded down to whole blocks (at least one)."""
        m = mmap.mmap(-1, max(BLOCK, size - size % BLOCK))
        with self._buffers_lock:
            self._buffers.append(m)
        return memoryview(m)

    def next_length(self, pos: int, end: int, buf_size: int) -> int:
        """Up to the next block boundary when `pos` is unaligned, so that every later chunk
        of the range starts aligned; otherwise a whole buffer."""
        if pos % BLOCK:
            return min(BLOCK - pos % BLOCK, end - pos)
        return min(buf_size, end - pos)

    def write(self, pos: int, data: memoryview) -> None:
        """Write `data` (received into a buffer from `buffer()`) at `pos`."""
        n = len(data)
        aligned = 0 if pos % BLOCK else n - n % BLOCK
        if aligned:
            pwrite_all(self.direct_fd, data[:aligned], pos)
        if aligned < n:
            self._write_edge(pos + aligned, data[aligned:])

    def _write_edge(self, pos: int, data: memoryview) -> None:
        """Read-modify-write of the blocks that hold `data`, which another range (or the end
        of the file) shares: under one lock, so no two threads rewrite a block at once."""
        with self._edge_lock:
            done = 0
            while done < len(data):
                at = pos + done
                block_start = at - at % BLOCK
                take = min(len(data) - done, block_start + BLOCK - at)
                with memoryview(self._scratch) as scratch:
                    got = os.preadv(self.direct_fd, [scratch], block_start)
                    if got < BLOCK:
                        scratch[got:] = bytes(BLOCK - got)  # past the end of the file
                    offset = at - block_start
                    scratch[offset : offset + take] = data[done : done + take]
                    pwrite_all(self.direct_fd, scratch, block_start)
                done += take

    def close(self) -> None:
        """Cut the file back to its size (the last block was written whole), release."""
        try:
            os.ftruncate(self.fd, self.size)
        finally:
            os.close(self.direct_fd)
            with self._buffers_lock:
                buffers, self._buffers = self._buffers, []
            for m in buffers:
                try:
                    m.close()
                except BufferError:  # a view is still alive somewhere; the GC frees it
                    pass
            self._scratch.close()


def open_writer(
    path: Path, fd: int, size: int, allow_direct: bool
) -> BufferedWriter | DirectWriter:
    """A DirectWriter when allowed, the file is large and the OS and filesystem accept
    O_DIRECT with our alignment; a BufferedWriter otherwise."""
    if not allow_direct or size < DIRECT_IO_MIN_SIZE or not hasattr(os, "O_DIRECT"):
        return BufferedWriter(fd)
    try:
        direct_fd = os.open(path, os.O_RDWR | os.O_DIRECT)
    except OSError as exc:
        log.debug("O_DIRECT not available for %s (%s): writing through the page cache", path, exc)
        return BufferedWriter(fd)
    probe = mmap.mmap(-1, BLOCK)
    view = memoryview(probe)
    try:
        os.preadv(direct_fd, [view], 0)  # the same alignment rules as writes
    except OSError as exc:
        os.close(direct_fd)
        if exc.errno != errno.EINVAL:
            raise
        log.debug("O_DIRECT needs another alignment for %s: writing through the page cache", path)
        return BufferedWriter(fd)
    finally:
        view.release()
        probe.close()
    return DirectWriter(fd, direct_fd, size)


def pwrite_all(fd: int, data: memoryview, pos: int) -> None:
    """Write all of `data` at `pos` (pwrite may write less than asked)."""
    written = os.pwrite(fd, data, pos)
    while written < len(data):
        written += os.pwrite(fd, data[written:], pos + written)
