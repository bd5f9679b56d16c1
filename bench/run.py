"""Ostiary's benchmark: Ostiary against panva's oidc-provider on the same machine, same load.

    make bench                          # the full run (≈ 20 min): 3 runs × 10 s per scenario
    .venv/bin/python bench/run.py --quick   # 1 run × 3 s, fewer sessions: for development
    BENCH_ARGS="--workers 2" make bench     # extra arguments when started through make

See bench/README.md for what is measured, how, and how to read bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import profiling
import report
from loadgen import wrk_available
from scenarios import SCENARIOS, TARGETED, BenchConfig, TargetBench
from servers import (
    BENCH,
    ROOT,
    WORK,
    OstiaryServer,
    PeerServer,
    Server,
    ensure_peer_installed,
    postgres_version,
    source_fingerprint,
)

RESULTS = BENCH / "results"  # in git: the latest results of each configuration
ARCHIVE = BENCH / ".work" / "results"  # ignored: every run's dated results
PROFILES = BENCH / ".work" / "profiles"  # ignored: py-spy stacks, named after their results


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark Ostiary against oidc-provider.")
    p.add_argument("--quick", action="store_true", help="1 run × 3 s per scenario, 8 sessions")
    p.add_argument("--runs", type=int, help="runs per scenario per server (default 3)")
    p.add_argument("--duration", type=float, help="seconds per run (default 10)")
    p.add_argument(
        "--login-duration", type=float, help="seconds per login-flow run (default 2× duration)"
    )
    p.add_argument("--warmup", type=float, help="warm-up seconds before a scenario (default 2)")
    p.add_argument("--workers", type=int, default=1, help="worker processes of each server")
    p.add_argument("--connections", type=int, default=64, help="concurrent connections")
    p.add_argument(
        "--login-connections",
        type=int,
        default=4,
        help="concurrent virtual users in the login flow (argon2-bound; default 4)",
    )
    p.add_argument("--sessions", type=int, help="signed-in sessions made in setup (default 16)")
    p.add_argument("--users", type=int, default=4, help="user accounts on each server")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    p.add_argument(
        "--stores", default="auto", help="sqlite,postgres or auto (postgres when reachable)"
    )
    p.add_argument(
        "--no-peer-memory", action="store_true", help="skip the peer with its in-memory adapter"
    )
    p.add_argument(
        "--python-only",
        action="store_true",
        help="use the Python generator for the fixed-request scenarios too (no wrk)",
    )
    p.add_argument(
        "--profile",
        default="auto",
        help="Ostiary scenarios to profile with py-spy: auto (the 3 lowest ratios), "
        "none, or a comma-separated list",
    )
    p.add_argument(
        "--profile-native",
        action="store_true",
        help="py-spy --native (C frames: OpenSSL, SQLite, uvloop)",
    )
    p.add_argument(
        "--profile-pairs", default="first", help="which pairs to profile: first (default), all"
    )
    p.add_argument("--ceiling-seconds", type=float, help="seconds per argon2 ceiling measurement")
    p.add_argument(
        "--ceiling-interleaved",
        type=float,
        help="seconds of the ceiling measured again (1 thread and one per login "
        "user) before each login-flow run",
    )
    p.add_argument(
        "--repeat-storage-free",
        action="store_true",
        help="measure discovery and /keys in every pair, not only the first",
    )
    p.add_argument(
        "--no-roundtrips",
        action="store_true",
        help="skip bench/roundtrips.py (per-request database work, in-process)",
    )
    p.add_argument("--name", help="short name in the results file name")
    args = p.parse_args(argv)
    quick = args.quick
    args.runs = args.runs or (1 if quick else 3)
    args.duration = args.duration or (3.0 if quick else 10.0)
    # A login costs about one argon2 hash (0.5 s of both cores here): a longer window
    # counts enough of them.
    args.login_duration = args.login_duration or max(10.0, 2 * args.duration)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if quick else 2.0)
    args.sessions = args.sessions or (8 if quick else 16)
    args.ceiling_seconds = args.ceiling_seconds or (4.0 if quick else 10.0)
    args.ceiling_interleaved = args.ceiling_interleaved or (3.0 if quick else 5.0)
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


# -- machine description ---------------------------------------------------------------------------


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=cwd, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (out.stdout or out.stderr).strip()


def _pkg_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "-"


def _node_pkg_version(name: str) -> str:
    try:
        data = json.loads((BENCH / "peer" / "node_modules" / name / "package.json").read_text())
        return str(data["version"])
    except (OSError, ValueError, KeyError):
        return "-"


def machine(pg_version: str | None) -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    load = os.getloadavg()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": _run(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "hypervisor": _run(["sh", "-c", "lscpu | grep -i 'hypervisor vendor' | cut -d: -f2"]),
        "loadavg_at_start": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "node": _run(["node", "--version"]),
        "postgresql": pg_version or "not reachable",
        "sqlite": __import__("sqlite3").sqlite_version,
        "wrk": _run(["wrk", "-v"]).splitlines()[0] if wrk_available() else "not installed",
        "python_packages": {
            n: _pkg_version(n)
            for n in (
                "starlette",
                "uvicorn",
                "uvloop",
                "httptools",
                "sqlalchemy",
                "asyncpg",
                "joserfc",
                "cryptography",
                "argon2-cffi",
                "python-multipart",
                "jinja2",
            )
        },
        "node_packages": {
            n: _node_pkg_version(n) for n in ("oidc-provider", "jose", "koa", "argon2", "pg")
        },
        "git": _run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT),
        "git_dirty": bool(_run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT)),
        "source_at_start": source_fingerprint(),
    }


# -- argon2 ceiling --------------------------------------------------------------------------------


def run_ceiling(processes: int, threads: int, seconds: float) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            str(BENCH / "argon2_ceiling.py"),
            "--processes",
            str(processes),
            "--threads",
            str(threads),
            "--seconds",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=True,
    )
    return dict(json.loads(out.stdout))


def argon2_ceiling(processes: int, seconds: float, threads_list: list[int]) -> dict[str, Any]:
    """Hashes/s with Ostiary's argon2 parameters on ``processes`` processes, with each thread
    count of ``threads_list`` per process; the ceiling is the best of them."""
    rows = []
    for threads in sorted(set(threads_list)):
        rows.append(run_ceiling(processes, threads, seconds))
        print(
            f"  argon2: {processes} process(es) × {threads} thread(s): "
            f"{rows[-1]['hashes_per_second']:.2f} hashes/s",
            flush=True,
        )
    best = max(rows, key=lambda r: r["hashes_per_second"])
    return {"measurements": rows, "ceiling": best["hashes_per_second"], "best": best}


# -- the benchmark ---------------------------------------------------------------------------------


def _median(values: Any) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    tps = [r["throughput"] for r in runs]
    p50s = [r["p50_ms"] for r in runs if r["p50_ms"] is not None]
    p99s = [r["p99_ms"] for r in runs if r["p99_ms"] is not None]
    rss = [r["rss_worker_peak_mb"] for r in runs if r["rss_worker_peak_mb"] is not None]
    return {
        "throughput": statistics.median(tps) if tps else 0.0,
        "throughput_min": min(tps) if tps else 0.0,
        "throughput_max": max(tps) if tps else 0.0,
        "p50_ms": statistics.median(p50s) if p50s else None,
        "p99_ms": statistics.median(p99s) if p99s else None,
        "p99_ms_max": max(p99s) if p99s else None,
        "errors": sum(r["errors"] for r in runs),
        "rss_worker_peak_mb": max(rss) if rss else None,
        "rss_total_peak_mb": max((r["rss_total_peak_mb"] for r in runs), default=None),
        "cpu_ms_per_iteration": _median(r["cpu_ms_per_iteration"] for r in runs),
        "foreign_cpu_share": _median(r["foreign_cpu_share"] for r in runs),
        "tool": runs[0]["tool"] if runs else "",
        "notes": sorted({r["note"] for r in runs if r["note"]}),
        "error_samples": [s for r in runs for s in r["error_samples"]][:5],
    }


STORAGE_FREE = ("discovery", "keys")  # neither server touches its store on these (JWKS: cached)


async def bench_pair(
    name: str,
    servers: list[Server],
    cfg: BenchConfig,
    args: argparse.Namespace,
    results_stem: str,
    *,
    first: bool,
) -> dict[str, Any]:
    print(f"\n== {name}: {' vs '.join(s.label for s in servers)} ==", flush=True)
    pair: dict[str, Any] = {"name": name, "servers": [s.label for s in servers], "scenarios": {}}
    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(s.prepare() for s in servers))
        await asyncio.gather(*(asyncio.to_thread(s.start) for s in servers))
        pair["start_seconds"] = round(time.perf_counter() - t0, 1)
        pair["source"] = {s.label: s.fingerprint for s in servers if hasattr(s, "fingerprint")}
        print(
            f"  started in {pair['start_seconds']} s; signing in {cfg.sessions} sessions "
            "on each (setup)",
            flush=True,
        )
        benches = [TargetBench(s, cfg) for s in servers]
        for b in benches:
            await b.setup()
        scenarios = [
            s for s in args.scenarios if first or args.repeat_storage_free or s not in STORAGE_FREE
        ]
        pair["skipped"] = [s for s in args.scenarios if s not in scenarios]
        for scenario in scenarios:
            runs: dict[str, list[dict[str, Any]]] = {b.t.label: [] for b in benches}
            errors: dict[str, str] = {}
            scenario_cfg = cfg
            if scenario == "login_flow":
                scenario_cfg = BenchConfig(**{**cfg.__dict__, "duration": args.login_duration})
            for b in benches:
                b.cfg = scenario_cfg
            for i in range(cfg.runs):
                if scenario == "login_flow":
                    # the ceiling again, right before the login runs (same machine conditions)
                    tried = [
                        await asyncio.to_thread(
                            run_ceiling, args.workers, threads, args.ceiling_interleaved
                        )
                        for threads in sorted({1, args.login_connections})
                    ]
                    m = max(tried, key=lambda r: r["hashes_per_second"])
                    pair.setdefault("argon2_interleaved", []).append(m)
                    print(
                        f"  argon2 ceiling now: {m['hashes_per_second']:.2f} hashes/s", flush=True
                    )
                order = benches if i % 2 == 0 else list(reversed(benches))
                for b in order:
                    if b.t.label in errors:
                        continue
                    try:
                        row = await b.run(scenario, i)
                    except Exception as err:  # recorded in the report
                        errors[b.t.label] = f"{type(err).__name__}: {err}"[:400]
                        print(
                            f"  {scenario} on {b.t.label}: FAILED {errors[b.t.label]}", flush=True
                        )
                        continue
                    runs[b.t.label].append(row)
                    print(
                        f"  {scenario:<19} {b.t.label:<15} run {i + 1}: "
                        f"{row['throughput']:9.1f}/s  p50 {row['p50_ms'] or 0:7.2f} ms  "
                        f"p99 {row['p99_ms'] or 0:7.2f} ms  errors {row['errors']}  "
                        f"rss {row['rss_worker_peak_mb']} MB"
                        + (f"  ({row['note']})" if row["note"] else ""),
                        flush=True,
                    )
            for b in benches:
                b.cfg = cfg
            pair["scenarios"][scenario] = {
                label: {
                    "runs": rows,
                    "summary": summarize(rows) if rows else None,
                    "failed": errors.get(label),
                }
                for label, rows in runs.items()
            }
        pair["setup_seconds"] = {b.t.label: b.setup_seconds for b in benches}
        # Profiles of the Ostiary scenarios that compare worst (outside the measured runs).
        ostiary = next((b for b in benches if b.t.kind == "ostiary"), None)
        if (
            ostiary is not None
            and args.profile != "none"
            and (first or args.profile_pairs == "all")
        ):
            chosen = profiling.choose(pair, args.profile)
            pair["profiles"] = {}
            for scenario in chosen:
                print(f"  profiling {scenario} on {ostiary.t.label} (py-spy)…", flush=True)
                pair["profiles"][scenario] = await profiling.profile(
                    ostiary,
                    scenario,
                    PROFILES,
                    results_stem,
                    native=args.profile_native,
                )
    finally:
        for s in servers:
            s.stop()
    return pair


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    # Ctrl-C / SIGTERM cancel the run; the servers are stopped on the way out (finally blocks).
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    WORK.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    command = " ".join([".venv/bin/python bench/run.py", *[shlex.quote(a) for a in argv]])
    if os.environ.get("MAKELEVEL"):
        extra = os.environ.get("BENCH_ARGS")
        command = (
            f"{'BENCH_ARGS=' + shlex.quote(extra) + ' ' if extra else ''}make bench "
            f"(= scripts/bootstrap-venv --test && {command})"
        )
    print(f"Ostiary benchmark: {command}", flush=True)
    print(f"  peer dependencies: {ensure_peer_installed()}", flush=True)
    pg = await postgres_version()
    stores = (
        (["sqlite", "postgres"] if pg else ["sqlite"])
        if args.stores == "auto"
        else [s for s in args.stores.split(",") if s]
    )
    if "postgres" in stores and not pg:
        print("  PostgreSQL is not reachable on 127.0.0.1:5432: skipping it", flush=True)
        stores.remove("postgres")
    info = machine(pg)
    cfg = BenchConfig(
        runs=args.runs,
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        login_connections=args.login_connections,
        sessions=args.sessions,
        use_wrk=not args.python_only,
    )
    if cfg.use_wrk and not wrk_available():
        print(
            "  wrk is not installed (apt-get install -y wrk): the Python generator drives "
            "every scenario",
            flush=True,
        )
    print("  measuring the argon2 ceiling (no server running)…", flush=True)
    ceiling = argon2_ceiling(
        args.workers, args.ceiling_seconds, [1, os.cpu_count() or 1, args.login_connections]
    )
    name = args.name or (f"{info['git']}-w{args.workers}" + ("-quick" if args.quick else ""))
    results_stem = f"{now:%Y-%m-%d}-{name}"  # of the results files and the profiles
    users = [
        (f"bench{i}@bench.test", f"bench-password-{i}-{os.urandom(4).hex()}")
        for i in range(args.users)
    ]
    pairs = []
    if "sqlite" in stores:
        servers: list[Server] = [OstiaryServer("sqlite", args.workers, users)]
        if args.workers == 1 and not args.no_peer_memory:
            servers.append(PeerServer("memory", args.workers, users))
        pairs.append(("SQLite / in-memory", servers))
    if "postgres" in stores:
        pairs.append(
            (
                "PostgreSQL",
                [
                    OstiaryServer("postgres", args.workers, users),
                    PeerServer("postgres", args.workers, users),
                ],
            )
        )
    results: dict[str, Any] = {
        "date": now.isoformat(timespec="seconds"),
        "command": command,
        "argv": argv,
        "machine": info,
        "config": {
            **cfg.__dict__,
            "workers": args.workers,
            "users": args.users,
            "login_duration": args.login_duration,
            "quick": args.quick,
        },
        "argon2": ceiling,
        "targeted": list(TARGETED),
        "pairs": [],
    }
    for i, (pair_name, servers) in enumerate(pairs):
        results["pairs"].append(
            await bench_pair(pair_name, servers, cfg, args, results_stem, first=i == 0)
        )
    if not args.no_roundtrips:
        results["roundtrips"] = []
        for store in stores:
            print(f"  per-request database work in-process ({store})…", flush=True)
            out = await asyncio.to_thread(
                subprocess.run,
                [
                    sys.executable,
                    str(BENCH / "roundtrips.py"),
                    "--store",
                    store,
                    "-n",
                    "50" if args.quick else "200",
                ],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            if out.returncode == 0:
                results["roundtrips"].append(out.stdout)
            else:
                results["roundtrips"].append(f"roundtrips.py failed: `{out.stderr[-500:]}`\n")
    results["source_at_end"] = source_fingerprint()
    results["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    document = json.dumps(results, indent=2)
    markdown = report.render(results)
    ARCHIVE.mkdir(parents=True, exist_ok=True)
    configuration = f"w{args.workers}" + ("-quick" if args.quick else "")
    latest = RESULTS / f"latest-{configuration}"
    for base in (ARCHIVE / results_stem, latest):
        base.with_suffix(".json").write_text(document)
        base.with_suffix(".md").write_text(markdown)
    (RESULTS / "latest.md").write_text(markdown)
    print(
        f"\nResults: {latest.with_suffix('.md').relative_to(ROOT)} and bench/results/latest.md "
        f"(kept in git); every run also in {ARCHIVE.relative_to(ROOT)}/{results_stem}.md; "
        f"{results['elapsed_seconds']:.0f} s in all",
        flush=True,
    )
    print(report.console_summary(results), flush=True)
    return 0


if __name__ == "__main__":
    argv = sys.argv[1:]
    if not argv and os.environ.get("BENCH_ARGS"):
        argv = shlex.split(os.environ["BENCH_ARGS"])
    try:
        import uvloop
    except ImportError:
        uvloop = None  # type: ignore[assignment]
    try:
        sys.exit((uvloop.run if uvloop else asyncio.run)(main(argv)))
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("interrupted: servers stopped, no results written", file=sys.stderr)
        sys.exit(130)
