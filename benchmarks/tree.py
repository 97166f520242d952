"""Whole folders: orbit_provider's upload_tree / download_tree vs rclone (`--transfers 16`) vs
a 16-thread boto3 loop, against SeaweedFS on loopback, in one run (issue 13).

    python -m benchmarks.tree                   # 2,000 x 64 KiB and 200 x 4 MiB, up and down
    python -m benchmarks.tree --scale 0.1       # a tenth of the files (a quick look)
    python -m benchmarks.tree --repeat 3        # each client three times, median run shown

Each client runs in a fresh process. Python clients measure their own transfer section (CPU
with getrusage, peak RSS as VmHWM; imports and client set-up excluded); rclone is measured as
its whole process (os.wait4), start-up included. Every run is verified: uploads by listing
the prefix and comparing each object's size and MD5 ETag with the file's MD5, downloads by
comparing every file's MD5 with its source's. Prints files/s, MB/s (10^6 bytes/s), client
CPU ms per file, peak RSS MiB and the ratios, checks the targets of issue 13 and saves the
run under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

KIB = 1024
MIB = 1024 * KIB
MB = 1_000_000
WORKLOADS = {"small": (2000, 64 * KIB), "large": (200, 4 * MIB)}
CLIENTS = ["orbit", "rclone", "boto3"]
LABELS = {
    "orbit": "orbit_provider upload_tree/download_tree (16 files in flight)",
    "rclone": "rclone copy --transfers 16",
    "boto3": "boto3 upload_file/download_file, 16 threads",
}
TRANSFERS = 16
RSS_BASE_MIB = 150


# -- the measured clients (run inside `python -m benchmarks.tree --worker`) ------------------


def _orbit_client(spec: dict) -> Any:
    from orbit_provider.s3.client import S3Client
    from orbit_provider.s3.config import Credentials, S3Config

    credentials = Credentials(spec["access_key"], spec["secret_key"])
    return S3Client(S3Config(bucket=spec["bucket"], endpoint=spec["endpoint"], region="us-east-1",
                             force_path_style=True, credentials=credentials))  # fmt: skip


def _boto3_client(spec: dict) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=spec["endpoint"], aws_access_key_id=spec["access_key"],
        aws_secret_access_key=spec["secret_key"], region_name="us-east-1",
        config=Config(max_pool_connections=TRANSFERS, s3={"addressing_style": "path"}),
    )  # fmt: skip


def prepare(spec: dict) -> Callable[[], dict]:
    """The measured section of one client and direction (set-up done here, not measured)."""
    client, direction = spec["client"], spec["direction"]
    src, prefix, dest = spec["source"], spec["prefix"], spec["dest"]
    if client == "orbit":
        s3 = _orbit_client(spec)
        s3.check_access()  # connection and credentials ready before the clock starts
        if direction == "up":
            def run() -> dict:
                r = s3.upload_tree(src, prefix, workers=TRANSFERS)
                return {"files": r.files_sent, "failed": r.files_failed}
        else:
            def run() -> dict:
                r = s3.download_tree(prefix, dest, workers=TRANSFERS)
                return {"files": r.files_sent, "failed": r.files_failed}
        return run
    s3 = _boto3_client(spec)
    s3.head_bucket(Bucket=spec["bucket"])
    bucket = spec["bucket"]
    if direction == "up":
        files = sorted(p for p in Path(src).rglob("*") if p.is_file())

        def put(path: Path) -> None:
            s3.upload_file(str(path), bucket, prefix + path.relative_to(src).as_posix())

        def run() -> dict:
            with ThreadPoolExecutor(TRANSFERS) as pool:
                list(pool.map(put, files))
            return {"files": len(files), "failed": 0}
        return run

    def get(key: str) -> None:
        path = Path(dest) / key[len(prefix):]
        path.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(path))

    def run() -> dict:
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])]  # fmt: skip
        with ThreadPoolExecutor(TRANSFERS) as pool:
            list(pool.map(get, keys))
        return {"files": len(keys), "failed": 0}
    return run


def _vmhwm_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker() -> None:
    spec = json.load(sys.stdin)
    measured = prepare(spec)
    ru0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    info = measured()
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    json.dump({"wall": wall, "cpu": cpu, "peak_rss_mib": _vmhwm_mib(), **info}, sys.stdout)


# -- the driver ------------------------------------------------------------------------------


def make_tree(root: Path, count: int, size: int) -> dict[str, str]:
    """`count` files of `size` random bytes in 10 folders; returns relative path -> MD5."""
    digests = {}
    pool = os.urandom(size + 4096)
    for i in range(count):
        rel = f"d{i % 10}/file-{i:05d}.bin"
        data = i.to_bytes(8, "big") + pool[i % 4096 : i % 4096 + size - 8]
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        digests[rel] = hashlib.md5(data).hexdigest()
    return digests


def run_child(argv: list[str], env: dict[str, str], stdin: bytes | None = None
              ) -> tuple[bytes, Any, float]:  # fmt: skip
    """Run a child; its stdout, its own rusage (os.wait4) and its wall time."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=err, env=env)
        if stdin is not None:
            proc.stdin.write(stdin)
        proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({proc.returncode}): "
                               f"{err.read().decode(errors='replace')[-3000:]}")  # fmt: skip
        return out.read(), usage, wall


