"""A real ``ostiary serve`` for the browser tests of the dashboard, and Debian's Chromium.

The same pattern as ``tests/interop`` (whose fixtures live beside their own helper modules and
are not importable from here): a fresh data folder, a free port on 127.0.0.1, one worker, fast
argon2, and the ``ostiary`` CLI run against the same data to create users and grant roles.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import ssl
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
STARTUP_TIMEOUT = 30.0
# The production server's host name; the browser resolves it to 127.0.0.1.
PRODUCTION_HOST = "auth.ostiary.test"
PRODUCTION_ARGS = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {PRODUCTION_HOST} 127.0.0.1"]
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def ostiary_executable() -> str:
    return str(Path(sys.executable).parent / "ostiary")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    issuer: str  # what browsers use (the https proxy in front of a production server)
    env: dict[str, str]
    log_path: Path
    local: str = ""  # the plain-http address the process listens on
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, path: str) -> str:
        return f"{self.issuer}{path}"

    def cli(self, *args: str, input_text: str = "") -> Any:
        """``ostiary ARGS --json`` on this server's data; the parsed output."""
        done = subprocess.run(
            [ostiary_executable(), *args, "--json"],
            env=self.env,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert 0 == done.returncode, f"ostiary {' '.join(args)}: {done.stderr}"
        return json.loads(done.stdout)

    def create_user(self, email: str, password: str, *, admin: bool = False) -> dict[str, Any]:
        user: dict[str, Any] = self.cli(
            "users", "create", "--email", email, "--password-stdin", input_text=password + "\n"
        )
        if admin:
            self.cli("admins", "grant", email)
        return user

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _healthy(server: LiveServer, deadline: float) -> str | None:
    assert server.process is not None
    last = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return f"the server exited with code {server.process.returncode}"
        try:
            with _DIRECT.open(f"{server.local}/healthz", timeout=2) as response:
                if response.status == 200:
                    return None
        except (urllib.error.URLError, OSError) as err:
            last = str(err)
        time.sleep(0.1)
    return f"/healthz not ready after {STARTUP_TIMEOUT:.0f}s ({last})"


def start_server(
    base: Path, extra_env: dict[str, str] | None = None, *, port: int | None = None
) -> LiveServer:
    """``ostiary serve`` on ``port`` (a free one by default); the issuer is its http address
    unless ``extra_env`` sets ``OSTIARY_ISSUER``. Production data is migrated first."""
    port = port or free_port()
    local = f"http://127.0.0.1:{port}"
    data = base / "data"
    data.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    env.update({"OSTIARY_DATA_DIR": str(data), "OSTIARY_ISSUER": local, **FAST_ARGON2})
    env.update(extra_env or {})
    server = LiveServer(
        issuer=env["OSTIARY_ISSUER"], env=env, log_path=base / "server.log", local=local
    )
    if env.get("OSTIARY_ENVIRONMENT") == "production":
        done = subprocess.run(
            [ostiary_executable(), "migrate"], env=env, capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(f"ostiary migrate failed: {done.stderr}")
    argv = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with server.log_path.open("wb") as log:
        server.process = subprocess.Popen(
            [ostiary_executable(), *argv],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    problem = _healthy(server, time.monotonic() + STARTUP_TIMEOUT)
    if problem is not None:
        stop_server(server)
        raise RuntimeError(f"ostiary serve did not start: {problem}\n{server.log()}")
    return server


def stop_server(server: LiveServer) -> None:
    process = server.process
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# -- https in front of a production server ----------------------------------------------------


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A throw-away certificate for ``PRODUCTION_HOST`` (the browser is told to accept it)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, PRODUCTION_HOST)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(PRODUCTION_HOST)]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TlsProxy:
    """Terminates TLS on a free local port and relays the bytes to a plain-http backend, like
    the load balancer in front of a production deployment (asyncio, in a thread of its own)."""

    def __init__(self, folder: Path) -> None:
        cert, key = self_signed_certificate(folder)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert, key)
        self.port = free_port()
        self.backend_port = free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the TLS proxy did not start")

    @property
    def url(self) -> str:
        """The https address; a browser maps ``PRODUCTION_HOST`` to 127.0.0.1 (production
        refuses loopback redirect URIs for web apps, the console included)."""
        return f"https://{PRODUCTION_HOST}:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._relay, "127.0.0.1", self.port, ssl=self._context)
        )
        self._ready.set()
        self._loop.run_forever()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            backend_r, backend_w = await asyncio.open_connection("127.0.0.1", self.backend_port)
        except OSError:
            client_w.close()
            return

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (OSError, ssl.SSLError):
                pass
            finally:
                with contextlib.suppress(OSError, ssl.SSLError, RuntimeError):
                    writer.close()

        await asyncio.gather(pipe(client_r, backend_w), pipe(backend_r, client_w))

    def close(self) -> None:
        def stop() -> None:
            self._server.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(stop)
        self._thread.join(timeout=10)
