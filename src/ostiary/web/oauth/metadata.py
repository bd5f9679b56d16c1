"""Discovery (``/.well-known/…``) and the JWKS (``/keys``)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from ostiary.protocol.discovery import build_discovery_document
from ostiary.web.context import services_of

__all__ = ["discovery", "jwks"]

ENDPOINTS = {
    "authorization_endpoint": "/oauth/authorize",
    "token_endpoint": "/oauth/token",
    "userinfo_endpoint": "/userinfo",
    "revocation_endpoint": "/oauth/revoke",
    "introspection_endpoint": "/oauth/introspect",
    "end_session_endpoint": "/oidc/logout",
}
CAPABILITIES = {
    "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
    "code_challenge_methods_supported": ["S256"],
    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
    "revocation_endpoint_auth_methods_supported": [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ],
    "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    "authorization_response_iss_parameter_supported": True,
    "backchannel_logout_supported": True,
    "backchannel_logout_session_supported": True,
    "frontchannel_logout_supported": False,
    "prompt_values_supported": ["none", "login", "create", "consent", "select_account"],
    "claims_supported": [
        "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
        "at_hash", "name", "given_name", "family_name", "picture", "locale", "updated_at",
        "email", "email_verified",
    ],
    "claims_parameter_supported": False,
    "request_parameter_supported": False,
    "request_uri_parameter_supported": False,
}  # fmt: skip
JWKS_MAX_AGE = 300


async def discovery(request: Request) -> Response:
    cached: Response | None = getattr(request.app.state, "discovery", None)
    if cached is None:
        settings = services_of(request).settings
        document = build_discovery_document(
            settings.issuer,
            signing_algorithms=(settings.signing_algorithm,),
            endpoints=ENDPOINTS,
            extra=CAPABILITIES,
        )
        cached = Response(  # sent as it stands on every request (see _Kept)
            json.dumps(document, separators=(",", ":")).encode(),
            media_type="application/json",
            headers={"cache-control": "public, max-age=3600"},
        )
        request.app.state.discovery = cached
    return cached


class _Kept:
    """The last response built, reused while its body is the very same bytes: a Starlette
    ``Response`` is sent as it stands (its status, headers and body), so one made for a body
    serves every request for that body."""

    __slots__ = ("body", "response")

    def __init__(self) -> None:
        self.body: bytes | None = None
        self.response: Response | None = None


_jwks = _Kept()


async def jwks(request: Request) -> Response:
    body = await services_of(request).keys.jwks_json()
    kept = _jwks
    if kept.body is not body or kept.response is None:
        kept.response = Response(
            body,
            media_type="application/jwk-set+json",
            headers={"cache-control": f"public, max-age={JWKS_MAX_AGE}"},
        )
        kept.body = body
    return kept.response
