"""Sampling profiles of Ostiary under the benchmark's load, with py-spy (outside the measured
runs). py-spy attaches to the running worker, so the profiled code is exactly what was benchmarked;
``--nonblocking`` keeps it from pausing the process at each sample.

The raw output (collapsed stacks: ``frame;frame;… count``, root first) is kept next to the
results and can be opened in speedscope or flamegraph.pl; the report shows a summary: where the
CPU time goes by library (by the innermost Python frame of each sample), and the frames that are
on the stack most often.
"""

from __future__ import annotations

import asyncio
import collections
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import report

__all__ = ["choose", "profile", "summarize_collapsed"]

AUTO_CANDIDATES = ("client_credentials", "refresh_token", "authorization_code", "userinfo", "keys")
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
CATEGORIES = (
    ("argon2", "argon2 (password hashing)"),
    ("/sqlalchemy/", "SQLAlchemy"),
    ("/sqlite3/", "sqlite3"),
    ("/asyncpg/", "asyncpg"),
    ("/joserfc/", "joserfc"),
    ("/cryptography/", "cryptography (OpenSSL calls)"),
    ("/starlette/", "Starlette"),
    ("/multipart/", "python-multipart"),
    ("/python_multipart/", "python-multipart"),
    ("/uvicorn/", "uvicorn"),
    ("/httptools/", "httptools"),
    ("/jinja2/", "Jinja2"),
    ("/logging/", "logging"),
    ("/json/", "json"),
    ("/ostiary/", "Ostiary's own code"),
    ("asyncio/runners.py", "the event loop's C code (sockets, callbacks, HTTP parsing)"),
    ("/asyncio/", "asyncio"),
    ("/uvloop/", "uvloop"),
    ("/concurrent/", "concurrent.futures (thread pool)"),
    ("threading.py", "threading"),
    ("/email/", "email (header parsing)"),
    ("/urllib/", "urllib"),
    ("/base64.py", "base64"),
    ("hmac.py", "hmac"),
    ("/secrets.py", "secrets/random"),
    ("/datetime", "datetime"),
    ("/dataclasses.py", "dataclasses"),
)
# Components measured by "is any frame of it on the stack" (inclusive share).
COMPONENTS = (
    ("database (SQLAlchemy + driver)", ("/sqlalchemy/", "/sqlite3/", "/asyncpg/")),
    ("JWT (joserfc + cryptography)", ("/joserfc/", "/cryptography/")),
    ("Starlette (routing, requests, responses)", ("/starlette/",)),
    ("form parsing (python-multipart)", ("/multipart/", "/python_multipart/")),
    ("request log (logging)", ("/logging/",)),
    ("uvicorn + httptools", ("/uvicorn/", "/httptools/")),
    ("Jinja2 templates", ("/jinja2/",)),
    ("argon2", ("argon2",)),
)


def choose(pair: dict[str, Any], spec: str) -> list[str]:
    if spec not in ("auto", "none"):
        return [s for s in spec.split(",") if s in pair["scenarios"]]
    if spec == "none":
        return []
    ratios = []
    for scenario in AUTO_CANDIDATES:
        entry = pair["scenarios"].get(scenario)
        if not entry:
            continue
        o, p = report.summaries(entry)
        if o:  # no peer (or a peer that failed) sorts first
            ratios.append((report.throughput_ratio(o, p) or 0.0, scenario))
    return [s for _r, s in sorted(ratios)[:3]]


def _category(file: str) -> str:
    path = "/" + file
    for needle, name in CATEGORIES:
        if needle in path:
            return name
    return "other: " + Path(file).name


def _short(func: str, file: str) -> str:
    parts = Path(file).parts
    for anchor in (
        "ostiary",
        "sqlalchemy",
        "starlette",
        "joserfc",
        "uvicorn",
        "asyncpg",
        "cryptography",
        "multipart",
        "python_multipart",
        "jinja2",
    ):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            return f"{func} ({'/'.join(parts[i:])})"
    return f"{func} ({Path(file).name})"


def _role(frames: list[tuple[str, str, str]]) -> str:
    """Which thread a sample comes from. SQLAlchemy's async layer (PostgreSQL) runs the driver
    calls in greenlets of the event-loop thread (py-spy shows a greenlet's stack without its
    parent)."""
    if not frames:
        return "native code (no Python frame)"
    for func, file, _line in frames:
        # py-spy names methods Class.method
        if func.endswith("_work") and file.endswith("ostiary/services/offload.py"):
            leaf_func, leaf_file, _ = frames[-1]
            if leaf_func.endswith("_work") and leaf_file.endswith("ostiary/services/offload.py"):
                return "signing threads: waiting for a job or the GIL"
            return "signing threads: signing or handing back"
        if func.endswith("_worker") and file.endswith("concurrent/futures/thread.py"):
            return "thread pool (argon2, asyncio.to_thread)"
    return "event-loop thread"


