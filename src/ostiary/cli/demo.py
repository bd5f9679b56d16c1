"""``ostiary demo``: Ostiary and the four example apps of ``examples/`` (a web app, a SPA, a
desktop command and an API), sharing one sign-in, started with one command.

Every run registers what the examples need, idempotently, in a SQLite database under
``./.ostiary-demo`` (or ``OSTIARY_DATA_DIR``): the four apps (found again by the client ids in
the state file ``demo.json``, mode 0600, or by name), a demo user in an organization whose
role grants ``reports:read``. Then it starts Ostiary and the examples as child processes on
127.0.0.1, prints their addresses and the demo login, and waits. Ctrl-C or SIGTERM stops every
child (SIGTERM to its process group, SIGKILL after a grace period) before it returns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings, load_settings
from ostiary.domain.apps import App, AppType
from ostiary.domain.users import ADMIN_ROLE
from ostiary.services.container import Services
from ostiary.services.errors import Conflict, NotFound

__all__ = ["register", "run"]

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = REPO_ROOT / "examples"
SPA_DIR = EXAMPLES / "spa"
OIDC_CLIENT_BUILD = SPA_DIR / "node_modules" / "oidc-client-ts" / "dist" / "browser"
DEFAULT_DATA_DIR = ".ostiary-demo"
STATE_FILE = "demo.json"
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 60.0
STOP_GRACE = 10.0

DEMO_EMAIL = "demo@example.com"
DEMO_NAME = "Demo User"
ORG_NAME, ORG_SLUG = "Acme Corp", "acme"
ROLE, PERMISSION = "analyst", "reports:read"
APP_NAMES = {"web": "Demo Web", "spa": "Demo SPA", "desktop": "Demo Desktop", "api": "Demo API"}
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class DemoError(Exception):
    """The demo cannot start; the message says what to do."""


def register(sub: Any) -> None:
    demo = sub.add_parser("demo", help="run Ostiary and four example apps that share one sign-in")
    for flag, default, what in (
        ("--port", 8000, "Ostiary"),
        ("--web-port", 8001, "the web app"),
        ("--spa-port", 8002, "the single-page app"),
        ("--api-port", 8003, "the API"),
    ):
        demo.add_argument(flag, type=int, default=default, help=f"port of {what} ({default})")
    demo.set_defaults(sync_handler=run)


@dataclass(frozen=True)
class Urls:
    ostiary: str
    web: str
    spa: str
    api: str

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Urls:
        ports = (args.port, args.web_port, args.spa_port, args.api_port)
        if len(set(ports)) != len(ports):
            raise DemoError(f"the four ports must differ, got {', '.join(map(str, ports))}")
        return cls(*(f"http://{HOST}:{port}" for port in ports))


# -- registering the apps, the user, the organization --------------------------------------------


def app_fields(urls: Urls) -> dict[str, tuple[str, dict[str, Any]]]:
    """What each example is registered with: its type and its URLs (current ports)."""
    return {
        "web": (
            "web",
            {
                "redirect_uris": [f"{urls.web}/auth/callback"],
                "post_logout_redirect_uris": [f"{urls.web}/"],
                "initiate_login_uri": f"{urls.web}/auth/login",
                "backchannel_logout_uri": f"{urls.web}/auth/backchannel-logout",
            },
        ),
        "spa": (
            "spa",
            {
                "redirect_uris": [f"{urls.spa}/callback"],
                "post_logout_redirect_uris": [f"{urls.spa}/"],
                "initiate_login_uri": f"{urls.spa}/login",
            },
        ),
        # A loopback redirect: Ostiary accepts it on whatever port the desktop app picks.
        "desktop": ("native", {"redirect_uris": [f"http://{HOST}/callback"]}),
        "api": ("web", {"redirect_uris": []}),
    }


async def ensure_app(
    services: Services, name: str, kind: str, fields: dict[str, Any], saved: Mapping[str, Any]
) -> tuple[App, str | None]:
    """The app from the last run (by client id, else by name) brought up to date, or a new
    one; with a working secret for a web app (the saved one, or a fresh one after revoking
    the others when the saved one is lost)."""
    existing = None
    if saved.get("client_id"):
        existing = await services.apps.find_by_client_id(str(saved["client_id"]))
    if existing is None:
        existing = next(
            (a for a in await services.apps.all() if a.name == name and a.type.value == kind),
            None,
        )
    if existing is None:
        app, new = await services.apps.create(name, kind, **fields)
        return app, new.value if new else None
    app = await services.apps.update(existing.id, **fields)
    if app.type is not AppType.WEB:
        return app, None
    secret = saved.get("client_secret") if saved.get("client_id") == app.client_id else None
    if secret and await services.apps.authenticate(app.client_id, str(secret)) is not None:
        return app, str(secret)
    for old in await services.apps.list_secrets(app.id):
        if old.active:
            await services.apps.revoke_secret(app.id, old.id)
    return app, (await services.apps.create_secret(app.id)).value


async def ensure_user(services: Services, password: str) -> str:
    """The demo user, with this password, a member of the organization with the role that
    grants ``reports:read`` (and a dashboard administrator). Returns the user id."""
    try:
        user = await services.users.get(DEMO_EMAIL)
    except NotFound:
        user = await services.users.create(
            DEMO_EMAIL, password=password, name=DEMO_NAME, email_verified=True
        )
    else:
        await services.users.set_password(user.id, password)
    await services.users.grant_role(user.id, ADMIN_ROLE)

    with contextlib.suppress(Conflict):
        await services.roles.create_permission(PERMISSION, "Read the demo API's reports")
    try:
        role = await services.roles.get(ROLE)
    except NotFound:
        await services.roles.create(
            ROLE, display_name="Analyst", description="Reads reports", permissions=[PERMISSION]
        )
    else:
        if PERMISSION not in role.permissions:
            await services.roles.update(ROLE, permissions=[*role.permissions, PERMISSION])

    org = next((o for o in await services.organizations.all() if o.slug == ORG_SLUG), None)
    if org is None:
        org = await services.organizations.create(ORG_NAME, slug=ORG_SLUG)
    try:
        membership = await services.organizations.membership(org.id, user.id)
    except NotFound:
        await services.organizations.add_member(org.id, user.id, roles=[ROLE])
    else:
        if ROLE not in membership.roles or membership.status.value != "active":
            await services.organizations.update_member(
                org.id, user.id, roles=[*membership.roles, ROLE], status="active"
            )
    return user.id


async def provision(settings: Settings, urls: Urls, state: dict[str, Any]) -> dict[str, Any]:
    """Prepare the database and register everything; the new state to save."""
    services = build_services(settings)
    try:
        await prepare(services)
        apps: dict[str, Any] = {}
        for key, (kind, fields) in app_fields(urls).items():
            saved = state.get(key) if isinstance(state.get(key), dict) else {}
            app, secret = await ensure_app(services, APP_NAMES[key], kind, fields, saved or {})
            apps[key] = {"client_id": app.client_id}
            if secret is not None:
                apps[key]["client_secret"] = secret
        password = str(state.get("user", {}).get("password") or secrets.token_urlsafe(9))
        await ensure_user(services, password)
    finally:
        await services.engine.dispose()
    apps["desktop"]["token_file"] = str(settings.data_dir / "desktop-tokens.json")
    return {
        "issuer": settings.issuer,
        "urls": {"ostiary": urls.ostiary, "web": urls.web, "spa": urls.spa, "api": urls.api},
        **apps,
        "user": {"email": DEMO_EMAIL, "password": password},
        "organization": {"slug": ORG_SLUG, "role": ROLE, "permission": PERMISSION},
    }


def load_state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write the state (it holds the web app's secret and the demo password) with mode 0600."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(state, fh, indent=2)
        fh.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


# -- the child processes -------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    ready_url: str
    ready_status: int


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the demo itself is killed (no orphans even then)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def uvicorn_argv(factory: str, url: str, log_level: str) -> list[str]:
    port = url.rsplit(":", 1)[1]
    return [
        sys.executable, "-m", "uvicorn", factory, "--factory", "--host", HOST, "--port", port,
        "--log-level", log_level, "--timeout-graceful-shutdown", "3", "--no-server-header",
        "--loop", "asyncio",  # as `ostiary serve` (serve.py says why), uvloop installed or not
    ]  # fmt: skip


def spawn(
    name: str, argv: list[str], env: Mapping[str, str], log: Path, ready: str, ready_status: int
) -> Child:
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole, by us
            preexec_fn=_die_with_parent,  # only the main thread runs
        )
    return Child(name, process, log, ready, ready_status)


def start_children(
    settings: Settings, env: Mapping[str, str], state: dict[str, Any], urls: Urls
) -> list[Child]:
    logs = settings.data_dir / "logs"
    logs.mkdir(exist_ok=True)
    base = {k: v for k, v in env.items() if not k.startswith("OSTIARY_")}
    pythonpath = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    base.update({"PYTHONUNBUFFERED": "1", "PYTHONPATH": pythonpath})  # `examples` importable
    issuer = {"OSTIARY_ISSUER": settings.issuer}
    specs: list[tuple[str, str, dict[str, str], str, int]] = [
        ("ostiary", "ostiary.bootstrap:create_app_from_env", dict(env), "/healthz", 200),
        ("web", "examples.web.app:create_app", {
            **base, **issuer, "APP_URL": urls.web,
            "OSTIARY_CLIENT_ID": state["web"]["client_id"],
            "OSTIARY_CLIENT_SECRET": state["web"]["client_secret"],
        }, "/", 200),
        ("spa", "examples.spa.server:create_app", {
            **base, **issuer, "API_URL": urls.api, "OSTIARY_CLIENT_ID": state["spa"]["client_id"],
        }, "/", 200),
        ("api", "examples.api.app:create_app", {
            **base, **issuer, "OSTIARY_CLIENT_ID": state["api"]["client_id"],
            "API_AUDIENCE": f"{state['spa']['client_id']},{state['desktop']['client_id']}",
            "CORS_ORIGINS": urls.spa,
        }, "/api/hello", 401),
    ]  # fmt: skip
    children: list[Child] = []
    for name, factory, child_env, ready_path, status in specs:
        url = getattr(urls, name)
        level = "warning" if name == "ostiary" else "info"  # Ostiary logs its own requests
        argv = uvicorn_argv(factory, url, level)
        children.append(
            spawn(name, argv, child_env, logs / f"{name}.log", url + ready_path, status)
        )
    return children


def _answers(child: Child) -> bool:
    try:
        with _DIRECT.open(child.ready_url, timeout=2) as response:
            return bool(response.status == child.ready_status)
    except urllib.error.HTTPError as err:
        return err.code == child.ready_status
    except (urllib.error.URLError, OSError):
        return False


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_until_ready(children: list[Child], stopping: list[int]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    waiting = list(children)
    while waiting and not stopping:
        for child in list(waiting):
            if child.process.poll() is not None:
                raise DemoError(
                    f"{child.name} exited with code {child.process.returncode} "
                    f"(log {child.log}):\n{tail(child.log)}"
                )
            if _answers(child):
                waiting.remove(child)
        if time.monotonic() > deadline:
            names = ", ".join(c.name for c in waiting)
            raise DemoError(f"{names} did not answer within {STARTUP_TIMEOUT:.0f} s")
        time.sleep(0.1)


def stop_children(children: list[Child]) -> None:
    """SIGTERM to every child's process group, then wait; SIGKILL what outlives the grace."""
    for child in children:
        if child.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for child in children:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()


