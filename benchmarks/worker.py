"""One measured client in a fresh process: `python -m benchmarks.worker` with a JSON spec on stdin.

The client is prepared (imports, boto3 client, connection) outside the measured section;
the measured section runs between two `getrusage(RUSAGE_SELF)` calls, so its CPU time is
this process's user+sys time (all threads) and nothing of the server's. Peak RSS is this
process's high-water mark (VmHWM, i.e. ru_maxrss of this process image) at the end.
Optional profiling (`profile_path`) runs every thread under cProfile with a per-thread CPU
clock and saves merged pstats.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks import batch_clients, transfer_clients

CLIENTS: dict[str, Callable[[dict[str, Any]], Callable[[], dict]]] = {
    **transfer_clients.CLIENTS,
    **batch_clients.CLIENTS,
}


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _maxrss_mib() -> float:
    """Peak RSS of this process image. Linux carries ru_maxrss across execve (a child of a
    big driver would report the driver's size), so prefer VmHWM, which is per address space."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class _ThreadProfiles:
    """cProfile in every thread (main and pool threads), timed by each thread's CPU clock."""

    def __init__(self) -> None:
        import cProfile
        import threading

        self._profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()
        self._original_run = threading.Thread.run
        profiles, lock, original = self._profiles, self._lock, self._original_run

        def run(thread: threading.Thread) -> None:
            prof = cProfile.Profile(timer=time.thread_time)
            with lock:
                profiles.append(prof)
            prof.enable()
            try:
                original(thread)
            finally:
                prof.disable()

        threading.Thread.run = run  # type: ignore[method-assign]
        self.main = cProfile.Profile(timer=time.thread_time)
        self._profiles.append(self.main)

    def save(self, path: str) -> None:
        import pstats
        import threading

        threading.Thread.run = self._original_run  # type: ignore[method-assign]
        with self._lock:
            profiles = [p for p in self._profiles if p.getstats()]
        stats = pstats.Stats(profiles[0])
        for p in profiles[1:]:
            stats.add(p)
        stats.dump_stats(path)


def main() -> None:
    spec = json.load(sys.stdin)
    prepare = CLIENTS[spec["client"]]
    measured = prepare(spec)
    profiles = _ThreadProfiles() if spec.get("profile_path") else None
    rss_before = _maxrss_mib()
    cpu0, t0 = _cpu(), time.perf_counter()
    if profiles:
        profiles.main.enable()
    info = measured()
    if profiles:
        profiles.main.disable()
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    result = {
        "client": spec["client"],
        "wall": wall,
        "cpu": cpu,
        "peak_rss_mib": _maxrss_mib(),
        "rss_before_mib": rss_before,
        "info": info or {},
    }
    if profiles:
        profiles.save(spec["profile_path"])
    with open(spec["result_path"], "w") as f:
        json.dump(result, f, default=str)


if __name__ == "__main__":
    main()
