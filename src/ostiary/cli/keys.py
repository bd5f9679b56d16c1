"""``ostiary keys``: list and rotate signing keys."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ostiary.cli.output import emit
from ostiary.services.container import Services
from ostiary.services.keys import KeyInfo

__all__ = ["register"]

COLUMNS = ["kid", "algorithm", "status", "created_at", "activates_at"]


def register(sub: Any) -> None:
    keys = sub.add_parser("keys", help="signing keys")
    cmds = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    listing = cmds.add_parser(
        "list", help="list keys with their status (next, active, retired, superseded, expired)"
    )
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)
    rotate = cmds.add_parser(
        "rotate",
        help="add a new key: published now, signing after a delay; a key still waiting to "
        "sign is superseded and never signs",
    )
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
    rotated = await services.keys.rotate(args.delay)
    superseded = [_superseded_notice(key) for key in rotated.superseded]
    if args.json:
        emit(rotated, as_json=True)
        for line in superseded:  # stdout stays one JSON document; people still read this
            print(f"ostiary: {line}", file=sys.stderr)
        return 0
    emit({column: getattr(rotated, column) for column in COLUMNS}, as_json=False)
    print(
        f"\nThe new key is published in /keys now and signs from {rotated.activates_at}. "
        "Older keys stay published until every token they signed has expired."
    )
    for line in superseded:
        print(line)
    return 0


def _superseded_notice(key: KeyInfo) -> str:
    return (
        f"Key {key.kid} was waiting to sign from {key.activates_at}: this rotation superseded "
        "it, so it will never sign (the newest rotation wins)."
    )