# -- the command ---------------------------------------------------------------------------------


def demo_environment(port: int) -> dict[str, str]:
    """The process environment for Ostiary: development, SQLite in the demo's data folder."""
    data_dir = Path(os.environ.get("OSTIARY_DATA_DIR") or DEFAULT_DATA_DIR).expanduser().resolve()
    return {
        **os.environ,
        "OSTIARY_ENVIRONMENT": "development",
        "OSTIARY_DATA_DIR": str(data_dir),
        "OSTIARY_DATABASE_URL": f"sqlite:///{data_dir / 'ostiary.db'}",
        "OSTIARY_ISSUER": f"http://{HOST}:{port}",
    }


def check_prerequisites(urls: Urls) -> None:
    if not (EXAMPLES / "web" / "app.py").is_file():
        raise DemoError(
            f"the example apps are not in {EXAMPLES}: run `ostiary demo` from a source checkout"
        )
    try:
        import ostiary_client.desktop
        import ostiary_client.starlette  # noqa: F401
    except ImportError:
        raise DemoError(
            "the examples need the SDK: pip install -e './clients/python[starlette,desktop]' "
            "(scripts/bootstrap-venv does it)"
        ) from None
    for name in ("ostiary", "web", "spa", "api"):
        port = int(getattr(urls, name).rsplit(":", 1)[1])
        with socket.socket() as sock:
            if sock.connect_ex((HOST, port)) == 0:
                flag = "--port" if name == "ostiary" else f"--{name}-port"
                raise DemoError(f"port {port} ({name}) is in use: pick another with {flag}")


