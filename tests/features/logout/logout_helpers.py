"""Helpers for the logout tests: a real HTTP back-channel receiver on 127.0.0.1, browsers (each an
in-process httpx client with its own cookie jar and User-Agent), and an app developer who signs
users in, refreshes, calls /userinfo and verifies tokens against /keys.

Imported by the tests of this folder (``from logout_helpers import …``); fixtures live in
``conftest.py``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import re
import secrets
import socket
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from starlette.applications import Starlette

from ostiary.cli.main import main
from ostiary.config import Settings
from ostiary.domain.apps import App
from ostiary.domain.sessions import BackchannelDelivery, Session
from ostiary.domain.users import User
from ostiary.protocol.jose import verify_jwt
from ostiary.services.container import Services
from ostiary.web.cookies import cookie_names

DATABASE_LINE = "ostiary: using the database "

__all__ = [
    "EMAIL",
    "PASSWORD",
    "SESSION_COOKIE",
    "SPA_BYE",
    "SPA_REDIRECT",
    "WEB_BYE",
    "WEB_REDIRECT",
    "Browser",
    "Harness",
    "Receiver",
    "RegisteredApp",
    "Tokens",
    "cli_json",
    "hidden",
    "query_of",
    "run_cli",
]

EMAIL = "ada@example.com"
PASSWORD = "correct horse battery staple"
OTHER_EMAIL = "grace@example.com"
WEB_REDIRECT = "https://web.example.com/callback"
WEB_BYE = "https://web.example.com/signed-out"
SPA_ORIGIN = "http://localhost:5173"
SPA_REDIRECT = f"{SPA_ORIGIN}/callback"
SPA_BYE = f"{SPA_ORIGIN}/bye"
SCOPE = "openid profile email offline_access"
SESSION_COOKIE = cookie_names(production=False).session
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
FAST_ARGON2 = {
    "OSTIARY_ARGON2_TIME_COST": "1",
    "OSTIARY_ARGON2_MEMORY_KIB": "8192",
    "OSTIARY_ARGON2_PARALLELISM": "1",
}


def query_of(url: str) -> dict[str, str]:
    """The query of ``url`` as a dict; every parameter must appear once."""
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(values) == 1 for values in parsed.values()), url
    return {name: values[0] for name, values in parsed.items()}


def hidden(html: str, name: str) -> str:
    """The value of the hidden form field ``name`` in a page."""
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no hidden input {name!r} in the page"
    return found.group(1)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -------------------------------------------------------------------------------------------
# The back-channel receiver: a real HTTP server on 127.0.0.1


@dataclasses.dataclass(frozen=True)
class Received:
    path: str
    content_type: str
    form: dict[str, list[str]]

    @property
    def logout_token(self) -> str:
        (token,) = self.form["logout_token"]
        return token


class Receiver:
    """An app's back-channel logout endpoint: ``http.server`` in a thread on a port reserved up
    front, so it can be down (nothing listens: connection refused) and come up later on the same
    URL. ``status`` is what it answers (200, or 500 to play a broken app)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.status = 200
        self.received: list[Received] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bcl"

    def start(self) -> None:
        if self._server is not None:
            return
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                with receiver._lock:
                    receiver.received.append(
                        Received(
                            path=self.path,
                            content_type=self.headers.get("content-type", ""),
                            form=parse_qs(body, keep_blank_values=True),
                        )
                    )
                    status = receiver.status
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join(timeout=10)
        self._server = self._thread = None

    def tokens(self) -> list[str]:
        with self._lock:
            return [r.logout_token for r in self.received]


# -------------------------------------------------------------------------------------------
# Browsers and apps


@dataclasses.dataclass(frozen=True)
class RegisteredApp:
    app: App
    secret: str | None
    redirect_uri: str

    @property
    def client_id(self) -> str:
        return self.app.client_id

    @property
    def name(self) -> str:
        return self.app.name


