"""The ``ostiary`` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence

from ostiary import __version__
from ostiary.bootstrap import SchemaOutdatedError, build_services, migrate_database, prepare
from ostiary.cli import apps, demo, keys, outbox, serve, sessions, users
from ostiary.config import ConfigError, Settings, load_settings
from ostiary.services.container import Services
from ostiary.services.errors import ServiceError

__all__ = ["main"]

Handler = Callable[[Services, argparse.Namespace], Awaitable[int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ostiary",
        description="Ostiary: a self-hostable OpenID Connect identity provider.",
    )
    parser.add_argument("--version", action="version", version=f"ostiary {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.register(sub)
    migrate = sub.add_parser("migrate", help="upgrade the database schema to this version")
    migrate.set_defaults(handler=None, migrate=True)
    apps.register(sub)
    users.register(sub)
    keys.register(sub)
    sessions.register(sub)
    outbox.register(sub)
    demo.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        if getattr(args, "sync_handler", None) is not None:
            return int(args.sync_handler(settings, args))
        return asyncio.run(_run(settings, args))
    except ConfigError as err:
        print(f"ostiary: configuration error: {err}", file=sys.stderr)
        return 2
    except SchemaOutdatedError as err:
        print(f"ostiary: {err}", file=sys.stderr)
        return 2
    except ServiceError as err:
        print(f"ostiary: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    services = build_services(settings)
    try:
        if getattr(args, "migrate", False):
            revision = await migrate_database(services)
            print(f"Database schema is at revision {revision}.")
            return 0
        await prepare(services)
        handler: Handler = args.handler
        return await handler(services, args)
    finally:
        await services.engine.dispose()
