"""The batch engine: laziness, exactly-once accounting, timeout, fail_fast, retries, circuit
breaker, rate limit and progress. Real S3 operations run against moto; requests are watched
and steered through botocore's events (tests/s3/batch/faults.py)."""

from __future__ import annotations

import random
import threading

import pytest

from orbit_provider.s3 import BatchConfig, S3Client, S3Config
from orbit_provider.s3.batch.copy import batch_copy
from orbit_provider.s3.batch.engine import BatchRun, Done
from orbit_provider.s3.batch.objects import batch_tag_objects
from orbit_provider.s3.errors import AccessDenied, ConfigError
from orbit_provider.s3.progress import BatchProgress, ProgressReporter
from orbit_provider.s3.recovery import BreakerState, CircuitBreaker, RetryPolicy
from orbit_provider.s3.wire.ratelimit import TokenBucket
from tests.conftest import MOTO_BUCKET
from tests.s3.batch.faults import FakeClock, Faults, ScaledClock
from tests.seeding import put_in_moto, put_over_http

FAST = {"retry_delay": 0.0}


@pytest.fixture
def keys(moto_client):
    names = [f"k{i:02d}" for i in range(20)]
    for name in names:
        moto_client.upload_bytes(b"x", name)
    return names


def test_every_key_once_duplicates_processed_once(moto_client, keys):
    faults = Faults(moto_client.s3)
    result = moto_client.batch_tag_objects(
        keys + keys[:5], {"a": "1"}, BatchConfig(**FAST), merge=False
    )
    assert sorted(result.results) == keys
    assert (result.total, result.successful, result.duplicates) == (20, 20, 5)
    assert faults.count("PutObjectTagging") == 20


def test_generator_is_read_lazily_with_bounded_lookahead(moto_client, keys):
    """While the first key is held in flight, the engine reads at most 2 * max_concurrent
    keys ahead; then every key of a long generator is processed exactly once."""
    faults = Faults(moto_client.s3)
    started, release = faults.block("PutObjectTagging", "k00")
    pulled = []
    lookahead = []

    def source():
        for i in range(60):
            pulled.append(i)
            lookahead.append(len(pulled) - faults.count("PutObjectTagging"))
            yield keys[i % 20] if i < 20 else f"missing-{i}"

    config = BatchConfig(max_concurrent=1, max_retries=0, operation_timeout=None)
    out = {}
    runner = threading.Thread(
        target=lambda: out.setdefault(
            "r", moto_client.batch_tag_objects(source(), {"a": "1"}, config, merge=False)
        )
    )
    runner.start()
    try:
        assert started.wait(30)
        # window = 2 tasks (the held one, one queued) + the key in hand: the engine waits
        # instead of reading on
        threading.Event().wait(0.3)
        assert len(pulled) == 3
    finally:
        release.set()
        runner.join(60)
    result = out["r"]
    assert result.total == 60 and len(result.results) == 60
    assert result.successful == 20 and result.failed == 40  # the missing keys: NotFound
    assert {code for _, code, _ in result.errors} == {"NoSuchKey"}
    assert max(lookahead) <= 2 + 1


def test_collection_input_is_validated_before_any_request(moto_client, keys):
    faults = Faults(moto_client.s3)
    with pytest.raises(ConfigError, match="keys"):
        moto_client.batch_tag_objects(keys + [""], {"a": "1"})
    with pytest.raises(ConfigError, match="single string"):
        moto_client.batch_tag_objects("k00", {"a": "1"})
    assert faults.calls == []


def test_bad_key_in_a_generator_fails_alone(moto_client, keys):
    result = moto_client.batch_tag_objects(iter(["k00", "", "k01"]), {"a": "1"}, merge=False)
    assert result.successful == 2
    assert result.results[""].code == "ConfigError"


def test_operation_timeout_fails_the_slow_key_only(moto_client, keys):
    faults = Faults(moto_client.s3)
    _, release = faults.block("PutObjectTagging", "k03")
    try:
        config = BatchConfig(max_concurrent=3, operation_timeout=0.5, max_retries=0)
        result = moto_client.batch_tag_objects(keys, {"a": "1"}, config, merge=False)
    finally:
        release.set()
    assert result.failed == 1 and result.successful == 19
    assert result.results["k03"].code == "Timeout"
    assert "operation_timeout=0.5" in result.results["k03"].detail


