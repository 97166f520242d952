"""Transfers through a fault-injecting proxy (tests/testing/faultproxy) in front of SeaweedFS.

At 20% of requests faulted (503 SlowDown, 500, reset mid-body, stall past the timeout) a
256 MiB multipart upload, its download and a 2,000-key batch copy complete with exact
content. At 100% the circuit breaker (S3Client's default: at least 10 failures, and half of
the last requests) opens, the work waits for its probes, and when those fail
too (the store stays down) the operation ends with CircuitOpen after a bounded number of
requests, nothing is half-written, and the upload / download resume once the faults stop.

Why the retry counts below cannot run out at 20% (the proxy draws faults independently):
one request fails all of max_retries + 1 = 9 attempts with probability 0.2**9 = 5e-7; the
upload and download make < 100 requests, so < 5e-5 per run. A batch-copy attempt is two
requests (HEAD of the destination, CopyObject), failing with 1 - 0.8**2 = 0.36; 17 attempts
(max_retries=16) all fail with 0.36**17 = 3e-8 per key, 6e-5 for 2,000 keys. At 20% the
breaker (at least 10 failures, and half of a window of up to 100 requests) opens rarely,
and when it does the work only pauses for a probe: no key fails for it
(docs/architecture.md).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pendulum
import pytest
from airflow.sdk import DAG

from orbit_provider.operators.transfer import OrbitUploadOperator
from orbit_provider.s3.batch import BatchConfig
from orbit_provider.s3.config import MIB
from orbit_provider.s3.errors import CircuitOpen, UploadInterrupted
from orbit_provider.s3.progress import PartCompleted, ProgressReporter
from orbit_provider.s3.recovery import (
    DEFAULT_BREAKER_MIN_CALLS,
    DEFAULT_BREAKER_OPEN_CYCLES,
    DEFAULT_BREAKER_THRESHOLD,
    BreakerState,
)
from orbit_provider.testing.clients import client_for
from orbit_provider.testing.faultproxy import FAULTS, FaultProxy
from tests.airflow_env import connection_env
from tests.seeding import put_over_http

TIMEOUT = 2  # seconds: the client's read timeout; the proxy stalls longer than that
# A 16 MiB part through the Python proxy on a busy 2-core machine can take longer than 2 s
# on its own; a genuine timeout is a failure like any other (and counts for the breaker), so
# the bulk transfers get room above their normal latency. Stalls still exceed it.
BULK_TIMEOUT = 8
STALL = 10
MAX_RETRIES = 8
BATCH_RETRIES = 16
PROBE_EVERY = 0.5  # seconds between the breaker's probes (the default 30 s would only slow us)


class Via:
    """The server's credentials with the proxy's endpoint (what client_for needs)."""

    def __init__(self, server, endpoint: str) -> None:
        self.endpoint = endpoint
        self.access_key = server.access_key
        self.secret_key = server.secret_key


@pytest.fixture
def proxy(seaweed):
    with FaultProxy(seaweed.endpoint, rate=0.0, faults=FAULTS, stall_seconds=STALL) as p:
        yield p


def proxied(seaweed, proxy, bucket, **overrides):
    options = {"timeout_seconds": TIMEOUT, "max_retries": MAX_RETRIES,
               "circuit_breaker_timeout": PROBE_EVERY, **overrides}  # fmt: skip
    return client_for(Via(seaweed, proxy.endpoint), bucket, **options)


def faulted(proxy) -> int:
    return sum(proxy.counts[kind] for kind in FAULTS)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(8 * MIB):
            digest.update(block)
    return digest.hexdigest()


def random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as fh:
        left = size
        while left:
            block = min(left, 16 * MIB)
            fh.write(os.urandom(block))
            left -= block
    return path


def most_faults_before_open(workers: int) -> int:
    """Faulted requests a client with `workers` threads can make after the switch to 100%:
    the breaker opens once at least DEFAULT_BREAKER_THRESHOLD requests failed and they are
    half of its window; the transfer's successes before the switch (a listing, the create,
    parts, and requests forwarded before the switch that succeed after it: fewer than
    THRESHOLD here) can ask for up to THRESHOLD - 1 more failures. Up to workers - 1 calls
    were in flight then, and one probe per open cycle follows before the work gives up."""
    assert DEFAULT_BREAKER_MIN_CALLS <= DEFAULT_BREAKER_THRESHOLD
    return (
        (DEFAULT_BREAKER_THRESHOLD - 1) + DEFAULT_BREAKER_THRESHOLD + (workers - 1)
        + DEFAULT_BREAKER_OPEN_CYCLES
    )


def wait_for_probe_time(client) -> None:
    """A new try comes after the breaker's probe interval (as a task retry does)."""
    deadline = time.monotonic() + 60
    while client.circuit_breaker.state is BreakerState.OPEN:
        assert time.monotonic() < deadline, "the breaker never allowed a probe"
        time.sleep(0.05)


