"""The fault proxy itself: it must forward faithfully and fault what it says it faults."""

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