def test_fail_fast_stops_scheduling_and_reports_not_run(moto_client, keys):
    faults = Faults(moto_client.s3)
    faults.fail("PutObjectTagging", lambda k: k == "k05", "AccessDenied", 403)
    config = BatchConfig(max_concurrent=1, fail_fast=True, **FAST)
    result = moto_client.batch_tag_objects(keys, {"a": "1"}, config, merge=False)
    assert sorted(result.results) == keys
    assert result.results["k05"].code == "AccessDenied"
    assert result.successful + result.failed + result.not_run == 20
    assert result.failed == 1 and result.not_run >= 20 - 6 - 2
    not_run = set(result.keys_with("not_run"))
    assert not_run and not (not_run & faults.keys("PutObjectTagging"))
    assert all(result.results[k].succeeded for k in keys[:5])


def test_retryable_failure_is_retried_exactly_max_retries_times(moto_client, keys):
    faults = Faults(moto_client.s3)
    faults.fail("PutObjectTagging", lambda k: k == "k01", "InternalError", 500, times=2)
    faults.fail("PutObjectTagging", lambda k: k == "k02", "SlowDown", 503)
    faults.fail("PutObjectTagging", lambda k: k == "k03", "AccessDenied", 403)
    config = BatchConfig(max_retries=3, **FAST)
    result = moto_client.batch_tag_objects(keys, {"a": "1"}, config, merge=False)
    assert result.results["k01"].succeeded
    assert faults.count("PutObjectTagging", "k01") == 3
    # the client's own retry policy (4 attempts) is not stacked on the batch's
    assert faults.count("PutObjectTagging", "k02") == 4
    assert result.results["k02"].code == "SlowDown"
    assert faults.count("PutObjectTagging", "k03") == 1
    assert faults.count("PutObjectTagging", "k00") == 1
    assert result.failed == 2


def test_breaker_opening_mid_batch_fails_the_rest_fast(moto_s3):
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, timeout=60, clock=clock.now)
    client = S3Client(S3Config(bucket=MOTO_BUCKET, region="us-east-1"), circuit_breaker=breaker)
    keys = [f"k{i:02d}" for i in range(20)]
    for key in keys:
        client.upload_bytes(b"x", key)
    faults = Faults(client.s3)
    faults.fail("PutObjectTagging", lambda k: k >= "k05", "ServiceUnavailable", 503)
    config = BatchConfig(max_concurrent=1, max_retries=0)
    result = client.batch_tag_objects(keys, {"a": "1"}, config, merge=False)
    assert breaker.state is BreakerState.OPEN
    assert [result.results[k].code for k in keys[5:8]] == ["ServiceUnavailable"] * 3
    assert {result.results[k].code for k in keys[8:]} == {"CircuitOpen"}
    assert "circuit open" in result.results["k19"].detail
    assert faults.count("PutObjectTagging") == 8  # nothing sent after the breaker opened
    assert result.successful == 5 and result.failed == 15

    # the endpoint recovers; after the breaker's timeout a probe closes it again
    faults._faults.clear()
    clock.advance(60)
    again = client.batch_tag_objects(result.keys_with("failed"), {"a": "1"}, config, merge=False)
    assert again.ok and breaker.state is BreakerState.CLOSED


def test_rate_limit_spaces_requests(moto_client, keys):
    clock = FakeClock()
    sent_at = []
    faults = Faults(moto_client.s3, on_request=lambda op, key: sent_at.append(clock.now()))
    bucket = TokenBucket(rate=20, capacity=1, clock=clock.now, sleep=clock.sleep)
    config = BatchConfig(max_concurrent=1, rate_limit=bucket, **FAST)
    result = moto_client.batch_tag_objects(keys[:10], {"a": "1"}, config, merge=False)
    assert result.ok and faults.count("PutObjectTagging") == 10
    gaps = [b - a for a, b in zip(sent_at, sent_at[1:], strict=False)]
    assert gaps == pytest.approx([1 / 20] * 9)
    assert sum(clock.slept) == pytest.approx(9 / 20)


class CountingBucket(TokenBucket):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.taken = 0
        self._count_lock = threading.Lock()

    def acquire(self, amount=1):
        with self._count_lock:
            self.taken += amount
        return super().acquire(amount)


def test_every_request_of_a_concurrent_batch_takes_a_token(moto_client, keys):
    faults = Faults(moto_client.s3)
    bucket = CountingBucket(rate=10_000)
    config = BatchConfig(max_concurrent=4, rate_limit=bucket, **FAST)
    result = moto_client.batch_tag_objects(keys, {"a": "1"}, config, merge=True)  # GET + PUT
    assert result.ok
    assert bucket.taken == len(faults.calls) == 40


def test_progress_events_count_up_and_end_with_the_totals(moto_client, keys):
    events = []
    reporter = ProgressReporter([events.append], inline=True)
    result = moto_client.batch_tag_objects(
        iter(keys), {"a": "1"}, BatchConfig(**FAST), progress=reporter
    )
    batch = [e for e in events if isinstance(e, BatchProgress)]
    assert batch[-1] == BatchProgress("tag_objects", 20, 20, 0, 20)
    assert [e.completed for e in batch] == sorted(e.completed for e in batch)
    assert result.ok


