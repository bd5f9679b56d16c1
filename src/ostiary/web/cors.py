"""CORS for the endpoints a browser app calls directly, for registered SPA origins only.

Starlette's CORSMiddleware takes a fixed origin list; ours changes when apps are registered, so a
small pure-ASGI middleware reads the SPA origins (cached a few seconds per process)."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ostiary.domain.apps import AppType
from ostiary.services.apps import AppService

__all__ = ["CORS_PATHS", "CorsMiddleware"]

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
ALLOW_HEADERS = b"authorization, content-type"
ALLOW_METHODS = b"GET, POST, OPTIONS"


def origin_of(uri: str) -> str | None:
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or "*" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


class CorsMiddleware:
    def __init__(self, app: ASGIApp, *, apps: AppService) -> None:
        self.app = app
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in CORS_PATHS:
            await self.app(scope, receive, send)
            return
        origin = Headers(scope=scope).get("origin")
        allowed = origin is not None and origin in await self.allowed_origins()
        if scope["method"] == "OPTIONS" and origin is not None:
            headers = {"vary": "Origin"}
            if allowed:
                headers.update(
                    {
                        "access-control-allow-origin": origin,
                        "access-control-allow-methods": ALLOW_METHODS.decode(),
                        "access-control-allow-headers": ALLOW_HEADERS.decode(),
                        "access-control-max-age": "600",
                    }
                )
            await Response(status_code=204 if allowed else 403, headers=headers)(
                scope, receive, send
            )
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"vary", b"Origin")]
                if allowed and origin is not None:
                    extra.append((b"access-control-allow-origin", origin.encode()))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_cors)