def measure(bench: Any, client: str, direction: str, source: Path, prefix: str, dest: Path
            ) -> dict:  # fmt: skip
    import psutil

    from benchmarks.harness import _children_cpu

    # nothing left dirty from building the source tree or from earlier runs: a client that
    # makes its files durable (orbit's syncfs) would otherwise also write those out
    os.sync()
    server_proc = psutil.Process(bench.server.process.pid)
    server_cpu0 = sum(server_proc.cpu_times()[:2])
    cpu0, child0, t0 = psutil.cpu_times(), _children_cpu(), time.monotonic()
    result = _measure(bench, client, direction, source, prefix, dest)
    t1, cpu1, child1 = time.monotonic(), psutil.cpu_times(), _children_cpu()
    result["server_cpu"] = sum(server_proc.cpu_times()[:2]) - server_cpu0
    # what the rest of the machine used meanwhile, in cores: > 0.2 means a disturbed run
    busy = (sum(cpu1) - cpu1.idle - getattr(cpu1, "iowait", 0)) - (
        sum(cpu0) - cpu0.idle - getattr(cpu0, "iowait", 0))  # fmt: skip
    other = busy - (child1 - child0) - result["server_cpu"]
    result["other_load_cores"] = max(0.0, other / max(t1 - t0, 1e-9))
    return result


def _measure(bench: Any, client: str, direction: str, source: Path, prefix: str, dest: Path
             ) -> dict:  # fmt: skip
    server = bench.server
    env = bench.worker_env()
    if client == "rclone":
        conf = bench.workdir / "rclone.conf"
        conf.touch()
        env.update(
            RCLONE_CONFIG=str(conf), RCLONE_CONFIG_BENCH_TYPE="s3",
            RCLONE_CONFIG_BENCH_PROVIDER="Other", RCLONE_CONFIG_BENCH_ENV_AUTH="false",
            RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=server.access_key,
            RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=server.secret_key,
            RCLONE_CONFIG_BENCH_ENDPOINT=server.endpoint, RCLONE_CONFIG_BENCH_REGION="us-east-1",
            RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE="true",
        )  # fmt: skip
        remote = f"bench:{bench.bucket}/{prefix}"
        pair = [str(source), remote] if direction == "up" else [remote, str(dest)]
        rclone = shutil.which("rclone", path=str(Path(sys.executable).parent)) or "rclone"
        _, usage, wall = run_child([rclone, "copy", *pair, "--transfers", str(TRANSFERS)], env)
        return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
                "peak_rss_mib": usage.ru_maxrss / 1024, "failed": 0}  # fmt: skip
    spec = {
        "client": client, "direction": direction, "endpoint": server.endpoint,
        "access_key": server.access_key, "secret_key": server.secret_key,
        "bucket": bench.bucket, "source": str(source), "prefix": prefix, "dest": str(dest),
    }  # fmt: skip
    out, _, _ = run_child([sys.executable, "-m", "benchmarks.tree", "--worker"], env,
                          json.dumps(spec).encode())  # fmt: skip
    return json.loads(out)


def verify_upload(s3: Any, bucket: str, prefix: str, digests: dict[str, str], size: int) -> None:
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            found[o["Key"][len(prefix):]] = (o["Size"], o["ETag"].strip('"'))
    want = {rel: (size, md5) for rel, md5 in digests.items()}
    if found != want:
        bad = sorted(k for k in set(found) | set(want) if found.get(k) != want.get(k))
        raise AssertionError(f"upload to {prefix} does not match its source: {bad[:5]}")


def verify_download(dest: Path, digests: dict[str, str]) -> None:
    found = {p.relative_to(dest).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
             for p in dest.rglob("*") if p.is_file()}  # fmt: skip
    if found != digests:
        bad = sorted(k for k in set(found) | set(digests) if found.get(k) != digests.get(k))
        raise AssertionError(f"download to {dest} does not match its source: {bad[:5]}")


