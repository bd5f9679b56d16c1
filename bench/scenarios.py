"""The seven scenarios, run against one target (server). Setup work (logins that make sessions,
the codes to exchange, the refresh chains) happens outside the measured window."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from httpclient import Client, CookieJar
from loadgen import (
    Exhausted,
    Flows,
    RunResult,
    closed_loop,
    fixed_iteration,
    run_wrk,
    wrk_available,
)
from servers import Server, cpu_seconds, machine_cpu, peak_mb, reset_peak

__all__ = ["SCENARIOS", "TARGETED", "BenchConfig", "TargetBench"]

SCENARIOS = (
    "discovery",
    "keys",
    "client_credentials",
    "userinfo",
    "refresh_token",
    "authorization_code",
    "login_flow",
)
# Scenarios with the ≥ 1.0× peer / 0 errors / p99 < 50 ms targets.
TARGETED = ("client_credentials", "refresh_token", "authorization_code", "userinfo", "keys")
FIXED = ("discovery", "keys", "client_credentials", "userinfo")
TITLES = {
    "discovery": "discovery (GET /.well-known/openid-configuration)",
    "keys": "JWKS (GET /keys)",
    "client_credentials": "client_credentials (POST /oauth/token)",
    "userinfo": "userinfo (GET /userinfo, Bearer)",
    "refresh_token": "refresh_token with rotation (POST /oauth/token)",
    "authorization_code": "authorization_code exchange (POST /oauth/token)",
    "login_flow": "full login flow (authorize → form+CSRF → code → token)",
}


@dataclasses.dataclass
class BenchConfig:
    runs: int
    duration: float
    warmup: float
    connections: int
    login_connections: int
    sessions: int
    use_wrk: bool


async def gather_limited(n: int, limit: int, make: Callable[[int], Awaitable[Any]]) -> list[Any]:
    sem = asyncio.Semaphore(limit)

    async def one(i: int) -> Any:
        async with sem:
            return await make(i)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


class TargetBench:
    """Scenario state and runs for one server."""

    def __init__(self, server: Server, cfg: BenchConfig) -> None:
        self.server = server
        self.t = server.target
        self.cfg = cfg
        self.flows = Flows(self.t)
        self.sessions: list[CookieJar] = []
        self.ui_refresh: str | None = None
        self.chains: list[str] = []
        self.rates: dict[str, float] = {}
        self.warmed: set[str] = set()
        self.setup_seconds: dict[str, float] = {}

    # -- setup (not measured) ------------------------------------------------------------------

    async def setup(self) -> None:
        started = time.perf_counter()

        async def login(i: int) -> CookieJar:
            http = Client(self.t.base_url, timeout=120)
            try:
                jar, tokens = await self.flows.login(http, i)
            finally:
                http.close()
            if i == 0 and self.t.userinfo_client_id == self.t.client_id:
                self.ui_refresh = str(tokens["refresh_token"])
            return jar

        self.sessions = await gather_limited(self.cfg.sessions, 4, login)
        if self.ui_refresh is None:  # the peer: userinfo needs its twin client's opaque tokens
            http = Client(self.t.base_url, timeout=120)
            try:
                _jar, tokens = await self.flows.login(http, 0, self.t.userinfo_client_id)
            finally:
                http.close()
            self.ui_refresh = str(tokens["refresh_token"])
        self.setup_seconds["sessions"] = round(time.perf_counter() - started, 1)

    async def _userinfo_token(self) -> str:
        assert self.ui_refresh is not None
        http = Client(self.t.base_url)
        try:
            data = await self.flows.refresh(http, self.ui_refresh, self.t.userinfo_client_id)
        finally:
            http.close()
        self.ui_refresh = str(data["refresh_token"])
        return str(data["access_token"])

    async def _codes(self, count: int) -> list[str]:
        """``count`` fresh authorization codes, from the signed-in sessions (no login)."""
        codes: list[str] = []
        clients = [Client(self.t.base_url) for _ in range(self.cfg.connections)]

        async def worker(i: int) -> None:
            jar = self.sessions[i % len(self.sessions)]
            while len(codes) < count:
                codes.append(
                    await self.flows.browse_to_code(clients[i], jar, self.t.client_id, None)
                )

        try:
            await asyncio.gather(*(worker(i) for i in range(len(clients))))
        finally:
            for c in clients:
                c.close()
        return codes[:count] if len(codes) > count else codes

    async def _make_chains(self, n: int) -> None:
        codes = await self._codes(n)
        idle: asyncio.Queue[Client] = asyncio.Queue()
        for _ in range(min(n, 16)):
            idle.put_nowait(Client(self.t.base_url))

        async def exchange(i: int) -> str:
            http = await idle.get()  # one request at a time per connection
            try:
                data = await self.flows.exchange(http, codes[i])
            finally:
                idle.put_nowait(http)
            return str(data["refresh_token"])

        try:
            self.chains = list(await asyncio.gather(*(exchange(i) for i in range(n))))
        finally:
            while not idle.empty():
                idle.get_nowait().close()

    # -- one measured run ----------------------------------------------------------------------

    async def run(
        self,
        scenario: str,
        run_index: int,
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        """One measured run (after its unmeasured preparation; ``on_ready`` is awaited between
        the two, e.g. to attach a profiler)."""
        pids = self.server.all_pids()
        prepared = await self._prepare(scenario)
        if on_ready is not None:
            await on_ready()
        reset_peak(pids)
        server0, gen0, (busy0, steal0) = cpu_seconds(pids), _own_cpu(), machine_cpu()
        wall0 = time.perf_counter()
        result = await prepared()
        wall = time.perf_counter() - wall0
        server_cpu = cpu_seconds(pids) - server0
        gen_cpu = _own_cpu() - gen0
        busy1, steal1 = machine_cpu()
        cores = os.cpu_count() or 1
        workers = self.server.worker_pids()
        peaks = peak_mb(self.server.all_pids())
        worker_peaks = [peaks[p] for p in workers if p in peaks]
        self.rates[scenario] = max(self.rates.get(scenario, 0.0), result.throughput)
        row = result.as_dict()
        row["rss_worker_peak_mb"] = round(max(worker_peaks), 1) if worker_peaks else None
        row["rss_total_peak_mb"] = round(sum(peaks.values()), 1)
        row["run"] = run_index
        row["server_cpu_s"] = round(server_cpu, 2)
        row["generator_cpu_s"] = round(gen_cpu, 2)
        row["cpu_ms_per_iteration"] = (
            round(1000 * server_cpu / result.total_completed, 3) if result.total_completed else None
        )
        # CPU used by every other process on the machine (other users' work) during the run,
        # as a share of all cores; and hypervisor steal.
        foreign = max(0.0, (busy1 - busy0) - server_cpu - gen_cpu)
        row["foreign_cpu_share"] = round(foreign / (wall * cores), 3) if wall > 0 else None
        row["steal_share"] = round((steal1 - steal0) / (wall * cores), 3) if wall > 0 else None
        return row

    async def _prepare(self, scenario: str) -> Callable[[], Awaitable[RunResult]]:
        """Do the unmeasured preparation; return the coroutine factory of the measured run."""
        cfg = self.cfg
        warm = scenario not in self.warmed
        self.warmed.add(scenario)
        warmup = cfg.warmup if warm else min(0.5, cfg.warmup)
        if scenario in FIXED:
            method, path, headers, body = await self._fixed_request(scenario)
            if cfg.use_wrk and wrk_available():
                return await self._wrk_run(method, path, headers, body, warm)
            return self._python_fixed(method, path, headers, body, warmup)
        if scenario == "refresh_token":
            if not self.chains:
                await self._make_chains(cfg.connections)
            return self._refresh_run(warmup)
        if scenario == "authorization_code":
            # Enough codes for the run at the best rate seen so far (a run that still runs out
            # is measured over the time it had work, and says so in the report).
            estimate = max(
                self.rates.get("authorization_code", 0.0) * 1.3,
                self.rates.get("refresh_token", 0.0) * 1.5,
                self.rates.get("client_credentials", 0.0) * 0.5,
                50.0,
            )
            need = int(estimate * (warmup + cfg.duration)) + cfg.connections
            started = time.perf_counter()
            pool = await self._codes(need)
            self.setup_seconds["codes"] = round(
                self.setup_seconds.get("codes", 0.0) + time.perf_counter() - started, 1
            )
            return self._code_run(pool, warmup)
        if scenario == "login_flow":
            return self._login_run(warmup)
        raise ValueError(scenario)

    async def _fixed_request(
        self, scenario: str
    ) -> tuple[str, str, list[tuple[str, str]], str | None]:
        if scenario == "discovery":
            return "GET", "/.well-known/openid-configuration", [], None
        if scenario == "keys":
            return "GET", "/keys", [], None
        if scenario == "client_credentials":
            return self.flows.client_credentials_request()
        if scenario == "userinfo":
            token = await self._userinfo_token()
            return "GET", "/userinfo", [("Authorization", f"Bearer {token}")], None
        raise ValueError(scenario)

    async def _wrk_run(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        body: str | None,
        warm: bool,
    ) -> Callable[[], Awaitable[RunResult]]:
        cfg = self.cfg

        def wrk_for(seconds: float) -> Awaitable[RunResult]:
            return asyncio.to_thread(
                run_wrk,
                self.t.base_url,
                method,
                path,
                headers=headers,
                body=body,
                connections=cfg.connections,
                duration=seconds,
            )

        if warm and cfg.warmup > 0:
            await wrk_for(cfg.warmup)

        async def measured() -> RunResult:
            return await wrk_for(cfg.duration)

        return measured

    def _python_fixed(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        body: str | None,
        warmup: float,
    ) -> Callable[[], Awaitable[RunResult]]:
        async def measured() -> RunResult:
            clients = [Client(self.t.base_url) for _ in range(self.cfg.connections)]
            try:
                return await closed_loop(
                    [fixed_iteration(c, method, path, headers, body) for c in clients],
                    warmup=warmup,
                    duration=self.cfg.duration,
                )
            finally:
                for c in clients:
                    c.close()

        return measured

    def _refresh_run(self, warmup: float) -> Callable[[], Awaitable[RunResult]]:
        async def measured() -> RunResult:
            clients = [Client(self.t.base_url) for _ in self.chains]

            def iteration(i: int) -> Callable[[], Awaitable[None]]:
                async def once() -> None:
                    data = await self.flows.refresh(clients[i], self.chains[i])
                    self.chains[i] = str(data["refresh_token"])

                return once

            try:
                return await closed_loop(
                    [iteration(i) for i in range(len(clients))],
                    warmup=warmup,
                    duration=self.cfg.duration,
                )
            finally:
                for c in clients:
                    c.close()

        return measured

    def _code_run(self, pool: list[str], warmup: float) -> Callable[[], Awaitable[RunResult]]:
        async def measured() -> RunResult:
            clients = [Client(self.t.base_url) for _ in range(self.cfg.connections)]

            def iteration(i: int) -> Callable[[], Awaitable[None]]:
                async def once() -> None:
                    if not pool:
                        raise Exhausted
                    await self.flows.exchange(clients[i], pool.pop())

                return once

            try:
                result = await closed_loop(
                    [iteration(i) for i in range(len(clients))],
                    warmup=warmup,
                    duration=self.cfg.duration,
                )
            finally:
                for c in clients:
                    c.close()
            return result

        return measured

    def _login_run(self, warmup: float) -> Callable[[], Awaitable[RunResult]]:
        counter = iter(range(10**9))

        async def measured() -> RunResult:
            clients = [
                Client(self.t.base_url, timeout=120) for _ in range(self.cfg.login_connections)
            ]

            def iteration(i: int) -> Callable[[], Awaitable[None]]:
                async def once() -> None:
                    await self.flows.login(clients[i], next(counter))

                return once

            try:
                return await closed_loop(
                    [iteration(i) for i in range(len(clients))],
                    warmup=warmup,
                    duration=self.cfg.duration,
                )
            finally:
                for c in clients:
                    c.close()

        return measured


def _own_cpu() -> float:
    """CPU seconds of the load generator: this process and its finished children (wrk)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
