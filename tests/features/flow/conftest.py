"""Fixtures for the end-to-end authorization flow tests (helpers in ``flow_helpers.py``).

Migrating a fresh SQLite database and generating the first RSA key take most of a test's setup,
so this folder prepares one data folder per run and gives each test its own copy of it. The
``services`` fixture below has the same contract as the one in ``tests/conftest.py``: prepared
development services on a fresh SQLite database with the test's FakeClock.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from flow_helpers import FlowHelper

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings, load_settings
from ostiary.services.clock import Clock
from ostiary.services.container import Services
from ostiary.web.app import create_web_app


class _AnHourAgo(Clock):
    """The template's key must already be active for every test's FakeClock (which starts at
    the current second, microseconds dropped)."""

    def now(self) -> datetime:
        return datetime.now(UTC) - timedelta(hours=1)


@pytest.fixture(scope="session")
def prepared_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder (secret key, migrated database, first signing key, Console app)."""
    data_dir = tmp_path_factory.mktemp("flow-template") / "data"
    settings = load_settings({"OSTIARY_DATA_DIR": str(data_dir)})

    async def build() -> None:
        services = build_services(settings, clock=_AnHourAgo())
        try:
            await prepare(services)
        finally:
            await services.engine.dispose()

    asyncio.run(build())
    return data_dir


@pytest.fixture
def data_dir(
    tmp_path: Path, prepared_data_dir: Path, make_settings: Callable[..., Settings]
) -> Path:
    """This test's copy of the prepared data folder, where ``make_settings`` points."""
    target = tmp_path / "data"
    shutil.copytree(prepared_data_dir, target)
    assert target.resolve() == make_settings().data_dir
    return target


async def _prepared(
    make_settings: Callable[..., Settings], clock: Clock, **overrides: str
) -> Services:
    """Services on the test's copy of the data folder (the ``data_dir`` fixture made it)."""
    services = build_services(make_settings(**overrides), clock=clock)
    await prepare(services)
    return services


@pytest.fixture
async def services(
    make_settings: Callable[..., Settings], clock: Clock, data_dir: Path
) -> AsyncIterator[Services]:
    """Prepared development services on this test's own SQLite database (in ``data_dir``),
    with ``clock``."""
    services = await _prepared(make_settings, clock)
    yield services
    await services.engine.dispose()


@pytest.fixture
def flow(client: httpx.AsyncClient, services: Services) -> FlowHelper:
    """A browser + app driver on the default (development) services."""
    return FlowHelper(client, services)


@pytest.fixture
async def flow_without_signup(
    make_settings: Callable[..., Settings], clock: Clock, data_dir: Path
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
