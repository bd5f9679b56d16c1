"""Shared fixtures: settings in a temporary data folder, databases (SQLite always, PostgreSQL when
reachable — required with CI=true), wired services, and an in-process HTTP client."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.dns import TxtServer, txt_server

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings, load_settings
from ostiary.services.clock import Clock
from ostiary.services.container import Services
from ostiary.web.app import create_web_app

PG_ADMIN_DSN = os.environ.get("OSTIARY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DATA_DIR_NAME = "data"  # the test's data folder: tmp_path / DATA_DIR_NAME
# Fast argon2 in tests; the parameters' effect on cost is measured by the benchmarks.
FAST_ARGON2 = {
    "OSTIARY_ARGON2_TIME_COST": "1",
    "OSTIARY_ARGON2_MEMORY_KIB": "8192",
    "OSTIARY_ARGON2_PARALLELISM": "1",
}


class FakeClock(Clock):
    """A clock that tests move by hand."""

    def __init__(self) -> None:
        self.current = datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


def _postgres_reachable() -> str | None:
    """None when reachable, else the reason."""
    import asyncpg  # type: ignore[import-untyped]

    async def probe() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def postgres_admin_dsn() -> str:
    reason = _postgres_reachable()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL at {PG_ADMIN_DSN} is unreachable: {reason}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_DSN} ({reason}); set OSTIARY_TEST_PG")
    return PG_ADMIN_DSN


def _pg_database(admin_dsn: str) -> Iterator[str]:
    """Create a throw-away database and yield its SQLAlchemy URL; drop it afterwards."""
    import asyncpg

    name = f"ostiary_test_{secrets.token_hex(6)}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def postgres_url(postgres_admin_dsn: str) -> Iterator[str]:
    """A throw-away PostgreSQL database (for tests of PostgreSQL-only behaviour)."""
    yield from _pg_database(postgres_admin_dsn)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ostiary.db'}"
        return
    admin = request.getfixturevalue("postgres_admin_dsn")
    yield from _pg_database(admin)


class _ADayAgo(Clock):
    """Prepares the template, so that its signing key is already active at every test's
    FakeClock (which starts at the current second)."""

    def now(self) -> datetime:
        return datetime.now(UTC) - timedelta(days=1)


@pytest.fixture(scope="session")
def prepared_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder that ``prepare`` made ready once per run (secret key, migrated database,
    first signing key, Console app): migrating and generating an RSA key are most of a test's
    set-up, so folders whose tests need many fresh databases start each from a copy."""
    data_dir = tmp_path_factory.mktemp("template") / DATA_DIR_NAME
    settings = load_settings({"OSTIARY_DATA_DIR": str(data_dir), **FAST_ARGON2})

    async def build() -> None:
        services = build_services(settings, clock=_ADayAgo())
        try:
            await prepare(services)
        finally:
            await services.engine.dispose()

    asyncio.run(build())
    return data_dir


@pytest.fixture
def data_dir(tmp_path: Path, prepared_data_dir: Path) -> Path:
    """This test's copy of the prepared data folder, where ``make_settings`` points."""
    target = tmp_path / DATA_DIR_NAME
    shutil.copytree(prepared_data_dir, target)
    return target


@pytest.fixture(scope="session")
def test_dns() -> Iterator[TxtServer]:
    """A DNS server on 127.0.0.1 for the whole run: DNS lookups in tests (domain verification)
    never leave this machine. It knows only the TXT records tests publish (use names of your
    own test's: the server is shared)."""
    with txt_server() as server:
        yield server


@pytest.fixture
def make_settings(tmp_path: Path, test_dns: TxtServer) -> Callable[..., Settings]:
    """Settings for a test: a temporary data folder, fast argon2, overrides as OSTIARY_* names,
    DNS lookups to ``test_dns`` unless a test gives its own server."""

    def make(**overrides: str) -> Settings:
        env = {
            "OSTIARY_DATA_DIR": str(tmp_path / DATA_DIR_NAME),
            "OSTIARY_ISSUER": "http://127.0.0.1:8000",
            "OSTIARY_DNS_NAMESERVERS": test_dns.nameservers,
            **FAST_ARGON2,
        }
        env.update(
            {k if k.startswith("OSTIARY_") else f"OSTIARY_{k}": v for k, v in overrides.items()}
        )
        return load_settings(env)

    return make


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def services(
    make_settings: Callable[..., Settings], clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Services]:
    """Prepared services on a fresh SQLite database (development settings)."""
    services = build_services(make_settings(), clock=clock)
    await prepare(services)
    yield services
    await services.engine.dispose()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the ASGI app in-process."""
    app = create_web_app(services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=services.settings.issuer) as c:
        yield c


def pytest_report_header(config: Any) -> str:
    reason = _postgres_reachable()
    where = "reachable" if reason is None else f"NOT reachable ({reason})"
    return f"PostgreSQL for storage tests: {PG_ADMIN_DSN} {where}; CI={IN_CI}"
