"""What tree transfers share: which errors stop a whole tree, the slots that bound requests in
flight, and session views on another bucket or behind a request-rate limit (moto)."""

from __future__ import annotations

import threading

import pytest

from orbit_provider.s3.errors import (
    AccessDenied,
    CircuitOpen,
    NotFound,
    S3Error,
    ServerError,
    UploadInterrupted,
)
from orbit_provider.s3.transfer.tree_result import TreeRecorder
from orbit_provider.s3.transfer.tree_run import Slots, TreeRun, TreeStopped, is_fatal, session_view
from orbit_provider.s3.wire.ratelimit import TokenBucket


@pytest.mark.parametrize(
    ("error", "fatal"),
    [
        (AccessDenied("x", code="SignatureDoesNotMatch"), True),
        (AccessDenied("x", code="InvalidAccessKeyId"), True),
        (AccessDenied("x"), True),
        (NotFound("b", None, code="NoSuchBucket"), True),
        (CircuitOpen("store down"), True),
        (UploadInterrupted("x", upload_id="u", code="SignatureDoesNotMatch"), True),
        (NotFound("b", "k"), False),
        (ServerError("x"), False),
        (S3Error("x", code="IntegrityError"), False),
    ],
)
def test_which_errors_would_fail_every_file(error, fatal):
    assert is_fatal(error) is fatal


def test_slots_bound_the_units_in_flight():
    slots = Slots(4)
    held, most, lock = [0], [0], threading.Lock()

    def take(n: int) -> None:
        got = slots.take(n, lambda: False)
        with lock:
            held[0] += got
            most[0] = max(most[0], held[0])
        with lock:
            held[0] -= got
        slots.give(got)

    threads = [threading.Thread(target=take, args=(n % 3 + 1,)) for n in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] <= 4 and held[0] == 0
    assert slots.take(10, lambda: False) == 4  # never more than the whole pool


def test_a_view_takes_a_token_per_request_and_can_talk_to_another_bucket(moto_client):
    moto_client.s3.create_bucket(Bucket="other-bucket")
    taken = []
    limiter = TokenBucket(1, capacity=1, clock=lambda: 0.0, sleep=taken.append)
    view = session_view(moto_client, bucket="other-bucket", limiter=limiter)
    assert view.bucket == "other-bucket" and session_view(moto_client) is moto_client
    view.call("put_object", key="k", Body=b"x")
    list(view.iter_objects(""))
    assert taken == [1.0]  # a token per request: the second waits (the clock stands still)
    assert [o.key for o in view.iter_objects("")] == ["k"]
    assert list(moto_client.iter_objects("")) == []


def test_a_fatal_error_stops_the_run_and_says_what_was_done(moto_client):
    rec = TreeRecorder("upload", "/a", "s3://b/")
    run = TreeRun(moto_client, rec, operation="upload", workers=2, progress=None,
                  max_bandwidth=None, max_requests_per_second=None)  # fmt: skip
    started = []

    def work(i: int):
        started.append(i)
        if i == 3:
            raise AccessDenied("PutObject failed: SignatureDoesNotMatch",
                               code="SignatureDoesNotMatch")  # fmt: skip
        return None

    with pytest.raises(TreeStopped, match="would fail every file") as info:
        run.run(range(1000), work, lambda i: 1)
    assert info.value.code == "SignatureDoesNotMatch"
    assert len(started) < 10  # nothing after the stop is started
