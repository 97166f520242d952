"""Process-wide counters of how hard the store pushed back: retries, throttled answers and
circuit-breaker openings.

The core's one retry layer (recovery.py) counts into `COUNTERS`; it never imports Airflow and
sends nothing anywhere. A caller that wants one job's numbers reads `snapshot()` before and
after it and subtracts (`Counts.since`): an Airflow task runs in a process of its own, so the
difference is the task's (the Airflow side emits it as metrics, operators/metrics.py). Other
jobs running in the same process at the same time are counted too: the counters are per
process, like the shared breaker and throttle they describe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Counts:
    """A reading of the counters.

    :param retries: attempts made again after a retryable failure (the retry layer's sleeps).
    :param throttles: answers asking to slow down (503 SlowDown, 429, Throttling...).
    :param breaker_opens: times a circuit breaker went from closed to open.
    """

    retries: int = 0
    throttles: int = 0
    breaker_opens: int = 0

    def since(self, earlier: Counts) -> Counts:
        """What was counted between `earlier` and this reading."""
        return Counts(
            **{f.name: getattr(self, f.name) - getattr(earlier, f.name) for f in fields(self)}
        )

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Counters:
    """Thread-safe counters (`add`), read as a `Counts` (`snapshot`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = Counts().to_dict()

    def add(self, name: str, n: int = 1) -> None:
        """Count `n` more of `name` (a field of Counts)."""
        with self._lock:
            if name not in self._values:
                raise KeyError(f"no counter named {name!r}")
            self._values[name] += n

    def snapshot(self) -> Counts:
        with self._lock:
            return Counts(**self._values)


#: The counters of this process (see the module doc).
COUNTERS = Counters()


def snapshot() -> Counts:
    """The process's counters now."""
    return COUNTERS.snapshot()
