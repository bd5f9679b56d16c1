"""Fixtures for the storage contract suite: services on each backend of ``database_url``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.services.container import Services


@pytest.fixture
async def backend(
    database_url: str, make_settings: Callable[..., Settings], clock: Any
) -> AsyncIterator[Services]:
    """Prepared development services on the parametrized database (SQLite, then PostgreSQL)."""
    services = build_services(make_settings(OSTIARY_DATABASE_URL=database_url), clock=clock)
    await prepare(services)
    yield services
    await services.engine.dispose()
