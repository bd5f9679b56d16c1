"""Run ``ostiary demo`` as a subprocess (free ports, a temporary data folder, fast argon2), read
what it prints, run the desktop example against it, and see which processes it started."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FAST_ARGON2 = {
    "OSTIARY_ARGON2_TIME_COST": "1",
    "OSTIARY_ARGON2_MEMORY_KIB": "8192",
    "OSTIARY_ARGON2_PARALLELISM": "1",
}
READY_LINE = "Press Ctrl-C to stop."
START_TIMEOUT = 120.0  # a first run may `npm ci` the SPA's library
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def ostiary_executable() -> str:
    return str(Path(sys.executable).parent / "ostiary")


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def base_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    env.update({"OSTIARY_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **FAST_ARGON2})
    return env


@dataclass
class RunningDemo:
    process: subprocess.Popen[str]
    data_dir: Path
    ports: dict[str, int]
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def url(self, app: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[app]}{path}"

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def password(self) -> str:
        match = re.search(r"Sign in as\s+(\S+)\s+password (\S+)", self.output)
        assert match is not None, self.output
        return match.group(2)

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads((self.data_dir / "demo.json").read_text())
        return state

    def log(self, app: str) -> str:
        path = self.data_dir / "logs" / f"{app}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def env(self) -> dict[str, str]:
        return base_env(self.data_dir)

    def cli(self, *args: str, input_text: str = "") -> Any:
        """``ostiary ARGS --json`` on the demo's data (and its issuer); the parsed output."""
        env = {**self.env(), "OSTIARY_ISSUER": self.url("ostiary")}
        done = subprocess.run(
            [ostiary_executable(), *args, "--json"],
            env=env,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert 0 == done.returncode, f"ostiary {' '.join(args)}: {done.stderr}"
        return json.loads(done.stdout)

    def wait_for_line(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(needle in line for line in self.lines):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {needle!r} within {timeout:.0f}s:\n{self.output}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(
                    f"ostiary demo exited ({self.process.wait()}) before {needle!r}:\n{self.output}"
                )
            self.lines.append(line)

    def drain(self) -> None:
        """Collect what was printed so far (e.g. after it stopped)."""
        while True:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                return
            if line is None:
                return
            self.lines.append(line)


def _read(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def start_demo(data_dir: Path, ports: dict[str, int] | None = None) -> RunningDemo:
    """``ostiary demo`` on free ports; returns once it printed its addresses."""
    if ports is None:
        ports = dict(zip(("ostiary", "web", "spa", "api"), free_ports(4), strict=True))
    argv = [
        ostiary_executable(), "demo", "--port", str(ports["ostiary"]),
        "--web-port", str(ports["web"]), "--spa-port", str(ports["spa"]),
        "--api-port", str(ports["api"]),
    ]  # fmt: skip
    process = subprocess.Popen(
        argv,
        cwd=REPO_ROOT,
        env=base_env(data_dir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a signal for the test run does not reach it by accident
    )
    demo = RunningDemo(process, data_dir, ports)
    threading.Thread(target=_read, args=(process, demo._queue), daemon=True).start()
    try:
        demo.wait_for_line(READY_LINE, START_TIMEOUT)
    except BaseException:
        stop_demo(demo)
        raise
    return demo


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop_demo(demo: RunningDemo, sig: int = signal.SIGINT, timeout: float = 30.0) -> int:
    """Send ``sig`` to the demo process (only it) and wait; the exit code. Whatever it left
    behind is killed so that a failing test leaves no servers running."""
    process = demo.process
    started = descendants(process.pid)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    for pid in started:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    demo.drain()
    return int(process.returncode)


def http_get(url: str, token: str | None = None) -> tuple[int, Any]:
    """GET ``url`` (with a bearer token); ``(status, parsed JSON or text)``."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with _DIRECT.open(request, timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, body = err.code, err.read()
    try:
        return int(status), json.loads(body)
    except ValueError:
        return int(status), body.decode(errors="replace")


def desktop(demo: RunningDemo, command: str) -> subprocess.Popen[str]:
    """``python -m examples.desktop COMMAND`` configured by the demo's state file, printing
    the sign-in address instead of opening a browser."""
    env = {**demo.env(), "OSTIARY_DESKTOP_BROWSER": "print"}
    return subprocess.Popen(
        [sys.executable, "-m", "examples.desktop", command],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_desktop(demo: RunningDemo, command: str) -> tuple[int, str]:
    process = desktop(demo, command)
    output, _ = process.communicate(timeout=60)
    return int(process.returncode), output
