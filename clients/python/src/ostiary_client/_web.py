"""Web-app sign-in without a framework: the flows behind ``/login``, ``/callback``, ``/logout``,
``/backchannel-logout`` and "who is signed in", written once as generators.

A flow yields *effects* — an ``httpx.Request`` for Ostiary, or a ``StoreGet``/``StoreSet``/
``StoreDelete`` for the session store — and is sent each result back. The Starlette adapter
runs them with ``await``, the Flask adapter without; neither holds any sign-in logic.

The store holds (keys are prefixed, values are JSON-ready dicts)::

    session:<cookie id>  {"tokens": TokenSet | None, "pending": {state: login in progress}}
    sid:<Ostiary sid>    {"ids": [cookie ids]}   so a logout token for a sid finds its sessions
    sub:<user id>        {"ids": [cookie ids]}   … and one with only a sub finds the user's
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import secrets
from collections.abc import Generator, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import httpx

from ostiary_client._core import DEFAULT_SCOPE, ClientCore
from ostiary_client._oauth import parse_callback
from ostiary_client.errors import (
    InvalidToken,
    IssuerMismatch,
    OAuthError,
    OstiaryError,
    ProviderError,
    StateMismatch,
)
from ostiary_client.models import AuthorizationRequest, TokenSet, User

__all__ = [
    "Effect",
    "LoginDone",
    "LoginStart",
    "StoreDelete",
    "StoreGet",
    "StoreSet",
    "UserLookup",
    "WebConfig",
    "WebFlows",
    "callback_error_page",
    "login_redirect_target",
    "logout_confirmation_page",
    "logout_is_intended",
    "safe_return_to",
    "wants_redirect",
]

T = TypeVar("T")
SESSION, BY_SID, BY_SUB = "session:", "sid:", "sub:"
MAX_IDS_PER_INDEX = 50
LOGIN_PROMPTS = frozenset({"login", "create", "consent", "select_account"})


@dataclasses.dataclass(frozen=True, slots=True)
class StoreGet:
    key: str


@dataclasses.dataclass(frozen=True, slots=True)
class StoreSet:
    key: str
    value: dict[str, Any]
    ttl: float


@dataclasses.dataclass(frozen=True, slots=True)
class StoreDelete:
    key: str


Effect = httpx.Request | StoreGet | StoreSet | StoreDelete
WebFlow = Generator[Effect, Any, T]


@dataclasses.dataclass(frozen=True, slots=True)
class WebConfig:
    """How a web app signs users in. ``redirect_uri`` is the absolute URL of ``<prefix>/callback``
    exactly as registered in Ostiary."""

    redirect_uri: str
    prefix: str = "/auth"
    scope: tuple[str, ...] = DEFAULT_SCOPE
    post_logout_redirect_uri: str | None = None
    after_login: str = "/"
    cookie_name: str = "ostiary_app_session"
    cookie_secure: bool | None = None  # None: Secure when redirect_uri is https
    session_ttl: float = 30 * 86400.0
    login_ttl: float = 1800.0  # how long a started login may take
    refresh_margin: float = 60.0  # refresh this many seconds before the access token expires
    max_pending_logins: int = 5  # logins started in other tabs that may still come back

    def __post_init__(self) -> None:
        if urlsplit(self.redirect_uri).scheme not in ("http", "https"):
            raise ValueError(f"redirect_uri must be an absolute http(s) URL: {self.redirect_uri!r}")
        if "openid" not in self.scope:
            raise ValueError("scope must include openid: web sign-in needs the ID token")
        if not self.prefix.startswith("/") or self.prefix.endswith("/"):
            raise ValueError(f"prefix must start and not end with '/': {self.prefix!r}")

    @property
    def secure_cookie(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.redirect_uri.startswith("https://")

    @property
    def origin(self) -> str:
        parts = urlsplit(self.redirect_uri)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def login_path(self) -> str:
        return f"{self.prefix}/login"


@dataclasses.dataclass(frozen=True, slots=True)
class LoginStart:
    session_id: str
    url: str  # Ostiary's authorize URL


@dataclasses.dataclass(frozen=True, slots=True)
class LoginDone:
    session_id: str  # a new cookie id: sign-in never keeps the id from before
    return_to: str


@dataclasses.dataclass(frozen=True, slots=True)
class UserLookup:
    user: User | None
    needs_refresh: bool = False


# -- small rules -------------------------------------------------------------------------------


def safe_return_to(value: str | None, default: str) -> str:
    """``value`` when it is a path on this site (``/orders?id=1``), else ``default``: no other
    origin (``https://evil``, ``//evil``, ``/\\evil``), no control characters."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def wants_redirect(method: str, accept: str | None, requested_with: str | None) -> bool:
    """A page navigation (redirect it to the login) rather than an API-ish call (answer 401)."""
    if method.upper() not in ("GET", "HEAD"):
        return False
    if requested_with and requested_with.lower() == "xmlhttprequest":
        return False
    return "text/html" in (accept or "").lower()


def login_redirect_target(config: WebConfig, path: str, query: str) -> str:
    """``<prefix>/login?returnTo=<this page>``."""
    here = f"{path}?{query}" if query else path
    return f"{config.login_path}?{urlencode({'returnTo': here})}"


def logout_is_intended(
    config: WebConfig, method: str, sec_fetch_site: str | None, origin: str | None
) -> bool:
    """Whether a request to ``<prefix>/logout`` surely comes from this app (or the user typing
    it): a POST from this origin, or a GET navigation the browser marks ``same-origin`` or
    ``none``. Otherwise a page asks first — a link on another site must not sign users out of
    every app (the SameSite=Lax cookie travels with cross-site top-level GETs)."""
    site = (sec_fetch_site or "").lower()
    if method.upper() == "POST":
        return site in ("", "same-origin", "none") and origin in (None, "null", config.origin)
    return site in ("same-origin", "none")


def logout_confirmation_page(config: WebConfig) -> str:
    action = html.escape(f"{config.prefix}/logout")
    return (
        "<!doctype html><meta charset=utf-8><title>Sign out?</title>"
        "<h1>Sign out?</h1><p>You will be signed out of this app and of every app that shares "
        f'your sign-in.</p><form method="post" action="{action}">'
        '<button type="submit">Sign out</button></form>'
    )


def callback_error_page(config: WebConfig, error: OstiaryError) -> tuple[int, str]:
    """The status and HTML of a callback that did not sign the user in."""
    if isinstance(error, StateMismatch):
        reason = (
            "This sign-in link was already used, has expired, or was started in another browser."
        )
    elif isinstance(error, OAuthError):
        reason = error.error_description or error.error
    elif isinstance(error, ProviderError):
        reason = "The sign-in service could not be reached."
    else:
        reason = "The sign-in answer could not be verified."
    status = 502 if isinstance(error, ProviderError) else 400
    body = (
        "<!doctype html><meta charset=utf-8><title>Sign-in did not complete</title>"
        f"<h1>Sign-in did not complete</h1><p>{html.escape(reason)}</p>"
        f'<p><a href="{html.escape(config.login_path)}">Sign in again</a></p>'
    )
    return status, body


def _tokens(record: Mapping[str, Any] | None) -> TokenSet | None:
    data = record.get("tokens") if record else None
    return TokenSet.from_dict(data) if isinstance(data, dict) else None


# -- the flows -----------------------------------------------------------------------------------


class WebFlows:
    """Every web sign-in flow; ``core`` is the client's ``ClientCore``."""

    def __init__(self, core: ClientCore, config: WebConfig) -> None:
        self.core = core
        self.config = config

    def _now(self) -> float:
        return self.core.config.clock()

    def start_login(
        self,
        session_id: str | None,
        return_to: str | None,
        *,
        prompt: str | None = None,
        login_hint: str | None = None,
        organization_id: str | None = None,
    ) -> WebFlow[LoginStart]:
        request = yield from self.core.authorization_url(
            self.config.redirect_uri,
            scope=self.config.scope,
            prompt=prompt if prompt in LOGIN_PROMPTS else None,
            login_hint=login_hint or None,
            organization_id=organization_id or None,
        )
        record = (yield StoreGet(SESSION + session_id)) if session_id else None
        if record is None or session_id is None:
            session_id, record = secrets.token_urlsafe(32), {"tokens": None}
        pending: dict[str, Any] = dict(record.get("pending") or {})
        while len(pending) >= self.config.max_pending_logins:
            oldest = min(pending, key=lambda s: float(pending[s]["request"]["created_at"]))
            del pending[oldest]
        pending[request.state] = {
            "request": request.to_dict(),
            "return_to": safe_return_to(return_to, self.config.after_login),
        }
        record = {**record, "pending": pending}
        yield StoreSet(SESSION + session_id, record, self._ttl(record))
        return LoginStart(session_id, request.url)

    def finish_login(
        self, session_id: str | None, callback: str | Mapping[str, str]
    ) -> WebFlow[LoginDone]:
        """Redeem the callback of a login this browser started; raises ``StateMismatch`` when
        it started none with that state, or the callback's error."""
        params, _ = parse_callback(callback)
        record = (yield StoreGet(SESSION + session_id)) if session_id else None
        pending_logins = dict((record or {}).get("pending") or {})
        pending = pending_logins.pop(params.get("state", ""), None)
        if record is None or session_id is None or pending is None:
            raise StateMismatch("No sign-in with this state was started in this browser.")
        record = {**record, "pending": pending_logins}
        yield StoreSet(SESSION + session_id, record, self._ttl(record))  # single use
        request = AuthorizationRequest.from_dict(pending["request"])
        if request.created_at + self.config.login_ttl < self._now():
            raise StateMismatch("This sign-in was started too long ago.")
        tokens = yield from self.core.exchange_code(params, request)
        yield from self._end(session_id, record)  # a new id: no session fixation
        new_id = secrets.token_urlsafe(32)
        # Logins started in other tabs stay pending (under the new id the cookie will carry).
        record = {"tokens": tokens.to_dict(), "pending": pending_logins}
        yield StoreSet(SESSION + new_id, record, self.config.session_ttl)
        yield from self._index(new_id, tokens)
        return LoginDone(new_id, str(pending["return_to"]))

    def load_user(self, session_id: str | None) -> WebFlow[UserLookup]:
        """The signed-in user, or ``needs_refresh`` when the access token is about to expire
        (the caller then runs ``refresh_user`` under a per-session lock)."""
        if not session_id:
            return UserLookup(None)
        tokens = _tokens((yield StoreGet(SESSION + session_id)))
        if tokens is None:
            return UserLookup(None)
        if tokens.expires_within(self.config.refresh_margin, now=self._now()):
            return UserLookup(None, needs_refresh=True)
        return UserLookup(User.from_tokens(tokens))

    def refresh_user(self, session_id: str) -> WebFlow[User | None]:
        """Refresh the tokens (unless a concurrent request just did); a refused refresh ends
        the local session: the user signed out elsewhere or the session expired."""
        record = yield StoreGet(SESSION + session_id)
        tokens = _tokens(record)
        if record is None or tokens is None:
            return None
        if not tokens.expires_within(self.config.refresh_margin, now=self._now()):
            return User.from_tokens(tokens)
        try:
            fresh = yield from self.core.refresh(tokens)
        except (OAuthError, InvalidToken, IssuerMismatch):
            yield from self._end(session_id, record)
            return None
        except ProviderError:
            if tokens.expires_within(0, now=self._now()):
                raise
            return User.from_tokens(tokens)  # still valid for a little while; retry next time
        record = {**record, "tokens": fresh.to_dict()}
        yield StoreSet(SESSION + session_id, record, self.config.session_ttl)
        return User.from_tokens(fresh)

    def logout(self, session_id: str | None) -> WebFlow[str]:
        """End the local session (revoking its refresh token), then the URL of Ostiary's
        end-session endpoint, with the ID token as hint."""
        record = (yield StoreGet(SESSION + session_id)) if session_id else None
        tokens = _tokens(record)
        if session_id and record is not None:
            yield from self._end(session_id, record)
        if tokens is not None and tokens.refresh_token:
            with contextlib.suppress(OstiaryError):  # the end-session redirect revokes it too
                yield from self.core.revoke(tokens.refresh_token)
        return (
            yield from self.core.logout_url(
                id_token_hint=tokens.id_token if tokens else None,
                post_logout_redirect_uri=self.config.post_logout_redirect_uri,
            )
        )

    def backchannel_logout(self, logout_token: str) -> WebFlow[int]:
        """Validate a logout token and end the local sessions it names; how many ended."""
        token = yield from self.core.validate_logout_token(logout_token)
        index = BY_SID + token.sid if token.sid else BY_SUB + str(token.sub)
        entry = yield StoreGet(index)
        ended = 0
        for session_id in list((entry or {}).get("ids", [])):
            record = yield StoreGet(SESSION + session_id)
            tokens = _tokens(record)
            if record is None or tokens is None:
                continue
            if token.sub and tokens.id_claims.get("sub") != token.sub:
                continue
            yield from self._end(session_id, record)
            ended += 1
        return ended

    # -- helpers -------------------------------------------------------------------------

    def _ttl(self, record: Mapping[str, Any]) -> float:
        return self.config.session_ttl if record.get("tokens") else self.config.login_ttl

    def _index_keys(self, tokens: TokenSet | None) -> Sequence[str]:
        if tokens is None:
            return ()
        claims = tokens.id_claims
        sid, sub = claims.get("sid"), claims.get("sub")
        return [prefix + str(v) for prefix, v in ((BY_SID, sid), (BY_SUB, sub)) if v]

    def _index(self, session_id: str, tokens: TokenSet) -> WebFlow[None]:
        for key in self._index_keys(tokens):
            entry = yield StoreGet(key)
            ids = [i for i in (entry or {}).get("ids", []) if i != session_id]
            ids = [*ids[-(MAX_IDS_PER_INDEX - 1) :], session_id]
            yield StoreSet(key, {"ids": ids}, self.config.session_ttl)

    def _end(self, session_id: str, record: Mapping[str, Any]) -> WebFlow[None]:
        yield StoreDelete(SESSION + session_id)
        for key in self._index_keys(_tokens(record)):
            entry = yield StoreGet(key)
            ids = [i for i in (entry or {}).get("ids", []) if i != session_id]
            if ids:
                yield StoreSet(key, {"ids": ids}, self.config.session_ttl)
            else:
                yield StoreDelete(key)
