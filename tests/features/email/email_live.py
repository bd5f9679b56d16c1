"""Helpers for the email tests against a real ``ostiary serve`` in Chromium: read the outbox
(the server's SQLite file, read-only), and the steps a person takes on the
hosted pages (ask for a code, type it, open a link), each screenshotted."""

from __future__ import annotations

import base64
import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from browser_harness import BrowserSession, CallbackCatcher
from interop_harness import LiveServer, NodeRP

__all__ = [
    "SCOPE",
    "Outbox",
    "ask_for_email",
    "auth_request",
    "exchange",
    "h1",
    "landed",
    "open_login",
    "path_of",
    "submit_and_land",
]

SCOPE = "openid profile email offline_access"
DEADLINE = 30.0


def path_of(url: str) -> str:
    return urlsplit(url).path


@dataclass(frozen=True)
class Mail:
    id: str
    kind: str
    to_address: str
    subject: str
    text_body: str
    status: str
    attempts: int


class Outbox:
    """The live server's outbox, read from its SQLite file (read-only)."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.path = server.data_dir / "ostiary.db"

    def messages(self, to: str) -> list[Mail]:
        """Messages to ``to``, newest first."""
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        try:
            rows = connection.execute(
                "SELECT id, kind, to_address, subject, text_body, status, attempts FROM outbox "
                "WHERE lower(to_address) = lower(?) ORDER BY id DESC",
                (to,),
            ).fetchall()
        finally:
            connection.close()
        return [Mail(*row[:4], row[4] or "", row[5], row[6]) for row in rows]

    def wait_for(self, to: str, kind: str, *, seen: int = 0) -> Mail:
        """The newest ``kind`` message to ``to`` once there are more than ``seen`` of them
        (polls with a generous deadline)."""
        deadline = time.monotonic() + DEADLINE
        while True:
            found = [m for m in self.messages(to) if m.kind == kind]
            if len(found) > seen:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no new {kind} email to {to} within {DEADLINE:.0f}s")
            time.sleep(0.1)

    def count(self, to: str, kind: str) -> int:
        return len([m for m in self.messages(to) if m.kind == kind])


def h1(browser: BrowserSession) -> str:
    return browser.page.inner_text("h1").strip()


def open_login(browser: BrowserSession, auth_url: str, step: str = "login-page") -> None:
    """Open the authorization URL; expect the hosted login page."""
    response = browser.page.goto(auth_url, wait_until="load")
    status = response.status if response else None
    if (path_of(browser.page.url), status) != ("/ui/login", 200):
        raise browser.fail(f"expected the hosted login page (200), got {status}", "no-login")
    browser.screenshot(step)


def ask_for_email(browser: BrowserSession, email: str) -> None:
    """Type the email and press "Email me a sign-in code…"; expect the code page."""
    browser.page.fill("input[name=email]", email)
    with browser.page.expect_navigation(wait_until="load"):
        browser.page.click("button[name=method][value=email]")
    if path_of(browser.page.url) != "/ui/login/code":
        raise browser.fail("expected the 'Check your email' page", "no-code-page")
    browser.screenshot("code-page")


def submit_and_land(
    browser: BrowserSession, app: CallbackCatcher, selector: str = "button[type=submit]"
) -> str:
    """Press the form's button; expect the browser back at the app; return the callback URL."""
    seen = len(app.urls)
    with browser.page.expect_navigation(wait_until="load"):
        browser.page.click(selector)
    return landed(browser, app, seen)


def landed(browser: BrowserSession, app: CallbackCatcher, seen: int) -> str:
    if not browser.page.url.startswith(app.redirect_uri + "?") or len(app.urls) <= seen:
        raise browser.fail(f"expected the browser back at {app.redirect_uri}", "not-at-app")
    return app.urls[-1]


def auth_request(server: LiveServer, client_id: str, redirect_uri: str) -> dict[str, Any]:
    """An authorization URL with PKCE S256, state and nonce, built here (the same shape as
    openid-client's ``auth-url`` step, without a Node process per flow): pass the result to
    :func:`exchange`."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
    )
    return {
        "url": server.url(f"/oauth/authorize?{query}"),
        "state": state,
        "nonce": nonce,
        "code_verifier": verifier,
    }


def exchange(rp: NodeRP, start: dict[str, Any], callback_url: str) -> dict[str, Any]:
    """openid-client's ``callback`` step (iss, state, PKCE, ID token and nonce checked)."""
    return rp(
        "callback",
        callback_url=callback_url,
        state=start["state"],
        nonce=start["nonce"],
        code_verifier=start["code_verifier"],
    )
