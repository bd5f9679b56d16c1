"""CORS for the endpoints a browser app calls directly, for registered SPA origins only.

Starlette's CORSMiddleware takes a fixed origin list; ours changes when apps are registered, so the
policy reads the SPA origins (cached a few seconds per process). ``ostiary.web.edge`` applies it."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from starlette.responses import Response

from ostiary.domain.apps import AppType
from ostiary.services.apps import AppService

__all__ = ["CORS_PATHS", "CorsPolicy"]

CORS_PATHS = frozenset(
    {
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/keys",
        "/oauth/token",
        "/userinfo",
        "/oauth/revoke",
    }
)
CACHE_SECONDS = 5.0
ALLOW_HEADERS = "authorization, content-type"
ALLOW_METHODS = "GET, POST, OPTIONS"
VARY_ORIGIN = (b"vary", b"Origin")


def origin_of(uri: str) -> str | None:
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or "*" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


class CorsPolicy:
    """Which origins may call the CORS endpoints from a browser, and the answers that say so."""

    def __init__(self, apps: AppService) -> None:
        self._apps = apps
        self._origins: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")

    async def allowed_origins(self) -> frozenset[str]:
        if time.monotonic() - self._loaded_at > CACHE_SECONDS:
            origins = {
                origin
                for app in await self._apps.all()
                if app.type is AppType.SPA
                for uri in app.redirect_uris
                if (origin := origin_of(uri)) is not None
            }
            self._origins, self._loaded_at = frozenset(origins), time.monotonic()
        return self._origins

    async def allows(self, origin: bytes) -> bool:
        return origin.decode("latin-1") in await self.allowed_origins()

    @staticmethod
    def preflight(origin: bytes, allowed: bool) -> Response:
        """The answer to an ``OPTIONS`` request with an ``Origin``."""
        if not allowed:
            return Response(status_code=403, headers={"vary": "Origin"})
        return Response(
            status_code=204,
            headers={
                "vary": "Origin",
                "access-control-allow-origin": origin.decode("latin-1"),
                "access-control-allow-methods": ALLOW_METHODS,
                "access-control-allow-headers": ALLOW_HEADERS,
                "access-control-max-age": "600",
            },
        )

    @staticmethod
    def response_headers(origin: bytes | None, allowed: bool) -> list[tuple[bytes, bytes]]:
        """The headers added to the answer of a CORS endpoint."""
        if allowed and origin is not None:
            return [VARY_ORIGIN, (b"access-control-allow-origin", origin)]
        return [VARY_ORIGIN]