def install_spa_library(stopping: list[int]) -> None:
    if (OIDC_CLIENT_BUILD / "oidc-client-ts.min.js").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise DemoError(
            f"the SPA needs oidc-client-ts: install Node.js, then `npm ci` in {SPA_DIR}"
        )
    print("Installing the SPA's oidc-client-ts (npm ci in examples/spa)…", flush=True)
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=SPA_DIR)
    if done.returncode != 0 and not stopping:  # Ctrl-C reaches npm too: not an error then
        raise DemoError(f"`npm ci` in {SPA_DIR} failed with code {done.returncode}")


def shown(path: Path) -> str:
    """A path relative to the current folder when it is inside it."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd())) or "."
    return str(path)


def desktop_command(data_dir: Path) -> str:
    """How to run the desktop example from here (it finds the demo through its state file)."""
    python = Path(sys.executable)
    if Path.cwd() == REPO_ROOT and python.is_relative_to(REPO_ROOT):
        python = python.relative_to(REPO_ROOT)
    command = f"{python} -m examples.desktop"
    if data_dir != (REPO_ROOT / DEFAULT_DATA_DIR).resolve():
        command = f"OSTIARY_DATA_DIR={data_dir} {command}"
    if Path.cwd() != REPO_ROOT:
        command = f"cd {REPO_ROOT} && {command}"
    return command


def cli_command(data_dir: Path) -> str:
    """The ``ostiary`` command that works on this demo's database: without OSTIARY_DATA_DIR the
    CLI uses ``./.ostiary``, another database than the demo's."""
    ostiary = Path(sys.executable).with_name("ostiary")
    if Path.cwd() == REPO_ROOT and ostiary.is_relative_to(REPO_ROOT):
        ostiary = ostiary.relative_to(REPO_ROOT)
    return f"OSTIARY_DATA_DIR={shown(data_dir)} {ostiary}"


