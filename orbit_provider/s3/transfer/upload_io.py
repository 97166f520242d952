"""Local side of an upload: the source file (checked, read by offset) and a throttled body.

Parts sent over plain HTTP are read with `os.preadv` into a buffer each worker thread
allocates once and reuses, and sent from it (part_put.py): no allocation or copy per part.
A part larger than that buffer (a file so large that 10,000 parts of the usual size do not
hold it) is read twice in buffer-sized pieces, once for its checksum and once to send, so
memory stays bounded at any file size. The botocore path reads one `bytes` object per part
(moto's in-process mock rejects `bytearray` bodies).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from orbit_provider.s3.errors import ConfigError, IntegrityError
from orbit_provider.s3.wire import checksums

DIGEST_PIECE = 8 * 1024 * 1024  # resume checks read a listed part in pieces of this size


class LocalFile:
    """An open, regular, readable file whose size and mtime were taken when it was opened."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise ConfigError(f"path: {str(self.path)!r} does not exist") from None
        except OSError as exc:
            raise ConfigError(f"path: {str(self.path)!r} cannot be read: {exc.strerror}") from None
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError(f"path: {str(self.path)!r} is a directory, not a file")
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"path: {str(self.path)!r} is not a regular file")
        try:
            self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise ConfigError(f"path: {str(self.path)!r} cannot be read: {exc.strerror}") from None
        st = os.fstat(self._fd)
        self.size = st.st_size
        self.mtime_ns = st.st_mtime_ns

    def __enter__(self) -> LocalFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def read(self, offset: int, size: int) -> bytes:
        """Exactly `size` bytes from `offset` (thread-safe: positional reads, no shared seek)."""
        data = os.pread(self._fd, size, offset)
        if len(data) < size:  # rare: a short read; go on until done or the file ended
            pieces = [data]
            got = len(data)
            while got < size:
                more = os.pread(self._fd, size - got, offset + got)
                if not more:
                    raise IntegrityError(
                        f"{self.path}: file shrank while being uploaded (expected {size} bytes "
                        f"at offset {offset}, got {got})",
                        code="FileChanged",
                    )
                pieces.append(more)
                got += len(more)
            data = b"".join(pieces)
        return data

    def read_into(self, view: memoryview, offset: int) -> memoryview:
        """Fill `view` with the bytes at `offset` (positional, thread-safe); returns `view`."""
        if not hasattr(os, "preadv"):  # not on every platform
            view[:] = self.read(offset, len(view))
            return view
        got = 0
        while got < len(view):
            n = os.preadv(self._fd, [view[got:]], offset + got)
            if n == 0:
                raise IntegrityError(
                    f"{self.path}: file shrank while being uploaded (expected {len(view)} "
                    f"bytes at offset {offset}, got {got})",
                    code="FileChanged",
                )
            got += n
        return view

    def digests(
        self,
        offset: int,
        size: int,
        buf: memoryview | None = None,
        *,
        algorithms: tuple[str, ...] = ("CRC32",),
        md5: bool = False,
    ) -> tuple[dict[str, bytes], str | None]:
        """The raw `algorithms` checksums (and, if asked, MD5 hex) of `size` bytes at
        `offset`, in one read in pieces of len(`buf`) (default: DIGEST_PIECE bytes) so
        memory does not grow with the range."""
        if buf is None:
            buf = memoryview(bytearray(max(1, min(size, DIGEST_PIECE))))
        running = {name: checksums.StreamingChecksum(name) for name in algorithms}
        hasher = hashlib.md5() if md5 else None
        for piece in FileSpan(self, offset, size).pieces(buf):
            for check in running.values():
                check.update(piece)
            if hasher is not None:
                hasher.update(piece)
        digests = {name: check.digest() for name, check in running.items()}
        return digests, (hasher.hexdigest() if hasher is not None else None)

    def changed(self) -> str | None:
        """How the file differs from when it was opened (size or mtime), or None."""
        try:
            st = os.stat(self.path)
        except OSError as exc:
            return f"it can no longer be read ({exc.strerror})"
        if st.st_size != self.size:
            return f"its size changed from {self.size} to {st.st_size} bytes"
        if st.st_mtime_ns != self.mtime_ns:
            return "it was modified (mtime changed)"
        return None


@dataclass(frozen=True)
class FileSpan:
    """`size` bytes of a local file from `offset`: a part too large to hold whole."""

    local: LocalFile
    offset: int
    size: int

    def pieces(self, buf: memoryview) -> Iterator[memoryview]:
        """The bytes read into `buf` a piece at a time (a piece is valid until the next)."""
        pos = 0
        while pos < self.size:
            want = min(len(buf), self.size - pos)
            yield self.local.read_into(buf[:want], self.offset + pos)
            pos += want

    def read(self) -> bytes:
        """All of it at once."""
        return self.local.read(self.offset, self.size)
