"""The load generator: closed-loop virtual users over keep-alive connections, and the flows of an
OpenID Connect client without a browser (authorize → login form with CSRF → code → token).

The same code drives Ostiary and the peer: the flows follow redirects and fill the first HTML
form they meet (its hidden fields, plus email and password), so neither server's page structure
is hard-coded beyond "a form with hidden fields and email/password inputs".

A run is ``warmup`` seconds (not recorded) then ``duration`` seconds: an iteration counts when it
*completes* inside the window; after the window, virtual users finish the iteration they are in
(so refresh-token chains are never cut mid-rotation) and stop.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import math
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from httpclient import Client, CookieJar, HttpError, Response, parse_form

__all__ = [
    "BenchError",
    "Exhausted",
    "Flows",
    "RunResult",
    "Target",
    "closed_loop",
    "run_wrk",
]

SCOPE = "openid profile email offline_access"


class BenchError(Exception):
    """An unexpected answer: counted as an error of the run."""


class Exhausted(Exception):
    """A virtual user ran out of work (e.g. the pool of authorization codes is empty)."""


@dataclasses.dataclass
class Target:
    """One server under test, as the load generator sees it."""

    label: str  # e.g. "ostiary-sqlite"
    kind: str  # "ostiary" | "peer"
    base_url: str
    client_id: str
    client_secret: str
    redirect_uri: str
    users: list[tuple[str, str]]  # (email, password)
    userinfo_client_id: str  # the client whose access tokens userinfo accepts

    def basic(self, client_id: str | None = None) -> str:
        cid = client_id or self.client_id
        raw = f"{quote(cid, safe='')}:{quote(self.client_secret, safe='')}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@dataclasses.dataclass
class RunResult:
    completed: int
    errors: int
    duration: float
    throughput: float
    p50_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    error_samples: list[str] = dataclasses.field(default_factory=list)
    note: str = ""
    tool: str = "python"
    total_completed: int = 0  # every iteration, warm-up and drain included (for CPU per request)

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def _percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest rank: the smallest value with at least ``q`` % of the values at or below it
    (``math.ceil``, not ``round``: Python rounds halves to even)."""
    if not sorted_values:
        return None
    n = len(sorted_values)
    # q * n before dividing: q / 100 * n carries float error (7 / 100 * 100 = 7.000000000000001)
    rank = math.ceil(q * n / 100)
    return sorted_values[min(n, max(1, rank)) - 1]


async def closed_loop(
    iterations: list[Callable[[], Awaitable[None]]],
    *,
    warmup: float,
    duration: float,
    error_pause: float = 0.005,
) -> RunResult:
    """Run one callable per virtual user in a loop; record iterations that complete in the
    window [warmup, warmup + duration]."""
    t0 = time.perf_counter()
    start, end = t0 + warmup, t0 + warmup + duration
    latencies: list[float] = []
    errors = 0
    total = 0
    samples: list[str] = []
    exhausted_at: list[float] = []

    async def user(fn: Callable[[], Awaitable[None]]) -> None:
        nonlocal errors, total
        while time.perf_counter() < end:
            began = time.perf_counter()
            try:
                await fn()
            except Exhausted:
                exhausted_at.append(time.perf_counter())
                return
            except (BenchError, HttpError, ValueError, KeyError) as err:
                finished = time.perf_counter()
                if finished >= start:
                    errors += 1
                    if len(samples) < 5:
                        samples.append(f"{type(err).__name__}: {err}"[:300])
                await asyncio.sleep(error_pause)
                continue
            finished = time.perf_counter()
            total += 1
            if start <= finished <= end:
                latencies.append(finished - began)

    await asyncio.gather(*(user(fn) for fn in iterations))
    window_end = end
    note = ""
    if len(exhausted_at) == len(iterations) and exhausted_at and max(exhausted_at) < end:
        window_end = max(start + 0.001, max(exhausted_at))
        note = f"work ran out after {window_end - start:.1f} s of the window"
    measured = window_end - start
    latencies.sort()
    return RunResult(
        completed=len(latencies),
        errors=errors,
        duration=round(measured, 3),
        throughput=len(latencies) / measured if measured > 0 else 0.0,
        p50_ms=_ms(_percentile(latencies, 50)),
        p99_ms=_ms(_percentile(latencies, 99)),
        mean_ms=_ms(sum(latencies) / len(latencies)) if latencies else None,
        error_samples=samples,
        note=note,
        total_completed=total,
    )


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


# -- wrk (fixed requests) ----------------------------------------------------------------------

