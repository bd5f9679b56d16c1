"""``ostiary keys``: list and rotate signing keys."""

from __future__ import annotations

import argparse
from typing import Any

from ostiary.cli.output import emit
from ostiary.services.container import Services

__all__ = ["register"]

COLUMNS = ["kid", "algorithm", "status", "created_at", "activates_at"]


def register(sub: Any) -> None:
    keys = sub.add_parser("keys", help="signing keys")
    cmds = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    listing = cmds.add_parser("list", help="list keys with their status (next, active, retired)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)
    rotate = cmds.add_parser("rotate", help="add a new key: published now, signing after a delay")
    rotate.add_argument(
        "--delay",
        type=int,
        metavar="SECONDS",
        help="seconds before the new key signs (default OSTIARY_KEY_ACTIVATION_DELAY)",
    )
    rotate.add_argument("--json", action="store_true")
    rotate.set_defaults(handler=_rotate)


async def _list(services: Services, args: argparse.Namespace) -> int:
    emit(await services.keys.all(), as_json=args.json, columns=COLUMNS)
    return 0


async def _rotate(services: Services, args: argparse.Namespace) -> int:
    if args.delay is not None and args.delay < 0:
        raise SystemExit("ostiary: error: --delay must be 0 or more seconds")
    info = await services.keys.rotate(args.delay)
    emit(info, as_json=args.json)
    if not args.json:
        print(
            f"\nThe new key is published in /keys now and signs from {info.activates_at}. "
            "Older keys stay published until every token they signed has expired."
        )
    return 0
