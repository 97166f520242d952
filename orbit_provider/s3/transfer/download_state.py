"""The small record that lets a killed download resume from the bytes already on disk.

It lives beside the temporary file (`.<name>.orbit-part` + `.json`) and says which object
version the bytes belong to (bucket, key, ETag, version id, size), how the object was split
into ranges, and which ranges are complete with the CRC of their bytes (in `algorithm`:
the object's own CRC32, CRC32C or CRC64NVME, so the ranges combine into its checksum; format
1 records, written before the algorithm was recorded, hold CRC32s). It is written atomically
(temp + fsync + rename) and only after the data file itself was fsync'd, so it never claims
bytes that a crash could lose.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("orbit_provider.s3.transfer.download")

FORMAT = 2
_CRC32_ONLY_FORMAT = 1  # records before `algorithm` existed: their CRCs are CRC32s
TEMP_SUFFIX = ".orbit-part"
STATE_SUFFIX = ".orbit-part.json"


def temp_paths(dest: Path) -> tuple[Path, Path]:
    """(temporary data file, state record) beside `dest`, hidden names."""
    return (
        dest.with_name(f".{dest.name}{TEMP_SUFFIX}"),
        dest.with_name(f".{dest.name}{STATE_SUFFIX}"),
    )


@dataclass
class DownloadState:
    """Which object the partial bytes belong to and which ranges of it are complete."""

    bucket: str
    key: str
    etag: str | None
    version_id: str | None
    size: int
    range_size: int
    part_size: int | None = None
    extra_boundaries: list[int] = field(default_factory=list)
    # range index -> CRC of its bytes (None: bytes came from elsewhere, hash from disk)
    done: dict[int, int | None] = field(default_factory=dict)
    algorithm: str = "CRC32"  # the CRC of the values in `done`

    def same_object(self, other: DownloadState) -> bool:
        """Whether both records describe the same version of the same object."""
        return (
            self.bucket == other.bucket
            and self.key == other.key
            and self.etag == other.etag
            and self.version_id == other.version_id
            and self.size == other.size
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "algorithm": self.algorithm,
                "bucket": self.bucket,
                "key": self.key,
                "etag": self.etag,
                "version_id": self.version_id,
                "size": self.size,
                "range_size": self.range_size,
                "part_size": self.part_size,
                "extra_boundaries": self.extra_boundaries,
                "done": {str(i): c for i, c in sorted(self.done.items())},
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> DownloadState:
        d = json.loads(text)
        if d.get("format") not in (FORMAT, _CRC32_ONLY_FORMAT):
            raise ValueError(f"unknown state format {d.get('format')!r}")
        algorithm = "CRC32" if d["format"] == _CRC32_ONLY_FORMAT else str(d["algorithm"])
        return cls(
            bucket=str(d["bucket"]),
            key=str(d["key"]),
            etag=d["etag"],
            version_id=d["version_id"],
            size=int(d["size"]),
            range_size=int(d["range_size"]),
            part_size=None if d.get("part_size") is None else int(d["part_size"]),
            extra_boundaries=[int(b) for b in d.get("extra_boundaries", [])],
            done={int(i): (None if c is None else int(c)) for i, c in d["done"].items()},
            algorithm=algorithm,
        )


def load_state(path: Path) -> DownloadState | None:
    """The record at `path`, or None when it is missing or unreadable (then start over)."""
    try:
        return DownloadState.from_json(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable download state %s: %s", path, exc)
        return None


def write_state(path: Path, state: DownloadState) -> None:
    """Replace the record atomically: a crash leaves either the old or the new one, and a
    failed write (a full disk) leaves no half-written temporary record behind."""
    tmp = path.with_name(path.name + ".tmp")
    data = state.to_json().encode()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise


def remove_quietly(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


#: The record is persisted at most this often (seconds) ...
FLUSH_INTERVAL = 5.0
#: ... or sooner once this many bytes were completed since the last time. Each persist
#: fsyncs the data file, which stalls writers and costs CPU: a longer interval only means
#: more to fetch again after a crash (at most about this much), never a wrong resume.
FLUSH_BYTES = 1024 * 1024 * 1024
#: How often the background thread looks whether a persist is due.
TICK = 0.25


class StateWriter:
    """Records completed ranges; a background thread persists them every `interval` seconds,
    or once `flush_bytes` were completed since the last persist, whichever comes first.

    Persisting fsyncs the data file first, then writes the record: whatever the record says
    is complete is on disk. Workers never wait for an fsync. Thread-safe.
    """

    def __init__(
        self,
        path: Path,
        state: DownloadState,
        data_fd: int,
        interval: float | None = None,
        flush_bytes: int | None = None,
    ) -> None:
        self.path = path
        self.state = state
        self.data_fd = data_fd
        self.interval = FLUSH_INTERVAL if interval is None else interval
        self.flush_bytes = FLUSH_BYTES if flush_bytes is None else flush_bytes
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsaved_bytes = 0
        self._last_flush = time.monotonic()

    def mark_done(self, index: int, crc: int, size: int = 0) -> None:
        """Note range `index` (of `size` bytes) as complete with its CRC (state.algorithm)."""
        with self._lock:
            self.state.done[index] = crc
            self._unsaved_bytes += size
        self._dirty.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="orbit-download-state", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread (call flush() afterwards to persist the last ranges)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _due(self) -> bool:
        if not self._dirty.is_set():
            return False
        if time.monotonic() - self._last_flush >= self.interval:
            return True
        with self._lock:
            return self._unsaved_bytes >= self.flush_bytes

    def _loop(self) -> None:
        while not self._stop.wait(min(TICK, self.interval)):
            if self._due():
                try:
                    self.flush()
                except OSError:
                    log.warning("could not save download state %s", self.path, exc_info=True)

    def flush(self) -> None:
        with self._flush_lock:
            self._dirty.clear()
            with self._lock:
                self._unsaved_bytes = 0
            os.fsync(self.data_fd)
            with self._lock:
                snapshot = DownloadState(**{**self.state.__dict__, "done": dict(self.state.done)})
            write_state(self.path, snapshot)
            self._last_flush = time.monotonic()
