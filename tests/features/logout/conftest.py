"""Fixtures for the logout tests (helpers in ``logout_helpers.py``).

``services`` is overridden here to start each test from a copy of one prepared data folder
(migrated schema, signing key, console app) instead of migrating and generating an RSA key per
test: same settings and FakeClock as tests/conftest.py, a fraction of the set-up time.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from logout_helpers import FAST_ARGON2, Harness, Receiver

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings, load_settings
from ostiary.services.clock import Clock
from ostiary.services.container import Services
from ostiary.web.app import create_web_app


class _YesterdayClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC) - timedelta(days=1)


@pytest.fixture(scope="session")
def prepared_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder that ``prepare`` has made ready once for the whole session."""
    data_dir = tmp_path_factory.mktemp("logout-template") / "data"
    settings = load_settings({"OSTIARY_DATA_DIR": str(data_dir), **FAST_ARGON2})

    async def make() -> None:
        # A day back, so the signing key is active at every FakeClock of the session.
        services = build_services(settings, clock=_YesterdayClock())
        try:
            await prepare(services)
        finally:
            await services.engine.dispose()

    asyncio.run(make())
    return data_dir


@pytest.fixture
def make_settings(
    tmp_path: Path, prepared_data_dir: Path, make_settings: Callable[..., Settings]
) -> Callable[..., Settings]:
    """tests/conftest.py's ``make_settings`` whose data folder starts as a prepared copy."""
    shutil.copytree(prepared_data_dir, tmp_path / "data")
    return make_settings


@pytest.fixture
async def services(make_settings: Callable[..., Settings], clock: Clock) -> AsyncIterator[Services]:
    """Prepared services on this test's own SQLite database (development settings)."""
    services = build_services(make_settings(), clock=clock)
    await prepare(services)
    yield services
    await services.engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real back-channel endpoint on 127.0.0.1, up (answering 200) unless a test stops it."""
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
async def harness(services: Services, clock: Clock, receiver: Receiver) -> AsyncIterator[Harness]:
    """Browsers and an app developer on the default (development) services and FakeClock."""
    harness = Harness(services, create_web_app(services), clock, receiver)
    try:
        yield harness
    finally:
        await harness.aclose()
        await services.backchannel.close()