WRK_LUA = """
wrk.method = {method}
wrk.path = {path}
wrk.body = {body}
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"mean_us":%f}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


def _lua(value: str | None) -> str:
    return "nil" if value is None else json.dumps(value)


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    base_url: str,
    method: str,
    path: str,
    *,
    headers: list[tuple[str, str]],
    body: str | None,
    connections: int,
    duration: float,
    threads: int = 1,
) -> RunResult:
    """One wrk run (non-2xx/3xx answers and socket errors are errors)."""
    header_lines = "\n".join(f"wrk.headers[{_lua(k)}] = {_lua(v)}" for k, v in headers)
    script = WRK_LUA.format(
        method=_lua(method), path=_lua(path), body=_lua(body), headers=header_lines
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
        script_path = fh.name
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(duration))}s",
                "--timeout",
                "10s",
                "-s",
                script_path,
                base_url,
            ],
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=False,
        )
    finally:
        Path(script_path).unlink(missing_ok=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-500:]} {out.stderr[-500:]}")
    data = json.loads(line[8:])
    seconds = data["duration_us"] / 1e6
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    ok = data["requests"] - data["status"]
    samples = [
        f"{k}={data[k]}" for k in ("connect", "read", "write", "status", "timeout") if data[k]
    ]
    return RunResult(
        completed=ok,
        errors=errors,
        duration=round(seconds, 3),
        throughput=ok / seconds if seconds else 0.0,
        p50_ms=round(data["p50_us"] / 1000, 3),
        p99_ms=round(data["p99_us"] / 1000, 3),
        mean_ms=round(data["mean_us"] / 1000, 3),
        error_samples=samples,
        tool="wrk",
        total_completed=data["requests"],
    )


# -- OAuth / OIDC flows --------------------------------------------------------------------------


def _json(response: Response, what: str) -> dict[str, object]:
    if response.status != 200:
        raise BenchError(f"{what}: HTTP {response.status} {response.body[:200]!r}")
    try:
        data = json.loads(response.body)
    except ValueError:
        raise BenchError(f"{what}: not JSON {response.body[:200]!r}") from None
    if not isinstance(data, dict):
        raise BenchError(f"{what}: not a JSON object")
    return data


FORM = ("Content-Type", "application/x-www-form-urlencoded")


class Flows:
    """The client side of the OAuth flows, for one target."""

    def __init__(self, target: Target) -> None:
        self.t = target
        parts = urlsplit(target.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"

    def _local(self, location: str) -> str:
        if location.startswith(self.origin):
            return location[len(self.origin) :] or "/"
        if location.startswith("/"):
            return location
        raise BenchError(f"redirect off the server: {location[:120]}")

    def authorize_path(self, client_id: str, state: str) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": self.t.redirect_uri,
                "scope": SCOPE,
                "state": state,
                "nonce": secrets.token_urlsafe(12),
            }
        )
        return f"/oauth/authorize?{query}"

    async def browse_to_code(
        self,
        http: Client,
        jar: CookieJar,
        client_id: str,
        user: tuple[str, str] | None,
    ) -> str:
        """GET /oauth/authorize and follow it like a browser until the redirect to the app.
        A login form on the way is filled with ``user`` (an error if there is none)."""
        state = secrets.token_urlsafe(12)
        method, path, body = "GET", self.authorize_path(client_id, state), None
        for _hop in range(12):
            headers = jar.header()
            if body is not None:
                headers.append(FORM)
            response = await http.request(method, path, headers=headers, body=body)
            jar.update(response)
            if response.status in (301, 302, 303, 307):
                location = response.header("location") or ""
                if location.startswith(self.t.redirect_uri):
                    query = parse_qs(urlsplit(location).query)
                    if "code" not in query:
                        raise BenchError(f"authorization error: {location[:200]}")
                    if query.get("state") != [state]:
                        raise BenchError("state mismatch")
                    return query["code"][0]
                method, path, body = "GET", self._local(location), None
                continue
            if response.status == 200 and b"<form" in response.body:
                if user is None:
                    raise BenchError("a login form where a session was expected")
                action, fields = parse_form(response.body.decode())
                fields["email"], fields["password"] = user
                method, path = "POST", self._local(action or path)
                body = urlencode(fields).encode()
                user = None  # one attempt: a second form means the login failed
                continue
            raise BenchError(
                f"{method} {path.split('?')[0]}: HTTP {response.status} {response.body[:160]!r}"
            )
        raise BenchError("too many redirects")

    async def exchange(self, http: Client, code: str, client_id: str | None = None) -> dict:
        body = urlencode(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": self.t.redirect_uri}
        ).encode()
        response = await http.request(
            "POST",
            "/oauth/token",
            headers=[FORM, ("Authorization", self.t.basic(client_id))],
            body=body,
        )
        data = _json(response, "code exchange")
        for key in ("access_token", "id_token", "refresh_token"):
            if key not in data:
                raise BenchError(f"code exchange: no {key} in {sorted(data)}")
        return data

    async def refresh(self, http: Client, refresh_token: str, client_id: str | None = None) -> dict:
        body = urlencode({"grant_type": "refresh_token", "refresh_token": refresh_token}).encode()
        response = await http.request(
            "POST",
            "/oauth/token",
            headers=[FORM, ("Authorization", self.t.basic(client_id))],
            body=body,
        )
        data = _json(response, "refresh")
        if "refresh_token" not in data or "access_token" not in data:
            raise BenchError(f"refresh: no new tokens in {sorted(data)}")
        return data

    async def login(
        self, http: Client, user_index: int, client_id: str | None = None
    ) -> tuple[CookieJar, dict]:
        """The full login flow with a fresh cookie jar; returns the jar and the token response."""
        jar = CookieJar()
        cid = client_id or self.t.client_id
        user = self.t.users[user_index % len(self.t.users)]
        code = await self.browse_to_code(http, jar, cid, user)
        return jar, await self.exchange(http, code, cid)

    # -- fixed requests (for wrk, or the Python fallback) ----------------------------------

    def client_credentials_request(self) -> tuple[str, str, list[tuple[str, str]], str]:
        return (
            "POST",
            "/oauth/token",
            [FORM, ("Authorization", self.t.basic())],
            "grant_type=client_credentials",
        )


def fixed_iteration(
    http: Client, method: str, path: str, headers: list[tuple[str, str]], body: str | None
) -> Callable[[], Awaitable[None]]:
    raw = body.encode() if body is not None else None

    async def once() -> None:
        response = await http.request(method, path, headers=headers, body=raw)
        if response.status != 200:
            raise BenchError(f"HTTP {response.status} {response.body[:160]!r}")

    return once
