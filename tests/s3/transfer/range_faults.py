"""Fault injection between a download and its range engine (wire/range_fetch.py): flipped
bytes and refused GETs at chosen ranges, and hooks run when a range is opened."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orbit_provider.s3.errors import InvalidRequest
from orbit_provider.s3.transfer import download as dl


class RangeFaults:
    """Fault injection between the download and its range engine: `corrupt` holds range
    starts whose first byte arrives flipped (once each), `refuse` range starts whose GET is
    refused once with a non-retryable error. `opened` lists every range asked for."""

    def __init__(self) -> None:
        self.corrupt: set[int] = set()
        self.refuse: set[int] = set()
        self.opened: list[tuple[int, int]] = []
        #: range start -> called (once) before that range's GET is sent
        self.before_open: dict[int, Callable[[], None]] = {}


class _FaultyEngine:
    def __init__(self, engine, faults: RangeFaults) -> None:
        self.engine = engine
        self.faults = faults

    def open(self, start: int, end: int):
        self.faults.opened.append((start, end))
        hook = self.faults.before_open.pop(start, None)
        if hook is not None:
            hook()
        if start in self.faults.refuse:
            self.faults.refuse.discard(start)
            raise InvalidRequest("injected: this range is refused")
        body = self.engine.open(start, end)
        if start in self.faults.corrupt:
            self.faults.corrupt.discard(start)
            return _FlippedFirstByte(body)
        return body

    def close(self) -> None:
        self.engine.close()


class _FlippedFirstByte:
    def __init__(self, body) -> None:
        self.body = body
        self.flipped = False

    def readinto(self, buf) -> int:
        n = self.body.readinto(buf)
        if n and not self.flipped:
            buf[0] ^= 0xFF
            self.flipped = True
        return n

    def close(self, reusable: bool) -> None:
        self.body.close(reusable)


@pytest.fixture(name="faults")
def faults_fixture(monkeypatch) -> RangeFaults:
    """Every download of the test goes through a RangeFaults (the fixture `faults`)."""
    injected = RangeFaults()
    real = dl.make_engine
    monkeypatch.setattr(dl, "make_engine", lambda *a, **k: _FaultyEngine(real(*a, **k), injected))
    return injected
