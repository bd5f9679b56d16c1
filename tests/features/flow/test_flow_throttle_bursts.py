"""Concurrent bursts of sign-in attempts get no more argon2 checks than the throttle allows, on
SQLite and PostgreSQL; a browser that signed in before still gets in during an attack."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import httpx
import pytest
from flow_helpers import EMAIL, PASSWORD, FlowHelper, RegisteredApp
from starlette.applications import Starlette

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.services.clock import Clock
from ostiary.services.container import Services
from ostiary.services.login import ACCOUNT, ACCOUNT_IP, IP
from ostiary.services.passwords import PasswordService
from ostiary.web.app import create_web_app
from ostiary.web.cookies import cookie_names

DEVICE_COOKIE_NAME = cookie_names(production=False).device

WRONG = "not the password"
CONCURRENCY = 64


class CountingPasswords(PasswordService):
    """The real password service, counting the argon2 verifications it runs."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        self.verified = 0

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.verified += 1
        return await super().verify(password_hash, password)


class Site:
    """One server (its services and web app) and browsers on it, each from its own address."""

    def __init__(self, services: Services, passwords: CountingPasswords) -> None:
        self.services = services
        self.passwords = passwords
        self.web: Starlette = create_web_app(services)
        self.clients: list[httpx.AsyncClient] = []

    def browser(self, ip: str) -> FlowHelper:
        transport = httpx.ASGITransport(app=self.web, client=(ip, 50000))
        client = httpx.AsyncClient(transport=transport, base_url=self.services.settings.issuer)
        self.clients.append(client)
        return FlowHelper(client, self.services)

    async def login_form(self, ip: str, app: RegisteredApp) -> tuple[FlowHelper, Any]:
        browser = self.browser(ip)
        attempt = await browser.start(app)
        return browser, await browser.open_form(attempt.response)


@pytest.fixture
async def site(
    make_settings: Callable[..., Settings], clock: Clock, database_url: str
) -> AsyncIterator[Site]:
    settings = make_settings(DATABASE_URL=database_url)
    passwords = CountingPasswords(settings)
    services = build_services(settings, clock=clock, passwords=passwords)
    await prepare(services)
    site = Site(services, passwords)
    try:
        yield site
    finally:
        for client in site.clients:
            await client.aclose()
        await services.engine.dispose()


async def _burst(calls: Iterable[Callable[[], Awaitable[httpx.Response]]]) -> dict[int, int]:
    """Run the calls ``CONCURRENCY`` at a time; how many answered each status."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Callable[[], Awaitable[httpx.Response]]) -> int:
        async with gate:
            return (await call()).status_code

    statuses = await asyncio.gather(*(one(call) for call in calls))
    return dict(collections.Counter(statuses))


async def _setup(site: Site) -> RegisteredApp:
    helper = site.browser("192.0.2.250")
    app = await helper.web()
    await helper.user()
    return app


async def test_burst_from_one_address_checks_only_the_account_allowance(site: Site) -> None:
    """200 wrong passwords for one account from one address, 64 at a time: 5 argon2 checks."""
    app = await _setup(site)
    browser, form = await site.login_form("198.51.100.7", app)
    site.passwords.verified = 0
    statuses = await _burst(lambda: browser.submit_login(form, EMAIL, WRONG) for _ in range(200))
    assert (ACCOUNT_IP.allowance, {401: 5, 429: 195}) == (site.passwords.verified, statuses)


async def test_burst_from_many_addresses_checks_only_the_account_wide_allowance(
    site: Site,
) -> None:
    """120 wrong passwords for one account from 24 addresses: 10 argon2 checks in all."""
    app = await _setup(site)
    forms = [await site.login_form(f"198.51.100.{n}", app) for n in range(1, 25)]
    site.passwords.verified = 0
    calls = [
        (lambda b=browser, f=form: b.submit_login(f, EMAIL, WRONG))
        for browser, form in forms
        for _ in range(5)
    ]
    statuses = await _burst(calls)
    assert (ACCOUNT.allowance, 120 - ACCOUNT.allowance) == (site.passwords.verified, statuses[429])


async def test_burst_over_many_accounts_from_one_address_checks_only_its_allowance(
    site: Site,
) -> None:
    """150 wrong passwords for 150 emails from one address: 20 argon2 checks."""
    app = await _setup(site)
    browser, form = await site.login_form("203.0.113.5", app)
    site.passwords.verified = 0
    calls = [
        (lambda n=n: browser.submit_login(form, f"user{n}@example.com", WRONG)) for n in range(150)
    ]
    statuses = await _burst(calls)
    assert (IP.allowance, {401: 20, 429: 130}) == (site.passwords.verified, statuses)


async def test_known_browser_signs_in_while_the_account_is_under_attack(site: Site) -> None:
    """After an attack blocks the account, the owner's browser (device cookie) still signs in
    with the right password; a browser new to the account is told to wait."""
    app = await _setup(site)
    owner = site.browser("192.0.2.10")
    await owner.login(app)
    owner.client.cookies.delete("ostiary_session")  # signed out; the device cookie stays
    forms = [await site.login_form(f"198.51.100.{n}", app) for n in range(1, 7)]
    calls = [
        (lambda b=browser, f=form: b.submit_login(f, EMAIL, WRONG))
        for browser, form in forms
        for _ in range(5)
    ]
    await _burst(calls)

    stranger, stranger_form = await site.login_form("192.0.2.20", app)
    refused = await stranger.submit_login(stranger_form, EMAIL, PASSWORD)
    attempt = await owner.start(app)
    owner_form = await owner.open_form(attempt.response)
    response = await owner.submit_login(owner_form, EMAIL, PASSWORD)
    assert 429 == refused.status_code
    assert "code" in owner.back_at_app(attempt, response).params


async def test_device_cookie_of_another_account_does_not_pass_the_block(site: Site) -> None:
    """A browser known to grace@ is a stranger to ada@: her block still applies to it."""
    app = await _setup(site)
    await site.browser("192.0.2.250").user("grace@example.com")
    browser = site.browser("192.0.2.10")
    await browser.login(app, "grace@example.com", PASSWORD)
    browser.client.cookies.delete("ostiary_session")
    forms = [await site.login_form(f"198.51.100.{n}", app) for n in range(1, 7)]
    await _burst(
        (lambda b=b, f=f: b.submit_login(f, EMAIL, WRONG)) for b, f in forms for _ in range(5)
    )
    attempt = await browser.start(app)
    form = await browser.open_form(attempt.response)
    response = await browser.submit_login(form, EMAIL, PASSWORD)
    assert 429 == response.status_code
    assert browser.client.cookies.get(DEVICE_COOKIE_NAME) is not None