def test_progress_rate_is_bounded_by_the_interval():
    """A clock that never moves: one event at the start, then only the final one."""
    events = []
    config = BatchConfig(max_concurrent=2, max_retries=0)
    run = BatchRun(
        "noop",
        config,
        lambda items: {k: Done() for k, _ in items},
        progress=ProgressReporter([events.append], inline=True),
        clock=lambda: 0.0,
        progress_interval=1.0,
    )
    result = run.run(range(500), str, lambda item: item)
    assert result.successful == 500
    assert len(events) == 2 and events[-1].completed == 500 and events[-1].total == 500


def test_a_failing_task_runner_fails_its_keys_not_the_batch():
    def runner(items):
        raise AccessDenied("no", key=items[0][0])

    run = BatchRun("boom", BatchConfig(max_retries=0), runner, chunk_size=3)
    result = run.run([f"k{i}" for i in range(7)], str, lambda item: item)
    assert result.failed == 7 and {c for _, c, _ in result.errors} == {"AccessDenied"}


# -- the default breaker pauses a batch instead of failing its keys (fake clock) --------------


def pausing_client(clock: FakeClock | ScaledClock) -> S3Client:
    """A moto client whose breaker has the default settings (failure rate over a window, waits
    for its probe) on a fake clock."""
    settings = RetryPolicy.client_default(3).breaker_settings()
    breaker = CircuitBreaker(clock=clock.now, sleep=clock.sleep, **settings)
    return S3Client(S3Config(bucket=MOTO_BUCKET, region="us-east-1"), circuit_breaker=breaker)


def seeded(
    client: S3Client, count: int, prefix: str = "k", *, by_client: bool = False
) -> list[str]:
    """`count` keys in moto: straight into its backend, or `by_client` through `client` (whose
    adaptive limiter then has measured a clean request rate before the batch)."""
    names = [f"{prefix}{i:04d}" for i in range(count)]
    if not by_client:
        return put_in_moto(client.bucket, names)
    for name in names:
        client.upload_bytes(b"x", name)
    return names


def test_20_percent_faults_at_32_way_concurrency_never_fail_a_key(moto_s3):
    clock = FakeClock()
    client = pausing_client(clock)
    # through the client: its stray SlowDowns then cut from the rate it measured seeding
    # (from a fresh client's, the batch would crawl back on botocore's cubic curve)
    names = seeded(client, 600, by_client=True)
    rng = random.Random(20)
    faults = Faults(client.s3)
    faults.fail("PutObjectTagging", lambda _: rng.random() < 0.2, "SlowDown", 503)
    config = BatchConfig(max_concurrent=32, max_retries=12, retry_delay=0.05)

    result = batch_tag_objects(client, names, {"a": "1"}, config, merge=False, sleep=clock.sleep)

    assert (result.total, result.successful, result.failed, result.not_run) == (600, 600, 0, 0)
    assert faults.count("PutObjectTagging") > 650  # faults were met, and retried
    assert client.get_tags(names[-1]) == {"a": "1"}


def test_full_faults_open_the_breaker_within_the_window_and_stop_the_batch(moto_s3):
    clock = FakeClock()
    client = pausing_client(clock)
    names = seeded(client, 300, prefix="src/k", by_client=True)  # a window of successes
    faults = Faults(client.s3)
    # the whole store is down: the copy's HEAD of its source fails like the copy (were the
    # HEADs answered, each answered probe would close the breaker again and let another
    # window of copies through, which is right for a partial outage but not this test's)
    for operation in ("HeadObject", "CopyObject"):
        faults.fail(operation, lambda _: True, "ServiceUnavailable", 503)
    config = BatchConfig(max_concurrent=32, max_retries=12, retry_delay=0.05)

    result = batch_copy(client, names, "dst/", config, strip_prefix="src/", sleep=clock.sleep)

    breaker = client.circuit_breaker
    sent = faults.count("HeadObject") + faults.count("CopyObject")
    # opened within its window: at most as many failures as make half of it (the seeding's
    # successes are in it), the 31 other requests already in flight, one probe per open cycle
    most = breaker.window_size * breaker.failure_rate + 31 + breaker.max_open_cycles
    assert breaker.minimum_calls <= sent <= most
    codes = {o.code for o in result.results.values() if o.status == "failed"}
    assert "CircuitOpen" in codes and codes <= {"CircuitOpen", "ServiceUnavailable"}
    assert result.successful == 0 and result.failed + result.not_run == 300
    assert result.not_run > 200  # the batch stopped instead of trying every key
    assert sorted(result.results) == sorted(names)  # every key accounted for, once
    not_run = [o for o in result.results.values() if o.status == "not_run"]
    assert all("store stays down" in o.detail for o in not_run)
    plain = S3Client(S3Config(bucket=MOTO_BUCKET, region="us-east-1"), retry_policy=RetryPolicy())
    assert list(plain.iter_objects("dst/")) == []  # nothing half-written
    assert breaker.gave_up  # it waited for its probes, and every one of them failed