def summary(settings: Settings, state: dict[str, Any], urls: Urls) -> str:
    user = state["user"]
    return f"""Ostiary demo: four apps that share one sign-in (data in {shown(settings.data_dir)})

  Ostiary      {urls.ostiary:<32}  the identity provider; dashboard at /admin
  Web app      {urls.web:<32}  server-rendered, ostiary_client.starlette
  SPA          {urls.spa:<32}  in the browser, oidc-client-ts
  API          {urls.api + "/api/hello":<32}  called by the SPA and the desktop app
  Desktop app  {desktop_command(settings.data_dir)} login|whoami|call-api|logout

  Sign in as   {user["email"]}  password {user["password"]}
               ({ORG_NAME}, role {ROLE} with {PERMISSION}; also a dashboard administrator)
  CLI          {cli_command(settings.data_dir)} apps list  (this demo's database)

Logs in {shown(settings.data_dir / "logs")}/. Press Ctrl-C to stop."""


def run(_settings: Settings, args: argparse.Namespace) -> int:
    """``ostiary demo``: the settings main() built are replaced by the demo's own."""
    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    children: list[Child] = []
    try:
        urls = Urls.from_args(args)
        check_prerequisites(urls)
        env = demo_environment(args.port)
        settings = load_settings(env)
        ignore = settings.data_dir / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Created by `ostiary demo`.\n*\n")
        state_path = settings.data_dir / STATE_FILE
        state = asyncio.run(provision(settings, urls, load_state(state_path)))
        save_state(state_path, state)
        install_spa_library(stopping)
        if not stopping:
            children = start_children(settings, env, state, urls)
            wait_until_ready(children, stopping)
        if not stopping:
            print(summary(settings, state, urls), flush=True)
        while not stopping:
            for child in children:
                if child.process.poll() is not None:
                    raise DemoError(
                        f"{child.name} stopped with code {child.process.returncode} "
                        f"(log {child.log}):\n{tail(child.log)}"
                    )
            time.sleep(0.2)
        print("\nStopping the demo…", flush=True)
        return 0
    except DemoError as err:
        print(f"ostiary demo: {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        stop_children(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if children:
            print("Stopped.", flush=True)
