"""The ``ostiary`` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from sqlalchemy.engine import make_url

from ostiary import __version__
from ostiary.bootstrap import SchemaOutdatedError, build_services, migrate_database, prepare
from ostiary.cli import apps, demo, keys, organizations, outbox, serve, sessions, users
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
    organizations.register(sub)
    keys.register(sub)
    sessions.register(sub)
    outbox.register(sub)
    demo.register(sub)
    return parser


DEFAULT_DATA_DIR = ".ostiary"  # as in config.load_settings
DEMO_DATA_DIR = ".ostiary-demo"  # as in cli.demo


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        if getattr(args, "sync_handler", None) is not None:
            return int(args.sync_handler(settings, args))
        say_which_database(settings)
        status = asyncio.run(_run(settings, args))
        sys.stdout.flush()  # here, where a reader that left is handled below
        return status
    except BrokenPipeError:
        # `ostiary users list | head`: the reader left. Point stdout at /dev/null so that the
        # interpreter's final flush cannot raise again, and end as a SIGPIPE'd tool would.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
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


def say_which_database(settings: Settings) -> None:
    """Tell on stderr which database a data command uses, unless it is the default one
    (``./.ostiary``); beside a running demo, say where the demo's data is. Without this, the
    CLI next to ``ostiary demo`` silently works on another database than the demo's."""
    default_dir = Path(DEFAULT_DATA_DIR).resolve()
    if settings.data_dir == default_dir and settings.database_url.endswith(
        f"///{default_dir / 'ostiary.db'}"
    ):
        if Path(DEMO_DATA_DIR).is_dir():
            print(
                f"ostiary: using the database in {DEFAULT_DATA_DIR}/; the demo's is in "
                f"{DEMO_DATA_DIR}/ (set OSTIARY_DATA_DIR={DEMO_DATA_DIR} to use it)",
                file=sys.stderr,
            )
        return
    url = make_url(settings.database_url).render_as_string(hide_password=True)
    print(f"ostiary: using the database {url}", file=sys.stderr)


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
