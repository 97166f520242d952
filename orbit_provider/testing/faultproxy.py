"""A fault-injecting HTTP proxy on loopback, between an S3 client and a real server.

At a configured rate it answers 503 SlowDown or 500 InternalError, resets the connection
in the middle of a response body, or stalls past the client's timeout. Everything else is
forwarded unchanged (the Host header included, so SigV4 signatures still verify), except
response headers named in `strip_response_headers` (to play a store without a feature).

It can also play a store with a request-rate limit (`max_rate`: SlowDown for requests above
it) and a far network (`latency`: added round-trip time per request; `bandwidth`: bytes a
second per connection, each way), as a single TCP stream to another region behaves.
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

FAULTS = ("slowdown", "internal", "reset", "stall")

_ERROR_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault</RequestId></Error>"
)
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}
_PIECE = 64 * 1024  # bytes moved between two pacing checks of a bandwidth cap


@dataclass
class FaultProxy:
    """Proxy to `upstream` (http://host:port) faulting `rate` of requests (0.0-1.0).

    `faults` picks which kinds are injected, in turn (any four faults of the default kinds
    hold each kind once, so a test that needs every kind met does not depend on luck);
    `stall_seconds` must exceed the client's read timeout. `counts` tallies what was
    injected, per kind, plus "forwarded" for requests passed through untouched. `seen`
    lists every request as (method, path with query, lower-case header names).

    `max_rate`: requests a second let through, counted over the last `rate_window` seconds
    (at most max_rate x rate_window in any window); the others are answered 503 SlowDown
    (counted as "over_rate"; while `max_rate` is set, `admitted` lists, in order, whether each
    request was let through). `latency`: seconds added to every answer (an added round trip).
    `bandwidth`: bytes a second each connection moves, each way.
    """

    upstream: str
    rate: float = 0.2
    faults: tuple[str, ...] = FAULTS
    stall_seconds: float = 5.0
    seed: int = 1234
    counts: Counter = field(default_factory=Counter)
    strip_response_headers: tuple[str, ...] = ()
    seen: list[tuple[str, str, frozenset[str]]] = field(default_factory=list)
    max_rate: float | None = None
    rate_window: float = 1.0
    admitted: list[bool] = field(default_factory=list)
    latency: float = 0.0
    bandwidth: float | None = None
    #: the time the proxy paces and waits by (a test passes a fake clock and sleep)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        unknown = set(self.faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"faults: unknown kinds {sorted(unknown)}")
        parsed = urlparse(self.upstream)
        self._up_host, self._up_port = parsed.hostname, parsed.port or 80
        self._rng = random.Random(self.seed)
        self._drawn = 0  # faults injected so far: the next kind is faults[_drawn % len]
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._recent: deque[float] = deque()  # when the requests of the rate window came

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def set_rate(self, rate: float) -> None:
        with self._lock:
            self.rate = rate

    def pick_fault(self) -> str | None:
        with self._lock:
            if self._rng.random() < self.rate:
                kind = self.faults[self._drawn % len(self.faults)]
                self._drawn += 1
            else:
                kind = None
            self.counts[kind or "forwarded"] += 1
            return kind

    def over_rate(self) -> bool:
        """Whether one more request now exceeds `max_rate` (if not, it is counted in)."""
        if self.max_rate is None:
            return False
        with self._lock:
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= self.rate_window:
                self._recent.popleft()
            over = len(self._recent) >= self.max_rate * self.rate_window
            if over:
                self.counts["over_rate"] += 1
            else:
                self._recent.append(now)
            self.admitted.append(not over)
            return over

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: FaultProxy

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self._paced_read(length) if length else b""
        with self.owner._lock:
            names = frozenset(name.lower() for name in self.headers)
            self.owner.seen.append((self.command, self.path, names))
        if self.owner.latency:
            self.owner.sleep(self.owner.latency)  # the added round trip of a far network
        if self.owner.over_rate():
            return self._error(503, "SlowDown", "Please reduce your request rate.")
        fault = self.owner.pick_fault()
        if fault == "slowdown":
            return self._error(503, "SlowDown", "Please reduce your request rate.")
        if fault == "internal":
            return self._error(500, "InternalError", "We encountered an internal error.")
        if fault == "stall":
            time.sleep(self.owner.stall_seconds)
            self.close_connection = True
            return
        status, reason, headers, payload = self._forward(body)
        if fault == "reset" and (self.command == "HEAD" or not payload):
            # no body to cut (HEAD, or an empty answer such as UploadPart's): drop the
            # connection before the answer, or the client would see a complete response
            self._reset()
            return
        self.send_response(status, reason)
        head = self.command == "HEAD"  # no body: the upstream Content-Length is the object's
        stripped = {h.lower() for h in self.owner.strip_response_headers}
        for name, value in headers:
            lower = name.lower()
            if lower in _HOP_HEADERS or lower in stripped:
                continue
            if head or lower != "content-length":
                self.send_header(name, value)
        if not head:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if fault == "reset":
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self._reset()
            return
        if self.command != "HEAD":
            self._paced_write(payload)

    def _paced_read(self, length: int) -> bytes:
        """The request body, taken no faster than the bandwidth cap."""
        rate = self.owner.bandwidth
        if not rate:
            return self.rfile.read(length)
        pieces, got, start = [], 0, self.owner.clock()
        while got < length:
            piece = self.rfile.read(min(_PIECE, length - got))
            if not piece:
                break
            pieces.append(piece)
            got += len(piece)
            self._pace(start, got, rate)
        return b"".join(pieces)

    def _paced_write(self, payload: bytes) -> None:
        """Send the response body no faster than the bandwidth cap."""
        rate = self.owner.bandwidth
        if not rate:
            self.wfile.write(payload)
            return
        view, sent, start = memoryview(payload), 0, self.owner.clock()
        while sent < len(view):
            piece = view[sent : sent + _PIECE]
            self._pace(start, sent + len(piece), rate)  # the last byte leaves no earlier than due
            self.wfile.write(piece)
            sent += len(piece)

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = getattr(self, "_upstream", None)
        for attempt in range(2):
            if conn is None:
                conn = http.client.HTTPConnection(
                    self.owner._up_host, self.owner._up_port, timeout=60
                )
                self._upstream = conn
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in _HOP_HEADERS:
                        conn.putheader(name, value)
                conn.endheaders(body if body else None)
                resp = conn.getresponse()
                payload = resp.read()
                return resp.status, resp.reason, resp.getheaders(), payload
            except (ConnectionError, http.client.HTTPException, OSError):
                conn.close()
                conn = self._upstream = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _error(self, status: int, code: str, message: str) -> None:
        payload = _ERROR_BODY.format(code=code, message=message).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _reset(self) -> None:
        """Close with RST, as a dropped connection looks to the client."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _pace(self, start: float, moved: int, rate: float) -> None:
        """Wait until `moved` bytes since `start` are within `rate` bytes a second."""
        ahead = start + moved / rate - self.owner.clock()
        if ahead > 0:
            self.owner.sleep(ahead)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle
