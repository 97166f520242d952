"""A thread-safe token bucket: bandwidth limits (bytes/s) and request-rate limits (requests/s)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from orbit_provider.s3.errors import ConfigError


class TokenBucket:
    """Hands out `rate` tokens a second to any number of threads, with bursts up to `capacity`.

    `acquire(n)` takes n tokens and, when that puts the bucket in debt, sleeps until the debt
    is paid: the long-run rate stays at `rate` even for requests larger than the capacity.
    """

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
            raise ConfigError(f"rate: {rate!r} must be a positive number per second")
        self.rate = float(rate)
        self.capacity = float(capacity) if capacity is not None else max(self.rate / 10, 1.0)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.capacity
        self._last = clock()

    def acquire(self, amount: float = 1) -> float:
        """Take `amount` tokens, waiting as long as needed; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= amount
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


THROTTLE_PIECE = 1024 * 1024  # at most this many bytes are taken from the bucket at once


class ThrottledBody:
    """A file-like request body over `data` that takes a token per byte as botocore reads it.

    Only used when a bandwidth limit is set; each read takes tokens in pieces of at most
    THROTTLE_PIECE bytes, so all parts of a transfer share the limit smoothly.
    """

    def __init__(self, data: bytes, bucket: TokenBucket) -> None:
        self._view = memoryview(data)
        self._bucket = bucket
        self._pos = 0

    def read(self, amount: int | None = -1) -> bytes:
        remaining = len(self._view) - self._pos
        n = remaining if amount is None or amount < 0 else min(amount, remaining)
        if n <= 0:
            return b""
        taken = 0
        while taken < n:
            piece = min(THROTTLE_PIECE, n - taken)
            self._bucket.acquire(piece)
            taken += piece
        chunk = self._view[self._pos : self._pos + n].tobytes()
        self._pos += n
        return chunk

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, min(base + offset, len(self._view)))
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True


class RateLimitedBoto:
    """A view of a boto3 client that takes one token before every API request (the batch
    engine's and a tree's request-rate budget; other attributes pass through)."""

    def __init__(self, boto: Any, limiter: TokenBucket) -> None:
        self._boto = boto
        self._limiter = limiter
        self.request_limiter = limiter  # for requests sent around botocore (copy_http)
        self._operations = set(boto.meta.method_to_api_mapping)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._boto, name)
        if name not in self._operations:
            return attr

        def limited(*args: Any, **kwargs: Any) -> Any:
            self._limiter.acquire()
            return attr(*args, **kwargs)

        return limited


def take_request_token(boto: Any) -> None:
    """One token of `boto`'s request budget (a RateLimitedBoto's), for a request sent around
    botocore (a part PUT or range GET on a presigned URL); nothing without a budget."""
    limiter = getattr(boto, "request_limiter", None)
    if limiter is not None:
        limiter.acquire()
