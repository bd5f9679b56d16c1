"""Prometheus metrics at ``/metrics``: HTTP traffic by route, authentication events, tokens
issued, and live sessions. With several worker processes, ``ostiary serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a folder so that any worker answers for all of them."""

from __future__ import annotations

import hmac
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ostiary.web.context import services_of

__all__ = ["HTTP_LATENCY", "HTTP_REQUESTS", "metrics", "route_label"]

HTTP_REQUESTS = Counter(
    "ostiary_http_requests_total",
    "HTTP requests by route and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "ostiary_http_request_duration_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
KNOWN_ROUTES = frozenset(
    {
        "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/keys",
        "/oauth/authorize", "/oauth/token", "/oauth/revoke", "/oauth/introspect", "/userinfo",
        "/oidc/logout", "/healthz", "/readyz", "/metrics",
    }
)  # fmt: skip


def route_label(path: str) -> str:
    """A bounded label: known endpoints by name, page groups by prefix, the rest as other."""
    if path in KNOWN_ROUTES:
        return path
    for prefix in ("/ui/static", "/ui/", "/admin", "/api/v1"):
        if path.startswith(prefix):
            return prefix.rstrip("/")
    return "other"


def _refusal(request: Request, token: str | None, production: bool) -> Response | None:
    """None when the caller may read the metrics: with OSTIARY_METRICS_TOKEN set, only with
    ``Authorization: Bearer <that token>`` (compared as bytes in constant time); without it,
    anyone in development and no one in production, where the numbers tell an outsider how
    busy the service is and who signs in when."""
    if token is None:
        if not production:
            return None
        return PlainTextResponse(
            "/metrics is off in production until OSTIARY_METRICS_TOKEN is set.\n",
            status_code=404,
            headers={"cache-control": "no-store"},
        )
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode("utf-8", "surrogateescape"), token.encode()
    ):
        return None
    return PlainTextResponse(
        "/metrics needs Authorization: Bearer <OSTIARY_METRICS_TOKEN>.\n",
        status_code=401,
        headers={"www-authenticate": 'Bearer realm="metrics"', "cache-control": "no-store"},
    )


async def metrics(request: Request) -> Response:
    services = services_of(request)
    settings = services.settings
    refusal = _refusal(request, settings.metrics_token, settings.production)
    if refusal is not None:
        return refusal
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest()
    live = await services.sessions.count_live()
    body += (
        b"# HELP ostiary_sessions_live Sessions that are active and not expired\n"
        b"# TYPE ostiary_sessions_live gauge\n" + f"ostiary_sessions_live {live}\n".encode()
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"cache-control": "no-store"})
