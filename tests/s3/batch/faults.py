"""Test helper for the batch tests: watch and steer the requests a boto3 client sends.

It hooks botocore's own events on the client under test, so requests really go through
botocore (parameter validation, serialization, error parsing); a fault answers a request the
way a server would (an HTTP error with an S3 error body), or blocks it until released.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any


@dataclass
class _Fault:
    operation: str
    match: Callable[[str | None], bool]
    code: str
    status: int
    times: int | None  # None: always
    hits: int = 0


@dataclass
class Faults:
    """Records (operation, key) of every request; injects errors, per-key DeleteObjects
    errors, and blocking."""

    boto: Any
    calls: list[tuple[str, str | None]] = field(default_factory=list)
    delete_batches: list[list[str]] = field(default_factory=list)
    on_request: Callable[[str, str | None], None] | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._blocks: list[tuple[str, str, threading.Event, threading.Event]] = []
        self._delete_errors: list[_Fault] = []
        events = self.boto.meta.events
        events.register("before-parameter-build.s3", self._record)
        events.register("before-call.s3", self._answer)
        events.register("after-call.s3.DeleteObjects", self._add_delete_errors)

    # -- set up -------------------------------------------------------------------------

    def fail(
        self,
        operation: str,
        match: Callable[[str | None], bool],
        code: str,
        status: int,
        times: int | None = None,
    ) -> None:
        """Answer `operation` on matching keys with an S3 error (`times` times, or always)."""
        self._faults.append(_Fault(operation, match, code, status, times))

    def fail_in_delete(
        self, match: Callable[[str], bool], code: str, times: int | None = None
    ) -> None:
        """DeleteObjects leaves matching keys alone and lists them under Errors."""
        self._delete_errors.append(_Fault("DeleteObjects", match, code, 200, times))

    def block(self, operation: str, key: str) -> tuple[threading.Event, threading.Event]:
        """Hold `operation` on `key` until the returned release event is set; the started
        event is set when the request arrives."""
        started, release = threading.Event(), threading.Event()
        self._blocks.append((operation, key, started, release))
        return started, release

    def count(self, operation: str, key: str | None = None) -> int:
        with self._lock:
            return sum(1 for op, k in self.calls if op == operation and (key is None or k == key))

    def keys(self, operation: str) -> set[str | None]:
        with self._lock:
            return {k for op, k in self.calls if op == operation}

    # -- hooks ----------------------------------------------------------------------------

    def _record(self, params: dict, model: Any, context: dict, **_: Any) -> None:
        key = params.get("Key")
        context["faults_key"] = key
        with self._lock:
            self.calls.append((model.name, key))
        if self.on_request is not None:
            self.on_request(model.name, key)
        if model.name == "DeleteObjects":
            objects = params["Delete"]["Objects"]
            failed = []
            with self._lock:
                self.delete_batches.append([o["Key"] for o in objects])
                for fault in self._delete_errors:
                    for obj in objects:
                        if fault.match(obj["Key"]) and (
                            fault.times is None or fault.hits < fault.times
                        ):
                            fault.hits += 1
                            failed.append(
                                {
                                    "Key": obj["Key"],
                                    "Code": fault.code,
                                    "Message": f"injected {fault.code}",
                                }
                            )
            names = {f["Key"] for f in failed}
            kept = [o for o in objects if o["Key"] not in names]
            # a request left empty is answered here (S3 refuses an empty Delete)
            params["Delete"]["Objects"] = kept or objects
            context["faults_delete_errors"] = failed
            context["faults_answer_empty"] = not kept

    def _answer(self, model: Any, context: dict, **_: Any) -> Any:
        key = context.get("faults_key")
        if context.get("faults_answer_empty"):
            return SimpleNamespace(status_code=200, headers={}), {
                "Deleted": [],
                "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}},
            }
        for operation, blocked_key, started, release in self._blocks:
            if operation == model.name and blocked_key == key:
                started.set()
                release.wait(60)
        with self._lock:
            for fault in self._faults:
                if fault.operation != model.name or not fault.match(key):
                    continue
                if fault.times is not None and fault.hits >= fault.times:
                    continue
                fault.hits += 1
                body = {
                    "Error": {"Code": fault.code, "Message": f"injected {fault.code}"},
                    "ResponseMetadata": {"HTTPStatusCode": fault.status, "HTTPHeaders": {}},
                }
                return SimpleNamespace(status_code=fault.status, headers={}), body
        return None

    def _add_delete_errors(self, parsed: dict, context: dict, **_: Any) -> None:
        errors = context.get("faults_delete_errors")
        if errors:
            parsed.setdefault("Errors", []).extend(errors)


class FakeClock:
    """A clock that moves only when something sleeps on it."""

    def __init__(self) -> None:
        self.now_value = 0.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.now_value

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now_value += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now_value += seconds


class ScaledClock:
    """Time that runs `speed` times faster than the real clock: sleeping 30 s takes 30/speed
    real seconds. Unlike FakeClock, concurrent work keeps its real proportions (a retry's
    backoff still spaces its attempts while other threads' requests go on)."""

    def __init__(self, speed: float = 20.0) -> None:
        self.speed = speed
        self.slept: list[float] = []
        self._origin = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._origin) * self.speed

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        time.sleep(seconds / self.speed)
