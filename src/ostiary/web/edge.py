"""What every HTTP response gets, in one pure-ASGI layer: a request id, the access log line and
metrics, the security headers, CORS on the endpoints a browser app calls directly, and the 503
of a request whose database is out of reach (``ostiary.web.unavailable``).

One layer rather than one middleware each: every layer is a coroutine call per request and a
wrapper around ``send`` per message, and each read the request headers on its own. Measured
with ``ostiary serve`` under wrk (/keys, 64 connections, two interleaved pairs): 0.120 ms of
CPU per request with three layers, 0.111 ms with this one."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ostiary.services.apps import AppService
from ostiary.storage.db import DatabaseUnavailable
from ostiary.web.cors import CORS_PATHS, CorsPolicy
from ostiary.web.logs import record_request, request_id
from ostiary.web.security import security_headers
from ostiary.web.unavailable import unavailable

__all__ = ["EdgeMiddleware"]


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool, apps: AppService) -> None:
        self.app = app
        self.cors = CorsPolicy(apps)
        self.security = security_headers(hsts=hsts)
        self.security_names = frozenset(name for name, _ in self.security)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = origin = None
        for name, value in scope["headers"]:
            if name == b"x-request-id" and incoming is None:
                incoming = value
            elif name == b"origin" and origin is None:
                origin = value
        rid = request_id(incoming)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 0  # until the response starts
        extra = [(b"x-request-id", rid.encode())]

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                names = self.security_names.intersection(name for name, _ in headers)
                headers += extra
                headers += (h for h in self.security if h[0] not in names)
                message["headers"] = headers
            await send(message)

        try:
            app = self.app
            if scope["path"] in CORS_PATHS:
                allowed = origin is not None and await self.cors.allows(origin)
                if scope["method"] == "OPTIONS" and origin is not None:
                    app = self.cors.preflight(origin, allowed)
                else:
                    extra[:0] = self.cors.response_headers(origin, allowed)
            await app(scope, receive, send_with_headers)
        except DatabaseUnavailable as err:
            if status:
                raise  # the answer has begun: the server ends the connection instead
            await unavailable(scope, err)(scope, receive, send_with_headers)
        finally:
            record_request(scope, status or 500, time.perf_counter() - started, rid)
