"""Code-flow helpers shared by the browser interop tests: openid-client (``rp.mjs``) builds the
authorization URL, Chromium (``BrowserSession``) goes through Ostiary and back to the app, and
openid-client exchanges the code with full validation."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from browser_harness import BrowserSession, CallbackCatcher, Landing
from interop_harness import CliCommand, NodeRP, user_command

SCOPE = "openid profile email offline_access"


@dataclass(frozen=True)
class Person:
    """A user of the live server, signed in through the hosted login page."""

    email: str
    password: str
    name: str
    id: str

    @classmethod
    def command(cls, email: str, name: str) -> CliCommand:
        """The CLI command that creates this (verified) user, for ``LiveServer.cli_many``."""
        return user_command(email, _password_for(email), name=name)

    @classmethod
    def from_cli(cls, user: dict[str, Any]) -> Person:
        """The person from the JSON ``ostiary users create --json`` printed."""
        email = user["email"]
        return cls(email=email, password=_password_for(email), name=user["name"], id=user["id"])


def _password_for(email: str) -> str:
    return f"interop {email} correct horse battery staple"


@dataclass
class CodeFlow:
    """One authorization: what ``auth-url`` made, where the browser landed, and (once
    exchanged) the validated token response."""

    start: dict[str, Any]
    landing: Landing
    tokens: dict[str, Any] | None = None
    max_age: int | None = None  # sent in the request: openid-client then checks auth_time

    @property
    def callback_url(self) -> str:
        return self.landing.callback_url

    def _checks(self) -> dict[str, Any]:
        checks = {
            "state": self.start["state"],
            "nonce": self.start["nonce"],
            "code_verifier": self.start["code_verifier"],
        }
        if self.max_age is not None:
            checks["max_age"] = self.max_age
        return checks

    def exchange(self, rp: NodeRP, callback_url: str | None = None) -> dict[str, Any]:
        """openid-client's ``callback`` step: iss, state, code exchange, ID token, nonce."""
        url = callback_url or self.callback_url
        self.tokens = rp("callback", callback_url=url, **self._checks())
        return self.tokens

    def exchange_fails(self, rp: NodeRP, callback_url: str | None = None) -> Any:
        """The ``callback`` step must fail (tampered URL, replayed code); return the RpError."""
        url = callback_url or self.callback_url
        return rp.fails("callback", callback_url=url, **self._checks())


def sign_in(
    rp: NodeRP,
    browser: BrowserSession,
    app: CallbackCatcher,
    person: Person,
    scope: str = SCOPE,
    *,
    exchange: bool = True,
) -> CodeFlow:
    """A fresh browser signs in on the hosted login page; optionally exchange the code."""
    start = rp("auth-url", redirect_uri=app.redirect_uri, scope=scope)
    flow = CodeFlow(start, browser.sign_in(start["url"], app, person.email, person.password))
    if exchange:
        flow.exchange(rp)
    return flow


def authorize_with_session(
    rp: NodeRP,
    browser: BrowserSession,
    app: CallbackCatcher,
    scope: str = SCOPE,
    *,
    step: str = "callback",
    exchange: bool = True,
    max_age: int | None = None,
) -> CodeFlow:
    """The browser already has Ostiary's session: straight back to the app with a code."""
    extra = {"max_age": max_age} if max_age is not None else {}
    start = rp("auth-url", redirect_uri=app.redirect_uri, scope=scope, extra=extra)
    flow = CodeFlow(start, browser.authorize(start["url"], app, step), max_age=max_age)
    if exchange:
        flow.exchange(rp)
    return flow


def jwt_payload(token: str) -> dict[str, Any]:
    """The claims of a compact JWS, decoded without verification (openid-client verified it)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def jwt_header(token: str) -> dict[str, Any]:
    header = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
    )
    return decoded


def query(url: str) -> dict[str, list[str]]:
    """Every query parameter of ``url`` with all its values."""
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def with_query(url: str, **changes: str | None) -> str:
    """``url`` with parameters replaced (``None`` removes one); order kept."""
    parts = urlsplit(url)
    pairs = [(k, v[0]) for k, v in parse_qs(parts.query, keep_blank_values=True).items()]
    out = [(k, changes.get(k, v)) for k, v in pairs]
    out += [(k, v) for k, v in changes.items() if k not in dict(pairs)]
    kept = [(k, v) for k, v in out if v is not None]
    return urlunsplit(parts._replace(query=urlencode(kept)))
