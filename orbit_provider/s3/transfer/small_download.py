"""The short path for small objects of a tree download: one GET, straight to a temp file.

A small object needs none of what makes large downloads resumable: no HEAD (the GET's answer
carries size, ETag and checksum), no state record, no writer thread, no ranges. Its bytes go
into `.<name>.orbit-small` beside the destination while their checksum is computed on the
way; a verified temp file is handed to a `DurableBatch`, which makes many of them durable at
once (one `syncfs` per batch on Linux instead of an fsync per file) before renaming them into
place and syncing each folder once. The destination never holds a partial or unsynced file.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orbit_provider.s3.errors import IntegrityError, LocalWriteError, Network, S3Error
from orbit_provider.s3.models import _version
from orbit_provider.s3.transfer.download_writer import BLOCK, pwrite_all
from orbit_provider.s3.transfer.paths import fsync_path
from orbit_provider.s3.wire.checksums import OTHER_ALGORITHMS, StreamingChecksum, plain_etag
from orbit_provider.s3.wire.ratelimit import TokenBucket

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session
    from orbit_provider.s3.transfer.small_http import LeanObjects

log = logging.getLogger("orbit_provider.s3.transfer.download")

SMALL_SUFFIX = ".orbit-small"
#: objects from this size on are written with O_DIRECT where the OS allows (see
#: download_writer.py: page-cache writes cost this machine several times more kernel CPU)
DIRECT_MIN_SIZE = 1024 * 1024
_MD5_RE = re.compile(r"^[0-9a-f]{32}$")


def small_temp(dest: Path) -> Path:
    """The temporary file of a short-path download of `dest` (hidden, beside it)."""
    return dest.with_name(f".{dest.name}{SMALL_SUFFIX}")


@dataclass(frozen=True)
class SmallFetch:
    """A verified temporary file waiting to be made durable and renamed onto `dest`."""

    key: str
    temp: Path
    dest: Path
    size: int
    etag: str | None
    version_id: str | None
    verification: str


class NeedsLargePath(S3Error):
    """The object turned out not to suit the short path (composite checksum, larger than
    expected): the caller downloads it with download_file instead. Never retried."""

    code = "NeedsLargePath"


def _check_for(resp: dict) -> tuple[str, Any, str | None]:
    """(verification name, streaming checker, expected value) from a GetObject answer."""
    for algorithm in ("CRC32", *OTHER_ALGORITHMS):
        value = resp.get(f"Checksum{algorithm}")
        if value:
            if "-" in value:
                raise NeedsLargePath(f"composite {algorithm} checksum")
            return algorithm.lower(), StreamingChecksum(algorithm), value
    etag = plain_etag(resp.get("ETag")) or ""
    encrypted = resp.get("ServerSideEncryption") == "aws:kms" or resp.get("SSECustomerAlgorithm")
    if _MD5_RE.match(etag) and not encrypted:
        return "md5", hashlib.md5(), etag
    return "size", None, None


def _digest(checker: Any, verification: str) -> str:
    return checker.hexdigest() if verification == "md5" else checker.b64()


def fetch_small(
    session: S3Session,
    key: str,
    dest: Path,
    *,
    max_size: int,
    buffer: memoryview,
    limiter: TokenBucket | None = None,
    version_id: str | None = None,
    lean: LeanObjects | None = None,
) -> SmallFetch:
    """GET `key` into its temp file beside `dest`, verified; raises NeedsLargePath when the
    object is larger than `max_size` or only checkable part by part. `lean`: send the GET
    over plain HTTP (small_http.py) instead of botocore."""
    config = session.config
    params: dict[str, Any] = {"Bucket": session.bucket, "Key": key}
    if version_id:
        params["VersionId"] = version_id
    if config.verify_checksums:
        params["ChecksumMode"] = "ENABLED"
    outcome: list[SmallFetch] = []

    def attempt() -> None:
        receiving = _Receiving(session, key, dest, max_size, limiter)
        try:
            if lean is not None:
                got = lean.get(
                    key, buffer, receiving.answer, receiving.write,
                    version_id=version_id, checksum_mode=config.verify_checksums,
                )  # fmt: skip
            else:
                resp = session.s3.get_object(**params)
                body = resp["Body"]
                try:
                    receiving.answer(resp)
                    got = _pump(body, buffer, receiving.write)
                finally:
                    body.close()
        finally:
            receiving.close()
        outcome.append(receiving.finish(got))

    try:
        session.retry(attempt, key=key)
    except BaseException:
        _remove(small_temp(dest))
        raise
    return outcome[-1]


class _Receiving:
    """One attempt at one small object: the answer's checks, the temp file, the checksum."""

    def __init__(
        self, session: S3Session, key: str, dest: Path, max_size: int,
        limiter: TokenBucket | None,
    ) -> None:  # fmt: skip
        self.session, self.key, self.dest = session, key, dest
        self.temp = small_temp(dest)
        self.max_size, self.limiter = max_size, limiter
        self.fd = -1
        self.direct_fd = -1  # an O_DIRECT descriptor of the temp file, for aligned chunks
        self.pos = 0
        self.resp: dict[str, Any] = {}
        self.checker: Any = None
        self.verification, self.expected = "size", None

    def answer(self, resp: dict[str, Any]) -> None:
        """The answer's headers: refuse what does not suit this path, open the temp file."""
        self.resp = resp
        size = int(resp.get("ContentLength", 0))
        if size > self.max_size:
            raise NeedsLargePath(f"{size} bytes")
        config = self.session.config
        if config.verify_checksums:
            self.verification, self.checker, self.expected = _check_for(resp)
            if self.verification == "size":
                _unverifiable(self.session, self.key, self.dest, config.require_verification)
        try:
            self.fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        except OSError as exc:
            raise _write_error(self.temp, self.key, exc) from exc
        if size >= DIRECT_MIN_SIZE and hasattr(os, "O_DIRECT"):
            try:
                self.direct_fd = os.open(self.temp, os.O_WRONLY | os.O_DIRECT)
            except OSError:
                self.direct_fd = -1  # not on this filesystem: through the page cache

    def write(self, chunk: memoryview) -> None:
        """Checksum and write one received chunk: whole aligned blocks (from a page-aligned
        buffer) go with O_DIRECT when open, anything else through the page cache."""
        if self.limiter is not None:
            self.limiter.acquire(len(chunk))
        if self.checker is not None:
            self.checker.update(chunk)
        n = len(chunk)
        try:
            if self.direct_fd >= 0 and not (self.pos | n) % BLOCK and _aligned(chunk):
                try:
                    pwrite_all(self.direct_fd, chunk, self.pos)
                except OSError as exc:
                    if exc.errno != errno.EINVAL:
                        raise
                    os.close(self.direct_fd)  # refused after all: the page cache from now
                    self.direct_fd = -1
                    pwrite_all(self.fd, chunk, self.pos)
            else:
                pwrite_all(self.fd, chunk, self.pos)
        except OSError as exc:
            raise _write_error(self.temp, self.key, exc) from exc
        self.pos += n

    def close(self) -> None:
        if self.direct_fd >= 0:
            os.close(self.direct_fd)
            self.direct_fd = -1
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def finish(self, got: int) -> SmallFetch:
        where = f"s3://{self.session.bucket}/{self.key}"
        size = int(self.resp.get("ContentLength", 0))
        if got != size:
            raise Network(f"{where}: got {got} of {size} bytes", bucket=self.session.bucket,
                          key=self.key)  # fmt: skip
        if self.checker is not None:
            actual = _digest(self.checker, self.verification)
            if actual != self.expected:
                raise IntegrityError(
                    f"{where}: downloaded bytes do not match the object: "
                    f"{self.verification.upper()} {actual} != {self.expected}; nothing was "
                    f"written to {str(self.dest)!r}",
                    bucket=self.session.bucket,
                    key=self.key,
                )
        return SmallFetch(
            self.key, self.temp, self.dest, size, plain_etag(self.resp.get("ETag")),
            _version(self.resp.get("VersionId")), self.verification,
        )  # fmt: skip


