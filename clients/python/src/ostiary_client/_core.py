"""The SDK's logic, sans-IO: each operation is a generator that *yields* the ``httpx.Request`` it
needs sent and is *sent* the ``httpx.Response`` back (the pattern of ``httpx.Auth`` flows).
``OstiaryClient`` drives the generators with a sync ``httpx.Client``, ``AsyncOstiaryClient`` with
an ``httpx.AsyncClient`` (see ``_flow``); the web integrations drive them too. Nothing here does
IO or awaits.
"""

from __future__ import annotations

import base64
import dataclasses
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote_plus, urlencode, urlsplit

import httpx

from ostiary_client import _claims
from ostiary_client._flow import Flow
from ostiary_client._jose import DEFAULT_ALGORITHMS, JwksCache, parse_header, verify_signature
from ostiary_client._oauth import (
    json_body,
    oauth_error,
    ok_json,
    parse_callback,
    pkce_challenge,
    scope_string,
)
from ostiary_client.errors import (
    InvalidToken,
    IssuerMismatch,
    LoginRequired,
    OAuthError,
    ProviderError,
    StateMismatch,
    TokenReplayed,
)
from ostiary_client.models import (
    AccessToken,
    AuthorizationRequest,
    LogoutToken,
    ProviderMetadata,
    TokenSet,
)

__all__ = ["DEFAULT_SCOPE", "ClientConfig", "ClientCore"]

T = TypeVar("T")
DEFAULT_SCOPE = ("openid", "profile", "email", "offline_access")
# ``error`` values of a callback that mean "the user has to sign in interactively".
INTERACTIVE_ERRORS = frozenset({"login_required", "interaction_required", "consent_required"})
MAX_REMEMBERED_JTIS = 10_000


@dataclasses.dataclass(frozen=True, slots=True)
class ClientConfig:
    """Everything a client is configured with; built once by the client constructors."""

    issuer: str
    client_id: str
    client_secret: str | None = dataclasses.field(default=None, repr=False)
    token_endpoint_auth_method: str | None = None  # client_secret_basic | client_secret_post | none
    audience: tuple[str, ...] = ()  # accepted access-token audiences; default: (client_id,)
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    leeway: float = 30.0
    discovery_max_age: float = 3600.0
    jwks_max_age: float = 300.0
    jwks_refetch_interval: float = 60.0
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        parts = urlsplit(self.issuer)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"issuer must be an http(s) URL, got {self.issuer!r}")
        if not self.client_id:
            raise ValueError("client_id is required")
        method = self.token_endpoint_auth_method
        if method not in (None, "client_secret_basic", "client_secret_post", "none"):
            raise ValueError(f"unknown token_endpoint_auth_method {method!r}")
        if method in ("client_secret_basic", "client_secret_post") and not self.client_secret:
            raise ValueError(f"{method} needs client_secret")

    @property
    def auth_method(self) -> str:
        if self.token_endpoint_auth_method:
            return self.token_endpoint_auth_method
        return "client_secret_basic" if self.client_secret else "none"

    @property
    def accepted_audiences(self) -> tuple[str, ...]:
        return self.audience or (self.client_id,)


# -- the core ------------------------------------------------------------------------------------