def flip_to_full_faults_after(proxy, parts: int) -> ProgressReporter:
    """A reporter that turns every request into a fault once `parts` parts/ranges are done."""
    done = []
    lock = threading.Lock()

    def on_event(event) -> None:
        if isinstance(event, PartCompleted):
            with lock:
                done.append(event.part_number)
                if len(done) == parts:
                    proxy.set_rate(1.0)

    return ProgressReporter([on_event], inline=True)  # acts before the next request


# -- 20% of requests faulted -----------------------------------------------------------------


def test_a_256_mib_upload_and_its_download_complete_exactly_at_20_percent_faults(
    seaweed, seaweed_bucket, seaweed_client, proxy, tmp_path
):
    source = random_file(tmp_path / "big.bin", 256 * MIB)
    proxy.set_rate(0.2)
    client = proxied(seaweed, proxy, seaweed_bucket, chunk_size=16 * MIB, parallel_operations=4,
                     timeout_seconds=BULK_TIMEOUT)  # fmt: skip

    up = client.upload_file(source, "faults/big.bin")
    assert (up.size, up.parts, up.parts_resumed) == (256 * MIB, 16, 0)
    down = client.download_file("faults/big.bin", tmp_path / "back.bin")
    assert down.size == 256 * MIB and down.resumed_bytes == 0

    # every kind of fault was injected, and retries absorbed all of them
    assert all(proxy.counts[kind] > 0 for kind in FAULTS), proxy.counts
    assert client.circuit_breaker.state == "closed"
    proxy.set_rate(0.0)
    assert sha256(tmp_path / "back.bin") == sha256(source)
    head = seaweed_client.get_metadata("faults/big.bin")  # straight to the server
    assert head.size == 256 * MIB and head.etag == up.etag
    # a reset CreateMultipartUpload may leave an empty orphan upload: never one with parts
    for orphan in seaweed_client.list_incomplete_uploads("faults/"):
        parts = seaweed_client.call("list_parts", key=orphan.key, UploadId=orphan.upload_id)
        assert not parts.get("Parts"), orphan


def test_a_2000_key_batch_copy_accounts_for_every_key_once_at_20_percent_faults(
    seaweed, seaweed_bucket, seaweed_client, proxy
):
    keys = [f"src/{i // 100:02d}/k{i:04d}.txt" for i in range(2000)]
    # straight to the server (no faults while seeding), over the lean PUT path
    put_over_http(seaweed_client, keys, lambda k: f"body of {k}".encode())
    proxy.set_rate(0.2)
    # the module's 2 s read timeout: a quarter of the faults are stalls, each costing the
    # timeout (about 240 of them over 32 workers); a request slowed past it by a loaded
    # machine is one more retried failure, which the retry budget above absorbs
    client = proxied(seaweed, proxy, seaweed_bucket)
    config = BatchConfig(max_concurrent=32, max_retries=BATCH_RETRIES, retry_delay=0.05)

    result = client.batch_copy(keys, "dst/", config, strip_prefix="src/")

    assert all(proxy.counts[kind] > 0 for kind in FAULTS), proxy.counts
    assert sorted(result.results) == sorted(keys)  # every key once, no extra entries
    assert (result.total, result.successful, result.failed, result.not_run) == (2000, 2000, 0, 0)
    assert {outcome.status for outcome in result.results.values()} == {"succeeded"}
    assert result.errors == []
    proxy.set_rate(0.0)
    source = {o.key[len("src/"):]: (o.size, o.etag) for o in seaweed_client.iter_objects("src/")}
    copied = {o.key[len("dst/"):]: (o.size, o.etag) for o in seaweed_client.iter_objects("dst/")}
    assert copied == source and len(copied) == 2000  # same bytes (MD5 ETags), no strays


# -- 100% of requests faulted -------------------------------------------------------------------


