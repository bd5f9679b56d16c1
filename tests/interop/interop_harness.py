"""The interop harness: a real ``ostiary serve`` subprocess (``LiveServer``) and a third-party
relying party, openid-client on Node (``NodeRP``), driven one JSON step at a time through
``rp.mjs``. The pytest fixtures over these live in ``conftest.py`` beside this file:

    def test_x(live_server, node_rp):
        app = live_server.cli("apps", "create", "--name", "RP", "--type", "web",
                              "--redirect-uri", "http://127.0.0.1:9/cb")
        rp = node_rp.bind(issuer=live_server.issuer, client_id=app["client_id"],
                          client_secret=app["client_secret"])
        metadata = rp("discover")["metadata"]
        failure = rp.fails("callback", callback_url=..., state=..., nonce=..., code_verifier=...)
        assert failure.code == "OAUTH_INVALID_RESPONSE"
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
INTEROP_DIR = Path(__file__).resolve().parent
RP_SCRIPT = INTEROP_DIR / "rp.mjs"
CLI_BATCH_SCRIPT = INTEROP_DIR / "cli_batch.py"
STARTUP_TIMEOUT = 30.0
CLI_TIMEOUT = 60.0
NODE_STEP_TIMEOUT = 90.0
# Fast argon2 for tests (same values as tests/conftest.py).
FAST_ARGON2 = {
    "OSTIARY_ARGON2_TIME_COST": "1",
    "OSTIARY_ARGON2_MEMORY_KIB": "8192",
    "OSTIARY_ARGON2_PARALLELISM": "1",
}


def _ostiary_executable() -> str:
    """The console script of the interpreter running pytest (the project's venv)."""
    beside = Path(sys.executable).parent / "ostiary"
    if beside.exists():
        return str(beside)
    found = shutil.which("ostiary")
    if found is None:
        pytest.fail("the `ostiary` console script is not installed (pip install -e .)")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CliError(AssertionError):
    """An ``ostiary`` CLI command exited non-zero."""

    def __init__(self, args: list[str], returncode: int, stdout: str, stderr: str) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"`ostiary {' '.join(args)}` exited {returncode}\n"
            f"--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        )


@dataclass(frozen=True)
class CliCommand:
    """One ``ostiary`` command for ``LiveServer.cli_many`` (``--json`` is added)."""

    args: tuple[str, ...]
    input_text: str | None = None


def app_command(
    app_type: str = "web",
    *,
    name: str = "Interop RP",
    redirect_uris: tuple[str, ...] | list[str] = (),
    post_logout_redirect_uris: tuple[str, ...] | list[str] = (),
    extra: tuple[str, ...] | list[str] = (),
) -> CliCommand:
    """``ostiary apps create …``."""
    args = ["apps", "create", "--name", name, "--type", app_type]
    for uri in redirect_uris:
        args += ["--redirect-uri", uri]
    for uri in post_logout_redirect_uris:
        args += ["--post-logout-redirect-uri", uri]
    return CliCommand((*args, *extra))


def user_command(
    email: str, password: str, *, name: str = "Interop User", email_verified: bool = True
) -> CliCommand:
    """``ostiary users create … --password-stdin`` with the password on standard input."""
    args = ["users", "create", "--email", email, "--name", name, "--password-stdin"]
    if email_verified:
        args.append("--email-verified")
    return CliCommand(tuple(args), password + "\n")


@dataclass
class LiveServer:
    """A running ``ostiary serve`` and the environment that reaches its data."""

    issuer: str
    port: int
    data_dir: Path
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, path: str = "/") -> str:
        """An absolute URL on the server, e.g. ``url("/keys")``."""
        return f"{self.issuer}{path if path.startswith('/') else '/' + path}"

    def cli(self, *args: str, check: bool = True, input_text: str | None = None) -> Any:
        """Run ``ostiary ARGS --json`` on this server's data; return the parsed JSON.
        ``input_text`` is fed on standard input (e.g. a password for ``--password-stdin``)."""
        argv = [*args, "--json"]
        done = subprocess.run(
            [_ostiary_executable(), *argv],
            env=self.env,
            input=input_text if input_text is not None else "",
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
        )
        if done.returncode != 0:
            if check:
                raise CliError(argv, done.returncode, done.stdout, done.stderr)
            return {"returncode": done.returncode, "stderr": done.stderr}
        return json.loads(done.stdout)

    def cli_many(self, *commands: CliCommand) -> list[Any]:
        """Run several ``ostiary … --json`` commands in ONE Python process (``cli_batch.py``
        calls the console script's ``main(argv)`` for each, in order): the same CLI, without
        paying the interpreter start-up and imports per command. Returns each parsed JSON;
        raises ``CliError`` for the first command that fails."""
        payload = [
            {"argv": [*command.args, "--json"], "stdin": command.input_text or ""}
            for command in commands
        ]
        done = subprocess.run(
            [sys.executable, str(CLI_BATCH_SCRIPT)],
            env=self.env,
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT * max(1, len(commands)),
        )
        try:
            ran: list[dict[str, Any]] = json.loads(done.stdout)
        except json.JSONDecodeError:
            raise CliError(["(batch)"], done.returncode, done.stdout, done.stderr) from None
        results = []
        for command, outcome in zip(payload, ran, strict=False):
            if outcome["returncode"] != 0:
                raise CliError(
                    command["argv"], outcome["returncode"], outcome["stdout"], outcome["stderr"]
                )
            results.append(json.loads(outcome["stdout"]))
        if len(results) != len(payload):
            raise CliError(["(batch)"], done.returncode, done.stdout, done.stderr)
        return results

    def create_app(
        self,
        app_type: str = "web",
        *,
        name: str = "Interop RP",
        redirect_uris: tuple[str, ...] | list[str] = (),
        post_logout_redirect_uris: tuple[str, ...] | list[str] = (),
        extra: tuple[str, ...] | list[str] = (),
    ) -> dict[str, Any]:
        """Register an app with the CLI; a web app's answer includes ``client_secret``."""
        command = app_command(
            app_type,
            name=name,
            redirect_uris=redirect_uris,
            post_logout_redirect_uris=post_logout_redirect_uris,
            extra=extra,
        )
        result: dict[str, Any] = self.cli(*command.args)
        return result

    def create_user(
        self,
        email: str,
        password: str,
        *,
        name: str = "Interop User",
        email_verified: bool = True,
    ) -> dict[str, Any]:
        """Create a user with the CLI (password on standard input); return its JSON."""
        command = user_command(email, password, name=name, email_verified=email_verified)
        result: dict[str, Any] = self.cli(*command.args, input_text=command.input_text)
        return result

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _server_env(data_dir: Path, issuer: str, extra: Mapping[str, str]) -> dict[str, str]:
    # Nothing from the outer OSTIARY_* configuration leaks in: the server sees only ours.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    env.update(
        {
            "OSTIARY_DATA_DIR": str(data_dir),
            "OSTIARY_ISSUER": issuer,
            **FAST_ARGON2,
        }
    )
    env.update(extra)
    return env


