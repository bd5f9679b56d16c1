"""Starting, preparing and stopping the servers under test, and reading their memory.

Every server is started by the harness in its own process group; only those processes are ever
signalled (by the group id of the process the harness started).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

from loadgen import Target

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work"
PEER_DIR = BENCH / "peer"
VENV_BIN = Path(sys.executable).parent
OSTIARY = VENV_BIN / "ostiary"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never called: the flows stop at the redirect


def source_fingerprint() -> str:
    """HEAD, and a short hash of the contents of Ostiary's source files: other people edit src/
    while the benchmark runs; the report flags servers that started on different code."""
    import hashlib

    h = hashlib.sha256()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    for path in sorted((ROOT / "src").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{head}/{h.hexdigest()[:10]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urlopen(url, timeout=2) as response:  # noqa: S310 (127.0.0.1 only)
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


# -- processes and memory ------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry))
    return out


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        for child in _children(current):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def status_kb(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes (from /proc/PID/stat)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def machine_cpu() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine since boot (all cores)."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq) / _TICK, steal / _TICK


def reset_peak(pids: list[int]) -> None:
    """Reset the kernel's peak-RSS mark (VmHWM) of each process (Linux clear_refs 5)."""
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            pass


def peak_mb(pids: list[int]) -> dict[int, float]:
    """VmHWM (peak resident set since the last reset) of each process, in MB (10^6 bytes)."""
    out = {}
    for pid in pids:
        kb = status_kb(pid, "VmHWM")
        if kb is not None:
            out[pid] = kb * 1024 / 1e6
    return out


# -- servers --------------------------------------------------------------------------------------