def test_at_full_faults_the_breaker_stops_an_upload_fast_and_it_stays_resumable(
    seaweed, seaweed_bucket, seaweed_client, proxy, tmp_path
):
    source = random_file(tmp_path / "data.bin", 40 * MIB)  # 8 parts of 5 MiB
    workers = 4
    client = proxied(seaweed, proxy, seaweed_bucket, parallel_operations=workers)
    # answers that never reach the store: a "reset" fault forwards the part and cuts only the
    # answer, so the store could end up holding every part and the retry would send nothing
    proxy.faults = ("slowdown", "internal")

    with pytest.raises(UploadInterrupted) as caught:
        client.upload_file(source, "cut/data.bin", progress=flip_to_full_faults_after(proxy, 1))
    error = caught.value
    assert error.code == "CircuitOpen" and isinstance(error.__cause__, CircuitOpen)
    assert "circuit open" in str(error) and "can be resumed" in str(error)
    # bounded, far below the (MAX_RETRIES + 1) x 7 remaining parts = 63 requests a breaker-less
    # client would make: see most_faults_before_open
    assert DEFAULT_BREAKER_THRESHOLD <= faulted(proxy) <= most_faults_before_open(workers)
    # it gave up because the store stayed down through every probe
    assert client.circuit_breaker.gave_up

    # nothing half-written: the key does not exist; the multipart upload was kept
    assert not seaweed_client.exists("cut/data.bin")
    (kept,) = seaweed_client.list_incomplete_uploads("cut/")
    assert kept.upload_id == error.upload_id

    # the store recovers: a new client (a new task try) resumes and finishes it exactly
    proxy.set_rate(0.0)
    wait_for_probe_time(client)
    result = proxied(seaweed, proxy, seaweed_bucket, parallel_operations=workers).upload_file(
        source, "cut/data.bin"
    )
    assert result.resume_token.upload_id == error.upload_id
    assert 1 <= result.parts_resumed < 8
    assert result.bytes_sent == 40 * MIB - result.parts_resumed * 5 * MIB
    assert seaweed_client.download_bytes("cut/data.bin") == source.read_bytes()
    assert seaweed_client.list_incomplete_uploads("cut/") == []


def test_at_full_faults_the_breaker_stops_a_download_fast_and_it_resumes(
    seaweed, seaweed_bucket, seaweed_client, proxy, tmp_path
):
    data = os.urandom(48 * MIB)  # 6 ranges of 8 MiB: after the switch, 4 or 5 fail on 2 threads
    seaweed_client.upload_bytes(data, "obj.bin")
    workers = 2
    client = proxied(seaweed, proxy, seaweed_bucket, parallel_operations=workers)
    dest = tmp_path / "obj.bin"

    with pytest.raises(CircuitOpen, match="circuit open after"):
        client.download_file("obj.bin", dest, progress=flip_to_full_faults_after(proxy, 1))
    assert DEFAULT_BREAKER_THRESHOLD <= faulted(proxy) <= most_faults_before_open(workers)
    assert not dest.exists()  # never a partial file at the destination

    proxy.set_rate(0.0)
    wait_for_probe_time(client)
    result = proxied(seaweed, proxy, seaweed_bucket, parallel_operations=workers).download_file(
        "obj.bin", dest
    )
    assert 0 < result.resumed_bytes < 48 * MIB
    assert result.bytes_received == 48 * MIB - result.resumed_bytes
    assert dest.read_bytes() == data


def test_a_dag_upload_task_fails_fast_with_circuit_open_at_full_faults(
    seaweed, seaweed_bucket, seaweed_client, proxy, dag_runner, monkeypatch, tmp_path, capsys
):
    """The store goes down mid-task: the task fails with the breaker's message, the upload
    is kept for the next try."""
    name, value = connection_env(
        "orbit_s3_faulty", conn_type="orbit_s3", login=seaweed.access_key,
        password=seaweed.secret_key,
        extra={"endpoint_url": proxy.endpoint, "region_name": "us-east-1",
               "force_path_style": True, "bucket": seaweed_bucket},
    )  # fmt: skip
    monkeypatch.setenv(name, value)
    source = random_file(tmp_path / "dump.bin", 40 * MIB)
    stop = threading.Event()

    def flip_when_a_part_is_stored() -> None:
        while not stop.wait(0.05):
            for upload in seaweed_client.list_incomplete_uploads("dag/"):
                parts = seaweed_client.call("list_parts", key=upload.key,
                                            UploadId=upload.upload_id)  # fmt: skip
                if parts.get("Parts"):
                    proxy.set_rate(1.0)
                    return

    with DAG("orbit_faults_circuit", schedule=None,
             start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:  # fmt: skip
        OrbitUploadOperator(
            task_id="upload", source=str(source), key="dag/dump.bin", retries=0,
            orbit_conn_id="orbit_s3_faulty", max_bandwidth=8 * MIB,
            client_options={"timeout_seconds": TIMEOUT, "max_retries": MAX_RETRIES,
                            "parallel_operations": 4, "circuit_breaker_timeout": PROBE_EVERY},
        )  # fmt: skip
    watcher = threading.Thread(target=flip_when_a_part_is_stored, daemon=True)
    watcher.start()
    try:
        result = dag_runner(dag)
    finally:
        stop.set()
        watcher.join()
    assert result.task_states() == {"upload": "failed"}
    log = capsys.readouterr().out
    assert "circuit open after" in log and "can be resumed" in log
    assert DEFAULT_BREAKER_THRESHOLD <= faulted(proxy) <= most_faults_before_open(4)
    assert not seaweed_client.exists("dag/dump.bin")
    assert len(seaweed_client.list_incomplete_uploads("dag/")) == 1
