"""Bulk delete and copy: orbit_provider's batches vs the amazon provider and boto3 loops,
against SeaweedFS on loopback, in one run.

    python -m benchmarks.batch                         # 10,000 deletes, 1,000 copies of 4 KiB
    python -m benchmarks.batch --deletes 1000 --copies 200

Objects are created before each measured run (outside it) with a thread pool. Prints
objects/s, client CPU ms per object, peak RSS and the ratios, with the targets of issue 4,
and saves the run under benchmarks/results/.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks.batch_clients import keys_for
from benchmarks.harness import (
    Bench,
    amazon_provider_available,
    environment,
    fmt_ratio,
    human_size,
    median,
    parse_size,
    print_profile,
    print_table,
    ratio,
    rotate,
    verdict,
    write_results,
)

LABELS = {
    "delete": {
        "orbit": "orbit batch_delete (BatchConfig defaults)",
        "s3hook": "amazon provider S3Hook.delete_objects",
        "loop": "boto3 delete_object loop, sequential",
    },
    "copy": {
        "orbit": "orbit batch_copy (BatchConfig defaults)",
        "orbit_noskip": "orbit batch_copy, skip_identical=False",
        "sequential": "boto3 copy_object loop, sequential",
        "threads16": "boto3 copy_object, 16 threads",
    },
}


def put_objects(s3: Any, bucket: str, keys: list[str], size: int) -> None:
    """Create `keys` fast (16 threads; not measured)."""
    body = (b"orbit-bench-" * (size // 12 + 1))[:size]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=body), keys))


def count_objects(s3: Any, bucket: str, prefix: str) -> int:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sum(page.get("KeyCount", 0) for page in pages)


def delete_prefix(s3: Any, bucket: str, prefix: str) -> None:
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])]
    for i in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={
            "Objects": [{"Key": k} for k in keys[i : i + 1000]], "Quiet": True})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.batch", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--deletes", type=int, default=10_000, help="objects to delete per client")
    ap.add_argument("--delete-object-size", default="1KiB")
    ap.add_argument("--copies", type=int, default=1_000, help="objects to copy per client")
    ap.add_argument("--copy-size", default="4KiB", help="size of each copied object")
    ap.add_argument("--repeat", type=int, default=1, help="runs per client (median reported)")
    ap.add_argument("--only", choices=["delete", "copy"])
    ap.add_argument("--profile", action="store_true",
                    help="afterwards, one extra cProfile'd run of orbit per operation")
    args = ap.parse_args(argv)
    ops = [args.only] if args.only else ["delete", "copy"]
    counts = {"delete": args.deletes, "copy": args.copies}
    copy_size = parse_size(args.copy_size)

    notes: list[str] = []
    available = {op: list(LABELS[op]) for op in ops}
    if "delete" in available and not amazon_provider_available():
        available["delete"].remove("s3hook")
        notes.append("amazon provider not importable (pip install -e '.[bench]'); S3Hook skipped")

    env = environment()
    print(f"batch benchmark: {args.deletes:,} deletes, {args.copies:,} copies of "
          f"{human_size(copy_size)}, {args.repeat} repeat(s); {env['cpus']} CPUs, load "
          f"{env['loadavg']}, busy: {', '.join(env['busy_processes']) or 'nothing'}")
    bench = Bench.start("batch")
    runs: dict[str, dict[str, list[dict]]] = {op: {c: [] for c in available[op]} for op in ops}
    try:
        s3, bucket = bench.boto3_client(), bench.bucket
        if "copy" in ops:
            put_objects(s3, bucket, keys_for("copysrc/obj-", args.copies), copy_size)
        delete_size = parse_size(args.delete_object_size)
        for rep in range(args.repeat):
            for op in ops:
                for client in rotate(available[op], rep):
                    n = counts[op]
                    result = run_one(bench, s3, op, client, f"{rep}", n, delete_size)
                    runs[op][client].append(result)
                    print(f"  {op:6} {client:12} rep {rep + 1}: {n / result['wall']:7.0f} obj/s, "
                          f"{result['cpu'] / n * 1000:.2f} client CPU ms/obj, peak RSS "
                          f"{result['peak_rss_mib']:.0f} MiB, server CPU {result['server_cpu']:.1f}"
                          f" s, machine busy {result['machine_busy'] * 100:.0f}%, "
                          f"other load {result['other_load_cores']:.2f} cores", flush=True)
        if args.profile:
            for op in ops:
                if "orbit" in available[op]:
                    n = counts[op]
                    r = run_one(bench, s3, op, "orbit", "profile", n, delete_size, profile=True)
                    print_profile(f"batch-orbit-{op}", r,
                                  f"{r['cpu'] / n * 1000:.2f} client CPU ms/obj")
    finally:
        bench.stop()

    summary = summarize(runs)
    print()
    print(f"### {args.deletes:,} deletes / {args.copies:,} copies of {human_size(copy_size)}, "
          f"median of {args.repeat}")
    print()
    print_results(summary, ops)
    print()
    targets = check_targets(summary)
    print_table(["orbit target (issue 4)", "wanted", "measured", "verdict"],
                [[t["target"], t["wanted"], t["measured"], t["verdict"]] for t in targets])
    for note in notes:
        print(f"note: {note}")
    path = write_results("batch", {
        "deletes": args.deletes, "copies": args.copies, "copy_size": copy_size,
        "repeat": args.repeat, "environment": env, "environment_after": environment(),
        "notes": notes, "summary": summary, "targets": targets, "runs": runs,
    })
    print(f"results: {path}")
    return 0


def run_one(bench: Bench, s3: Any, op: str, client: str, tag: str, n: int, delete_size: int,
            profile: bool = False) -> dict:
    """Create the objects (deletes), run one measured client, check what it did, clean up."""
    bucket = bench.bucket
    if op == "delete":
        prefix = f"del/{client}/{tag}/k-"
        put_objects(s3, bucket, keys_for(prefix, n), delete_size)
        result = bench.run_worker(f"delete.{client}", {"prefix": prefix, "count": n},
                                  profile=profile)
        left = count_objects(s3, bucket, prefix)
        if left:
            raise RuntimeError(f"delete.{client} left {left} of {n} objects")
    else:
        dest = f"copy/{client}/{tag}/"
        result = bench.run_worker(f"copy.{client}", {
            "prefix": "copysrc/obj-", "count": n, "dest_prefix": dest}, profile=profile)
        made = count_objects(s3, bucket, dest)
        if made != n:
            raise RuntimeError(f"copy.{client} made {made} of {n} objects")
        delete_prefix(s3, bucket, dest)
    result["objects"] = n
    return result


def summarize(runs: dict[str, dict[str, list[dict]]]) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for op, by_client in runs.items():
        out[op] = {}
        for client, results in by_client.items():
            if results:
                out[op][client] = {
                    "obj_s": median([r["objects"] / r["wall"] for r in results]),
                    "cpu_ms_per_obj": median([r["cpu"] / r["objects"] * 1000 for r in results]),
                    "peak_rss_mib": max(r["peak_rss_mib"] for r in results),
                    "rss_before_mib": max(r["rss_before_mib"] for r in results),
                    "server_cpu_ms_per_obj": median(
                        [r["server_cpu"] / r["objects"] * 1000 for r in results]),
                    "machine_busy": median([r["machine_busy"] for r in results]),
                "other_load_cores": max(r["other_load_cores"] for r in results),
                    "runs": len(results),
                }
    return out


BASELINES = {"delete": ("s3hook", "loop"), "copy": ("sequential", "threads16")}


def print_results(summary: dict[str, dict[str, dict]], ops: list[str]) -> None:
    headers = ["operation", "client", "objects/s", "client CPU ms/obj", "peak RSS MiB",
               "vs baseline 1", "vs baseline 2", "server CPU ms/obj", "other load"]
    rows = []
    for op in ops:
        s = summary.get(op, {})
        b1, b2 = (s.get(b, {}).get("obj_s") for b in BASELINES[op])
        for client, m in s.items():
            rows.append([
                op, LABELS[op][client], f"{m['obj_s']:,.0f}", f"{m['cpu_ms_per_obj']:.2f}",
                f"{m['peak_rss_mib']:.0f}", fmt_ratio(ratio(m["obj_s"], b1)),
                fmt_ratio(ratio(m["obj_s"], b2)), f"{m['server_cpu_ms_per_obj']:.2f}",
                f"{m['other_load_cores']:.2f} cores",
            ])
    print_table(headers, rows)
    print("baseline 1 / 2: delete = S3Hook.delete_objects / delete_object loop; "
          "copy = sequential loop / 16 threads")


def check_targets(summary: dict) -> list[dict]:
    d, c = summary.get("delete", {}), summary.get("copy", {})

    def r(group: dict, base: str) -> float | None:
        return ratio(group.get("orbit", {}).get("obj_s"), group.get(base, {}).get("obj_s"))

    items = [
        ("delete vs amazon provider", 1.8, r(d, "s3hook")),
        ("copy vs sequential copy_object loop", 2.5, r(c, "sequential")),
        ("copy vs 16-thread boto3 loop", 1.0, r(c, "threads16")),
    ]
    return [
        {"target": name, "wanted": f">= {limit:.2f}x", "measured": fmt_ratio(value),
         "verdict": verdict(None if value is None else value >= limit)}
        for name, limit, value in items
    ]


if __name__ == "__main__":
    raise SystemExit(main())
