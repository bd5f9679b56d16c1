"""Logout against a REAL ``ostiary serve`` (SPEC §4):

- openid-client's end-session URL (``buildEndSessionUrl`` with id_token_hint,
  post_logout_redirect_uri, state), opened in Chromium with a signed-in session, ends the session
  and lands on the post-logout URI with the state;
- durable back-channel logout: a session revoked with ``ostiary sessions revoke`` while the app's
  back-channel endpoint is down is delivered by the server's background loop once the endpoint
  is up (first retry after 5 s), and a pending notice survives a server restart (a new server
  process on the same data folder delivers it).
"""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from browser_harness import BrowserSession, CallbackCatcher
from interop_harness import (
    LiveServer,
    NodeRP,
    app_command,
    free_port,
    start_live_server,
    stop_live_server,
    user_command,
)

from ostiary.protocol.jose import verify_jwt
from ostiary.web.cookies import cookie_names

pytestmark = pytest.mark.interop

PASSWORD = "logout interop correct horse battery staple"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
DELIVERY_DEADLINE = 30.0  # seconds; generous: the first retry is due 5 s after the failure
STARTUP_DEADLINE = 30.0
FAKE_REDIRECT = "http://127.0.0.1:9/cb"  # never followed: the test reads the Location header
SESSION_COOKIE = cookie_names(production=False).session  # the live server runs development


def _claims(token: str) -> dict[str, Any]:
    """The payload of a compact JWS, without verification (for ids only)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _session_status(server: LiveServer, session_id: str) -> str:
    """The session's status, read straight from the server's SQLite file."""
    with contextlib.closing(sqlite3.connect(server.data_dir / "ostiary.db")) as db:
        row = db.execute("SELECT status FROM sessions WHERE id = ?", (session_id,)).fetchone()
    assert row is not None, f"no session {session_id}"
    return str(row[0])


def _wait_until(condition: Callable[[], bool], deadline: float = DELIVERY_DEADLINE) -> bool:
    """Poll ``condition`` until it holds or ``deadline`` seconds pass; whether it held."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


