"""The fault proxy itself: it must forward faithfully and fault what it says it faults."""

import threading

import pytest

from orbit_provider.s3 import errors
from orbit_provider.testing.clients import client_for
from orbit_provider.testing.faultproxy import FaultProxy


class _Via:
    def __init__(self, server, endpoint):
        self.endpoint = endpoint
        self.access_key = server.access_key
        self.secret_key = server.secret_key


def test_forwards_signed_requests_unchanged(seaweed, seaweed_bucket):
    with FaultProxy(seaweed.endpoint, rate=0.0) as proxy:
        client = client_for(_Via(seaweed, proxy.endpoint), seaweed_bucket)
        client.upload_bytes(b"x" * 100_000, "k")
        assert client.download_bytes("k") == b"x" * 100_000
        assert proxy.counts["forwarded"] == 2


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("slowdown", errors.Throttled),
        ("internal", errors.ServerError),
        ("reset", errors.Network),
        ("stall", errors.Timeout),
    ],
)
def test_each_fault_surfaces_as_its_error_kind(seaweed, seaweed_bucket, kind, expected):
    with FaultProxy(seaweed.endpoint, rate=0.0, stall_seconds=3) as proxy:
        via = _Via(seaweed, proxy.endpoint)
        client = client_for(via, seaweed_bucket, timeout_seconds=1)
        client.upload_bytes(b"y" * 10_000, "k")
        proxy.set_rate(1.0)
        proxy.faults = (kind,)
        client = client_for(via, seaweed_bucket, timeout_seconds=1, max_retries=0)
        with pytest.raises(expected):
            client.download_bytes("k")
        assert proxy.counts[kind] == 1


def test_a_rate_limit_answers_slowdown_above_it():
    proxy = FaultProxy("http://127.0.0.1:1", rate=0.0, max_rate=0.01, rate_window=500.0)
    assert [proxy.over_rate() for _ in range(8)] == [False] * 5 + [True] * 3
    assert proxy.counts["over_rate"] == 3
    assert proxy.admitted == [True] * 5 + [False] * 3


def test_rate_limited_requests_surface_as_throttled(seaweed, seaweed_bucket):
    with FaultProxy(seaweed.endpoint, rate=0.0, max_rate=0.002, rate_window=500.0) as proxy:
        client = client_for(_Via(seaweed, proxy.endpoint), seaweed_bucket, max_retries=0)
        client.upload_bytes(b"z" * 1000, "k")  # the one request the window lets through
        with pytest.raises(errors.Throttled):
            client.download_bytes("k")
        assert proxy.admitted == [True, False]


class _FakeTime:
    """A clock that moves only when the proxy sleeps: what the proxy waited is exact."""

    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def clock(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_latency_and_the_per_connection_cap_apply(seaweed, seaweed_bucket):
    """The proxy waits the added round trip per request and paces each body to the cap."""
    data = b"w" * 600_000
    fake = _FakeTime()
    with FaultProxy(seaweed.endpoint, rate=0.0, clock=fake.clock, sleep=fake.sleep) as proxy:
        client = client_for(_Via(seaweed, proxy.endpoint), seaweed_bucket)
        client.upload_bytes(data, "k")
        assert fake.now == 0.0  # neither set yet: no wait
        proxy.latency = 0.3
        assert client.download_bytes("k") == data
        assert fake.now == pytest.approx(0.3)  # one request, one added round trip
        proxy.latency, proxy.bandwidth = 0.0, 1_000_000
        before = fake.now
        assert client.download_bytes("k") == data
        assert fake.now - before == pytest.approx(0.6)  # 600 kB at 1 MB/s
        before = fake.now
        client.upload_bytes(data, "k2")  # the request body is paced too
        assert fake.now - before == pytest.approx(0.6)
        assert client.download_bytes("k2") == data
