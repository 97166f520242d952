"""Large-file upload and download: orbit_provider vs boto3 (defaults, tuned alike) vs the
amazon provider's S3Hook, against SeaweedFS on loopback, in one run.

    python -m benchmarks.transfer                 # 1 GiB, one repeat
    python -m benchmarks.transfer --size 256MiB --repeat 3
    python -m benchmarks.transfer --profile wan   # through a far-network proxy, 256 MiB x 3

`--profile wan` puts the fault proxy in front of SeaweedFS with an added round trip (`--rtt`,
20 ms) and a per-connection bandwidth cap (`--link`, 20 MB/s: one TCP stream to a far
region), and compares orbit's defaults with boto3's defaults and with a 32-thread boto3,
which measures what the proxy (Python, on the same 2 cores) itself lets through.

Prints MB/s (10^6 bytes/s), client CPU s/GiB, peak RSS MiB and the ratios against boto3,
with the targets of issue 12, and saves the run under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    GIB,
    MB,
    MIB,
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
from orbit_provider.s3.config import DEFAULT_CHUNK_SIZE, S3Config
from orbit_provider.s3.transfer.tuner import START_WORKERS
from orbit_provider.s3.transfer.upload_plan import upload_part_size
from orbit_provider.testing.faultproxy import FaultProxy

LABELS = {
    "orbit": "orbit_provider",
    "boto3_default": "boto3, default TransferConfig",
    "boto3_tuned": "boto3, tuned alike",
    "boto3_lean": "boto3 tuned, no checksum/unsigned (NOT verified)",
    "boto3_32": "boto3 defaults, 32 threads (the proxy's ceiling)",
    "s3hook": "amazon provider S3Hook",
}
DEFAULT_CLIENTS = ["orbit", "boto3_default", "boto3_tuned", "boto3_lean", "s3hook"]
WAN_CLIENTS = ["orbit", "boto3_default", "boto3_32"]
BLOCK = 8 * MIB


def make_source(path: Path, size: int) -> str:
    """Write `size` incompressible bytes, fast: every 8 MiB block is a differently offset
    window of 16 MiB of urandom, stamped with its index. Returns the file's SHA-1."""
    rng = random.Random(size)
    pool = os.urandom(2 * BLOCK)
    digest = hashlib.sha1()
    with open(path, "wb") as f:
        written, index = 0, 0
        while written < size:
            n = min(BLOCK, size - written)
            start = rng.randrange(BLOCK)
            block = index.to_bytes(8, "big") + pool[start + 8 : start + n]
            f.write(block[:n])
            digest.update(block[:n])
            written += n
            index += 1
    return digest.hexdigest()


