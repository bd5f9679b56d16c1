"""Flask integration (``pip install ostiary-client[flask]``).

Sign users in::

    client = OstiaryClient(ISSUER, CLIENT_ID, CLIENT_SECRET)
    auth = OstiaryAuth(client, redirect_uri="https://app.example.com/auth/callback", app=app)

    @app.get("/dashboard")
    @auth.login_required
    def dashboard():
        return f"Hello {auth.user().email}"

Protect an API::

    @app.get("/api/orders")
    @require_token(client, scopes=["orders:read"])
    def orders():
        return {"user": current_token().sub}
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Generator, Sequence
from typing import Any, ParamSpec, TypeVar, cast

import httpx

try:
    from flask import Blueprint, Flask, g, jsonify, make_response, redirect, request
    from werkzeug.wrappers.response import Response
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "ostiary_client.flask needs Flask: pip install 'ostiary-client[flask]'"
    ) from err

from ostiary_client._bearer import BearerError, bearer_error_for, extract_bearer
from ostiary_client._core import DEFAULT_SCOPE
from ostiary_client._flow import run_sync
from ostiary_client._web import (
    Effect,
    StoreDelete,
    StoreGet,
    StoreSet,
    WebConfig,
    WebFlows,
    callback_error_page,
    login_redirect_target,
    logout_confirmation_page,
    logout_is_intended,
    wants_redirect,
)
from ostiary_client.client import OstiaryClient
from ostiary_client.errors import InsufficientScope, InvalidToken, OstiaryError, ProviderError
from ostiary_client.models import AccessToken, User
from ostiary_client.sessions import InMemorySessionStore, SessionStore

__all__ = ["OstiaryAuth", "current_token", "require_token"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
NO_STORE = {"Cache-Control": "no-store"}
_USER = "ostiary_user"
_TOKEN = "ostiary_access_token"
_UNKNOWN = object()


class OstiaryAuth:
    """Registers a blueprint with ``/login``, ``/callback``, ``/logout`` and
    ``/backchannel-logout`` under ``prefix``; keeps each user's tokens in ``store`` behind an
    HttpOnly, SameSite=Lax cookie. Parameters as in ``ostiary_client.starlette.OstiaryAuth``.
    The default store is in memory: one process only (see ``ostiary_client.sessions``)."""

    def __init__(
        self,
        client: OstiaryClient,
        *,
        redirect_uri: str,
        app: Flask | None = None,
        prefix: str = "/auth",
        scope: str | Sequence[str] = DEFAULT_SCOPE,
        post_logout_redirect_uri: str | None = None,
        after_login: str = "/",
        store: SessionStore | None = None,
        cookie_name: str = "ostiary_app_session",
        cookie_secure: bool | None = None,
        session_ttl: float = 30 * 86400.0,
        refresh_margin: float = 60.0,
    ) -> None:
        self.client = client
        self.config = WebConfig(
            redirect_uri=redirect_uri,
            prefix=prefix,
            scope=tuple(scope.split()) if isinstance(scope, str) else tuple(scope),
            post_logout_redirect_uri=post_logout_redirect_uri,
            after_login=after_login,
            cookie_name=cookie_name,
            cookie_secure=cookie_secure,
            session_ttl=session_ttl,
            refresh_margin=refresh_margin,
        )
        self.store: SessionStore = store if store is not None else InMemorySessionStore()
        self._flows = WebFlows(client._core, self.config)
        self._locks: weakref.WeakValueDictionary[str, threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._locks_guard = threading.Lock()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        blueprint = Blueprint("ostiary", __name__, url_prefix=self.config.prefix)
        blueprint.add_url_rule("/login", "login", self.login, methods=["GET"])
        blueprint.add_url_rule("/callback", "callback", self.callback, methods=["GET"])
        blueprint.add_url_rule("/logout", "logout", self.logout, methods=["GET", "POST"])
        blueprint.add_url_rule(
            "/backchannel-logout", "backchannel_logout", self.backchannel_logout, methods=["POST"]
        )
        app.register_blueprint(blueprint)
        app.extensions["ostiary"] = self

    # -- running flows -------------------------------------------------------------------

    def _handle(self, effect: Effect) -> Any:
        if isinstance(effect, httpx.Request):
            return self.client._send(effect)
        if isinstance(effect, StoreGet):
            return self.store.get(effect.key)
        if isinstance(effect, StoreSet):
            return self.store.set(effect.key, effect.value, ttl=effect.ttl)
        assert isinstance(effect, StoreDelete)
        return self.store.delete(effect.key)

    def _run(self, flow: Generator[Effect, Any, T]) -> T:
        return run_sync(flow, self._handle)

    def _cookie(self) -> str | None:
        value = request.cookies.get(self.config.cookie_name)
        return value if value and len(value) <= 128 else None

    def _set_cookie(self, response: Response, session_id: str) -> None:
        response.set_cookie(
            self.config.cookie_name,
            session_id,
            max_age=int(self.config.session_ttl),
            path="/",
            httponly=True,
            samesite="Lax",
            secure=self.config.secure_cookie,
        )

    def _clear_cookie(self, response: Response) -> None:
        response.delete_cookie(
            self.config.cookie_name,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=self.config.secure_cookie,
        )

    def _redirect(self, location: str) -> Response:
        response = redirect(location, code=303)
        response.headers.update(NO_STORE)
        return response

    # -- views ---------------------------------------------------------------------------

    def login(self) -> Response:
        args = request.args
        start = self._run(
            self._flows.start_login(
                self._cookie(),
                args.get("returnTo"),
                prompt=args.get("prompt"),
                login_hint=args.get("login_hint"),
                organization_id=args.get("organization_id"),
            )
        )
        response = self._redirect(start.url)
        self._set_cookie(response, start.session_id)
        return response

    def callback(self) -> Response:
        query = request.query_string.decode("utf-8", "replace")
        try:
            done = self._run(self._flows.finish_login(self._cookie(), "?" + query))
        except OstiaryError as err:
            status, body = callback_error_page(self.config, err)
            return make_response(body, status, NO_STORE)
        response = self._redirect(done.return_to)
        self._set_cookie(response, done.session_id)
        return response

    def logout(self) -> Response:
        if not logout_is_intended(
            self.config,
            request.method,
            request.headers.get("Sec-Fetch-Site"),
            request.headers.get("Origin"),
        ):
            return make_response(logout_confirmation_page(self.config), 200, NO_STORE)
        url = self._run(self._flows.logout(self._cookie()))
        response = self._redirect(url)
        self._clear_cookie(response)
        return response

    def backchannel_logout(self) -> Response:
        token = (
            request.form.get("logout_token")
            if request.mimetype == ("application/x-www-form-urlencoded")
            else None
        )
        if not token:
            body = {"error": "invalid_request", "error_description": "logout_token is required."}
            return make_response(jsonify(body), 400, NO_STORE)
        try:
            self._run(self._flows.backchannel_logout(token))
        except InvalidToken as err:
            body = {"error": "invalid_request", "error_description": str(err)}
            return make_response(jsonify(body), 400, NO_STORE)
        except ProviderError:
            return make_response(jsonify({"error": "temporarily_unavailable"}), 503, NO_STORE)
        return make_response("", 200, NO_STORE)

    # -- who is signed in ----------------------------------------------------------------

    def _lock(self, session_id: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(session_id)
            if lock is None:
                lock = self._locks[session_id] = threading.Lock()
            return lock

    def user(self) -> User | None:
        """The signed-in user of this request (tokens refreshed when about to expire)."""
        cached = g.get(_USER, _UNKNOWN)
        if cached is not _UNKNOWN:
            return cast(User | None, cached)
        session_id = self._cookie()
        lookup = self._run(self._flows.load_user(session_id))
        user = lookup.user
        if lookup.needs_refresh and session_id:
            with self._lock(session_id):
                user = self._run(self._flows.refresh_user(session_id))
        setattr(g, _USER, user)
        return user

    def login_required(self, view: Callable[P, R]) -> Callable[P, R | Response]:
        """Run ``view`` only for a signed-in user (``auth.user()``); otherwise redirect a page
        navigation to the login page, or answer an API-ish request with 401."""

        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            if self.user() is not None:
                return view(*args, **kwargs)
            if wants_redirect(
                request.method,
                request.headers.get("Accept"),
                request.headers.get("X-Requested-With"),
            ):
                query = request.query_string.decode("utf-8", "replace")
                response = self._redirect(login_redirect_target(self.config, request.path, query))
            else:
                body = {"error": "login_required", "error_description": "Sign-in required."}
                response = make_response(jsonify(body), 401, NO_STORE)
            return response  # the cookie stays: it may carry a login in another tab

        return wrapper


# -- API protection ----------------------------------------------------------------------------


def require_token(
    client: OstiaryClient,
    *,
    scopes: Sequence[str] = (),
    permissions: Sequence[str] = (),
    audience: str | Sequence[str] | None = None,
    realm: str = "api",
) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """Decorate a view: it runs only with a valid bearer access token holding ``scopes`` and
    ``permissions`` (read it with ``current_token()``); otherwise 401 ``invalid_token`` or 403
    ``insufficient_scope`` with the RFC 6750 ``WWW-Authenticate`` challenge."""

    def decorate(view: Callable[P, R]) -> Callable[P, R | Response]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            try:
                token = extract_bearer(request.headers.get("Authorization"), realm=realm)
                try:
                    access = client.validate_access_token(
                        token,
                        required_scopes=scopes,
                        required_permissions=permissions,
                        audience=audience,
                    )
                except (InvalidToken, InsufficientScope, ProviderError) as err:
                    raise bearer_error_for(err, realm=realm, scopes=scopes) from None
            except BearerError as err:
                headers = dict(NO_STORE)
                if err.challenge:
                    headers["WWW-Authenticate"] = err.challenge
                return make_response(jsonify(err.body()), err.status, headers)
            setattr(g, _TOKEN, access)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def current_token() -> AccessToken:
    """The access token validated by ``require_token`` for this request."""
    token = g.get(_TOKEN)
    if not isinstance(token, AccessToken):
        raise RuntimeError("current_token() is only available in a view wrapped by require_token")
    return token