def test_a_30_second_outage_pauses_a_2000_key_batch_and_every_key_completes(moto_s3, caplog):
    clock = ScaledClock(speed=20)  # the outage, backoffs and probe waits in real proportion
    client = pausing_client(clock)
    names = seeded(client, 2000)
    outage: dict[str, float] = {}
    faults = Faults(client.s3)

    def store_down(_: str | None) -> bool:
        if "start" not in outage and len(faults.calls) >= 1000:
            outage["start"] = clock.now()  # halfway through: the store goes down for 30 s
        return "start" in outage and clock.now() < outage["start"] + 30

    faults.fail("PutObjectTagging", store_down, "ServiceUnavailable", 503)
    config = BatchConfig(max_concurrent=32, max_retries=3)  # default backoff: 0.5 s, 1 s, 2 s

    with caplog.at_level("WARNING", logger="orbit_provider.s3.recovery"):
        result = batch_tag_objects(
            client, names, {"a": "1"}, config, merge=False, sleep=clock.sleep
        )

    assert (result.total, result.successful, result.failed, result.not_run) == (2000, 2000, 0, 0)
    assert "circuit opened after" in caplog.text  # the batch paused on the breaker ...
    assert client.circuit_breaker.state is BreakerState.CLOSED  # ... and went on after it
    failed_requests = faults.count("PutObjectTagging") - 2000
    # a bounded number of requests met the outage: the window's worth, in-flight ones, probes
    assert 0 < failed_requests <= 100 + 32 + client.circuit_breaker.max_open_cycles
    assert client.get_tags(names[0]) == {"a": "1"} and client.get_tags(names[-1]) == {"a": "1"}



def test_a_store_throttling_above_a_rate_gets_that_rate_and_every_key(seaweed, seaweed_bucket):
    """5,000 keys tagged through a proxy that answers SlowDown above a request rate: every key
    is tagged, throttled answers come and stay a small share, and the batch's adaptive rate
    ends at most near the store's. The store's rate is set, once the first 500 keys are done
    unthrottled, to 2/3 of the pace they went at, and lowered the same way every 500 keys
    until it pushes back: the batch is held back however busy the machine gets."""
    from time import monotonic

    from orbit_provider.testing.clients import client_for
    from orbit_provider.testing.faultproxy import FaultProxy
    from tests.testing.test_faultproxy import _Via

    keys = [f"t/{i:05d}" for i in range(5000)]
    put_over_http(client_for(seaweed, seaweed_bucket), keys, b"")

    with FaultProxy(seaweed.endpoint, rate=0.0) as proxy:
        client = client_for(_Via(seaweed, proxy.endpoint), seaweed_bucket)

        def source():
            since, forwarded = monotonic(), 0
            for i, key in enumerate(keys):
                # about every 500 done (the engine reads 2 x 16 keys ahead), while the store
                # has not pushed back yet: 2/3 of the pace since the last look
                if i % 500 == 32 and i > 32 and not proxy.counts["over_rate"]:
                    now, done = monotonic(), proxy.counts["forwarded"]
                    proxy.max_rate = (done - forwarded) / (now - since) * 2 / 3
                    since, forwarded = now, done
                yield key

        result = client.batch_tag_objects(
            # retries enough that a key meeting SlowDown while the rate settles (how often
            # depends on the machine's load) is never given up
            source(), {"a": "1"}, BatchConfig(max_concurrent=16, max_retries=10), merge=False
        )

    assert (result.successful, result.failed) == (5000, 0)
    limited = proxy.admitted  # the batch's requests once limited, in order
    pushed, last = limited.count(False), limited[-1000:].count(False)
    # the store pushed back, and once adapted the batch keeps to its rate: additive increase
    # still probes above it now and then, so a few answers stay throttled, never a large share
    assert pushed > 0 and last <= 200, (pushed, last)
    assert limited.index(False) < len(limited) - 2000  # throttled with 2,000 keys to adapt on
    assert client.throttle.throttled == proxy.counts["over_rate"] == limited.count(False)
    # the batch's rate came down to the store's (botocore's cubic limiter may settle well
    # below it after a burst of cuts: how far is load-dependent, so only the bound above holds)
    assert client.throttle.rate <= 2 * proxy.max_rate
    assert client.get_tags(keys[0]) == {"a": "1"} and client.get_tags(keys[-1]) == {"a": "1"}
