"""Settings -> engine -> services -> ASGI app, in one place (no app or engine at import time)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from ostiary.config import Settings, load_settings
from ostiary.protocol.digests import Digester, KeyVault
from ostiary.runtime.signing_processes import SigningProcesses
from ostiary.runtime.worker import BackgroundWorker, Wakeup
from ostiary.services.apps import AppService
from ostiary.services.authorize import AuthorizeService
from ostiary.services.backchannel import BackchannelService
from ostiary.services.bearer import BearerVerifier
from ostiary.services.clock import Clock, SystemClock
from ostiary.services.container import Services
from ostiary.services.domains import DnsLookup, DomainService
from ostiary.services.email import EmailService
from ostiary.services.email_flows import EmailFlows
from ostiary.services.events import AuthLog
from ostiary.services.keys import KeyService
from ostiary.services.login import LoginService
from ostiary.services.logout import LogoutService
from ostiary.services.organizations import OrganizationService, RoleService
from ostiary.services.passwords import PasswordService, hashing_threads_for
from ostiary.services.sessions import SessionService
from ostiary.services.throttle import ClientAuthThrottle, Throttle
from ostiary.services.tokens import TokenIntrospection, TokenService
from ostiary.services.users import UserService
from ostiary.storage.apps import AppStore
from ostiary.storage.backchannel import DeliveryStore
from ostiary.storage.db import create_engine, current_revision, head_revision, upgrade
from ostiary.storage.domains import DomainStore
from ostiary.storage.email import ChallengeStore, OutboxStore
from ostiary.storage.events import EventStore
from ostiary.storage.keys import KeyStore
from ostiary.storage.misc import ConsentStore, ThrottleStore
from ostiary.storage.organizations import OrganizationStore, RoleStore
from ostiary.storage.sessions import SessionStore
from ostiary.storage.tokens import TokenStore
from ostiary.storage.users import UserStore

__all__ = [
    "SchemaOutdatedError",
    "build_services",
    "create_app",
    "create_app_from_env",
    "migrate_database",
    "prepare",
]


class SchemaOutdatedError(Exception):
    """Production found a database whose schema is not at the version this code needs."""


def cpu_share(settings: Settings) -> int:
    """One worker process's share of the CPUs (at least 1)."""
    return hashing_threads_for(settings.workers or os.cpu_count() or 1)