def _unverifiable(session: S3Session, key: str, dest: Path, required: bool) -> None:
    where = f"s3://{session.bucket}/{key}"
    why = "the store reports no checksum of it and its ETag is not a usable MD5"
    if required:
        raise IntegrityError(
            f"{where} cannot be verified: {why}; require_verification is set, so nothing "
            f"was downloaded to {str(dest)!r}",
            bucket=session.bucket,
            key=key,
        )
    log.warning("%s: only its size can be checked: %s", where, why)


def _pump(body: Any, buffer: memoryview, write: Any) -> int:
    """Copy a botocore response body through `write`, piece by piece into `buffer`."""
    raw = getattr(body, "_raw_stream", None)  # urllib3's response: straight into our buffer
    total = 0
    while True:
        if raw is not None:
            n = raw.readinto(buffer)
            chunk = buffer[:n]
        else:
            data = body.read(len(buffer))
            n, chunk = len(data), memoryview(data)
        if not n:
            return total
        write(chunk)
        total += n


def _aligned(chunk: memoryview) -> bool:
    """Whether `chunk` starts on a page boundary (O_DIRECT needs it)."""
    if chunk.readonly or not chunk.c_contiguous:
        return False
    return ctypes.addressof(ctypes.c_char.from_buffer(chunk)) % BLOCK == 0


