"""Fixtures for the SDK's tests: an in-process Ostiary (ASGI, for the async client), a real one
(uvicorn on 127.0.0.1 in a thread, for the sync client, Flask and desktop), and unique emails.
The helpers themselves live in ``sdk_harness``."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from ostiary.bootstrap import build_services, prepare
from ostiary.web.app import create_web_app

from sdk_harness import ISSUER, InProcessOstiary, ThreadedOstiary, ostiary_settings


@pytest.fixture(scope="session")
def prepared_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder migrated once, with its first signing key: copied for each test, which
    saves the migrations and the RSA key generation per test."""
    data_dir = tmp_path_factory.mktemp("ostiary-template")

    async def make() -> None:
        services = build_services(ostiary_settings(data_dir, ISSUER))
        await prepare(services)
        await services.engine.dispose()

    asyncio.run(make())
    return data_dir


@pytest.fixture
async def ostiary(tmp_path: Path, prepared_data_dir: Path) -> AsyncIterator[InProcessOstiary]:
    """A fresh in-process Ostiary (SQLite in a temporary folder, development settings)."""
    data_dir = tmp_path / "ostiary"
    shutil.copytree(prepared_data_dir, data_dir)
    services = build_services(ostiary_settings(data_dir, ISSUER))
    await prepare(services)
    try:
        yield InProcessOstiary(services, create_web_app(services))
    finally:
        await services.engine.dispose()


@pytest.fixture(scope="session")
def live_ostiary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedOstiary]:
    """One real Ostiary for the whole run (tests create their own apps and users)."""
    server = ThreadedOstiary(tmp_path_factory.mktemp("live-ostiary"))
    try:
        yield server
    finally:
        server.stop()


_counter = iter(range(1_000_000))


@pytest.fixture
def unique_email() -> Callable[[str], str]:
    """A fresh email address per call (the live server is shared across tests)."""
    return lambda prefix="user": f"{prefix}{next(_counter)}-{time.time_ns()}@example.com"
