"""Fixtures for the end-to-end authorization flow tests (helpers in ``flow_helpers.py``).

Migrating a fresh SQLite database and generating the first RSA key take most of a test's setup,
so each test here starts from its own copy of tests/conftest.py's prepared data folder
(``make_settings`` below points there); ``services`` is tests/conftest.py's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from flow_helpers import FlowHelper

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.services.clock import Clock
from ostiary.services.container import Services
from ostiary.web.app import create_web_app


async def _prepared(
    make_settings: Callable[..., Settings], clock: Clock, **overrides: str
) -> Services:
    """Services on the test's copy of the prepared data folder."""
    services = build_services(make_settings(**overrides), clock=clock)
    await prepare(services)
    return services


@pytest.fixture
def make_settings(
    data_dir: Path, make_settings: Callable[..., Settings]
) -> Callable[..., Settings]:
    """tests/conftest.py's ``make_settings`` whose data folder starts as the prepared copy (so
    tests/conftest.py's ``services`` starts from it too)."""
    return make_settings


@pytest.fixture
def flow(client: httpx.AsyncClient, services: Services) -> FlowHelper:
    """A browser + app driver on the default (development) services."""
    return FlowHelper(client, services)


@pytest.fixture
async def flow_without_signup(
    make_settings: Callable[..., Settings], clock: Clock
) -> AsyncIterator[FlowHelper]:
    """A driver on services started with OSTIARY_SIGNUP_ENABLED=false."""
    services = await _prepared(make_settings, clock, SIGNUP_ENABLED="false")
    transport = httpx.ASGITransport(app=create_web_app(services))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url=services.settings.issuer
        ) as client:
            yield FlowHelper(client, services)
    finally:
        await services.engine.dispose()
