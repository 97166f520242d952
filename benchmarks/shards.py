"""Range shards at scale: a prefix of N keys listed into range shards by
OrbitListKeysOperator(shard_by="range"), then deleted by one OrbitBatchDeleteOperator task per
shard, each task a fresh process as a mapped task would be. SeaweedFS on loopback.

    python -m benchmarks.shards                          # 10,000 and 100,000 keys, 20 shards
    python -m benchmarks.shards --keys 10000 1000000     # the issue's 10k and 1M

Per scale it prints the XCom size of the largest shard, the idle and peak RSS of the listing
task and of every delete task (peak minus idle is what the work itself cost), and checks that
every key was deleted exactly once (the tasks' counts add up to N, nothing is left). Targets
(issue 15): each task's peak within +50 MiB of its idle RSS at every scale, shard XCom < 1 KiB.
Keys are created before the measured tasks with many concurrent PUTs (not measured).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.harness import Bench, environment, print_table, verdict, write_results

TARGET_RSS_GROWTH_MIB = 50
TARGET_SHARD_XCOM = 1024
PARALLEL_TASKS = 2  # mapped tasks running at once (the machine's cores)


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _hwm_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_task(spec: dict[str, Any]) -> dict[str, Any]:
    """In a task process: build the operator and its client (idle RSS), run it, report."""
    from orbit_provider.operators.batch import OrbitBatchDeleteOperator
    from orbit_provider.operators.listing import OrbitListKeysOperator

    if spec["task"] == "list":
        op: Any = OrbitListKeysOperator(
            task_id="list", bucket=spec["bucket"], prefix=spec["prefix"], shard_by="range",
            shards=spec["shards"],
        )
    else:
        op = OrbitBatchDeleteOperator(
            task_id="delete", bucket=spec["bucket"], key_range=spec["key_range"],
            max_concurrent=8,
        )
    op.client.check_access()  # the client and its connections exist before the idle reading
    idle = _rss_mib()
    started = time.monotonic()
    value = op.execute({})
    seconds = time.monotonic() - started
    out = {"idle_mib": idle, "peak_mib": _hwm_mib(), "seconds": seconds}
    if spec["task"] == "list":
        out["shards"] = value
    else:
        out.update(total=value["total"], succeeded=value["succeeded"], failed=value["failed"])
    return out


def _task(bench: Bench, spec: dict[str, Any]) -> dict[str, Any]:
    env = bench.worker_env()
    env["AIRFLOW_CONN_ORBIT_S3_DEFAULT"] = json.dumps({
        "conn_type": "orbit_s3", "login": bench.server.access_key,
        "password": bench.server.secret_key,
        "extra": {"endpoint_url": bench.endpoint, "region_name": "us-east-1",
                  "force_path_style": True},
    })
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.shards", "--task"], input=json.dumps(spec).encode(),
        capture_output=True, env=env, cwd=os.path.dirname(os.path.dirname(__file__)),
        timeout=3600, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"task failed: {proc.stderr.decode(errors='replace')[-3000:]}")
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def create_keys(bench: Bench, prefix: str, count: int) -> float:
    """`count` empty objects under `prefix` (not measured): plain-HTTP PUTs signed by
    botocore (orbit's small_http path, a fraction of botocore's client CPU per request),
    32 in flight, so a million keys take minutes rather than half an hour."""
    from orbit_provider.s3.client import S3Client
    from orbit_provider.s3.config import Credentials, S3Config
    from orbit_provider.s3.transfer.small_http import make_lean

    client = S3Client(S3Config(
        bucket=bench.bucket, endpoint=bench.server.endpoint, region="us-east-1",
        force_path_style=True,
        credentials=Credentials(bench.server.access_key, bench.server.secret_key),
    ))  # fmt: skip
    lean = make_lean(client)
    if lean is None:
        raise RuntimeError("the plain-HTTP path is not available for this endpoint")
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda i: lean.put(f"{prefix}{i:09d}", b"", {}), range(count),
                          chunksize=256))  # fmt: skip
    finally:
        lean.close()
    return time.monotonic() - started


def measure(bench: Bench, count: int, shards: int) -> dict[str, Any]:
    prefix = f"scale-{count}/"
    print(f"creating {count:,} keys ...", flush=True)
    created = create_keys(bench, prefix, count)
    base = {"bucket": bench.bucket, "prefix": prefix, "shards": shards}
    listed = _task(bench, {**base, "task": "list"})
    ranges = listed.pop("shards")
    sizes = [len(json.dumps(r)) for r in ranges]
    with ThreadPoolExecutor(PARALLEL_TASKS) as pool:
        deletes = list(pool.map(
            lambda r: _task(bench, {**base, "task": "delete", "key_range": r}), ranges
        ))
    s3 = bench.boto3_client()
    left = s3.list_objects_v2(Bucket=bench.bucket, Prefix=prefix).get("KeyCount", 0)
    return {
        "keys": count, "create_seconds": created, "list": listed, "deletes": deletes,
        "shard_xcom_max": max(sizes, default=0), "deleted": sum(d["succeeded"] for d in deletes),
        "failed": sum(d["failed"] for d in deletes), "left": left,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.shards", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--shards", type=int, default=20)
    ap.add_argument("--task", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.task:
        print(json.dumps(run_task(json.loads(sys.stdin.read()))))
        return 0
    bench = Bench.start("shards")
    try:
        runs = [measure(bench, n, args.shards) for n in args.keys]
    finally:
        bench.stop()
    rows, ok = [], True
    for run in runs:
        tasks = [run["list"], *run["deletes"]]
        growth = max(t["peak_mib"] - t["idle_mib"] for t in tasks)
        exact = run["deleted"] == run["keys"] and run["failed"] == 0 and run["left"] == 0
        good = growth <= TARGET_RSS_GROWTH_MIB and run["shard_xcom_max"] < TARGET_SHARD_XCOM
        ok = ok and good and exact
        rows.append([
            f"{run['keys']:,}", f"{len(run['deletes'])}", f"{run['shard_xcom_max']} B",
            f"{run['list']['idle_mib']:.0f} -> {run['list']['peak_mib']:.0f} MiB",
            f"{max(d['peak_mib'] for d in run['deletes']):.0f} MiB",
            f"+{growth:.1f} MiB", f"{run['list']['seconds']:.0f} s",
            f"{sum(d['seconds'] for d in run['deletes']):.0f} s", f"{run['deleted']:,}",
            verdict(good and exact),
        ])
    print_table(
        ["keys", "shards", "max shard XCom", "list task RSS", "max delete task peak",
         "max peak - idle", "list", "delete (task-s)", "deleted once", "targets"],
        rows,
    )
    print(f"targets: peak - idle <= {TARGET_RSS_GROWTH_MIB} MiB in every task at every scale, "
          f"shard XCom < {TARGET_SHARD_XCOM} B, every key deleted exactly once")
    path = write_results("shards", {"environment": environment(), "runs": runs})
    print(f"saved {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
