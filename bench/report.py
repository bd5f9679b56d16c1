"""The Markdown report (bench/results/*.md) and the console summary."""

from __future__ import annotations

from typing import Any

from scenarios import TARGETED

P99_LIMIT_MS = 50.0
RSS_LIMIT_MB = 150.0
LOGIN_SHARE = 0.80

DIFFERENCES = """\
Both servers run on the same machine, one after the other (runs alternate between them), with
the same worker count, driven by the same load generator with the same concurrency, over plain
HTTP/1.1 keep-alive on 127.0.0.1. What is the same: RS256 signatures with an RSA-2048 key; JWT
access tokens (`typ` `at+jwt`) of 300 s (client_credentials: 1 h); RS256 ID tokens of 30 min;
refresh tokens rotated on every use, reuse revoking the family/grant; one confidential web client
(client_secret_basic) with authorization_code, refresh_token and client_credentials, no PKCE;
authorization codes of 10 min, single use; the same endpoint paths; argon2id t=3, m=64 MiB, p=4
for passwords, and an argon2 run for unknown emails too; a hosted HTML login form with a
double-submit CSRF cookie; first-party apps get no consent page.

Differences that could not be removed (or were kept on purpose):

1. **Runtime**: Ostiary is Python 3.11 (uvicorn on asyncio's own event loop, httptools,
   Starlette, SQLAlchemy Core); the peer is Node.js 20 (oidc-provider on Koa). oidc-provider 9
   prints "Unsupported runtime. Use Node.js v22.x LTS": Node 20 is what this machine has; it
   runs all flows.
2. **Storage**. Ostiary: SQLite (WAL, `synchronous=NORMAL`, statements run on the event loop)
   or PostgreSQL through SQLAlchemy's pool (10 connections, reads in autocommit). The peer has
   no database of its own: oidc-provider stores artifacts through an *adapter*. Two are used:
   (a) its bundled `MemoryAdapter` — its LRU is raised from 1 000 to 5 000 000 entries, because
   at 1 000 it evicts live grants and codes under load; it is documented as not for production
   and cannot be shared by several workers, so it runs only with `--workers 1` and is paired
   with Ostiary on SQLite (both "embedded", neither a network database); (b) a PostgreSQL
   adapter written for the benchmark (`bench/peer/server.mjs`: one `oidc_models` table, jsonb
   payload, indexes on grant id/uid/user code, `pg` pool of 20), paired with Ostiary on
   PostgreSQL — the like-for-like, production-style comparison. The peer's accounts live in
   that store too (memory map, or an `accounts` table), so both servers read the user from
   their store on userinfo, code exchange and refresh.
3. **Userinfo token format**: oidc-provider accepts only its own *opaque* access tokens at
   userinfo (a JWT access token has an audience, which its userinfo refuses). So the peer's
   userinfo scenario uses an opaque token (an adapter lookup) from a twin client
   (`bench-web-userinfo`, identical settings), while Ostiary verifies its RS256 JWT and then looks
   up the grant and session (to honour revocation and logout) and the user. The run presents one
   token throughout, as an app calling userinfo or an API again and again does: Ostiary checks its
   signature on the first request and remembers the result (by the token's SHA-256, for the
   published key set), so later requests cost a hash, not an RSA verification; expiry and the
   live login are checked every time. Every *token endpoint* scenario issues RS256 JWT access
   tokens on both.
4. **Access-token audience and claims**: the peer's JWT access tokens are for a resource server
   (`aud` = `<issuer>/api`, scope `openid profile email`); Ostiary's carry `aud` = [client_id],
   `sid`, `nbf` and scope `openid profile email offline_access`. Sizes differ by a few bytes.
5. **offline_access**: oidc-provider drops `offline_access` unless `prompt=consent` is sent (OIDC
   Core §11); Ostiary keeps it for first-party apps. The peer is configured with
   `issueRefreshToken` = "whenever the client may use refresh tokens", and its refresh tokens
   without offline_access expire with the session — Ostiary's own rule for every refresh token.
6. **Login flow hops**: Ostiary: authorize → 303 /ui/login → GET form → POST → 303 to the app
   (4 requests with the token call). The peer: authorize → 303 /interaction/:uid → GET form →
   POST → 303 /oauth/authorize/:uid (resume) → 303 to the app (5 requests with the token call).
   The peer's interaction routes are written for the benchmark (oidc-provider ships only
   development pages): they check the CSRF cookie, look the account up, verify with node
   `argon2` (libargon2, like argon2-cffi) and finish the interaction with a grant (no consent
   page). Its login page is a small template string; Ostiary renders a Jinja2 template.
7. **Threads and processes**: each Ostiary worker signs JWTs in (cores ÷ workers) child
   processes of its own and hashes passwords on a pool of (cores ÷ workers) threads;
   oidc-provider signs (`jose`, on WebCrypto) and node `argon2` hashes on libuv's thread pool
   (4 threads). Both event loops are single-threaded. The CPU columns count Ostiary's signing
   children; the RSS columns are per worker process and leave them out (~35 MB each).
8. **Request logging**: Ostiary writes one access-log line per request (its production
   behaviour, to the log file here); oidc-provider logs nothing per request.
9. **Environment**: Ostiary runs with `OSTIARY_ENVIRONMENT=development` because production
   refuses a plain-http issuer; the differences are the cookies' `Secure` flag, HSTS, and which
   redirect URIs may be registered — nothing on the measured paths. The peer runs with
   `NODE_ENV=production`, its development interactions off, and random cookie-signing keys.
10. **Peer cluster**: with `--workers N > 1` the peer runs under `node:cluster` (the primary
    accepts and hands connections round-robin); uvicorn's workers share the listening socket.
11. **Versions**: see the machine section; the peer's dependencies are pinned by
    `bench/peer/package-lock.json` and installed with `npm ci`.
"""


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def throughput_ratio(o: dict[str, Any] | None, p: dict[str, Any] | None) -> float | None:
    if not o or not p or not p["throughput"]:
        return None
    return o["throughput"] / p["throughput"]