def signing_processes(settings: Settings, *, serving: bool) -> SigningProcesses | None:
    """The child processes that sign JWTs, if any (``OSTIARY_SIGNING_PROCESSES``)."""
    count = settings.signing_processes
    if count is None:
        count = cpu_share(settings) if serving else 0
    return SigningProcesses(count) if count > 0 else None


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    serving: bool = False,
    passwords: PasswordService | None = None,
) -> Services:
    """``serving``: for a worker of ``ostiary serve`` (it then signs in child processes
    unless configured otherwise). ``passwords``: another password service (a test's, that
    counts the argon2 runs)."""
    clock = clock or SystemClock()
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    digester = Digester(settings.secret_key)
    app_store, user_store = AppStore(engine), UserStore(engine)
    session_store, token_store = SessionStore(engine), TokenStore(engine)
    passwords = passwords or PasswordService(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        threads=cpu_share(settings),
    )
    apps = AppService(
        app_store,
        digester,
        clock,
        production=settings.production,
        session_idle_timeout=settings.session_idle_timeout,
        issuer=settings.issuer,
    )
    keys = KeyService(
        KeyStore(engine),
        KeyVault(settings.secret_key),
        clock,
        algorithm=settings.signing_algorithm,
        activation_delay=settings.key_activation_delay,
        longest_token_ttl=settings.longest_signed_ttl,
        processes=signing_processes(settings, serving=serving),
    )
    events = AuthLog(EventStore(engine), clock)
    wakeup = Wakeup()
    backchannel = BackchannelService(
        DeliveryStore(engine),
        session_store,
        token_store,
        app_store,
        keys,
        events,
        clock,
        issuer=settings.issuer,
        wakeup=wakeup,
    )
    email = EmailService(OutboxStore(engine), clock, settings, wakeup)
    sessions = SessionService(
        session_store,
        digester,
        clock,
        idle_timeout=settings.session_idle_timeout,
        absolute_timeout=settings.session_absolute_timeout,
        backchannel=backchannel,
    )
    bearer = BearerVerifier(keys, token_store, clock, issuer=settings.issuer)
    roles = RoleService(RoleStore(engine), clock)
    organizations = OrganizationService(OrganizationStore(engine), user_store, roles, clock)
    throttle = Throttle(ThrottleStore(engine), clock)
    tokens = TokenService(
        apps,
        token_store,
        sessions,
        keys,
        bearer,
        organizations,
        events,
        digester,
        clock,
        ClientAuthThrottle(throttle, digester),
        issuer=settings.issuer,
        access_token_ttl=settings.access_token_ttl,
        id_token_ttl=settings.id_token_ttl,
        client_credentials_ttl=settings.client_credentials_ttl,
    )
    users = UserService(user_store, passwords, clock, min_password=settings.password_min_length)
    return Services(
        settings=settings,
        engine=engine,
        clock=clock,
        digester=digester,
        apps=apps,
        users=users,
        keys=keys,
        passwords=passwords,
        sessions=sessions,
        login=LoginService(user_store, passwords, throttle, digester, clock),
        authorize=AuthorizeService(
            app_store,
            sessions,
            session_store,
            token_store,
            ConsentStore(engine),
            organizations,
            events,
            digester,
            clock,
            issuer=settings.issuer,
            production=settings.production,
            code_ttl=settings.code_ttl,
        ),
        tokens=tokens,
        introspection=TokenIntrospection(tokens, token_store, bearer, digester, clock),
        bearer=bearer,
        backchannel=backchannel,
        organizations=organizations,
        domains=DomainService(
            DomainStore(engine),
            organizations,
            DnsLookup(settings.dns_nameservers),
            settings,
            clock,
        ),
        roles=roles,
        events=events,
        email=email,
        email_flows=EmailFlows(
            email,
            ChallengeStore(engine),
            user_store,
            users,
            sessions,
            digester,
            clock,
            settings,
        ),
        worker=BackgroundWorker([backchannel.run_once, email.deliver_due], wakeup),
        logout=LogoutService(
            app_store,
            user_store,
            sessions,
            keys,
            issuer=settings.issuer,
            production=settings.production,
        ),
    )


async def migrate_database(services: Services) -> str | None:
    """Upgrade the schema to the newest revision; returns it."""
    await upgrade(services.engine)
    return head_revision()


async def prepare(services: Services, *, migrate: bool | None = None) -> None:
    """Make the database ready to serve: migrate (development does it by itself), then create
    the first signing key and the Ostiary Console app when they are missing."""
    if migrate is None:
        migrate = not services.settings.production
    if migrate:
        await upgrade(services.engine)
    else:
        current, head = await current_revision(services.engine), head_revision()
        if current != head:
            raise SchemaOutdatedError(
                f"the database schema is at {current or 'nothing'}, this Ostiary needs {head}: "
                "run `ostiary migrate` first"
            )
    await services.keys.ensure_key()
    await services.roles.ensure_defaults()
    await services.apps.ensure_console()


def create_app(
    settings: Settings, *, clock: Clock | None = None, serving: bool = False
) -> Starlette:
    """The ASGI app; the database must already be prepared (see :func:`prepare`)."""
    # Imported here, not at the top: the CLI builds services without the web layer and
    # starts faster for it.
    from ostiary.web.app import create_web_app

    services = build_services(settings, clock=clock, serving=serving)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Back-channel deliveries, the session sweeper and email run in every process; row
        # leases keep them from doing the same work twice.
        if services.keys.processes is not None:
            await services.keys.processes.start()
        background = asyncio.create_task(services.worker.run_forever())
        try:
            yield
        finally:
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await background
            await services.backchannel.close()
            if services.keys.processes is not None:
                await services.keys.processes.aclose()
            await services.engine.dispose()

    app = create_web_app(services)
    app.router.lifespan_context = lifespan
    return app


def create_app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` in each worker process."""
    from ostiary.web.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_format)
    app = create_app(settings, serving=True)
    # What exists now (modules, tables, routes, templates: ~140k objects) lives as long as the
    # process. Frozen, the garbage collector stops walking it on every full collection, which
    # took ~50-65 ms each under load and showed as tail latency.
    gc.freeze()
    return app
