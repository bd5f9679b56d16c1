"""Starlette and FastAPI integration (``pip install ostiary-client[starlette]``).

Sign users in to a web app::

    client = AsyncOstiaryClient(ISSUER, CLIENT_ID, CLIENT_SECRET)
    auth = OstiaryAuth(client, redirect_uri="https://app.example.com/auth/callback")
    app = Starlette(routes=[*auth.routes, Route("/", home)])
    # FastAPI: app.mount("/auth", auth.router)

    async def home(request):
        user = await auth.require_user(request)
    # FastAPI: def home(user: User = Depends(auth.require_user)): ...

Protect an API::

    orders_read = require_token(client, scopes=["orders:read"])    # FastAPI: Depends(orders_read)
    async def orders(request):
        token = await orders_read(request)

Failures are raised as ``starlette.exceptions.HTTPException`` (a 303 to the login page for a
page, 401/403 with ``WWW-Authenticate`` for an API), which Starlette and FastAPI answer as is.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import weakref
from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl

import httpx

try:
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
    from starlette.routing import BaseRoute, Mount, Route, Router
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "ostiary_client.starlette needs Starlette: pip install 'ostiary-client[starlette]'"
    ) from err

from ostiary_client._bearer import BearerError, bearer_error_for, extract_bearer
from ostiary_client._core import DEFAULT_SCOPE
from ostiary_client._flow import run_async
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
from ostiary_client.client import AsyncOstiaryClient
from ostiary_client.errors import (
    InsufficientScope,
    InvalidToken,
    OstiaryError,
    ProviderError,
)
from ostiary_client.models import AccessToken, User
from ostiary_client.sessions import AsyncSessionStore, InMemorySessionStore, SessionStore

__all__ = ["OstiaryAuth", "RequireToken", "require_token", "verify_bearer"]

T = TypeVar("T")
Endpoint = Callable[[Request], Awaitable[Response]]
NO_STORE = {"cache-control": "no-store"}
_USER_STATE = "ostiary_user"
_UNKNOWN = object()


class _SyncStoreAdapter:
    """Lets a sync ``SessionStore`` (e.g. the in-memory default) serve an async app."""

    def __init__(self, store: SessionStore) -> None:
        self._store = store

    async def get(self, key: str) -> dict[str, Any] | None:
        return self._store.get(key)

    async def set(self, key: str, value: dict[str, Any], *, ttl: float) -> None:
        self._store.set(key, value, ttl=ttl)

    async def delete(self, key: str) -> None:
        self._store.delete(key)


def _as_async(store: SessionStore | AsyncSessionStore) -> AsyncSessionStore:
    if inspect.iscoroutinefunction(store.get):
        return cast(AsyncSessionStore, store)
    return _SyncStoreAdapter(cast(SessionStore, store))


class OstiaryAuth:
    """Mounts ``/login``, ``/callback``, ``/logout`` and ``/backchannel-logout`` under ``prefix``
    and keeps each user's tokens in ``store`` behind an HttpOnly, SameSite=Lax cookie.

    ``redirect_uri`` is the absolute URL of ``<prefix>/callback`` as registered in Ostiary;
    register ``<prefix>/backchannel-logout`` (absolute) as the app's back-channel logout URI
    and ``post_logout_redirect_uri`` as a post-logout URI. The default store is in memory: one
    process only (see ``ostiary_client.sessions``).
    """

    def __init__(
        self,
        client: AsyncOstiaryClient,
        *,
        redirect_uri: str,
        prefix: str = "/auth",
        scope: str | Sequence[str] = DEFAULT_SCOPE,
        post_logout_redirect_uri: str | None = None,
        after_login: str = "/",
        store: SessionStore | AsyncSessionStore | None = None,
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
        self.store = _as_async(store if store is not None else InMemorySessionStore())
        self._flows = WebFlows(client._core, self.config)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # -- mounting ------------------------------------------------------------------------

    @property
    def router(self) -> Router:
        """The four endpoints, relative: mount it at ``prefix`` (FastAPI: ``app.mount``)."""
        return Router(
            routes=[
                Route("/login", self.login, methods=["GET"]),
                Route("/callback", self.callback, methods=["GET"]),
                Route("/logout", self.logout, methods=["GET", "POST"]),
                Route("/backchannel-logout", self.backchannel_logout, methods=["POST"]),
            ]
        )

    @property
    def routes(self) -> list[BaseRoute]:
        """``[Mount(prefix, router)]``, to splice into ``Starlette(routes=[...])``."""
        return [Mount(self.config.prefix, app=self.router)]

    # -- running flows -------------------------------------------------------------------

    async def _handle(self, effect: Effect) -> Any:
        if isinstance(effect, httpx.Request):
            return await self.client._send(effect)
        if isinstance(effect, StoreGet):
            return await self.store.get(effect.key)
        if isinstance(effect, StoreSet):
            return await self.store.set(effect.key, effect.value, ttl=effect.ttl)
        assert isinstance(effect, StoreDelete)
        return await self.store.delete(effect.key)

    async def _run(self, flow: Generator[Effect, Any, T]) -> T:
        return await run_async(flow, self._handle)

    def _cookie(self, request: Request) -> str | None:
        value = request.cookies.get(self.config.cookie_name)
        return value if value and len(value) <= 128 else None

    def _set_cookie(self, response: Response, session_id: str) -> None:
        response.set_cookie(
            self.config.cookie_name,
            session_id,
            max_age=int(self.config.session_ttl),
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.config.secure_cookie,
        )

    def _clear_cookie(self, response: Response) -> None:
        response.delete_cookie(
            self.config.cookie_name,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.config.secure_cookie,
        )

    # -- endpoints -----------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        """``GET <prefix>/login?returnTo=/path``: start a sign-in at Ostiary."""
        query = request.query_params
        start = await self._run(
            self._flows.start_login(
                self._cookie(request),
                query.get("returnTo"),
                prompt=query.get("prompt"),
                login_hint=query.get("login_hint"),
                organization_id=query.get("organization_id"),
            )
        )
        response = RedirectResponse(start.url, status_code=303, headers=NO_STORE)
        self._set_cookie(response, start.session_id)
        return response

    async def callback(self, request: Request) -> Response:
        """``GET <prefix>/callback``: finish the sign-in and go back to ``returnTo``."""
        try:
            done = await self._run(
                self._flows.finish_login(self._cookie(request), "?" + request.url.query)
            )
        except OstiaryError as err:
            status, body = callback_error_page(self.config, err)
            return HTMLResponse(body, status_code=status, headers=NO_STORE)
        response = RedirectResponse(done.return_to, status_code=303, headers=NO_STORE)
        self._set_cookie(response, done.session_id)
        return response

    async def logout(self, request: Request) -> Response:
        """``<prefix>/logout``: end the local session, then Ostiary's shared one. A request
        that may come from another site gets a confirmation form instead."""
        if not logout_is_intended(
            self.config,
            request.method,
            request.headers.get("sec-fetch-site"),
            request.headers.get("origin"),
        ):
            return HTMLResponse(logout_confirmation_page(self.config), headers=NO_STORE)
        url = await self._run(self._flows.logout(self._cookie(request)))
        response = RedirectResponse(url, status_code=303, headers=NO_STORE)
        self._clear_cookie(response)
        return response

    async def backchannel_logout(self, request: Request) -> Response:
        """``POST <prefix>/backchannel-logout`` from Ostiary: end the sessions the logout token
        names (200), or 400 for a token that does not validate (Back-Channel Logout §2.8)."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        token = form.get("logout_token")
        if content_type != "application/x-www-form-urlencoded" or not token:
            return JSONResponse(
                {"error": "invalid_request", "error_description": "logout_token is required."},
                status_code=400,
                headers=NO_STORE,
            )
        try:
            await self._run(self._flows.backchannel_logout(token))
        except InvalidToken as err:
            return JSONResponse(
                {"error": "invalid_request", "error_description": str(err)},
                status_code=400,
                headers=NO_STORE,
            )
        except ProviderError:
            return JSONResponse({"error": "temporarily_unavailable"}, 503, headers=NO_STORE)
        return Response(status_code=200, headers=NO_STORE)

    # -- who is signed in ----------------------------------------------------------------

    async def user(self, request: Request) -> User | None:
        """The signed-in user (tokens refreshed when about to expire), or None."""
        cached = getattr(request.state, _USER_STATE, _UNKNOWN)
        if cached is not _UNKNOWN:
            return cast(User | None, cached)
        session_id = self._cookie(request)
        lookup = await self._run(self._flows.load_user(session_id))
        user = lookup.user
        if lookup.needs_refresh and session_id:
            lock = self._locks.get(session_id)
            if lock is None:
                lock = self._locks[session_id] = asyncio.Lock()
            async with lock:
                user = await self._run(self._flows.refresh_user(session_id))
        setattr(request.state, _USER_STATE, user)
        return user

    async def require_user(self, request: Request) -> User:
        """The signed-in user; else a 303 to the login page (pages) or a 401 (API calls).
        Use it as a FastAPI dependency: ``Depends(auth.require_user)``."""
        user = await self.user(request)
        if user is not None:
            return user
        headers = dict(NO_STORE)  # the cookie stays: it may carry a login in another tab
        if wants_redirect(
            request.method, request.headers.get("accept"), request.headers.get("x-requested-with")
        ):
            target = login_redirect_target(self.config, request.url.path, request.url.query)
            raise HTTPException(303, headers={**headers, "location": target})
        raise HTTPException(401, detail="Sign-in required.", headers=headers)

    def login_required(self, endpoint: Endpoint) -> Endpoint:
        """Decorate a Starlette endpoint: it runs only for a signed-in user, found in
        ``request.state.user``."""

        @functools.wraps(endpoint)
        async def wrapper(request: Request) -> Response:
            request.state.user = await self.require_user(request)
            return await endpoint(request)

        return wrapper


