"""``ostiary outbox``: the latest emails (in development, the only place they go)."""

from __future__ import annotations

import argparse
from typing import Any

from ostiary.cli.output import emit, to_jsonable
from ostiary.services.container import Services

__all__ = ["register"]


def register(sub: Any) -> None:
    outbox = sub.add_parser("outbox", help="print the latest emails (development outbox)")
    outbox.add_argument("--to", metavar="EMAIL", help="only messages to this address")
    outbox.add_argument("--limit", type=int, default=5, help="how many (default 5)")
    outbox.add_argument("--json", action="store_true")
    outbox.set_defaults(handler=_show)


async def _show(services: Services, args: argparse.Namespace) -> int:
    messages = await services.email.recent(max(1, min(args.limit, 100)), args.to)
    if args.json:
        emit([to_jsonable(m) for m in messages], as_json=True)
        return 0
    if not messages:
        print("The outbox is empty.")
    for message in messages:
        print(f"── {message.created_at:%Y-%m-%d %H:%M:%S} · {message.status.value} · {message.id}")
        print(f"To:      {message.to_address}")
        print(f"Subject: {message.subject}\n")
        print((message.text_body or "(body removed after sending)").strip(), end="\n\n")
    if not services.settings.smtp_configured:
        print("(No SMTP server is configured: messages stay here. See OSTIARY_SMTP_HOST.)")
    return 0
