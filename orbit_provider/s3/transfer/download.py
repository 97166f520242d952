"""Parallel, resumable, verified download of one object to a local file.

HEAD first (size, ETag, version id, checksum, part size); then ranged GETs in
`parallel_operations` threads, each pinned with If-Match (and VersionId) so bytes of two
versions are never spliced. Bytes go into `.<name>.orbit-part` beside the destination (with
O_DIRECT for large files, download_writer.py), and a state record (download_state.py) notes
each finished range and its CRC32, so a killed process resumes from what is on disk. Only a
complete, verified file is fsync'd and renamed into place: the destination never holds a
partial file.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orbit_provider.s3.config import validate_key
from orbit_provider.s3.errors import (
    ConfigError,
    IntegrityError,
    LocalWriteError,
    Network,
    PreconditionFailed,
)
from orbit_provider.s3.models import _version
from orbit_provider.s3.progress import ProgressReporter, TransferProgress
from orbit_provider.s3.transfer.download_plan import (
    MD5_VERIFY_LIMIT,
    MIN_RANGE_SIZE,
    READ_SIZE,
    ObjectFacts,
    crc_from_disk,
    crc_value,
    plan_ranges,
    planned_check,
    range_algorithm,
    range_check,
    verify,
)
from orbit_provider.s3.transfer.download_state import (
    DownloadState,
    StateWriter,
    load_state,
    remove_quietly,
    temp_paths,
    write_state,
)
from orbit_provider.s3.transfer.download_writer import BufferedWriter, DirectWriter, open_writer
from orbit_provider.s3.transfer.paths import fsync_path
from orbit_provider.s3.transfer.runner import ParallelRunner
from orbit_provider.s3.transfer.tuner import ConcurrencyTuner
from orbit_provider.s3.wire.checksums import OTHER_ALGORITHMS, plain_etag
from orbit_provider.s3.wire.range_fetch import choose_engine, make_engine
from orbit_provider.s3.wire.ratelimit import TokenBucket

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session

log = logging.getLogger("orbit_provider.s3.transfer.download")

MAX_RESTARTS = 2  # a key rewritten during the download restarts it at most this often
_MD5_ETAG_RE = re.compile(r"^[0-9a-f]{32}(-\d+)?$")


@dataclass(frozen=True)
class DownloadResult:
    """What a download produced. `bytes_received` were fetched by this call; `resumed_bytes`
    were already on disk from an earlier, interrupted try. `verification` names the check
    the bytes passed: "crc32", "crc32c", "crc64nvme", "sha256", "sha1" (each also
    "-composite"), "md5" or "size"."""

    key: str
    path: Path
    size: int
    etag: str | None
    version_id: str | None
    bytes_received: int
    resumed_bytes: int
    duration: float
    throughput: float  # bytes/s received by this call
    verification: str = "size"


class _ObjectChanged(Exception):
    def __init__(self, cause: PreconditionFailed) -> None:
        super().__init__(str(cause))
        self.cause = cause


def download_file(
    client: S3Session,
    key: str,
    path: str | os.PathLike[str],
    *,
    version_id: str | None = None,
    progress: ProgressReporter | None = None,
    max_bandwidth: int | TokenBucket | None = None,
    engine: str | None = None,
) -> DownloadResult:
    """Download `key` (or that version of it) to `path`, resuming an interrupted try.

    `max_bandwidth` (bytes/s) overrides the client's S3Config.max_bandwidth for this call; a
    TokenBucket is a limit shared with other transfers (a tree's).
    `engine` ("http" or "boto") is chosen automatically when None (see range_fetch.py).
    """
    validate_key(key)
    dest = check_destination(path)
    rate = (
        max_bandwidth
        if isinstance(max_bandwidth, TokenBucket)
        else _check_bandwidth(max_bandwidth) or client.config.max_bandwidth
    )
    return _Download(client, key, dest, version_id, progress, rate, engine).run()


def download_file_resumable(
    client: S3Session,
    key: str,
    path: str | os.PathLike[str],
    offset: int,
    *,
    version_id: str | None = None,
    progress: ProgressReporter | None = None,
    engine: str | None = None,
) -> DownloadResult:
    """Finish a download whose first `offset` bytes are already in `path`.

    The partial file is moved aside (to the temporary name), only bytes from `offset` on are
    fetched, and the whole file is verified against the object's checksum where it has one
    before it is renamed back: bytes that do not belong to the object raise IntegrityError.
    If `path` is gone but an interrupted download of it left its temporary file, that
    download continues instead.
    """
    validate_key(key)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ConfigError(f"offset: {offset!r} must be a non-negative integer")
    dest = check_destination(path)
    temp, state_path = temp_paths(dest)
    seed = offset
    if dest.exists():
        have = dest.stat().st_size
        if have < offset:
            raise ConfigError(
                f"offset: {offset} is beyond the {have} bytes that {str(dest)!r} holds"
            )
    elif temp.exists() and state_path.exists():
        seed = None  # an interrupted download of this path: continue it from its own record
    elif offset > 0:
        raise ConfigError(f"path: {str(dest)!r} does not exist, so it holds no {offset} bytes")
    else:
        seed = None
    d = _Download(client, key, dest, version_id, progress, client.config.max_bandwidth, engine)
    d.seed_offset = seed
    return d.run()


def check_destination(path: str | os.PathLike[str]) -> Path:
    """Fail before any request when `path` cannot receive a file."""
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ConfigError("path: a destination file path is required")
    dest = Path(os.fspath(path)).absolute()
    if dest.is_dir():
        raise ConfigError(f"path: {str(dest)!r} is a directory; give a file path")
    parent = dest.parent
    if not parent.exists():
        blocker = next((p for p in parent.parents if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise ConfigError(
                f"path: {str(blocker)!r} is a file, not a folder, so the destination folder "
                f"{str(parent)!r} cannot exist; choose another path or move that file"
            )
        raise ConfigError(f"path: destination folder {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise ConfigError(
            f"path: {str(parent)!r} is a file, not a folder, so {dest.name!r} cannot be "
            "written there"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"path: destination folder {str(parent)!r} is not writable")
    return dest


def _check_bandwidth(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"max_bandwidth: {value!r} must be a positive number of bytes/s")
    return value


def head_object(client: S3Session, key: str, version_id: str | None) -> ObjectFacts:
    """HEAD (ChecksumMode ENABLED), plus HEAD of part 1 for a multipart object's part size."""
    head = client.head(key, version_id=version_id)
    size = int(head.get("ContentLength", 0))
    etag = head.get("ETag")
    vid = _version(head.get("VersionId"))
    crc = head.get("ChecksumCRC32")
    plain = plain_etag(etag) or ""
    encrypted = head.get("ServerSideEncryption") == "aws:kms" or head.get("SSECustomerAlgorithm")
    md5_usable = bool(_MD5_ETAG_RE.match(plain)) and not encrypted
    etag_suffix = plain.rpartition("-")[2] if "-" in plain else ""
    other = next(
        ((n, head[f"Checksum{n}"]) for n in OTHER_ALGORITHMS if head.get(f"Checksum{n}")),
        None,
    )
    if etag_suffix.isdigit() and head.get("ChecksumType") in (None, "COMPOSITE"):
        # moto reports a multipart object's composite checksum without its '-N' (with no
        # ChecksumType, or COMPOSITE): the ETag's part count says it is composite. S3 names a
        # multipart object's whole-object checksum ChecksumType FULL_OBJECT, left as it is.
        if crc and "-" not in crc:
            crc = f"{crc}-{etag_suffix}"
        if other and "-" not in other[1]:
            other = (other[0], f"{other[1]}-{etag_suffix}")
    stated = crc or (other[1] if other else "") or plain
    suffix = stated.rpartition("-")[2] if "-" in stated else ""
    parts_count = int(suffix) if suffix.isdigit() else None
    part_size = None
    if parts_count and size > 0 and client.config.verify_checksums:
        p1_params: dict[str, Any] = {"PartNumber": 1}
        if etag:
            p1_params["IfMatch"] = etag
        try:
            p1 = client.head(key, version_id=vid, **p1_params)
        except PreconditionFailed:
            # moto compares If-Match with the part's own ETag; the ranged GETs that follow
            # are pinned to the object's ETag, so a changed object is still caught there
            p1_params.pop("IfMatch", None)
            p1 = client.head(key, version_id=vid, **p1_params)
        first = int(p1.get("ContentLength", 0))
        if first > 0 and math.ceil(size / first) == parts_count:
            part_size = first
        else:
            log.warning(
                "s3://%s/%s: parts are not of one size (%d parts, part 1 %d bytes); its "
                "composite checksum cannot be checked, only its size",
                client.bucket,
                key,
                parts_count,
                first,
            )
    return ObjectFacts(size, etag, vid, crc, parts_count, part_size, md5_usable, other)


class _Download:
    """One call of download_file: HEAD, plan, resume, fetch, verify, rename."""

    def __init__(
        self,
        client: S3Session,
        key: str,
        dest: Path,
        version_id: str | None,
        progress: ProgressReporter | None,
        max_bandwidth: int | TokenBucket | None,
        engine: str | None,
    ) -> None:
        self.client = client
        self.key = key
        self.dest = dest
        self.temp, self.state_path = temp_paths(dest)
        self.version_id = version_id
        self.progress = progress
        if isinstance(max_bandwidth, TokenBucket):  # shared with other transfers
            self.limiter: TokenBucket | None = max_bandwidth
            max_bandwidth = int(max_bandwidth.rate)
        else:
            self.limiter = TokenBucket(max_bandwidth) if max_bandwidth else None
        self.read_size = (
            min(READ_SIZE, max(64 * 1024, max_bandwidth // 10)) if max_bandwidth else READ_SIZE
        )
        self.engine = engine or choose_engine(client)
        self.range_size = max(client.config.effective_chunk_size, MIN_RANGE_SIZE)
        self.seed_offset: int | None = None
        self.object_size = 0  # of the version being fetched, once its HEAD is known
        self.received = 0
        self._received_lock = threading.Lock()
        self.started = time.monotonic()

    @property
    def where(self) -> str:
        return f"s3://{self.client.bucket}/{self.key}"

    def run(self) -> DownloadResult:
        for attempt in range(MAX_RESTARTS + 1):
            facts = head_object(self.client, self.key, self.version_id)
            if attempt == 0:
                self._check_verifiable(facts)
            try:
                return self._attempt(facts)
            except _ObjectChanged as changed:
                remove_quietly(self.temp, self.state_path)
                self.seed_offset = None
                if attempt == MAX_RESTARTS:
                    raise PreconditionFailed(
                        f"{self.where} kept changing during the download "
                        f"({MAX_RESTARTS + 1} tries); nothing was written to {str(self.dest)!r}",
                        bucket=self.client.bucket,
                        key=self.key,
                    ) from changed.cause
                log.warning("%s changed during the download; starting over", self.where)
        raise AssertionError("unreachable")

    def _check_verifiable(self, facts: ObjectFacts) -> None:
        """Say so when only the size of this object can be checked: a warning naming the key,
        or, with require_verification, an error before the destination is touched."""
        config = self.client.config
        if not config.verify_checksums or planned_check(facts) != "size":
            return
        why = (
            "the store reports no checksum of it (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) "
            "whose parts are known, and its ETag is not a usable MD5 (SSE-KMS, SSE-C, or a "
            "multipart ETag whose parts are unknown)"
            if not facts.md5_etag_usable or facts.size <= MD5_VERIFY_LIMIT
            else f"it has no flexible checksum, and MD5 ETags are checked up to "
            f"{MD5_VERIFY_LIMIT} bytes"
        )
        if config.require_verification:
            raise IntegrityError(
                f"{self.where} cannot be verified: {why}; require_verification is set, so "
                f"nothing was downloaded to {str(self.dest)!r}",
                bucket=self.client.bucket,
                key=self.key,
            )
        log.warning("%s: only its size can be checked: %s", self.where, why)

    # -- one try at one version of the object -------------------------------------------

    def _fresh_state(self, facts: ObjectFacts, extra: list[int]) -> DownloadState:
        return DownloadState(
            bucket=self.client.bucket,
            key=self.key,
            etag=facts.etag,
            version_id=facts.version_id,
            size=facts.size,
            range_size=self.range_size,
            part_size=facts.part_size,
            extra_boundaries=extra,
            algorithm=range_algorithm(facts),
        )

    def _seed(self, facts: ObjectFacts, offset: int) -> None:
        """download_file_resumable: adopt the user's partial file as a resumable temp file."""
        if offset > facts.size:
            raise ConfigError(
                f"offset: {offset} is beyond the end of {self.where} ({facts.size} bytes)"
            )
        state = self._fresh_state(facts, [offset] if 0 < offset < facts.size else [])
        ranges = plan_ranges(facts.size, state.range_size, state.part_size, state.extra_boundaries)
        if offset == 0:
            remove_quietly(self.temp, self.state_path)
            return
        os.replace(self.dest, self.temp)
        os.truncate(self.temp, offset)
        state.done = {i: None for i, (_s, end) in enumerate(ranges) if end <= offset}
        write_state(self.state_path, state)

    def _load(self, facts: ObjectFacts) -> DownloadState:
        fresh = self._fresh_state(facts, [])
        state = load_state(self.state_path) if self.temp.exists() else None
        if state is not None and not (
            state.same_object(fresh) and state.part_size == fresh.part_size
        ):
            log.warning(
                "%s is not the object the partial download %s holds (ETag/version/size "
                "changed): starting over",
                self.where,
                self.temp,
            )
            state = None
        elif state is not None and state.algorithm != fresh.algorithm:
            # a record from before per-range CRC32C / CRC64NVME: its CRC32s cannot combine
            # into the object's checksum, and re-reading every range would cost what
            # fetching does on a fast link
            log.warning(
                "the partial download %s recorded %s range checksums, %s needs %s: "
                "starting over",
                self.temp,
                state.algorithm,
                self.where,
                fresh.algorithm,
            )
            state = None
        if state is None:
            remove_quietly(self.temp, self.state_path)
            return fresh
        return state

    def _attempt(self, facts: ObjectFacts) -> DownloadResult:
        self.object_size = facts.size
        if self.seed_offset is not None:
            self._seed(facts, self.seed_offset)
            self.seed_offset = None
        state = self._load(facts)
        ranges = plan_ranges(state.size, state.range_size, state.part_size, state.extra_boundaries)
        if any(i >= len(ranges) for i in state.done):
            state.done = {}
        fd = -1
        try:
            fd = os.open(self.temp, os.O_RDWR | os.O_CREAT, 0o666)
            return self._fill_and_finish(facts, state, ranges, fd)
        except OSError as exc:  # the local side failed (a failed range is handled in _fail)
            error = self._write_error(exc, "preparing or finishing the file", facts.size)
            raise self._with_kept(error, state, ranges) from exc
        finally:
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass

    # -- the local side: space, and what a failure leaves --------------------------------

    def _space(self, size: int) -> tuple[int, int | None]:
        """(bytes the temporary file still needs to hold `size`, bytes free for us on its
        filesystem or None where the filesystem does not say)."""
        try:
            allocated = os.stat(self.temp).st_blocks * 512
        except OSError:
            allocated = 0
        try:
            fs = os.statvfs(self.dest.parent)
            free = fs.f_bavail * fs.f_frsize if fs.f_blocks else None
        except OSError:
            free = None
        return max(size - allocated, 0), free

    def _check_space(self, size: int) -> None:
        """Refuse before any GET when the destination's filesystem cannot hold the rest."""
        need, free = self._space(size)
        if free is not None and need > free:
            raise LocalWriteError(
                f"{self.where}: not enough space in {str(self.dest.parent)!r}: the download "
                f"needs {_amount(need)} more there (the object is {_amount(size)}), and "
                f"{_amount(free)} are free",
                bucket=self.client.bucket,
                key=self.key,
            )

    def _write_error(self, exc: OSError, doing: str, size: int) -> LocalWriteError:
        """A LocalWriteError for a failed local write: where, and how much space it needs."""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            need, free = self._space(size)
            what = "no space left" if exc.errno == errno.ENOSPC else "disk quota exceeded"
            text = (
                f"{self.where}: {what} in {str(self.dest.parent)!r} while {doing}: the "
                f"download needs {_amount(need)} more there (the object is {_amount(size)})"
                + ("" if free is None else f", and {_amount(free)} are free")
            )
        else:
            text = f"{self.where}: cannot write {str(self.temp)!r} while {doing}: {exc}"
        return LocalWriteError(text, bucket=self.client.bucket, key=self.key)

    def _kept(self, state: DownloadState, ranges: list[tuple[int, int]]) -> int:
        """Keep the temporary file only where its record on disk lets the next try resume
        from it; returns the bytes kept (0: both files were removed)."""
        record = load_state(self.state_path)
        if (
            self.temp.exists()
            and record is not None
            and record.same_object(state)
            and record.done
            and all(i < len(ranges) for i in record.done)
        ):
            return sum(ranges[i][1] - ranges[i][0] for i in record.done)
        remove_quietly(self.temp, self.state_path, self.state_path.with_name(
            self.state_path.name + ".tmp"))  # fmt: skip
        return 0

    def _with_kept(
        self, error: LocalWriteError, state: DownloadState, ranges: list[tuple[int, int]]
    ) -> LocalWriteError:
        """`error`, saying what this failure left for the next try."""
        kept = self._kept(state, ranges)
        tail = (
            f"; {_amount(kept)} of finished ranges are kept in {str(self.temp)!r} and the next "
            "try resumes from them"
            if kept
            else f"; nothing was kept and nothing was written to {str(self.dest)!r}"
        )
        return LocalWriteError(error.message + tail, bucket=error.bucket, key=error.key)

    def _resume_from_disk(
        self, state: DownloadState, ranges: list[tuple[int, int]], fd: int
    ) -> list[int | None]:
        """CRC (state.algorithm) of each complete range as it is on disk now; a range whose
        bytes no longer match the CRC recorded when they were received is fetched again."""
        crcs: list[int | None] = [None] * len(ranges)
        buf = bytearray(READ_SIZE)
        for i, recorded in sorted(state.done.items()):
            start, end = ranges[i]
            try:
                actual = crc_from_disk(fd, start, end, buf, state.algorithm)
            except OSError:
                actual = None
            if actual is not None and (recorded is None or actual == recorded):
                crcs[i] = actual
            else:
                log.warning(
                    "%s: bytes %d-%d of %s changed on disk since they were received; "
                    "fetching them again",
                    self.where,
                    start,
                    end - 1,
                    self.temp,
                )
        state.done = {i: c for i, c in enumerate(crcs) if c is not None}
        return crcs

    def _fill_and_finish(
        self,
        facts: ObjectFacts,
        state: DownloadState,
        ranges: list[tuple[int, int]],
        fd: int,
    ) -> DownloadResult:
        os.ftruncate(fd, state.size)
        crcs = self._resume_from_disk(state, ranges, fd)
        resumed = sum(e - s for (s, e), c in zip(ranges, crcs, strict=True) if c is not None)
        try:
            self._check_space(state.size)
        except LocalWriteError as error:
            raise self._with_kept(error, state, ranges) from None
        writer = StateWriter(self.state_path, state, fd)
        writer.flush()
        tracker = TransferProgress(
            self.progress, "download", self.key, state.size, max(len(ranges), 1)
        )
        tracker.start(resumed, len(state.done))
        pending = [i for i, c in enumerate(crcs) if c is None]
        direct = bool(pending) and self.client.config.direct_io
        sink = open_writer(self.temp, fd, state.size, direct)
        writer.start()
        try:
            error = self._fetch(facts, ranges, pending, crcs, sink, writer, tracker)
        finally:
            writer.stop()
            sink.close()
        if error is not None:
            return self._fail(error, state, ranges, writer, tracker)
        if self.client.config.verify_checksums:
            problem, method = verify(facts, ranges, crcs, fd)  # type: ignore[arg-type]
        else:
            size = os.fstat(fd).st_size
            problem = None if size == facts.size else f"{size} bytes, expected {facts.size}"
            method = "size"
        if problem:
            remove_quietly(self.temp, self.state_path)
            err = IntegrityError(
                f"{self.where}: downloaded bytes do not match the object: {problem}; "
                f"nothing was written to {str(self.dest)!r}",
                bucket=self.client.bucket,
                key=self.key,
            )
            tracker.fail(err)
            raise err
        os.fsync(fd)
        os.replace(self.temp, self.dest)
        remove_quietly(self.state_path)
        fsync_path(self.dest.parent)
        tracker.complete()
        duration = max(time.monotonic() - self.started, 1e-9)
        return DownloadResult(
            key=self.key,
            path=self.dest,
            size=facts.size,
            etag=plain_etag(facts.etag),
            version_id=facts.version_id,
            bytes_received=self.received,
            resumed_bytes=resumed,
            duration=duration,
            throughput=self.received / duration,
            verification=method,
        )

    def _fail(
        self,
        error: BaseException,
        state: DownloadState,
        ranges: list[tuple[int, int]],
        writer: StateWriter,
        tracker: TransferProgress,
    ) -> DownloadResult:
        if isinstance(error, PreconditionFailed):
            tracker.fail(error)
            raise _ObjectChanged(error)
        try:
            writer.flush()
        except OSError:
            log.warning("could not save the download state %s", self.state_path, exc_info=True)
        if isinstance(error, LocalWriteError):
            cause = error
            error = self._with_kept(error, state, ranges)
            tracker.fail(error, resumable=self.temp.exists())
            raise error from cause
        resumable = self._kept(state, ranges) > 0
        if resumable:
            log.warning(
                "%s: download stopped (%s); %d finished ranges are kept in %s and the next "
                "try resumes from them",
                self.where,
                error,
                len(state.done),
                self.temp,
            )
        tracker.fail(error, resumable=resumable)
        raise error

    # -- the parallel part ------------------------------------------------------------------

    def _fetch(
        self,
        facts: ObjectFacts,
        ranges: list[tuple[int, int]],
        pending: list[int],
        crcs: list[int | None],
        sink: BufferedWriter | DirectWriter,
        writer: StateWriter,
        tracker: TransferProgress,
    ) -> BaseException | None:
        """Fetch the pending ranges; return the first real error (others are cancelled)."""
        if not pending:
            return None
        engine = make_engine(self.client, self.engine, self.key, facts.etag, facts.version_id)
        workers = min(self.client.config.parallel_operations, len(pending))
        # Ranges start at the cap: each costs only a small read buffer, and measured on
        # loopback and through a far-network proxy, the cap from the start beat a ramp from
        # START_WORKERS (a ramp spends most of a 256 MiB file finding the level). The
        # tuner still halves the workers when the store keeps answering SlowDown.
        runner: ParallelRunner[int, None] = ParallelRunner(
            workers,
            name="orbit-download",
            buffer_factory=lambda: sink.buffer(self.read_size),
            tuner=ConcurrencyTuner(workers, start=workers),
            throttle=self.client.throttle,
        )

        algorithm = writer.state.algorithm

        def work(index: int) -> None:
            crcs[index] = self._fetch_range(
                engine, ranges[index], sink, runner, tracker, algorithm
            )
            span = ranges[index][1] - ranges[index][0]
            writer.mark_done(index, crcs[index], span)  # type: ignore[arg-type]
            tracker.part_done(index + 1, span)

        try:
            runner.run(pending, work)
        except Exception as exc:  # the finished ranges are kept; the caller reports it
            return exc
        finally:
            engine.close()
        return None

    def _fetch_range(
        self,
        engine: Any,
        span: tuple[int, int],
        sink: BufferedWriter | DirectWriter,
        runner: ParallelRunner,
        tracker: TransferProgress,
        algorithm: str,
    ) -> int:
        """GET one range into the file at its offset; a retry continues where the last
        attempt stopped. Returns the `algorithm` CRC of the range's bytes."""
        start, end = span
        pos, check = start, range_check(algorithm)
        buf = runner.buffer()
        tries = 0

        def attempt() -> None:
            nonlocal pos, tries
            tries += 1
            if tries > 1:
                tracker.retried()
            body = engine.open(pos, end)
            complete = False
            try:
                while pos < end:
                    runner.check()  # another range failed: stop here, keep what is written
                    want, got = sink.next_length(pos, end, len(buf)), 0
                    while got < want:
                        n = body.readinto(buf[got:want])
                        if not n:
                            raise Network(
                                f"{self.where}: connection closed at byte {pos + got} of range "
                                f"{start}-{end - 1}",
                                bucket=self.client.bucket,
                                key=self.key,
                            )
                        got += n
                        if self.limiter is not None:
                            self.limiter.acquire(n)
                    chunk = buf[:got]
                    try:
                        sink.write(pos, chunk)
                    except OSError as exc:
                        raise self._write_error(
                            exc, f"writing bytes {pos}-{pos + got - 1}", self.object_size
                        ) from exc
                    check.update(chunk)
                    pos += got
                    with self._received_lock:
                        self.received += got
                    tracker.advance(got)
                complete = True
            finally:
                body.close(complete)

        self.client.retry(attempt, key=self.key)
        return crc_value(check)


def _amount(nbytes: int) -> str:
    """Bytes for a message: '20.0 MiB (20971520 bytes)'."""
    return f"{nbytes / (1024 * 1024):.1f} MiB ({nbytes} bytes)"


