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
    services = services_of(request)
    cached: bytes | None = getattr(request.app.state, "discovery_body", None)
    if cached is None:
        document = build_discovery_document(
            services.settings.issuer,
            signing_algorithms=(services.settings.signing_algorithm,),
            endpoints=ENDPOINTS,
            extra=CAPABILITIES,
        )
        cached = json.dumps(document, separators=(",", ":")).encode()
        request.app.state.discovery_body = cached
    return Response(
        cached, media_type="application/json", headers={"cache-control": "public, max-age=3600"}
    )


async def jwks(request: Request) -> Response:
    return Response(
        await services_of(request).keys.jwks_json(),
        media_type="application/jwk-set+json",
        headers={"cache-control": f"public, max-age={JWKS_MAX_AGE}"},
    )