class Receiver:
    """An app's back-channel logout endpoint on 127.0.0.1 at a reserved port: down (nothing
    listens) until ``start()``; records every POSTed form."""

    def __init__(self) -> None:
        self.port = free_port()
        self.forms: list[dict[str, list[str]]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bcl"

    def start(self) -> None:
        forms = self.forms

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                forms.append(parse_qs(self.rfile.read(length).decode()))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def tokens(self) -> list[str]:
        return [form["logout_token"][0] for form in list(self.forms)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    try:
        yield receiver
    finally:
        receiver.stop()


def _http() -> httpx.Client:
    return httpx.Client(trust_env=False, timeout=30)


def _sign_in_over_http(
    server: LiveServer, app: dict[str, Any], email: str, redirect_uri: str = FAKE_REDIRECT
) -> dict[str, Any]:
    """A browser (httpx with a cookie jar) signs in on the hosted page; the app's back end
    exchanges the code (client_secret_basic + PKCE). Returns the token response."""
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    with _http() as browser:
        start = browser.get(
            server.url("/oauth/authorize"),
            params={
                "response_type": "code",
                "client_id": app["client_id"],
                "redirect_uri": redirect_uri,
                "scope": "openid offline_access",
                "state": "st",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        assert 303 == start.status_code, start.text
        page = browser.get(server.url(start.headers["location"]))
        assert 200 == page.status_code, page.text
        fields = dict(re.findall(r'name="(txn|csrf_token)" value="([^"]*)"', page.text))
        done = browser.post(
            server.url("/ui/login"), data={**fields, "email": email, "password": PASSWORD}
        )
        assert 303 == done.status_code, done.text
        code = parse_qs(urlsplit(done.headers["location"]).query)["code"][0]
    with _http() as backend:
        answer = backend.post(
            server.url("/oauth/token"),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            auth=(app["client_id"], app["client_secret"]),
        )
    assert 200 == answer.status_code, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def _refresh(server: LiveServer, app: dict[str, Any], refresh_token: str) -> httpx.Response:
    with _http() as backend:
        return backend.post(
            server.url("/oauth/token"),
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(app["client_id"], app["client_secret"]),
        )


def _verified_logout_claims(
    server: LiveServer, token: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    with _http() as http:
        jwks = http.get(server.url("/keys")).json()
    decoded = verify_jwt(token, jwks, ["RS256", "ES256"])
    return dict(decoded.header), dict(decoded.claims)


def _open(browser: BrowserSession, url: str, step: str) -> None:
    """Navigate Chromium to ``url`` (following redirects) and screenshot where it ends."""
    browser.page.goto(url, wait_until="load")
    browser.screenshot(step)


# -- openid-client's end-session URL in a real browser ----------------------------------------


@pytest.mark.browser
def test_openid_client_end_session_url_signs_out_in_chromium(
    live_server: LiveServer,
    node_rp: NodeRP,
    browser: BrowserSession,
    app_callback: Callable[..., CallbackCatcher],
) -> None:
    """Chromium signs in through openid-client; the URL from buildEndSessionUrl (hint, registered
    post-logout URI, state) ends the session, clears the cookie and lands on the URI with the
    state; the refresh token then fails and the next authorization shows the login page."""
    callback, bye = app_callback("/cb"), app_callback("/signed-out")
    email = "logout-browser@example.com"
    app, _user = live_server.cli_many(
        app_command(
            "web",
            name="Logout RP",
            redirect_uris=[callback.redirect_uri],
            post_logout_redirect_uris=[bye.redirect_uri],
        ),
        user_command(email, PASSWORD, name="Logout Browser"),
    )
    rp = node_rp.bind(
        issuer=live_server.issuer, client_id=app["client_id"], client_secret=app["client_secret"]
    )
    start = rp("auth-url", redirect_uri=callback.redirect_uri, scope="openid offline_access")
    landing = browser.sign_in(start["url"], callback, email, PASSWORD)
    tokens = rp(
        "callback",
        callback_url=landing.callback_url,
        state=start["state"],
        nonce=start["nonce"],
        code_verifier=start["code_verifier"],
    )
    sid = tokens["claims"]["sid"]
    assert [SESSION_COOKIE] == [
        c["name"] for c in browser.context.cookies() if c["name"] == SESSION_COOKIE
    ]

    end = rp(
        "end-session-url",
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri=bye.redirect_uri,
        state="bye-state-42",
    )
    url = urlsplit(end["url"])
    assert live_server.url("/oidc/logout") == f"{url.scheme}://{url.netloc}{url.path}"
    assert {
        "client_id": [app["client_id"]],
        "id_token_hint": [tokens["id_token"]],
        "post_logout_redirect_uri": [bye.redirect_uri],
        "state": ["bye-state-42"],
    } == parse_qs(url.query)

    _open(browser, end["url"], "after-end-session")
    assert f"{bye.redirect_uri}?state=bye-state-42" == browser.page.url
    assert [f"{bye.redirect_uri}?state=bye-state-42"] == bye.urls
    assert [] == [c for c in browser.context.cookies() if c["name"] == SESSION_COOKIE]

    assert "logged_out" == _session_status(live_server, sid)
    failure = rp.fails("refresh", refresh_token=tokens["refresh_token"])
    assert "invalid_grant" == failure.error.get("error"), failure.error

    again = rp("auth-url", redirect_uri=callback.redirect_uri, scope="openid")
    _open(browser, again["url"], "login-again")
    assert "/ui/login" == urlsplit(browser.page.url).path


# -- durable back-channel delivery by the server's background loop --------------------------


def test_revoked_while_receiver_down_is_delivered_by_the_server(
    live_server: LiveServer, receiver: Receiver
) -> None:
    """`ostiary sessions revoke` while the app's endpoint is down (the command's own attempt
    fails); once the endpoint is up the running server delivers one verifiable logout token;
    the refresh token is dead."""
    email = "logout-durable@example.com"
    app, user = live_server.cli_many(
        app_command(
            "web",
            name="Back-channel RP",
            redirect_uris=[FAKE_REDIRECT],
            extra=["--backchannel-logout-uri", receiver.url],
        ),
        user_command(email, PASSWORD, name="Durable"),
    )
    tokens = _sign_in_over_http(live_server, app, email)
    sid = _claims(tokens["id_token"])["sid"]

    revoked = live_server.cli("sessions", "revoke", sid)
    assert {"revoked": sid, "backchannel_notices": 1, "delivered_now": 0} == revoked
    refreshed = _refresh(live_server, app, tokens["refresh_token"])
    assert (400, "invalid_grant") == (refreshed.status_code, refreshed.json()["error"])

    receiver.start()
    arrived = _wait_until(lambda: len(receiver.forms) >= 1)
    assert True is arrived, (
        f"no logout token within {DELIVERY_DEADLINE:.0f} s\n{live_server.log()[-3000:]}"
    )
    (token,) = receiver.tokens()
    header, claims = _verified_logout_claims(live_server, token)
    assert "logout+jwt" == header["typ"]
    assert (live_server.issuer, app["client_id"], user["id"], sid) == (
        claims["iss"],
        claims["aud"],
        claims["sub"],
        claims["sid"],
    )
    assert {BACKCHANNEL_EVENT: {}} == claims["events"]
    assert "nonce" not in claims


# -- a pending notice survives a server restart -----------------------------------------------


def _ostiary() -> str:
    beside = Path(sys.executable).parent / "ostiary"
    assert beside.exists(), "the ostiary console script is not installed in this venv"
    return str(beside)


@contextlib.contextmanager
def _restarted(server: LiveServer, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A NEW ``ostiary serve`` process on the stopped server's port, data folder and settings."""
    argv = ["serve", "--host", "127.0.0.1", "--port", str(server.port), "--workers", "1"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [_ostiary(), *argv],
            env=server.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)


def _healthy(server: LiveServer, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        return False
    try:
        with _http() as http:
            return http.get(server.url("/healthz"), timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_pending_notice_survives_a_server_restart(
    tmp_path_factory: pytest.TempPathFactory, receiver: Receiver
) -> None:
    """Revoked while the endpoint is down; the server process is stopped; a NEW server process
    on the same data folder delivers the notice once the endpoint is up."""
    base = tmp_path_factory.mktemp("logout-restart")
    server = start_live_server(base)
    try:
        email = "logout-restart@example.com"
        app, user = server.cli_many(
            app_command(
                "web",
                name="Restart RP",
                redirect_uris=[FAKE_REDIRECT],
                extra=["--backchannel-logout-uri", receiver.url],
            ),
            user_command(email, PASSWORD, name="Restart"),
        )
        tokens = _sign_in_over_http(server, app, email)
        sid = _claims(tokens["id_token"])["sid"]
        revoked = server.cli("sessions", "revoke", sid)
        assert (1, 0) == (revoked["backchannel_notices"], revoked["delivered_now"])
    finally:
        stop_live_server(server)
    assert server.process is not None and server.process.poll() is not None

    receiver.start()
    assert [] == receiver.forms  # no process of ours is running: nothing could deliver it yet
    log_path = base / "server-restarted.log"
    with _restarted(server, log_path) as process:
        assert True is _wait_until(lambda: _healthy(server, process), STARTUP_DEADLINE), (
            log_path.read_text(errors="replace")[-3000:]
        )
        arrived = _wait_until(lambda: len(receiver.forms) >= 1)
        assert True is arrived, log_path.read_text(errors="replace")[-3000:]
        (token,) = receiver.tokens()
        _, claims = _verified_logout_claims(server, token)
    assert (app["client_id"], user["id"], sid) == (claims["aud"], claims["sub"], claims["sid"])