class ClientCore:
    """Caches (discovery, JWKS, seen logout-token ids) and one flow per operation."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.discovery_url = f"{config.issuer.rstrip('/')}/.well-known/openid-configuration"
        self.jwks = JwksCache(
            max_age=config.jwks_max_age,
            refetch_interval=config.jwks_refetch_interval,
            monotonic=config.monotonic,
        )
        self._metadata: tuple[float, ProviderMetadata] | None = None
        self._seen_jtis: dict[str, float] = {}
        self._lock = threading.Lock()

    # -- discovery and keys -----------------------------------------------------------------

    def metadata(self) -> Flow[ProviderMetadata]:
        cached = self._metadata
        if (
            cached is not None
            and self.config.monotonic() - cached[0] < self.config.discovery_max_age
        ):
            return cached[1]
        response = yield httpx.Request(
            "GET", self.discovery_url, headers={"accept": "application/json"}
        )
        document = ok_json(response, "discovery document")
        try:
            metadata = ProviderMetadata.from_document(document)
        except (KeyError, TypeError) as err:
            raise ProviderError(f"The discovery document lacks {err}.") from None
        if metadata.issuer != self.config.issuer:
            raise IssuerMismatch(
                f"The discovery document names the issuer {metadata.issuer!r}, "
                f"not {self.config.issuer!r}."
            )
        self._metadata = (self.config.monotonic(), metadata)
        return metadata

    def verify(self, token: str) -> Flow[tuple[dict[str, Any], dict[str, Any]]]:
        """Signature only: ``(header, claims)``. Fetches the JWKS when the cache wants it."""
        header = parse_header(token)
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("The token's header has no kid.")
        if self.jwks.wants_fetch(kid):
            try:
                metadata = yield from self.metadata()
                response = yield httpx.Request(
                    "GET", metadata.jwks_uri, headers={"accept": "application/json"}
                )
                self.jwks.store(ok_json(response, "JWKS"))
            except ProviderError:
                if self.jwks.get(kid) is None:
                    raise  # keep working on cached keys while Ostiary is unreachable
        key = self.jwks.get(kid)
        if key is None:
            raise InvalidToken(f"The token was signed with an unknown key {kid!r}.")
        return header, verify_signature(token, header, key, self.config.algorithms)

    # -- sign-in ----------------------------------------------------------------------------

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
    ) -> Flow[AuthorizationRequest]:
        metadata = yield from self.metadata()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)  # 64 characters (RFC 7636 §4.1: 43 to 128)
        scope_text = scope_string(scope)
        params: dict[str, str] = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": scope_text,
            "state": state,
            "nonce": nonce,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
        optional = {
            "prompt": scope_string(prompt) if prompt is not None else None,
            "max_age": str(max_age) if max_age is not None else None,
            "login_hint": login_hint,
            "organization_id": organization_id,
            "ui_locales": ui_locales,
        }
        params.update({k: v for k, v in optional.items() if v})
        for name, value in (extra_params or {}).items():
            if name in params:
                raise ValueError(f"extra_params cannot override {name}")
            params[name] = value
        endpoint = metadata.authorization_endpoint
        url = f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"
        return AuthorizationRequest(
            url=url,
            redirect_uri=redirect_uri,
            state=state,
            nonce=nonce,
            code_verifier=verifier,
            scope=tuple(scope_text.split()),
            max_age=max_age,
            created_at=self.config.clock(),
        )

    def check_callback(
        self,
        callback: str | Mapping[str, str],
        request: AuthorizationRequest,
        metadata: ProviderMetadata,
    ) -> str:
        """The code of a callback, after checking ``state``, ``iss`` (RFC 9207) and ``error``."""
        params, bare = parse_callback(callback)
        if not bare:
            state = params.get("state", "")
            if not secrets.compare_digest(state.encode(), request.state.encode()):
                raise StateMismatch("The callback's state is not the one this login sent.")
            if "iss" in params:
                if params["iss"] != self.config.issuer:
                    raise IssuerMismatch(
                        f"The callback comes from {params['iss']!r}, not {self.config.issuer!r}."
                    )
            elif metadata.iss_parameter_supported:
                raise IssuerMismatch("The callback has no iss parameter (RFC 9207).")
        if "error" in params:
            kind = LoginRequired if params["error"] in INTERACTIVE_ERRORS else OAuthError
            raise kind(params["error"], params.get("error_description"))
        code = params.get("code")
        if not code:
            raise OAuthError("invalid_request", "The callback has neither code nor error.")
        return code

    def exchange_code(
        self, callback: str | Mapping[str, str], request: AuthorizationRequest
    ) -> Flow[TokenSet]:
        metadata = yield from self.metadata()
        code = self.check_callback(callback, request, metadata)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": request.redirect_uri,
            "code_verifier": request.code_verifier,
        }
        body = yield from self._token_call(metadata.token_endpoint, form)
        return (
            yield from self._token_set(
                body,
                requested_scope=request.scope,
                nonce=request.nonce,
                max_age=request.max_age,
                require_id_token="openid" in request.scope,
            )
        )

    def refresh(
        self, tokens: TokenSet | str, *, scope: str | Sequence[str] | None = None
    ) -> Flow[TokenSet]:
        previous = tokens if isinstance(tokens, TokenSet) else None
        refresh_token = previous.refresh_token if previous is not None else tokens
        if not isinstance(refresh_token, str) or not refresh_token:
            raise LoginRequired("invalid_grant", "There is no refresh token; sign in again.")
        metadata = yield from self.metadata()
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if scope is not None:
            form["scope"] = scope_string(scope)
        body = yield from self._token_call(metadata.token_endpoint, form, refresh=True)
        return (
            yield from self._token_set(
                body,
                requested_scope=previous.scope if previous else (),
                previous=previous,
                fallback_refresh_token=refresh_token,
            )
        )

    def client_credentials(self, scope: str | Sequence[str] | None = None) -> Flow[TokenSet]:
        metadata = yield from self.metadata()
        form = {"grant_type": "client_credentials"}
        if scope:
            form["scope"] = scope_string(scope)
        body = yield from self._token_call(metadata.token_endpoint, form)
        return (
            yield from self._token_set(body, requested_scope=tuple(form.get("scope", "").split()))
        )

    # -- the token endpoint -----------------------------------------------------------------

    def _authenticated_post(self, url: str, form: dict[str, str]) -> httpx.Request:
        """Client authentication (RFC 6749 §2.3.1): Basic with form-urlencoded id and secret,
        or both in the body, or (public clients) the client_id alone."""
        headers = {"accept": "application/json"}
        form = dict(form)
        method = self.config.auth_method
        secret = self.config.client_secret or ""
        if method == "client_secret_basic":
            pair = f"{quote_plus(self.config.client_id)}:{quote_plus(secret)}"
            headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        elif method == "client_secret_post":
            form.update(client_id=self.config.client_id, client_secret=secret)
        else:
            form["client_id"] = self.config.client_id
        return httpx.Request("POST", url, data=form, headers=headers)

    def _token_call(
        self, url: str, form: dict[str, str], *, refresh: bool = False
    ) -> Flow[dict[str, Any]]:
        response = yield self._authenticated_post(url, form)
        if response.status_code != 200:
            raise oauth_error(response, "token endpoint", refresh=refresh)
        body = json_body(response, "token endpoint")
        if not isinstance(body, dict):
            raise ProviderError("The token endpoint's answer is not a JSON object.")
        return body

    def _token_set(
        self,
        body: Mapping[str, Any],
        *,
        requested_scope: tuple[str, ...],
        nonce: str | None = None,
        max_age: int | None = None,
        require_id_token: bool = False,
        previous: TokenSet | None = None,
        fallback_refresh_token: str | None = None,
    ) -> Flow[TokenSet]:
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise ProviderError("The token response has no access_token.")
        token_type = str(body.get("token_type", ""))
        if token_type.lower() != "bearer":
            raise ProviderError(f"The token response has token_type {token_type!r}, not Bearer.")
        expires_in = body.get("expires_in")
        now = self.config.clock()
        expires_at = now + float(expires_in) if isinstance(expires_in, int | float) else None
        scope = tuple(str(body["scope"]).split()) if body.get("scope") else requested_scope
        id_token = body.get("id_token") if isinstance(body.get("id_token"), str) else None
        id_claims: Mapping[str, Any] = {}
        if id_token:
            id_claims = yield from self.validate_id_token(
                id_token, nonce=nonce, max_age=max_age, access_token=access
            )
            # OIDC Core §12.2: a refreshed ID token names the same user.
            previous_sub = previous.id_claims.get("sub") if previous is not None else None
            if previous_sub is not None and id_claims.get("sub") != previous_sub:
                raise InvalidToken("The refreshed ID token is for another user.")
        elif require_id_token:
            raise InvalidToken("The token response has no id_token although openid was asked.")
        elif previous is not None:
            id_token, id_claims = previous.id_token, previous.id_claims
        refresh_token = body.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            refresh_token = fallback_refresh_token
        return TokenSet(
            access_token=access,
            token_type="Bearer",
            expires_at=expires_at,
            scope=scope,
            refresh_token=refresh_token,
            id_token=id_token,
            id_claims=dict(id_claims),
        )

    # -- userinfo, revocation, introspection, logout ----------------------------------------

    def userinfo(
        self, access_token: str, *, expected_sub: str | None = None
    ) -> Flow[dict[str, Any]]:
        metadata = yield from self.metadata()
        if not metadata.userinfo_endpoint:
            raise ProviderError("The provider has no userinfo_endpoint.")
        response = yield httpx.Request(
            "GET",
            metadata.userinfo_endpoint,
            headers={"authorization": f"Bearer {access_token}", "accept": "application/json"},
        )
        if response.status_code != 200:
            raise oauth_error(response, "userinfo endpoint")
        claims = ok_json(response, "userinfo endpoint")
        if expected_sub is not None and claims.get("sub") != expected_sub:
            raise InvalidToken("The userinfo answer is about another user (sub differs).")
        return claims

    def revoke(self, token: str, *, token_type_hint: str | None = "refresh_token") -> Flow[None]:
        metadata = yield from self.metadata()
        if not metadata.revocation_endpoint:
            raise ProviderError("The provider has no revocation_endpoint.")
        form = {"token": token}
        if token_type_hint:
            form["token_type_hint"] = token_type_hint
        response = yield self._authenticated_post(metadata.revocation_endpoint, form)
        if response.status_code != 200:
            raise oauth_error(response, "revocation endpoint")
        return None

    def introspect(self, token: str, *, token_type_hint: str | None = None) -> Flow[dict[str, Any]]:
        metadata = yield from self.metadata()
        if not metadata.introspection_endpoint:
            raise ProviderError("The provider has no introspection_endpoint.")
        form = {"token": token}
        if token_type_hint:
            form["token_type_hint"] = token_type_hint
        response = yield self._authenticated_post(metadata.introspection_endpoint, form)
        if response.status_code != 200:
            raise oauth_error(response, "introspection endpoint")
        return ok_json(response, "introspection endpoint")

    def logout_url(
        self,
        id_token_hint: str | None = None,
        post_logout_redirect_uri: str | None = None,
        state: str | None = None,
    ) -> Flow[str]:
        metadata = yield from self.metadata()
        if not metadata.end_session_endpoint:
            raise ProviderError("The provider has no end_session_endpoint.")
        params = {
            "id_token_hint": id_token_hint,
            "client_id": self.config.client_id,
            "post_logout_redirect_uri": post_logout_redirect_uri,
            "state": state,
        }
        query = urlencode({k: v for k, v in params.items() if v})
        endpoint = metadata.end_session_endpoint
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    # -- validation ------------------------------------------------------------------------

    def validate_id_token(
        self,
        token: str,
        *,
        nonce: str | None = None,
        max_age: int | None = None,
        access_token: str | None = None,
    ) -> Flow[dict[str, Any]]:
        header, claims = yield from self.verify(token)
        _claims.validate_id_token_claims(
            header,
            claims,
            issuer=self.config.issuer,
            client_id=self.config.client_id,
            now=self.config.clock(),
            leeway=self.config.leeway,
            nonce=nonce,
            max_age=max_age,
            access_token=access_token,
        )
        return claims

    def validate_access_token(
        self,
        token: str,
        *,
        required_scopes: Sequence[str] = (),
        required_permissions: Sequence[str] = (),
        audience: str | Sequence[str] | None = None,
    ) -> Flow[AccessToken]:
        header, claims = yield from self.verify(token)
        if audience is None:
            audiences: Sequence[str] = self.config.accepted_audiences
        else:
            audiences = [audience] if isinstance(audience, str) else list(audience)
        _claims.validate_access_token_claims(
            header,
            claims,
            issuer=self.config.issuer,
            audiences=audiences,
            now=self.config.clock(),
            leeway=self.config.leeway,
            required_scopes=required_scopes,
            required_permissions=required_permissions,
        )
        return AccessToken(token=token, claims=claims)

    def validate_logout_token(self, token: str) -> Flow[LogoutToken]:
        header, claims = yield from self.verify(token)
        now = self.config.clock()
        _claims.validate_logout_token_claims(
            header,
            claims,
            issuer=self.config.issuer,
            client_id=self.config.client_id,
            now=now,
            leeway=self.config.leeway,
        )
        jti = claims.get("jti") if isinstance(claims.get("jti"), str) else None
        if jti is not None:
            self._remember_jti(jti, float(claims["exp"]) + self.config.leeway, now)
        return LogoutToken(
            sub=claims.get("sub") or None,
            sid=claims.get("sid") or None,
            jti=jti,
            claims=claims,
        )

    def _remember_jti(self, jti: str, until: float, now: float) -> None:
        """§2.6 step 7 (optional): refuse a logout token seen before, while it is still valid."""
        with self._lock:
            if len(self._seen_jtis) >= MAX_REMEMBERED_JTIS:
                self._seen_jtis = {k: v for k, v in self._seen_jtis.items() if v > now}
                while len(self._seen_jtis) >= MAX_REMEMBERED_JTIS:
                    self._seen_jtis.pop(next(iter(self._seen_jtis)))
            if jti in self._seen_jtis and self._seen_jtis[jti] > now:
                raise TokenReplayed("This logout token was already received.")
            self._seen_jtis[jti] = until
