"""``OstiaryClient`` (sync, ``httpx.Client``) and ``AsyncOstiaryClient`` (``httpx.AsyncClient``):
two thin drivers of the same sans-IO flows (``_core``). Their methods mirror each other."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypedDict, TypeVar, Unpack

import httpx

from ostiary_client._core import DEFAULT_SCOPE, ClientConfig, ClientCore
from ostiary_client._flow import Flow, run_async, run_sync, transport_error
from ostiary_client._jose import DEFAULT_ALGORITHMS
from ostiary_client.models import (
    AccessToken,
    AuthorizationRequest,
    LogoutToken,
    ProviderMetadata,
    TokenSet,
)

__all__ = ["AsyncOstiaryClient", "ClientOptions", "OstiaryClient"]

T = TypeVar("T")
HTTP_TIMEOUT = 10.0
USER_AGENT = "ostiary-client-python/0.1"


class ClientOptions(TypedDict, total=False):
    """Keyword options of both clients (see ``OstiaryClient``)."""

    token_endpoint_auth_method: str | None
    audience: str | Sequence[str] | None
    algorithms: Sequence[str]
    leeway: float
    jwks_refetch_interval: float
    jwks_max_age: float
    discovery_max_age: float
    clock: Callable[[], float]
    monotonic: Callable[[], float]


class _Base:
    """Construction shared by both clients."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        audience = options.get("audience")
        self._core = ClientCore(
            ClientConfig(
                issuer=issuer.rstrip("/"),
                client_id=client_id,
                client_secret=client_secret,
                token_endpoint_auth_method=options.get("token_endpoint_auth_method"),
                audience=(audience,) if isinstance(audience, str) else tuple(audience or ()),
                algorithms=tuple(options.get("algorithms", DEFAULT_ALGORITHMS)),
                leeway=options.get("leeway", 30.0),
                jwks_refetch_interval=options.get("jwks_refetch_interval", 60.0),
                jwks_max_age=options.get("jwks_max_age", 300.0),
                discovery_max_age=options.get("discovery_max_age", 3600.0),
                clock=options.get("clock", time.time),
                monotonic=options.get("monotonic", time.monotonic),
            )
        )

    @property
    def issuer(self) -> str:
        return self._core.config.issuer

    @property
    def client_id(self) -> str:
        return self._core.config.client_id


class OstiaryClient(_Base):
    """The sync client.

    ``issuer`` is the Ostiary base URL; ``client_id`` (and ``client_secret`` for web apps)
    come from the app's registration. ``http`` lets you pass your own ``httpx.Client`` (a
    transport for tests, proxies, timeouts); the client closes only one it created itself.

    Options: ``token_endpoint_auth_method`` (``client_secret_basic`` by default when there
    is a secret, or ``client_secret_post``), ``audience`` (what ``validate_access_token``
    accepts in ``aud``; default the client_id — an API that serves several apps lists their
    client ids), ``algorithms`` (default RS256 and ES256), ``leeway`` (seconds of clock skew
    tolerated, default 30), ``jwks_refetch_interval`` (an unknown ``kid`` refetches the JWKS
    at most this often, default 60 s), ``jwks_max_age``, ``discovery_max_age``, and
    ``clock``/``monotonic`` for tests.
    """

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str | None = None,
        *,
        http: httpx.Client | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(issuer, client_id, client_secret, **options)
        self._owns_http = http is None
        self._http = http or httpx.Client(
            timeout=HTTP_TIMEOUT, headers={"user-agent": USER_AGENT}, follow_redirects=False
        )

    def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._http.send(request)
        except httpx.HTTPError as exc:
            raise transport_error(request, exc) from exc

    def _run(self, flow: Flow[T]) -> T:
        return run_sync(flow, self._send)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def metadata(self) -> ProviderMetadata:
        """The discovery document (cached for ``discovery_max_age``)."""
        return self._run(self._core.metadata())

    def authorization_url(
        self,
        redirect_uri: str,
        *,
        scope: str | Sequence[str] = DEFAULT_SCOPE,
        prompt: str | Sequence[str] | None = None,
        max_age: int | None = None,
        login_hint: str | None = None,
        organization_id: str | None = None,
        ui_locales: str | None = None,
        extra_params: Mapping[str, str] | None = None,
    ) -> AuthorizationRequest:
        """A new login: fresh state, nonce and PKCE (S256) verifier. Send the browser to
        ``.url``; keep the returned object for ``exchange_code``."""
        return self._run(
            self._core.authorization_url(
                redirect_uri,
                scope=scope,
                prompt=prompt,
                max_age=max_age,
                login_hint=login_hint,
                organization_id=organization_id,
                ui_locales=ui_locales,
                extra_params=extra_params,
            )
        )

    def exchange_code(
        self, callback: str | Mapping[str, str], request: AuthorizationRequest
    ) -> TokenSet:
        """Finish a login. ``callback`` is the URL the browser came back to (or its query
        parameters, or a bare code). Checks ``state`` and ``iss``, raises the callback's
        ``error``, redeems the code and validates the ID token (signature, iss, aud, azp,
        exp/iat, nonce, at_hash, auth_time against max_age)."""
        return self._run(self._core.exchange_code(callback, request))

    def refresh(
        self, tokens: TokenSet | str, *, scope: str | Sequence[str] | None = None
    ) -> TokenSet:
        """New tokens for a refresh token (Ostiary rotates it: keep the new one). Pass the
        whole ``TokenSet`` to keep its ID token claims and check the user did not change.
        Raises ``LoginRequired`` when Ostiary refuses (session ended, token reused)."""
        return self._run(self._core.refresh(tokens, scope=scope))

    def client_credentials(self, scope: str | Sequence[str] | None = None) -> TokenSet:
        """An access token for the app itself (web apps with a secret)."""
        return self._run(self._core.client_credentials(scope))

    def userinfo(self, access_token: str, *, expected_sub: str | None = None) -> dict[str, Any]:
        return self._run(self._core.userinfo(access_token, expected_sub=expected_sub))

    def revoke(self, token: str, *, token_type_hint: str | None = "refresh_token") -> None:
        """Revoke a refresh token and every token of its login (RFC 7009)."""
        self._run(self._core.revoke(token, token_type_hint=token_type_hint))

    def introspect(self, token: str, *, token_type_hint: str | None = None) -> dict[str, Any]:
        """Ask Ostiary whether a token is active (RFC 7662; web apps only)."""
        return self._run(self._core.introspect(token, token_type_hint=token_type_hint))

    def logout_url(
        self,
        id_token_hint: str | None = None,
        post_logout_redirect_uri: str | None = None,
        state: str | None = None,
    ) -> str:
        """Where to send the browser to end the shared session (RP-initiated logout)."""
        return self._run(self._core.logout_url(id_token_hint, post_logout_redirect_uri, state))

    def validate_id_token(
        self, token: str, *, nonce: str | None = None, max_age: int | None = None
    ) -> dict[str, Any]:
        return self._run(self._core.validate_id_token(token, nonce=nonce, max_age=max_age))

    def validate_access_token(
        self,
        token: str,
        *,
        required_scopes: Sequence[str] = (),
        required_permissions: Sequence[str] = (),
        audience: str | Sequence[str] | None = None,
    ) -> AccessToken:
        """Validate locally: signature (named algorithms), typ ``at+jwt``, iss, aud, exp/nbf,
        then the required scopes and permissions. Raises an ``InvalidToken`` subclass or
        ``InsufficientScope``/``InsufficientPermissions``."""
        return self._run(
            self._core.validate_access_token(
                token,
                required_scopes=required_scopes,
                required_permissions=required_permissions,
                audience=audience,
            )
        )

    def validate_logout_token(self, token: str) -> LogoutToken:
        """Back-Channel Logout 1.0 §2.6: signature, iss, aud, iat/exp, events, sid/sub, no
        nonce; a ``jti`` seen before is refused (``TokenReplayed``)."""
        return self._run(self._core.validate_logout_token(token))