def warm_up(s3: Any, bucket: str, key: str) -> None:
    """Read the whole object once and throw the bytes away (not measured)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    while body.read(8 * MIB):
        pass


def sha1_file(path: str | Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha1").hexdigest()


def main(argv: list[str] | None = None) -> int:
    defaults = S3Config(bucket="bench")
    ap = argparse.ArgumentParser(prog="python -m benchmarks.transfer", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=["loopback", "wan"], default="loopback",
                    help="loopback (default), or wan: through a proxy adding --rtt and capping "
                         "each connection at --link")
    ap.add_argument("--rtt", type=float, default=0.020, help="wan: added round trip, seconds")
    ap.add_argument("--link", default="20MB", help="wan: bytes a second per connection")
    ap.add_argument("--size", default=None,
                    help="file size (1GiB, 256MiB, ...; default 1GiB, wan 256MiB)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="runs per client; the median is reported (default 1 at >= 1 GiB, else 3)")
    ap.add_argument("--chunk-size", default="auto",
                    help="orbit's chunk_size, also tuned boto3's threshold (default: auto, none "
                         "set, as S3Config's default)")
    ap.add_argument("--parallel", type=int, default=defaults.parallel_operations,
                    help="orbit's parallel_operations, also tuned boto3's max_concurrency")
    ap.add_argument("--clients", default=None,
                    help=f"comma list from: {', '.join(LABELS)} (default: "
                         f"{','.join(DEFAULT_CLIENTS)}; wan {','.join(WAN_CLIENTS)})")
    ap.add_argument("--only", choices=["upload", "download"], help="run one direction only")
    ap.add_argument("--cprofile", action="store_true",
                    help="afterwards, one extra cProfile'd run of orbit per direction")
    args = ap.parse_args(argv)

    wan = args.profile == "wan"
    size = parse_size(args.size or ("256MiB" if wan else "1GiB"))
    link = parse_size(args.link)
    chosen = None if args.chunk_size == "auto" else parse_size(args.chunk_size)
    chunk = chosen or DEFAULT_CHUNK_SIZE  # the chunk size in force
    repeat = args.repeat or (1 if size >= GIB else 3)
    chosen_clients = args.clients or ",".join(WAN_CLIENTS if wan else DEFAULT_CLIENTS)
    clients = [c.strip() for c in chosen_clients.split(",") if c.strip()]
    unknown = set(clients) - set(LABELS)
    if unknown:
        ap.error(f"unknown clients: {', '.join(sorted(unknown))}")
    directions = [args.only] if args.only else ["upload", "download"]
    # what orbit's upload uses: parts sized for the workers a run starts with
    part_size = upload_part_size(size, chosen, min(args.parallel, START_WORKERS))
    params = {"chunk_size": chosen, "threshold": chunk, "parallel": args.parallel,
              "upload_part_size": part_size}  # fmt: skip

    notes: list[str] = []
    available = {"upload": list(clients), "download": list(clients)}
    if "s3hook" in clients and not amazon_provider_available():
        for d in available.values():
            d.remove("s3hook")
        notes.append("amazon provider not importable (pip install -e '.[bench]'); S3Hook skipped")

    env = environment()
    network = (f"wan: proxy adding {args.rtt * 1000:.0f} ms round trip, {link / MB:.0f} MB/s a "
               "connection" if wan else "loopback")
    print(f"transfer benchmark ({network}): {human_size(size)} file, {repeat} repeat(s), "
          f"orbit part size "
          f"{human_size(chunk)} x {args.parallel} parallel (upload parts "
          f"{human_size(part_size)}); {env['cpus']} CPUs, "
          f"load {env['loadavg']}, busy: {', '.join(env['busy_processes']) or 'nothing'}")
    bench = Bench.start("transfer")
    runs: dict[str, dict[str, list[dict]]] = {d: {c: [] for c in available[d]} for d in directions}
    proxy: FaultProxy | None = None
    try:
        source = bench.workdir / "source.bin"
        source_sha1 = make_source(source, size)
        setup = bench.boto3_client()
        # The object every client downloads, uploaded with boto3's defaults (so it carries the
        # CRC32 checksum boto3 adds), then read once: SeaweedFS serves the first read of a new
        # object much slower, and that must not be charged to whichever client runs first.
        bench.boto3_client(default_checksums=True).upload_file(
            str(source), bench.bucket, "src/source.bin")
        warm_up(setup, bench.bucket, "src/source.bin")
        if "upload" in directions:
            # The first multipart upload after start-up costs SeaweedFS half as much CPU
            # again (measured: 14.8-15.1 CPU-s/GiB against 9-11 after), whoever sends it.
            setup.upload_file(str(source), bench.bucket, "warm/source.bin")
            setup.delete_object(Bucket=bench.bucket, Key="warm/source.bin")
        os.sync()  # the source file's dirty pages are not written back during a measured run
        if wan:  # set-up went straight to the server; the measured clients go through this
            proxy = FaultProxy(bench.server.endpoint, rate=0.0, latency=args.rtt,
                               bandwidth=link).start()
            bench.via = proxy.endpoint
        for rep in range(repeat):
            for direction in directions:
                for client in rotate(available[direction], rep):
                    result = run_one(bench, setup, direction, client, rep, source, source_sha1,
                                     size, params)
                    runs[direction][client].append(result)
                    print(f"  {direction:8} {client:14} rep {rep + 1}: "
                          f"{size / result['wall'] / MB:7.1f} MB/s, "
                          f"{result['cpu'] / (size / GIB):5.2f} CPU-s/GiB, "
                          f"peak RSS {result['peak_rss_mib']:.0f} MiB, "
                          f"server {result['server_cpu'] / (size / GIB):.1f} CPU-s/GiB, "
                          f"machine busy {result['machine_busy'] * 100:.0f}%, "
                          f"other load {result['other_load_cores']:.2f} cores", flush=True)
        if args.cprofile:
            for direction in directions:
                if "orbit" in available[direction]:
                    r = run_one(bench, setup, direction, "orbit", repeat, source, source_sha1,
                                size, params, profile=True)
                    print_profile(f"transfer-orbit-{direction}", r,
                                  f"{r['cpu'] / (size / GIB):.2f} CPU-s/GiB")
    finally:
        if proxy is not None:
            proxy.stop()
        bench.stop()

    summary = summarize(runs, size)
    print()
    print(f"### {network}, {human_size(size)}, median of {repeat}; MB = 10^6 bytes; "
          f"orbit and tuned boto3: chunk_size {human_size(chunk)}, upload parts "
          f"{human_size(part_size)}, x {args.parallel}")
    print()
    print_results(summary, directions)
    print()
    targets = (check_wan_targets(summary) if wan
               else check_targets(summary, part_size, args.parallel))
    print_targets(targets)
    if not wan:
        print_ceiling(summary)
    for note in notes:
        print(f"note: {note}")
    path = write_results("transfer-wan" if wan else "transfer", {
        "profile": args.profile, "rtt": args.rtt if wan else None, "link": link if wan else None,
        "size": size, "repeat": repeat, "chunk_size": chunk, "parallel": args.parallel,
        "environment": env, "environment_after": environment(), "notes": notes,
        "summary": summary, "targets": targets, "runs": runs,
    })
    print(f"results: {path}")
    return 0


def run_one(bench: Bench, setup: Any, direction: str, client: str, rep: int, source: Path,
            source_sha1: str, size: int, params: dict, profile: bool = False) -> dict:
    """One measured run plus its (unmeasured) check and cleanup."""
    if direction == "upload":
        key = f"up/{client}/{rep}/source.bin"
        result = bench.run_worker(f"upload.{client}", {**params, "path": str(source), "key": key},
                                  profile=profile)
        head = setup.head_object(Bucket=bench.bucket, Key=key)
        if head["ContentLength"] != size:
            raise RuntimeError(f"{client} uploaded {head['ContentLength']} bytes, not {size}")
        setup.delete_object(Bucket=bench.bucket, Key=key)
        result["verified"] = "size (HEAD)"
        return result
    folder = bench.workdir / f"dl-{client}-{rep}"
    folder.mkdir()
    dest = folder / "source.bin"
    result = bench.run_worker(f"download.{client}",
                              {**params, "path": str(dest), "key": "src/source.bin"},
                              profile=profile)
    got = Path(result["info"].get("path") or dest)
    if got.stat().st_size != size or sha1_file(got) != source_sha1:
        raise RuntimeError(f"{client} downloaded a file that differs from the source")
    result["verified"] = "size + SHA-1 (outside the measured section)"
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()
    # A client that leaves dirty pages (no fsync) must not have the kernel write them back
    # during the next client's measured run.
    os.sync()
    return result


def summarize(runs: dict[str, dict[str, list[dict]]], size: int) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for direction, by_client in runs.items():
        out[direction] = {}
        for client, results in by_client.items():
            if not results:
                continue
            out[direction][client] = {
                "mb_s": median([size / r["wall"] / MB for r in results]),
                "cpu_s_per_gib": median([r["cpu"] / (size / GIB) for r in results]),
                "peak_rss_mib": max(r["peak_rss_mib"] for r in results),
                "rss_before_mib": max(r["rss_before_mib"] for r in results),
                "server_cpu_s_per_gib": median([r["server_cpu"] / (size / GIB) for r in results]),
                "machine_busy": median([r["machine_busy"] for r in results]),
                "other_load_cores": max(r["other_load_cores"] for r in results),
                "runs": len(results),
            }
    return out


def print_results(summary: dict[str, dict[str, dict]], directions: list[str]) -> None:
    headers = ["direction", "client", "MB/s", "client CPU s/GiB", "peak RSS MiB",
               "vs boto3 default", "vs boto3 tuned", "vs boto3 32 threads", "server CPU s/GiB",
               "other load"]
    rows = []
    for direction in directions:
        s = summary.get(direction, {})
        base = s.get("boto3_default", {}).get("mb_s")
        tuned = s.get("boto3_tuned", {}).get("mb_s")
        wide = s.get("boto3_32", {}).get("mb_s")
        for client, m in s.items():
            rows.append([
                direction, LABELS[client], f"{m['mb_s']:.0f}", f"{m['cpu_s_per_gib']:.2f}",
                f"{m['peak_rss_mib']:.0f} ({m['rss_before_mib']:.0f} idle)",
                fmt_ratio(ratio(m["mb_s"], base)), fmt_ratio(ratio(m["mb_s"], tuned)),
                fmt_ratio(ratio(m["mb_s"], wide)),
                f"{m['server_cpu_s_per_gib']:.1f}", f"{m['other_load_cores']:.2f} cores",
            ])
    print_table(headers, rows)


def _verdicts(items: list[tuple[str, str, float | None, float, str]]) -> list[dict]:
    """(name, wanted, measured, limit, kind: "x" ratio >=, "le" <=, "lt" <) as table rows."""
    out = []
    for name, target, value, limit, kind in items:
        if value is None:
            ok = None
        elif kind == "x":
            ok = value >= limit
        elif kind == "le":
            ok = value <= limit
        else:
            ok = value < limit
        shown = "-" if value is None else (
            f"{value:.2f}x" if kind == "x" else f"{value:.2f}" if kind == "le" else f"{value:.0f}")
        out.append({"target": name, "wanted": target, "measured": shown, "verdict": verdict(ok)})
    return out


def _mb_ratio(m: dict | None, base: dict | None) -> float | None:
    return ratio(m and m["mb_s"], base and base["mb_s"])


def check_targets(summary: dict, part_size: int, parallel: int) -> list[dict]:
    """Issue 12's loopback targets. Upload is bound by SeaweedFS's own CPU here, so it is read
    against the unverified lean boto3 of the same run."""
    up, down = summary.get("upload", {}), summary.get("download", {})
    o_up, o_down = up.get("orbit"), down.get("orbit")
    lean = up.get("boto3_lean")
    cpu = ratio(o_up and o_up["cpu_s_per_gib"], lean and lean["cpu_s_per_gib"])
    rss_limit = 150 + parallel * part_size / MIB
    peak = max((m["peak_rss_mib"] for m in (o_up, o_down) if m), default=None)
    return _verdicts([
        ("upload vs lean boto3 (unverified)", ">= 0.95x", _mb_ratio(o_up, lean), 0.95, "x"),
        ("upload vs boto3 tuned alike", ">= 1.00x", _mb_ratio(o_up, up.get("boto3_tuned")),
         1.0, "x"),
        ("upload client CPU vs lean boto3's", "<= 1.10x", cpu, 1.10, "le"),
        ("download vs boto3 defaults", ">= 1.8x", _mb_ratio(o_down, down.get("boto3_default")),
         1.8, "x"),
        (f"peak RSS MiB (150 + {parallel} x {part_size // MIB} MiB)", f"< {rss_limit:.0f}", peak,
         rss_limit, "lt"),
    ])


def check_wan_targets(summary: dict) -> list[dict]:
    """Issue 12's WAN targets: orbit's defaults against boto3's, and against a 32-thread boto3
    (what the proxy itself lets through), both ways."""
    items: list[tuple[str, str, float | None, float, str]] = []
    for direction in ("upload", "download"):
        s = summary.get(direction, {})
        orbit = s.get("orbit")
        items.append((f"{direction} vs boto3 defaults", ">= 1.00x",
                      _mb_ratio(orbit, s.get("boto3_default")), 1.0, "x"))
        items.append((f"{direction} vs 32-thread boto3", ">= 0.90x",
                      _mb_ratio(orbit, s.get("boto3_32")), 0.9, "x"))
    return _verdicts(items)


def print_ceiling(summary: dict) -> None:
    """What boto3 with every integrity check stripped reaches in the same run: the most any
    client gets from this server on this machine, to read the ratio targets against."""
    for direction, by_client in summary.items():
        lean, base = by_client.get("boto3_lean"), by_client.get("boto3_default")
        if lean and base:
            print(f"ceiling, {direction}: boto3 with no checksum and an unsigned payload (NOT "
                  f"verified) reaches {fmt_ratio(ratio(lean['mb_s'], base['mb_s']))} "
                  "boto3's defaults in this run")


def print_targets(targets: list[dict]) -> None:
    print_table(["orbit target (issue 12)", "wanted", "measured", "verdict"],
                [[t["target"], t["wanted"], t["measured"], t["verdict"]] for t in targets])


if __name__ == "__main__":
    raise SystemExit(main())