# -- API protection ----------------------------------------------------------------------------


async def verify_bearer(
    request: Request,
    client: AsyncOstiaryClient,
    *,
    scopes: Sequence[str] = (),
    permissions: Sequence[str] = (),
    audience: str | Sequence[str] | None = None,
    realm: str = "api",
) -> AccessToken:
    """The request's valid bearer access token, else ``HTTPException`` 401 ``invalid_token`` /
    403 ``insufficient_scope`` with the RFC 6750 ``WWW-Authenticate`` challenge."""
    try:
        token = extract_bearer(request.headers.get("authorization"), realm=realm)
        try:
            return await client.validate_access_token(
                token,
                required_scopes=scopes,
                required_permissions=permissions,
                audience=audience,
            )
        except (InvalidToken, InsufficientScope, ProviderError) as err:
            raise bearer_error_for(err, realm=realm, scopes=scopes) from None
    except BearerError as err:
        headers = {**NO_STORE}
        if err.challenge:
            headers["www-authenticate"] = err.challenge
        raise HTTPException(err.status, detail=err.description, headers=headers) from None


class RequireToken:
    """A FastAPI dependency (``Depends(RequireToken(...))``) or a Starlette helper
    (``token = await guard(request)``) that returns the validated ``AccessToken``."""

    def __init__(
        self,
        client: AsyncOstiaryClient,
        *,
        scopes: Sequence[str] = (),
        permissions: Sequence[str] = (),
        audience: str | Sequence[str] | None = None,
        realm: str = "api",
    ) -> None:
        self.client = client
        self.scopes = tuple(scopes)
        self.permissions = tuple(permissions)
        self.audience = audience
        self.realm = realm

    async def __call__(self, request: Request) -> AccessToken:
        return await verify_bearer(
            request,
            self.client,
            scopes=self.scopes,
            permissions=self.permissions,
            audience=self.audience,
            realm=self.realm,
        )


def require_token(
    client: AsyncOstiaryClient,
    *,
    scopes: Sequence[str] = (),
    permissions: Sequence[str] = (),
    audience: str | Sequence[str] | None = None,
    realm: str = "api",
) -> RequireToken:
    """``RequireToken(...)``: accept only a valid bearer token with these scopes/permissions."""
    return RequireToken(
        client, scopes=scopes, permissions=permissions, audience=audience, realm=realm
    )