class AsyncOstiaryClient(_Base):
    """The async client: the same methods as ``OstiaryClient``, as coroutines. ``http`` is an
    ``httpx.AsyncClient`` (e.g. with ``httpx.ASGITransport`` in tests)."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(issuer, client_id, client_secret, **options)
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=HTTP_TIMEOUT, headers={"user-agent": USER_AGENT}, follow_redirects=False
        )

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._http.send(request)
        except httpx.HTTPError as exc:
            raise transport_error(request, exc) from exc

    async def _run(self, flow: Flow[T]) -> T:
        return await run_async(flow, self._send)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def metadata(self) -> ProviderMetadata:
        return await self._run(self._core.metadata())

    async def authorization_url(
        self,
        redirect_uri: str,
        *,
        scope: str | Sequence[str] = DEFAULT_SCOPE,
        prompt: str | Sequence[str] | None = None,
        max_age: int | None = None,
        login_hint: str | None = None,
        organization_id: str | None = None,
        ui_locales: str | None = None,
        extra_params: Mapping[str, str] | None = None,
    ) -> AuthorizationRequest:
        return await self._run(
            self._core.authorization_url(
                redirect_uri,
                scope=scope,
                prompt=prompt,
                max_age=max_age,
                login_hint=login_hint,
                organization_id=organization_id,
                ui_locales=ui_locales,
                extra_params=extra_params,
            )
        )

    async def exchange_code(
        self, callback: str | Mapping[str, str], request: AuthorizationRequest
    ) -> TokenSet:
        return await self._run(self._core.exchange_code(callback, request))

    async def refresh(
        self, tokens: TokenSet | str, *, scope: str | Sequence[str] | None = None
    ) -> TokenSet:
        return await self._run(self._core.refresh(tokens, scope=scope))

    async def client_credentials(self, scope: str | Sequence[str] | None = None) -> TokenSet:
        return await self._run(self._core.client_credentials(scope))

    async def userinfo(
        self, access_token: str, *, expected_sub: str | None = None
    ) -> dict[str, Any]:
        return await self._run(self._core.userinfo(access_token, expected_sub=expected_sub))

    async def revoke(self, token: str, *, token_type_hint: str | None = "refresh_token") -> None:
        await self._run(self._core.revoke(token, token_type_hint=token_type_hint))

    async def introspect(self, token: str, *, token_type_hint: str | None = None) -> dict[str, Any]:
        return await self._run(self._core.introspect(token, token_type_hint=token_type_hint))

    async def logout_url(
        self,
        id_token_hint: str | None = None,
        post_logout_redirect_uri: str | None = None,
        state: str | None = None,
    ) -> str:
        return await self._run(
            self._core.logout_url(id_token_hint, post_logout_redirect_uri, state)
        )

    async def validate_id_token(
        self, token: str, *, nonce: str | None = None, max_age: int | None = None
    ) -> dict[str, Any]:
        return await self._run(self._core.validate_id_token(token, nonce=nonce, max_age=max_age))

    async def validate_access_token(
        self,
        token: str,
        *,
        required_scopes: Sequence[str] = (),
        required_permissions: Sequence[str] = (),
        audience: str | Sequence[str] | None = None,
    ) -> AccessToken:
        return await self._run(
            self._core.validate_access_token(
                token,
                required_scopes=required_scopes,
                required_permissions=required_permissions,
                audience=audience,
            )
        )

    async def validate_logout_token(self, token: str) -> LogoutToken:
        return await self._run(self._core.validate_logout_token(token))
