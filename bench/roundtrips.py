"""What one request costs inside Ostiary, without HTTP or concurrency: database statements,
connection checkouts, commits, and CPU time, per endpoint; plus a pyinstrument
profile of the slowest one. Sequential requests in one process, so the numbers barely move on a
noisy machine (unlike throughput). Complements the py-spy profiles of the load runs.

    .venv/bin/python bench/roundtrips.py [--store sqlite|postgres] [-n 200] [--out FILE.md]

Drives Ostiary's ASGI app in-process (httpx's ASGITransport), built the way `ostiary serve`
builds it (``ostiary.bootstrap``); the app and user are made through Ostiary's services.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import os
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from sqlalchemy import event

REDIRECT = "http://127.0.0.1:9/callback"
SCOPE = "openid profile email offline_access"


class Counters:
    def __init__(self) -> None:
        self.c: collections.Counter[str] = collections.Counter()
        self.statements: collections.Counter[str] = collections.Counter()

    def snapshot(self) -> collections.Counter[str]:
        return collections.Counter(self.c)


def instrument(engine: Any, counters: Counters) -> None:
    """Count what reaches the database driver. SQLite: every statement sqlite3 runs (its trace
    callback, which also sees the BEGIN it issues itself). PostgreSQL: what asyncpg sends as a
    query (its query logger: Ostiary's prepared statements, and BEGIN and COMMIT), plus the
    statements SQLAlchemy runs (its execute event: SQLAlchemy's dialect runs them through
    asyncpg's prepared-statement objects, which the query logger does not see). SQLAlchemy's
    events alone would miss the prepared statements, which run on the driver directly. Pool
    checkouts and resets are the pool's events. Takes effect for connections opened
    afterwards: dispose the engine first."""
    sync = engine.sync_engine

    def statement(sql: str) -> None:
        first = sql.strip().split(None, 1)[0].upper().rstrip(";") if sql.strip() else "?"
        if first.startswith("PRAGMA"):
            return  # connection set-up, not per request
        counters.c["statements"] += 1
        counters.statements[first] += 1
        if first in ("COMMIT", "END"):
            counters.c["commits"] += 1

    @event.listens_for(sync, "connect")
    def _connected(dbapi_connection: Any, _record: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", dbapi_connection)
        if hasattr(driver, "set_trace_callback"):  # sqlite3
            driver.set_trace_callback(statement)
        else:  # asyncpg
            driver.add_query_logger(lambda logged: statement(logged.query))

    if sync.dialect.name != "sqlite":

        @event.listens_for(sync, "before_cursor_execute")
        def _executed(_conn: Any, _cursor: Any, sql: str, *_a: Any) -> None:
            statement(sql)

    @event.listens_for(sync, "checkout")
    def _checkout(*_a: Any) -> None:
        counters.c["checkouts"] += 1

    @event.listens_for(sync, "reset")
    def _reset(*_a: Any) -> None:
        counters.c["resets on return"] += 1


async def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--store", default="sqlite", choices=["sqlite", "postgres"])
    p.add_argument("-n", type=int, default=200, help="requests per endpoint")
    p.add_argument("--out", help="write the Markdown here too")
    p.add_argument("--profile", default="refresh_token", help="endpoint to profile (pyinstrument)")
    args = p.parse_args(argv)

    from ostiary.bootstrap import create_app, prepare
    from ostiary.config import load_settings

    tmp = Path(tempfile.mkdtemp(prefix="ostiary-roundtrips-"))
    env = {
        "OSTIARY_DATA_DIR": str(tmp),
        "OSTIARY_ISSUER": "http://127.0.0.1:8000",
        "OSTIARY_SECRET_KEY": secrets.token_urlsafe(48),
    }
    for k in (
        "OSTIARY_ARGON2_TIME_COST",
        "OSTIARY_ARGON2_MEMORY_KIB",
        "OSTIARY_ARGON2_PARALLELISM",
    ):
        if k in os.environ:
            env[k] = os.environ[k]
    if args.store == "postgres":
        import asyncpg

        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        await admin.execute('DROP DATABASE IF EXISTS "ostiary_roundtrips" WITH (FORCE)')
        await admin.execute('CREATE DATABASE "ostiary_roundtrips"')
        await admin.close()
        env["OSTIARY_DATABASE_URL"] = (
            "postgresql+asyncpg://postgres@127.0.0.1:5432/ostiary_roundtrips"
        )
    settings = load_settings(env)
    app = create_app(settings)
    services = app.state.services
    await prepare(services)
    created, secret = await services.apps.create(
        "Round trips", "web", redirect_uris=[REDIRECT], enforce_pkce=False
    )
    assert secret is not None
    password = "round-trips-" + secrets.token_hex(4)
    await services.users.create("rt@bench.test", password=password, name="Round Trips")
    basic = "Basic " + base64.b64encode(f"{created.client_id}:{secret.value}".encode()).decode()
    counters = Counters()
    instrument(services.engine, counters)
    await services.engine.dispose()  # connections open from here on are counted

    transport = httpx.ASGITransport(app=app)
    http = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    async def authorize() -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": created.client_id,
                "redirect_uri": REDIRECT,
                "scope": SCOPE,
                "state": "s",
            }
        )
        r = await http.get(f"/oauth/authorize?{query}")
        location = r.headers["location"]
        if location.startswith(REDIRECT):
            return parse_qs(urlsplit(location).query)["code"][0]
        page = await http.get(location)
        fields = dict(re.findall(r'name="(txn|csrf_token)" value="([^"]*)"', page.text))
        fields.update(email="rt@bench.test", password=password)
        r = await http.post("/ui/login", data=fields)
        return parse_qs(urlsplit(r.headers["location"]).query)["code"][0]

    async def exchange(code: str) -> dict[str, Any]:
        r = await http.post(
            "/oauth/token",
            headers={**form, "Authorization": basic},
            content=urlencode(
                {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
            ),
        )
        r.raise_for_status()
        return dict(r.json())

    first = await exchange(await authorize())  # signs in once: the session cookie stays
    state = {"refresh": first["refresh_token"], "access": first["access_token"]}
    codes: list[str] = []

    async def op_client_credentials() -> None:
        r = await http.post(
            "/oauth/token",
            headers={**form, "Authorization": basic},
            content="grant_type=client_credentials",
        )
        r.raise_for_status()

    async def op_refresh() -> None:
        r = await http.post(
            "/oauth/token",
            headers={**form, "Authorization": basic},
            content=urlencode({"grant_type": "refresh_token", "refresh_token": state["refresh"]}),
        )
        r.raise_for_status()
        state["refresh"] = r.json()["refresh_token"]

    async def op_code() -> None:
        await exchange(codes.pop())

    async def op_userinfo() -> None:
        r = await http.get("/userinfo", headers={"Authorization": f"Bearer {state['access']}"})
        r.raise_for_status()

    async def op_keys() -> None:
        (await http.get("/keys")).raise_for_status()

    async def op_discovery() -> None:
        (await http.get("/.well-known/openid-configuration")).raise_for_status()

    async def op_authorize() -> None:
        codes.append(await authorize())

    ops = {
        "discovery": op_discovery,
        "keys": op_keys,
        "client_credentials": op_client_credentials,
        "userinfo": op_userinfo,
        "refresh_token": op_refresh,
        "authorize (signed in; makes a code)": op_authorize,
        "authorization_code": op_code,
    }
    rows = []
    for name, op in ops.items():
        for _ in range(10):  # warm caches (key cache, SQLAlchemy statement cache)
            if name == "authorization_code" and not codes:
                break
            await op()
        if name == "authorization_code":
            while len(codes) < args.n:
                codes.append(await authorize())
        before = counters.snapshot()
        stmt_before = collections.Counter(counters.statements)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(args.n):
            await op()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        delta = counters.snapshot() - before
        stmts = collections.Counter(counters.statements) - stmt_before
        rows.append(
            {
                "endpoint": name,
                "cpu_ms": 1000 * cpu / args.n,
                "wall_ms": 1000 * wall / args.n,
                **{k: v / args.n for k, v in delta.items()},
                "by_kind": {k: round(v / args.n, 2) for k, v in stmts.most_common()},
            }
        )

    profile_text = ""
    target = {
        "refresh_token": op_refresh,
        "client_credentials": op_client_credentials,
        "userinfo": op_userinfo,
        "keys": op_keys,
    }.get(args.profile)
    if target is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005, async_mode="enabled")
        profiler.start()
        for _ in range(args.n):
            await target()
        profiler.stop()
        profile_text = profiler.output_text(unicode=False, color=False, show_all=False)
    await http.aclose()
    await services.engine.dispose()

    cols = ["statements", "checkouts", "commits", "resets on return"]
    lines = [
        f"### Per request, in-process ({args.store}, {args.n} sequential requests each)\n",
        "| endpoint | CPU ms | wall ms | " + " | ".join(cols) + " | statements by kind |",
        "|---|---:|---:|" + "---:|" * len(cols) + "---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['endpoint']} | {r['cpu_ms']:.2f} | {r['wall_ms']:.2f} | "
            + " | ".join(f"{r.get(c, 0):.1f}" for c in cols)
            + " | "
            + ", ".join(f"{k} {v:g}" for k, v in r["by_kind"].items())
            + " |"
        )
    text = "\n".join(lines) + "\n"
    if profile_text:
        kept = [ln for ln in profile_text.splitlines() if ln.strip()][:120]
        text += (
            f"\n### pyinstrument: {args.n} × {args.profile} ({args.store}), "
            "wall time\n\n```\n" + "\n".join(kept) + "\n```\n"
        )
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