def _write_error(temp: Path, key: str, exc: OSError) -> S3Error:
    """A local write failure: not retryable, and it names the folder."""
    return LocalWriteError(
        f"{temp.parent}: cannot write the download of {key!r}: {exc.strerror or exc}",
        key=key,
    )


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# -- durability ------------------------------------------------------------------------------

_libc = None


def _syncfs(fd: int) -> bool:
    """Linux syncfs(2): flush every dirty page of the filesystem holding `fd` at once."""
    global _libc
    if not hasattr(os, "sched_getaffinity"):  # not Linux
        return False
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
            _libc.syncfs  # noqa: B018 - probe that the symbol exists
        except (OSError, AttributeError):
            _libc = False
    if not _libc:
        return False
    return _libc.syncfs(fd) == 0


class DurableBatch:
    """Makes verified temp files durable in batches, then renames them into place.

    `add` queues a SmallFetch; once `max_files` or `max_bytes` are queued (or on `flush`),
    the batch is synced (one syncfs on Linux, else an fsync per file), every file renamed onto
    its destination, and each folder fsync'd once. `durable=False` skips the syncs (renames
    only). Returns the fetches that reached their destination.
    """

    def __init__(self, durable: bool = True, max_files: int = 256, max_bytes: int = 64 << 20):
        self.durable = durable
        self.max_files = max_files
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._queued: list[SmallFetch] = []
        self._bytes = 0
        self.syncs = 0  # batches made durable (for tests and benchmarks)

    def add(self, fetch: SmallFetch) -> list[SmallFetch]:
        """Queue `fetch`; when the batch is full, flush it and return what was placed."""
        with self._lock:
            self._queued.append(fetch)
            self._bytes += fetch.size
            full = len(self._queued) >= self.max_files or self._bytes >= self.max_bytes
            batch = self._take() if full else []
        return self._place(batch) if batch else []

    def flush(self) -> list[SmallFetch]:
        """Place everything queued now."""
        with self._lock:
            batch = self._take()
        return self._place(batch) if batch else []

    def discard(self) -> None:
        """Drop queued temp files (the run failed before they were placed)."""
        with self._lock:
            batch = self._take()
        for fetch in batch:
            _remove(fetch.temp)

    def _take(self) -> list[SmallFetch]:
        batch, self._queued, self._bytes = self._queued, [], 0
        return batch

    def _place(self, batch: list[SmallFetch]) -> list[SmallFetch]:
        with self._flush_lock:
            if self.durable:
                self._sync(batch)
            folders: set[Path] = set()
            for fetch in batch:
                os.replace(fetch.temp, fetch.dest)
                folders.add(fetch.dest.parent)
            if self.durable:
                for folder in folders:
                    fsync_path(folder)
            return batch

    def _sync(self, batch: list[SmallFetch]) -> None:
        self.syncs += 1
        fd = os.open(batch[0].temp.parent, os.O_RDONLY)
        try:
            st = os.fstat(fd)
            same_fs = all(f.temp.parent.stat().st_dev == st.st_dev for f in batch)
            if same_fs and _syncfs(fd):
                return
        finally:
            os.close(fd)
        for fetch in batch:
            fsync_path(fetch.temp)
