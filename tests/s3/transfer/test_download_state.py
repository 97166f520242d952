"""download_state.StateWriter: when the resume record is persisted, and that it is only
persisted after the data file was fsync'd."""

from __future__ import annotations

import json
import os
import time

import pytest

from orbit_provider.s3.transfer import download_state
from orbit_provider.s3.transfer.download_state import DownloadState, StateWriter, load_state

MIB = 1024 * 1024


def _state() -> DownloadState:
    return DownloadState("bkt", "k", '"e"', None, 64 * MIB, 8 * MIB)


def _wait_for(path, count: int, seconds: float = 10.0) -> DownloadState | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = load_state(path)
        if state is not None and len(state.done) >= count:
            return state
        time.sleep(0.01)
    return load_state(path)


def test_persists_once_enough_bytes_are_done(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(download_state.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    path = tmp_path / "s.json"
    fd = os.open(tmp_path / "data", os.O_RDWR | os.O_CREAT)
    try:
        writer = StateWriter(path, _state(), fd, interval=3600, flush_bytes=16 * MIB)
        writer.start()
        try:
            writer.mark_done(0, 11, 8 * MIB)  # below flush_bytes: not persisted yet
            time.sleep(3 * download_state.TICK)
            assert load_state(path) is None
            writer.mark_done(1, 22, 8 * MIB)  # 16 MiB since the last persist: due now
            state = _wait_for(path, 2)
        finally:
            writer.stop()
        assert state is not None and state.done == {0: 11, 1: 22}
        assert fd in synced  # the data file was fsync'd before the record claimed its bytes
    finally:
        os.close(fd)


def test_persists_after_the_interval_and_on_flush(tmp_path):
    path = tmp_path / "s.json"
    fd = os.open(tmp_path / "data", os.O_RDWR | os.O_CREAT)
    try:
        writer = StateWriter(path, _state(), fd, interval=0.2, flush_bytes=1 << 40)
        writer.start()
        try:
            writer.mark_done(3, 33, 1)
            state = _wait_for(path, 1)
            assert state is not None and state.done == {3: 33}
        finally:
            writer.stop()
        writer.mark_done(4, 44, 1)  # after stop: only an explicit flush persists it
        assert load_state(path).done == {3: 33}
        writer.flush()
        assert load_state(path).done == {3: 33, 4: 44}
    finally:
        os.close(fd)


def test_the_record_keeps_its_crc_algorithm_and_reads_format_1_as_crc32():
    state = _state()
    state.algorithm, state.done = "CRC64NVME", {0: 2**64 - 1, 2: None}
    again = DownloadState.from_json(state.to_json())
    assert (again.algorithm, again.done) == ("CRC64NVME", {0: 2**64 - 1, 2: None})
    old = json.loads(state.to_json())
    old["format"] = 1
    del old["algorithm"]
    assert DownloadState.from_json(json.dumps(old)).algorithm == "CRC32"


def test_a_failed_write_leaves_the_old_record_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "s.json"
    download_state.write_state(path, _state())

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(download_state.os, "write", full)
    changed = _state()
    changed.done = {1: 5}
    with pytest.raises(OSError, match="No space"):
        download_state.write_state(path, changed)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]
    assert load_state(path).done == {}