# Loopback only: never through an HTTP proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _wait_healthy(server: LiveServer, deadline: float) -> str | None:
    """None once /healthz answers 200; otherwise why not (the process ended, or time ran out)."""
    assert server.process is not None
    last = "no answer yet"
    while time.monotonic() < deadline:
        code = server.process.poll()
        if code is not None:
            return f"the server exited with code {code}"
        try:
            with _DIRECT.open(server.url("/healthz"), timeout=2) as response:
                if response.status == 200:
                    return None
                last = f"/healthz answered {response.status}"
        except urllib.error.HTTPError as err:
            last = f"/healthz answered {err.code}"
        except OSError as err:
            last = f"{type(err).__name__}: {err}"
        time.sleep(0.1)
    return f"/healthz not ready after {STARTUP_TIMEOUT:.0f}s ({last})"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (it runs in its own session), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def start_live_server(base_dir: Path, extra_env: Mapping[str, str] | None = None) -> LiveServer:
    """Start ``ostiary serve`` on a free port with a fresh data dir under ``base_dir``; the
    caller stops it with ``stop_live_server``. Retries on another port if the port was taken."""
    failure = ""
    for attempt in range(3):
        port = free_port()
        issuer = f"http://127.0.0.1:{port}"
        data_dir = base_dir / f"data-{attempt}"
        data_dir.mkdir(parents=True)
        log_path = base_dir / f"server-{attempt}.log"
        env = _server_env(data_dir, issuer, extra_env or {})
        server = LiveServer(issuer=issuer, port=port, data_dir=data_dir, env=env, log_path=log_path)
        argv = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
        with log_path.open("wb") as log:
            server.process = subprocess.Popen(
                [_ostiary_executable(), *argv],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        reason = _wait_healthy(server, time.monotonic() + STARTUP_TIMEOUT)
        if reason is None:
            return server
        _stop(server.process)
        output = server.log()
        failure = f"{reason}\n--- server output ({log_path}) ---\n{output}"
        if "address already in use" not in output.lower():
            break
    pytest.fail(f"ostiary serve did not start: {failure}", pytrace=False)


def stop_live_server(server: LiveServer) -> None:
    if server.process is not None:
        _stop(server.process)


# ---------------------------------------------------------------------------------------------
# The Node relying party


class RpError(AssertionError):
    """An ``rp.mjs`` step failed; ``.error`` holds its name, message, code (and more)."""

    def __init__(self, step: str, error: dict[str, Any], stderr: str, returncode: int) -> None:
        self.step = step
        self.error = error
        self.returncode = returncode
        self.name: str = error.get("name", "")
        self.code: str | None = error.get("code")
        super().__init__(
            f"rp.mjs {step} failed (exit {returncode}): {self.name}: {error.get('message')}"
            f" [{self.code}]\n{json.dumps(error, indent=2)[:4000]}\n--- stderr ---\n{stderr}"
        )


class NodeRP:
    """``run(step, **params) -> dict``: runs ``node rp.mjs STEP`` with params as JSON on stdin."""

    def __init__(self, node: str, defaults: Mapping[str, Any] | None = None) -> None:
        self.node = node
        self.defaults = dict(defaults or {})

    def bind(self, **defaults: Any) -> NodeRP:
        """A helper whose every step also gets these params (issuer, client_id, secret…)."""
        return NodeRP(self.node, {**self.defaults, **defaults})

    def __call__(self, step: str, **params: Any) -> dict[str, Any]:
        """Run a step that must succeed; raises ``RpError`` otherwise."""
        ok, result, stderr, returncode = self._run(step, params)
        if not ok:
            raise RpError(step, result.get("error", result), stderr, returncode)
        return result

    def fails(self, step: str, **params: Any) -> RpError:
        """Run a step that must fail; returns the ``RpError`` (``.code``, ``.error``…)."""
        ok, result, stderr, returncode = self._run(step, params)
        if ok:
            pytest.fail(f"rp.mjs {step} unexpectedly succeeded: {json.dumps(result)[:2000]}")
        return RpError(step, result.get("error", result), stderr, returncode)

    def _run(self, step: str, params: Mapping[str, Any]) -> tuple[bool, dict[str, Any], str, int]:
        payload = json.dumps({**self.defaults, **params})
        done = subprocess.run(
            [self.node, str(RP_SCRIPT), step],
            input=payload,
            cwd=INTEROP_DIR,
            capture_output=True,
            text=True,
            timeout=NODE_STEP_TIMEOUT,
        )
        try:
            result = json.loads(done.stdout)
        except json.JSONDecodeError:
            pytest.fail(
                f"rp.mjs {step} printed no JSON (exit {done.returncode})\n"
                f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
            )
        if done.returncode == 2:  # a usage error is the test's bug, not the server's
            pytest.fail(f"rp.mjs {step}: {result.get('error', result)}")
        return done.returncode == 0, result, done.stderr, done.returncode