def target(name: str, value: float | None, ok: bool) -> dict:
    return {"target": name, "value": value, "ok": ok}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the file counts")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--workloads", default="small,large")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each client; the table shows each one's median run")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker()
        return 0
    from benchmarks.harness import (
        Bench,
        environment,
        fmt_ratio,
        print_table,
        ratio,
        verdict,
        write_results,
    )

    clients = [c for c in args.clients.split(",") if c]
    workloads = [w for w in args.workloads.split(",") if w]
    bench = Bench.start("tree")
    runs: dict[str, dict[str, dict]] = {}
    try:
        s3 = bench.boto3_client()
        for w_index, workload in enumerate(workloads):
            count, size = WORKLOADS[workload]
            count = max(1, int(count * args.scale))
            source = bench.workdir / f"src-{workload}"
            digests = make_tree(source, count, size)
            order = clients[w_index % len(clients):] + clients[: w_index % len(clients)]
            tries: dict[tuple[str, str], list[dict]] = {}
            for rep in range(args.repeat):
                for direction in ("up", "down"):
                    for client in order:
                        prefix = f"{client}/{workload}/{rep}/"
                        dest = bench.workdir / f"down-{client}-{workload}"
                        result = measure(bench, client, direction, source, prefix, dest)
                        if direction == "up":
                            verify_upload(s3, bench.bucket, prefix, digests, size)
                        else:
                            verify_download(dest, digests)
                            shutil.rmtree(dest)
                        result.update(files=count, bytes=count * size)
                        tries.setdefault((direction, client), []).append(result)
                        print(f"{workload} {direction} {client} rep {rep + 1}: "
                              f"{count / result['wall']:.0f} files/s, verified, other load "
                              f"{result['other_load_cores']:.2f} cores", flush=True)  # fmt: skip
            for (direction, client), results in tries.items():
                median = sorted(results, key=lambda r: r["wall"])[len(results) // 2]
                runs.setdefault(f"{workload}-{direction}", {})[client] = median
        rows, targets = [], []
        for name, by_client in runs.items():
            for client, r in by_client.items():
                r["files_s"] = r["files"] / r["wall"]
                r["mb_s"] = r["bytes"] / r["wall"] / MB
                r["cpu_ms_per_file"] = 1000 * r["cpu"] / r["files"]
                r["server_cpu_ms_per_file"] = 1000 * r["server_cpu"] / r["files"]
                rows.append([
                    name, client, f"{r['files_s']:.0f}", f"{r['mb_s']:.1f}",
                    f"{r['cpu_ms_per_file']:.2f}", f"{r['server_cpu_ms_per_file']:.2f}",
                    f"{r['peak_rss_mib']:.0f}", f"{r.get('other_load_cores', 0):.2f}",
                ])  # fmt: skip
            orbit, rc, b3 = (by_client.get(c) for c in ("orbit", "rclone", "boto3"))
            if orbit and rc:
                speed = ratio(orbit["files_s"], rc["files_s"])
                ok = speed is not None and speed >= 1.0
                targets.append(target(f"{name}: orbit >= 1.0x rclone --transfers 16", speed, ok))
                if name.startswith("small"):
                    cpu = ratio(orbit["cpu_ms_per_file"], rc["cpu_ms_per_file"])
                    ok = cpu is not None and cpu <= 1.0
                    targets.append(target(f"{name}: orbit CPU per file <= rclone's", cpu, ok))
            if orbit:
                inflight = TRANSFERS * (1 if name.startswith("small") else 4)
                rss = orbit["peak_rss_mib"]
                targets.append(target(
                    f"{name}: orbit peak RSS MiB <= {RSS_BASE_MIB} + {inflight} in flight",
                    rss, rss <= RSS_BASE_MIB + inflight))  # fmt: skip
            if orbit and b3:
                by_client["orbit"]["vs_boto3"] = ratio(orbit["files_s"], b3["files_s"])
        print()
        print_table(["workload", "client", "files/s", "MB/s", "CPU ms/file",
                     "server CPU ms/file", "peak RSS MiB", "other load (cores)"],
                    rows)  # fmt: skip
        print()
        for name, by_client in runs.items():
            orbit = by_client.get("orbit")
            if orbit:
                vs = [f"{c} {fmt_ratio(ratio(orbit['files_s'], r['files_s']))}"
                      for c, r in by_client.items() if c != "orbit"]  # fmt: skip
                print(f"{name}: orbit vs " + ", ".join(vs))
        print()
        for t in targets:
            value = t["value"]
            shown = f"{value:.2f}" if isinstance(value, float) else str(value)
            print(f"{verdict(t['ok'])}  {t['target']}: {shown}")
        data = {"environment": environment(), "scale": args.scale, "labels": LABELS,
                "runs": runs, "targets": targets}  # fmt: skip
        path = write_results("tree", data)
        print(f"\nsaved {path}")
    finally:
        bench.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