def _cpu_ratio(o: dict[str, Any] | None, p: dict[str, Any] | None) -> float | None:
    """Peer CPU per request ÷ Ostiary CPU per request (> 1: Ostiary needs less CPU)."""
    if not o or not p or not o.get("cpu_ms_per_iteration") or not p.get("cpu_ms_per_iteration"):
        return None
    return float(p["cpu_ms_per_iteration"]) / float(o["cpu_ms_per_iteration"])


def _mark(ok: bool | None, text: str) -> str:
    if ok is None:
        return f"n/a {text}".strip()
    return f"{'met' if ok else '**NOT MET**'} ({text})"


def summaries(entry: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    o = next((v for k, v in entry.items() if k.startswith("ostiary")), None)
    p = next((v for k, v in entry.items() if k.startswith("peer")), None)
    return (o or {}).get("summary"), (p or {}).get("summary")


def login_ceiling(pair: dict[str, Any], results: dict[str, Any]) -> float:
    """The argon2 ceiling for this pair's login runs: the median of the measurements taken
    right before them, else the one taken at the start."""
    values = sorted(m["hashes_per_second"] for m in pair.get("argon2_interleaved", []))
    if values:
        return float(values[len(values) // 2])
    return float(results["argon2"]["ceiling"])


def targets(pair: dict[str, Any], results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per scenario: the targets that apply to it, met or not."""
    rows = []
    connections = results["config"]["connections"]
    ceiling = login_ceiling(pair, results)
    for scenario, entry in pair["scenarios"].items():
        o, p = summaries(entry)
        if o is None:
            rows.append({"scenario": scenario, "cells": ["Ostiary run failed"] * 4})
            continue
        ratio = throughput_ratio(o, p)
        cells: dict[str, str] = {}
        if scenario in TARGETED:
            cells["throughput"] = _mark(
                None if ratio is None else ratio >= 1.0,
                "no peer" if ratio is None else f"{ratio:.2f}× peer",
            )
            cells["errors"] = _mark(o["errors"] == 0, f"{o['errors']}")
            p99 = o["p99_ms"]
            cells["p99"] = _mark(
                None if p99 is None or connections != 64 else p99 < P99_LIMIT_MS,
                f"{_fmt(p99, 1)} ms at {connections} connections",
            )
        elif scenario == "login_flow":
            share = o["throughput"] / ceiling if ceiling else None
            cells["throughput"] = _mark(
                None if share is None else share >= LOGIN_SHARE,
                f"{_fmt(o['throughput'], 2)}/s = {_fmt(100 * share if share else None, 0)} % "
                f"of the argon2 ceiling {_fmt(ceiling, 2)}/s",
            )
            cells["errors"] = _mark(o["errors"] == 0, f"{o['errors']}")
            cells["p99"] = "no target"
        else:
            cells["throughput"] = f"no target ({ratio:.2f}× peer)" if ratio else "no target"
            cells["errors"] = f"no target ({o['errors']})"
            cells["p99"] = "no target"
        rss = o["rss_worker_peak_mb"]
        cells["rss"] = _mark(None if rss is None else rss < RSS_LIMIT_MB, f"{_fmt(rss, 0)} MB")
        rows.append(
            {
                "scenario": scenario,
                "cells": [cells["throughput"], cells["errors"], cells["p99"], cells["rss"]],
            }
        )
    return rows


def render(results: dict[str, Any]) -> str:
    m, c, a = results["machine"], results["config"], results["argon2"]
    out: list[str] = []
    w = out.append
    w(f"# Ostiary benchmark — {results['date'][:10]}\n")
    w(f"Command: `{results['command']}` (took {results['elapsed_seconds'] / 60:.1f} min)  ")
    w(
        f"Commit: `{m['git']}`{' (with uncommitted changes)' if m['git_dirty'] else ''}; "
        f"source fingerprint at start `{m.get('source_at_start', '?')}`, at the end "
        f"`{results.get('source_at_end', '?')}`\n"
    )
    # "HEAD/content-hash": only the content hash says whether the code under test changed
    seen = {
        fp.split("/")[-1] for pair in results["pairs"] for fp in pair.get("source", {}).values()
    }
    seen |= {
        fp.split("/")[-1] for fp in (m.get("source_at_start"), results.get("source_at_end")) if fp
    }
    if len(seen) > 1:
        w(
            "> **Warning: Ostiary's source changed during this run** (other people edit src/ at "
            "the same time). Servers started on: "
            + "; ".join(
                f"{label} `{fp}`"
                for pair in results["pairs"]
                for label, fp in pair.get("source", {}).items()
            )
            + f"; roundtrips.py ran on `{results.get('source_at_end', '?')}`. Compare only "
            "results measured on the same code.\n"
        )
    w("## Machine\n")
    w(
        f"- CPU: {m['cpu']}, {m['cores']} cores ({m['hypervisor'] or 'no hypervisor reported'}), "
        f"{m['memory_gib']} GiB; {m['os']}, Linux {m['kernel']}; "
        f"load average at start {m['loadavg_at_start']}"
    )
    w(
        f"- Python {m['python']}, Node.js {m['node']}, PostgreSQL {m['postgresql']}, "
        f"SQLite {m['sqlite']}, load tool: {m['wrk']} + bench/loadgen.py"
    )
    w("- Ostiary's libraries: " + ", ".join(f"{k} {v}" for k, v in m["python_packages"].items()))
    w("- Peer's libraries: " + ", ".join(f"{k} {v}" for k, v in m["node_packages"].items()))
    w(
        "- The machine is shared and noisy: compare servers within one run of the benchmark, "
        "not across files.\n"
    )
    w("## Settings\n")
    w(
        f"- {c['workers']} worker process(es) per server; {c['connections']} connections "
        f"(login flow: {c['login_connections']} virtual users); {c['runs']} run(s) × "
        f"{c['duration']:g} s per scenario per server (login flow {c['login_duration']:g} s), "
        f"{c['warmup']:g} s warm-up before each scenario; throughput is the median of the runs, "
        "p50/p99 the median of the runs' percentiles; errors are summed; peak RSS is the largest "
        "per-worker VmHWM (reset before each run). *CPU ms/req* is the server's CPU time "
        "(all its processes, user + system) divided by the iterations it completed (a login "
        "flow counts once): less sensitive to a noisy machine than throughput. *Others' CPU* is "
        "the share of all cores used by processes other than the server under test and the load "
        "generator during the run (other people's work on this shared machine; the larger of "
        "the two servers' medians). *CPU ratio* = peer CPU ms/req ÷ Ostiary CPU ms/req: the "
        "throughput ratio the two would have if each had the cores to itself (> 1 favours "
        "Ostiary)."
    )
    w(
        f"- Setup (not measured): {c['users']} accounts per server, {c['sessions']} signed-in "
        "sessions made through the login flow; refresh chains (one per connection) and the pools "
        "of authorization codes come from those sessions."
    )
    fixed_tool = (
        "wrk (1 thread)" if c["use_wrk"] and m["wrk"] != "not installed" else "the Python generator"
    )
    w(
        f"- Fixed-request scenarios (discovery, keys, client_credentials, userinfo) use "
        f"{fixed_tool}; the stateful ones (refresh, code exchange, login flow) use "
        "bench/loadgen.py. Each scenario uses the same tool for both servers.\n"
    )
    w("## Argon2 ceiling\n")
    for r in a["measurements"]:
        w(
            f"- {r['processes']} process(es) × {r['threads_per_process']} thread(s): "
            f"{r['hashes_per_second']:.2f} hashes/s ({r['hashes']} in {r['seconds']:g} s; "
            f"t={r['time_cost']}, m={r['memory_kib']} KiB, p={r['parallelism']})"
        )
    w(
        f"- Ceiling at the start: {a['ceiling']:.2f} hashes/s (the best of these). The "
        "login-flow target uses the ceiling measured again right before each login-flow run of a "
        "pair (1 thread and one thread per login user, the better; no server busy) — the median "
        "of those — so that both see the same machine conditions; the target is ≥ "
        f"{int(LOGIN_SHARE * 100)} % of it. One login flow costs one argon2 verification.\n"
    )

    for pair in results["pairs"]:
        w(f"## {pair['name']}: {' vs '.join(pair['servers'])}\n")
        if pair.get("argon2_interleaved"):
            w(
                "argon2 ceiling before each login-flow run: "
                + ", ".join(f"{m['hashes_per_second']:.2f}" for m in pair["argon2_interleaved"])
                + f" hashes/s (median {login_ceiling(pair, results):.2f}).\n"
            )
        if pair.get("skipped"):
            w(
                f"Not repeated in this pair (they do not touch the store; see the first pair): "
                f"{', '.join(pair['skipped'])}.\n"
            )
        w(
            "| scenario | tool | Ostiary req/s (min–max) | p50 ms | p99 ms | errors | RSS MB | "
            "CPU ms/req | peer req/s (min–max) | p50 ms | p99 ms | errors | RSS MB | CPU ms/req | "
            "**Ostiary / peer** | CPU ratio | others' CPU |"
        )
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for scenario, entry in pair["scenarios"].items():
            o, p = summaries(entry)
            ratio = throughput_ratio(o, p)

            def side(s: dict[str, Any] | None) -> str:
                if s is None:
                    return "failed | – | – | – | – | –"
                return (
                    f"{_fmt(s['throughput'])} ({_fmt(s['throughput_min'])}–"
                    f"{_fmt(s['throughput_max'])}) | {_fmt(s['p50_ms'], 2)} | "
                    f"{_fmt(s['p99_ms'], 2)} | {s['errors']} | "
                    f"{_fmt(s['rss_worker_peak_mb'], 0)} | "
                    f"{_fmt(s.get('cpu_ms_per_iteration'), 2)}"
                )

            shares = [s.get("foreign_cpu_share") for s in (o, p) if s]
            shares = [x for x in shares if x is not None]
            foreign = f"{100 * max(shares):.0f} %" if shares else "–"

            tool = (o or p or {}).get("tool", "")
            has_peer = any(k.startswith("peer") for k in entry)
            cpu = _cpu_ratio(o, p)
            w(
                f"| {scenario} | {tool} | {side(o)} | "
                f"{side(p) if has_peer else '– | – | – | – | – | –'} | "
                f"**{_fmt(ratio, 2) + '×' if ratio is not None else '–'}** | "
                f"{_fmt(cpu, 2) + '×' if cpu is not None else '–'} | {foreign} |"
            )
        w("")
        for scenario, entry in pair["scenarios"].items():
            for label, v in entry.items():
                s = v.get("summary") or {}
                if v.get("failed"):
                    w(f"- {scenario} on {label} failed: `{v['failed']}`")
                if s.get("error_samples"):
                    w(f"- {scenario} on {label}: errors like `{s['error_samples'][0]}`")
                for note in s.get("notes", []):
                    w(f"- {scenario} on {label}: {note}")
        w("")
        w(f"### Targets ({pair['name']})\n")
        w("| scenario | throughput | errors = 0 | p99 < 50 ms | peak RSS < 150 MB/worker |")
        w("|---|---|---|---|---|")
        for row in targets(pair, results):
            w(f"| {row['scenario']} | " + " | ".join(row["cells"]) + " |")
        w("")
        if pair.get("setup_seconds"):
            w(
                "Setup time (not measured): "
                + "; ".join(
                    f"{k}: " + ", ".join(f"{n} {s} s" for n, s in v.items())
                    for k, v in pair["setup_seconds"].items()
                )
                + "\n"
            )
        for scenario, prof in (pair.get("profiles") or {}).items():
            w(f"### Profile: {scenario} on {prof.get('server', 'ostiary')} (py-spy)\n")
            if "error" in prof:
                w(f"Profiling failed: `{prof['error']}`\n")
                continue
            w(
                f"{prof['samples']} samples at 250 Hz; {prof['throughput_while_profiled']} req/s "
                f"while profiled. Raw stacks: `{prof['file']}` (speedscope / flamegraph.pl).\n"
            )
            w("Samples by thread: " + ", ".join(f"{k} {v} %" for k, v in prof["roles"]) + "\n")
            w(
                "Event-loop thread only (100 % = its samples) — innermost Python frame by library: "
                + ", ".join(f"{k} {v} %" for k, v in prof["self_by_library"])
                + "\n"
            )
            w(
                "Event-loop thread, on the stack (inclusive): "
                + ", ".join(f"{k} {v} %" for k, v in prof["components"])
                + "\n"
            )
            w("| Ostiary frame (inclusive, event-loop thread) | % |\n|---|---:|")
            for k, v in prof["ostiary_inclusive"][:15]:
                w(f"| `{k}` | {v} |")
            w("\n| innermost frame (self, event-loop thread) | % |\n|---|---:|")
            for k, v in prof["self_top"][:12]:
                w(f"| `{k}` | {v} |")
            if prof.get("native_top"):
                w("\n| innermost frame with C code (--native, all threads) | % |\n|---|---:|")
                for k, v in prof["native_top"][:20]:
                    w(f"| `{k}` | {v} |")
            w("")
    for section in results.get("roundtrips", []):
        w("## Inside one request (bench/roundtrips.py)\n")
        w(
            "Ostiary's ASGI app driven in-process, one request at a time (no HTTP, no "
            "concurrency): what each endpoint costs in database work. *Statements* are what "
            "reached the database driver, BEGIN and COMMIT included (on PostgreSQL each is a "
            "round trip). *Checkouts* are pool checkouts, each with a reset on return; SQLite's "
            "prepared reads use one connection kept out of the pool, and PostgreSQL's prepared "
            "statements keep their connection between requests, so they need none.\n"
        )
        w(section)
    w("## Differences between the two configurations\n")
    w(DIFFERENCES)
    return "\n".join(out) + "\n"


def console_summary(results: dict[str, Any]) -> str:
    lines = []
    for pair in results["pairs"]:
        lines.append(f"{pair['name']}:")
        for scenario, entry in pair["scenarios"].items():
            o, p = summaries(entry)
            ratio = throughput_ratio(o, p)
            cpu = _cpu_ratio(o, p)
            lines.append(
                f"  {scenario:<19} ostiary {_fmt((o or {}).get('throughput')):>10}/s  "
                f"peer {_fmt((p or {}).get('throughput')):>10}/s  "
                f"ratio {_fmt(ratio, 2) if ratio is not None else '–':>6}  "
                f"cpu ratio {_fmt(cpu, 2) if cpu is not None else '–':>6}"
            )
    return "\n".join(lines)