class Server:
    label: str
    kind: str
    store: str
    workers: int
    port: int
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path
    target: Target

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def all_pids(self) -> list[int]:
        if self.proc is None:
            return []
        return [self.proc.pid, *descendants(self.proc.pid)]

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (not a supervisor)."""
        raise NotImplementedError

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the group of the process we started
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


async def _pg_recreate(database: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def postgres_version() -> str | None:
    """The server version when PostgreSQL answers on 127.0.0.1:5432, else None."""
    try:
        import asyncpg

        conn = await asyncio.wait_for(asyncpg.connect(PG_ADMIN_URL), 5)
    except Exception:  # any failure means "not reachable"
        return None
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


class OstiaryServer(Server):
    kind = "ostiary"

    def __init__(self, store: str, workers: int, users: list[tuple[str, str]]) -> None:
        self.store, self.workers, self.users = store, workers, users
        self.label = f"ostiary-{store}"
        self.port = free_port()
        self.dir = WORK / self.label
        self.log_path = self.dir / "server.log"
        self.database = "ostiary_bench"
        self.env = {
            **os.environ,
            "OSTIARY_DATA_DIR": str(self.dir / "data"),
            "OSTIARY_ISSUER": self.base_url,
            "OSTIARY_SECRET_KEY": secrets.token_urlsafe(48),
        }
        if store == "postgres":
            self.env["OSTIARY_DATABASE_URL"] = (
                f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.database}"
            )
        else:
            self.env.pop("OSTIARY_DATABASE_URL", None)

    def _cli(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run(
            [str(OSTIARY), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"ostiary {' '.join(args[:2])} failed: {out.stderr[-800:]}")
        return out.stdout

    async def prepare(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / "data").mkdir(parents=True)
        if self.store == "postgres":
            await _pg_recreate(self.database)
        await asyncio.to_thread(self._cli, "migrate")
        app = json.loads(
            await asyncio.to_thread(
                self._cli,
                "apps",
                "create",
                "--name",
                "Benchmark app",
                "--type",
                "web",
                "--redirect-uri",
                REDIRECT_URI,
                "--no-enforce-pkce",
                "--json",
            )
        )

        async def user(i: int, email: str, password: str) -> None:
            await asyncio.to_thread(
                self._cli,
                "users",
                "create",
                "--email",
                email,
                "--name",
                f"Bench User {i}",
                "--password-stdin",
                "--json",
                stdin=password + "\n",
            )

        # two at a time: each is a Python start-up plus one argon2 hash
        for i in range(0, len(self.users), 2):
            await asyncio.gather(
                *(user(j, *self.users[j]) for j in range(i, min(i + 2, len(self.users))))
            )
        self.target = Target(
            label=self.label,
            kind=self.kind,
            base_url=self.base_url,
            client_id=app["client_id"],
            client_secret=app["client_secret"],
            redirect_uri=REDIRECT_URI,
            users=self.users,
            userinfo_client_id=app["client_id"],
        )

    def start(self) -> None:
        self.fingerprint = source_fingerprint()
        log = open(self.log_path, "wb")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [
                str(OSTIARY),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_http(self.base_url + "/readyz", proc=self.proc)
        deadline = time.monotonic() + 30
        while self.workers > 1 and len(self.worker_pids()) < self.workers:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn workers did not start")
            time.sleep(0.2)

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        if self.workers == 1:
            return [self.proc.pid]  # uvicorn serves in its main process
        return [
            pid
            for pid in _children(self.proc.pid)
            if "spawn_main" in cmdline(pid) and "resource_tracker" not in cmdline(pid)
        ]


class PeerServer(Server):
    kind = "peer"

    def __init__(self, store: str, workers: int, users: list[tuple[str, str]]) -> None:
        self.store, self.workers, self.users = store, workers, users
        self.label = f"peer-{store}"
        self.port = free_port()
        self.dir = WORK / self.label
        self.log_path = self.dir / "server.log"
        self.database = "peer_bench"
        self.client_id = "bench-web"
        self.client_secret = "sec_" + secrets.token_urlsafe(32)

    async def prepare(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        if self.store == "postgres":
            await _pg_recreate(self.database)
        state = {
            "clients": [
                {
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "redirect_uris": [REDIRECT_URI],
                }
            ],
            "users": [
                {
                    "id": f"usr_peer{i}",
                    "email": email,
                    "name": f"Bench User {i}",
                    "password": password,
                }
                for i, (email, password) in enumerate(self.users)
            ],
        }
        (self.dir / "state.json").write_text(json.dumps(state))
        self.target = Target(
            label=self.label,
            kind=self.kind,
            base_url=self.base_url,
            client_id=self.client_id,
            client_secret=self.client_secret,
            redirect_uri=REDIRECT_URI,
            users=self.users,
            userinfo_client_id=self.client_id + "-userinfo",
        )

    def start(self) -> None:
        env = {
            **os.environ,
            "NODE_ENV": "production",
            "PEER_PORT": str(self.port),
            "PEER_WORKERS": str(self.workers),
            "PEER_STORE": self.store,
            "PEER_STATE": str(self.dir / "state.json"),
            "PEER_DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{self.database}",
        }
        for name in ("TIME_COST", "MEMORY_KIB", "PARALLELISM"):
            if f"OSTIARY_ARGON2_{name}" in os.environ:
                env[f"PEER_ARGON2_{name}"] = os.environ[f"OSTIARY_ARGON2_{name}"]
        log = open(self.log_path, "wb")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            ["node", str(PEER_DIR / "server.mjs")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=PEER_DIR,
        )
        wait_http(self.base_url + "/.well-known/openid-configuration", timeout=120, proc=self.proc)
        deadline = time.monotonic() + 30
        while self.workers > 1 and len(self.worker_pids()) < self.workers:
            if time.monotonic() > deadline:
                raise RuntimeError("peer workers did not start")
            time.sleep(0.2)

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        if self.workers == 1:
            return [self.proc.pid]
        return _children(self.proc.pid)


def ensure_peer_installed() -> str:
    """``npm ci`` from the committed package-lock.json when node_modules is missing or stale."""
    lock = PEER_DIR / "package-lock.json"
    marker = PEER_DIR / "node_modules" / ".package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return "already installed"
    out = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=PEER_DIR,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"npm ci failed in bench/peer: {out.stderr[-1500:]}")
    return "npm ci"