def summarize_collapsed(text: str) -> dict[str, Any]:
    total = 0
    roles: collections.Counter[str] = collections.Counter()
    self_by_cat: collections.Counter[str] = collections.Counter()
    self_by_func: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    components: collections.Counter[str] = collections.Counter()
    loop_total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = []
        for raw in stack.split(";") if stack.strip() else []:
            m = FRAME.match(raw.strip())
            if m:
                frames.append((m.group("func"), m.group("file"), m.group("line") or ""))
        role = _role(frames)
        roles[role] += count
        if role != "event-loop thread":
            continue
        loop_total += count
        func, file, _line = frames[-1]
        self_by_cat[_category(file)] += count
        self_by_func[_short(func, file)] += count
        for name in {_short(f, fl) for f, fl, _l in frames}:
            inclusive[name] += count
        paths = ["/" + fl for _f, fl, _l in frames]
        for name, needles in COMPONENTS:
            if any(n in p for p in paths for n in needles):
                components[name] += count

    def pct(counter: collections.Counter[str], n: int, base: int) -> list[tuple[str, float]]:
        return [(k, round(100 * v / base, 1)) for k, v in counter.most_common(n)] if base else []

    ostiary_frames = collections.Counter({k: v for k, v in inclusive.items() if "(ostiary/" in k})
    return {
        "samples": total,
        "roles": pct(roles, 10, total),
        "loop_samples": loop_total,
        "self_by_library": pct(self_by_cat, 14, loop_total),
        "self_top": pct(self_by_func, 15, loop_total),
        "components": pct(components, len(COMPONENTS), loop_total),
        "ostiary_inclusive": pct(ostiary_frames, 20, loop_total),
    }


async def profile(
    bench: Any, scenario: str, out_dir: Path, results_stem: str, *, native: bool = False
) -> dict[str, Any]:
    """One run of ``scenario`` with py-spy attached to the Ostiary worker(s). The stacks are
    named after the results file (``results_stem``, e.g. ``2026-11-23-e713039-w1``), so a later
    run on the same day does not overwrite the profile an earlier results file links to."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return {"error": "py-spy is not installed (.venv/bin/pip install py-spy)"}
    out_dir.mkdir(parents=True, exist_ok=True)
    server = bench.server
    kind = "-native" if native else ""
    raw = out_dir / f"{results_stem}-{server.label}-{scenario}{kind}.collapsed.txt"
    seconds = bench.cfg.duration + bench.cfg.warmup + 2
    cmd = [
        spy,
        "record",
        "--rate",
        "250",
        "--nonblocking",
        "--format",
        "raw",
        "-o",
        str(raw),
        "--duration",
        str(int(seconds + 1)),
        "--pid",
        str(server.proc.pid),
    ]
    if server.workers > 1:
        cmd.append("--subprocesses")
    if native:  # C frames too (OpenSSL, SQLite, uvloop); py-spy must pause the process for it
        cmd.remove("--nonblocking")
        cmd.append("--native")
    procs: list[asyncio.subprocess.Process] = []

    async def attach() -> None:  # after the scenario's unmeasured preparation
        procs.append(
            await asyncio.create_subprocess_exec(
                *cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
        )
        await asyncio.sleep(1.0)  # py-spy attaches

    try:
        row = await bench.run(scenario, 99, on_ready=attach)
    except Exception as err:
        for p in procs:
            p.kill()
            await p.wait()
        return {"error": f"{type(err).__name__}: {err}"}
    proc = procs[0]
    output, _ = await proc.communicate()
    if proc.returncode != 0 or not raw.exists():
        return {"error": f"py-spy failed: {output.decode(errors='replace')[-500:]}"}
    summary = summarize_collapsed(raw.read_text())
    summary["file"] = str(raw.relative_to(out_dir.parent.parent.parent))
    summary["throughput_while_profiled"] = round(row["throughput"], 1)
    summary["server"] = server.label
    summary["native"] = native
    if native:
        summary["native_top"] = native_top(raw.read_text())
    return summary


def native_top(text: str, n: int = 25) -> list[tuple[str, float]]:
    """With --native: the innermost frames (C functions included), all threads."""
    leaf: collections.Counter[str] = collections.Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";") if stack.strip() else ["(no frame)"]
        name = re.sub(r":\d+\)$", ")", frames[-1].strip())
        leaf[name] += count
    return [(k, round(100 * v / total, 1)) for k, v in leaf.most_common(n)] if total else []
