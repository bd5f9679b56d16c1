"""``/metrics``: open in development, closed in production until OSTIARY_METRICS_TOKEN is set,
and then readable only with that bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from ostiary.bootstrap import build_services, migrate_database, prepare
from ostiary.config import Settings
from ostiary.web.app import create_web_app

TOKEN = "m3tr1cs-t0ken-for-the-scraper"
PRODUCTION = {
    "OSTIARY_ENVIRONMENT": "production",
    "OSTIARY_ISSUER": "https://auth.example.com",
    "OSTIARY_SECRET_KEY": "p" * 48,
}


@pytest.fixture
async def serve(
    make_settings: Callable[..., Settings], clock: Any
) -> AsyncIterator[Callable[..., Any]]:
    """Start an in-process Ostiary with the given settings; returns a client factory."""
    opened: list[Any] = []

    async def start(**overrides: str) -> httpx.AsyncClient:
        services = build_services(make_settings(**overrides), clock=clock)
        await migrate_database(services)
        await prepare(services)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_web_app(services)),
            base_url=services.settings.issuer,
        )
        opened.append((services, client))
        return client

    yield start
    for services, client in opened:
        await client.aclose()
        await services.engine.dispose()


async def test_development_serves_metrics_to_anyone(serve: Callable[..., Any]) -> None:
    """Without a token, development answers /metrics with the Prometheus text."""
    client = await serve()
    response = await client.get("/metrics")
    assert 200 == response.status_code
    assert "ostiary_sessions_live 0" in response.text


async def test_production_without_a_token_does_not_serve_metrics(serve: Callable[..., Any]) -> None:
    """Production with no OSTIARY_METRICS_TOKEN answers 404 and says how to turn it on."""
    client = await serve(**PRODUCTION)
    response = await client.get("/metrics")
    assert 404 == response.status_code
    assert "OSTIARY_METRICS_TOKEN" in response.text
    assert "ostiary_" not in response.text


@pytest.mark.parametrize("environment", [{}, PRODUCTION], ids=["development", "production"])
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-of-some-length", f"Basic {TOKEN}", "Bearer", "Bearer é€ü"],
    ids=["none", "wrong", "basic", "empty", "non-ascii"],
)
async def test_a_set_token_is_required(
    serve: Callable[..., Any], environment: dict[str, str], authorization: str | None
) -> None:
    """With OSTIARY_METRICS_TOKEN set, a missing, wrong or odd Authorization gets 401."""
    client = await serve(**environment, OSTIARY_METRICS_TOKEN=TOKEN)
    headers = {"authorization": authorization.encode()} if authorization else {}
    response = await client.get("/metrics", headers=headers)
    assert 401 == response.status_code
    assert 'Bearer realm="metrics"' == response.headers["www-authenticate"]
    assert "ostiary_" not in response.text


@pytest.mark.parametrize("environment", [{}, PRODUCTION], ids=["development", "production"])
async def test_the_right_token_reads_the_metrics(
    serve: Callable[..., Any], environment: dict[str, str]
) -> None:
    """``Authorization: Bearer <OSTIARY_METRICS_TOKEN>`` reads the metrics."""
    client = await serve(**environment, OSTIARY_METRICS_TOKEN=TOKEN)
    response = await client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert 200 == response.status_code
    assert "ostiary_sessions_live" in response.text
