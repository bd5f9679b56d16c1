"""Discovery (``/.well-known/…``) and the JWKS (``/keys``)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from ostiary.protocol.discovery import build_discovery_document
from ostiary.web.context import services_of

__all__ = ["discovery", "jwks"]

ENDPOINTS: dict[str, str] = {}
JWKS_MAX_AGE = 300


def _json(body: object, *, max_age: int) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        media_type="application/json",
        headers={"cache-control": f"public, max-age={max_age}"},
    )


async def discovery(request: Request) -> Response:
    services = services_of(request)
    cached: bytes | None = getattr(request.app.state, "discovery_body", None)
    if cached is None:
        document = build_discovery_document(
            services.settings.issuer,
            signing_algorithms=(services.settings.signing_algorithm,),
            endpoints=ENDPOINTS,
        )
        cached = json.dumps(document, separators=(",", ":")).encode()
        request.app.state.discovery_body = cached
    return Response(
        cached, media_type="application/json", headers={"cache-control": "public, max-age=3600"}
    )


async def jwks(request: Request) -> Response:
    services = services_of(request)
    response = _json(await services.keys.jwks(), max_age=JWKS_MAX_AGE)
    response.media_type = "application/jwk-set+json"
    response.headers["content-type"] = "application/jwk-set+json"
    return response