@dataclasses.dataclass(frozen=True)
class Tokens:
    body: dict[str, Any]

    @property
    def access_token(self) -> str:
        return str(self.body["access_token"])

    @property
    def id_token(self) -> str:
        return str(self.body["id_token"])

    @property
    def refresh_token(self) -> str:
        return str(self.body["refresh_token"])


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class Browser:
    """One browser: its own cookie jar (the shared Ostiary session) and User-Agent."""

    def __init__(self, app: Starlette, issuer: str, user_agent: str) -> None:
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=issuer,
            headers={"user-agent": user_agent},
        )

    def session_cookie(self) -> str | None:
        return self.http.cookies.get(SESSION_COOKIE)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.http.post(url, **kwargs)

    async def aclose(self) -> None:
        await self.http.aclose()


class Harness:
    """The services, the clock, one back-channel receiver, and browsers on one ASGI app."""

    def __init__(self, services: Services, app: Starlette, clock: Any, receiver: Receiver):
        self.services = services
        self.app = app
        self.clock = clock
        self.receiver = receiver
        self.issuer = services.settings.issuer
        self.browsers: list[Browser] = []
        self.browser = self.new_browser()

    def new_browser(self, user_agent: str = FIREFOX_LINUX) -> Browser:
        browser = Browser(self.app, self.issuer, user_agent)
        self.browsers.append(browser)
        return browser

    async def aclose(self) -> None:
        for browser in self.browsers:
            await browser.aclose()

    # -- registration ----------------------------------------------------------------------

    async def web(
        self, name: str = "Web", *, backchannel: bool = True, **fields: Any
    ) -> RegisteredApp:
        fields.setdefault("redirect_uris", [WEB_REDIRECT])
        fields.setdefault("post_logout_redirect_uris", [WEB_BYE])
        fields.setdefault("enforce_pkce", False)
        if backchannel:
            fields.setdefault("backchannel_logout_uri", self.receiver.url)
        app, secret = await self.services.apps.create(name, "web", **fields)
        assert secret is not None
        return RegisteredApp(app, secret.value, fields["redirect_uris"][0])

    async def spa(self, name: str = "SPA", **fields: Any) -> RegisteredApp:
        fields.setdefault("redirect_uris", [SPA_REDIRECT])
        fields.setdefault("post_logout_redirect_uris", [SPA_BYE])
        app, _ = await self.services.apps.create(name, "spa", **fields)
        return RegisteredApp(app, None, fields["redirect_uris"][0])

    async def user(self, email: str = EMAIL, password: str = PASSWORD) -> User:
        return await self.services.users.create(email, password=password, name="Ada Lovelace")

    # -- the browser's side ----------------------------------------------------------------

    async def authorize(
        self, browser: Browser, app: RegisteredApp, *, state: str = "st"
    ) -> tuple[httpx.Response, str | None]:
        """GET /oauth/authorize (PKCE for public apps); returns the answer and the verifier."""
        params = {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": app.redirect_uri,
            "scope": SCOPE,
            "state": state,
            "nonce": secrets.token_urlsafe(8),
        }
        verifier = None
        if app.secret is None:
            verifier, challenge = _pkce()
            params.update(code_challenge=challenge, code_challenge_method="S256")
        return await browser.get("/oauth/authorize", params=params), verifier

    async def submit_login(
        self, browser: Browser, login_url: str, email: str = EMAIL, password: str = PASSWORD
    ) -> httpx.Response:
        page = await browser.get(login_url)
        assert 200 == page.status_code, page.text
        form = {
            "txn": hidden(page.text, "txn"),
            "csrf_token": hidden(page.text, "csrf_token"),
            "email": email,
            "password": password,
        }
        return await browser.post("/ui/login", data=form)

    async def sign_in(
        self, browser: Browser, app: RegisteredApp, email: str = EMAIL, password: str = PASSWORD
    ) -> Tokens:
        """Authorize, pass the login page if it is shown (SSO otherwise), exchange the code."""
        response, verifier = await self.authorize(browser, app)
        assert 303 == response.status_code, response.text
        location = response.headers["location"]
        if location.startswith("/ui/login"):
            response = await self.submit_login(browser, location, email, password)
            assert 303 == response.status_code, response.text
            location = response.headers["location"]
        assert app.redirect_uri == location.split("?", 1)[0], location
        code = query_of(location)["code"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": app.redirect_uri}
        if verifier is not None:
            form["code_verifier"] = verifier
        answer = await self.token(app, form)
        assert 200 == answer.status_code, answer.text
        return Tokens(answer.json())

    # -- the app's back end ----------------------------------------------------------------

    async def token(self, app: RegisteredApp, form: dict[str, str]) -> httpx.Response:
        """POST /oauth/token from the app's server (no browser cookies)."""
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=self.issuer
        ) as backend:
            if app.secret is not None:
                return await backend.post(
                    "/oauth/token", data=form, auth=(app.client_id, app.secret)
                )
            return await backend.post("/oauth/token", data={**form, "client_id": app.client_id})

    async def refresh(self, app: RegisteredApp, refresh_token: str) -> httpx.Response:
        return await self.token(
            app, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    async def userinfo(self, access_token: str) -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=self.issuer
        ) as backend:
            return await backend.get(
                "/userinfo", headers={"authorization": f"Bearer {access_token}"}
            )

    async def jwks(self) -> dict[str, Any]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=self.issuer
        ) as backend:
            answer = await backend.get("/keys")
        assert 200 == answer.status_code, answer.text
        jwks: dict[str, Any] = answer.json()
        return jwks

    async def verify(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Header and claims of a JWT whose signature verifies against the published /keys."""
        decoded = verify_jwt(token, await self.jwks(), ["RS256", "ES256"])
        return dict(decoded.header), dict(decoded.claims)

    async def sid_of(self, tokens: Tokens) -> str:
        _, claims = await self.verify(tokens.id_token)
        return str(claims["sid"])

    async def session(self, session_id: str) -> Session:
        return await self.services.sessions.get(session_id)

    async def deliveries(self, session_id: str) -> list[BackchannelDelivery]:
        return list(await self.services.backchannel.for_session(session_id))

    async def attempts(self, delivery_id: str) -> list[dict[str, Any]]:
        store = self.services.backchannel._deliveries
        return await store.attempts(delivery_id)


# -------------------------------------------------------------------------------------------
# The ``ostiary`` command on the test's database


@dataclasses.dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def cli_env(settings: Settings) -> dict[str, str]:
    """The OSTIARY_* variables that point a command at the test's data folder and database."""
    return {
        "OSTIARY_DATA_DIR": str(settings.data_dir),
        "OSTIARY_ISSUER": settings.issuer,
        "OSTIARY_SESSION_IDLE_TIMEOUT": str(settings.session_idle_timeout),
        "OSTIARY_SESSION_ABSOLUTE_TIMEOUT": str(settings.session_absolute_timeout),
        **FAST_ARGON2,
    }


_CLI_LOCK = threading.Lock()


def _main(env: Mapping[str, str], args: tuple[str, ...]) -> CliResult:
    """``ostiary.cli.main.main(args)`` with exactly ``env`` as the OSTIARY_* environment, its
    output captured. Runs in a worker thread (it has its own event loop)."""
    out, err = io.StringIO(), io.StringIO()
    with _CLI_LOCK:
        saved = {k: v for k, v in os.environ.items() if k.startswith("OSTIARY_")}
        for key in saved:
            del os.environ[key]
        os.environ.update(env)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as exit_:  # argparse
                    code = exit_.code if isinstance(exit_.code, int) else 2
        finally:
            for key in env:
                os.environ.pop(key, None)
            os.environ.update(saved)
    return CliResult(code, out.getvalue(), err.getvalue())


async def run_cli(settings: Settings, *args: str) -> CliResult:
    """Run the ``ostiary`` command (its real ``main``: argparse, services, handler, output) on
    the test's database, in-process to spare an interpreter start per call. The console script
    as a subprocess is exercised against a live server in tests/interop."""
    return await asyncio.to_thread(_main, cli_env(settings), args)


async def cli_json(settings: Settings, *args: str) -> Any:
    done = await run_cli(settings, *args, "--json")
    assert 0 == done.returncode, done.stderr
    return json.loads(done.stdout)
