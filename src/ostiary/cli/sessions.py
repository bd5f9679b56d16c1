"""``ostiary sessions``: see and end login sessions."""

from __future__ import annotations

import argparse
from typing import Any

from ostiary.cli.output import emit
from ostiary.domain.sessions import Session
from ostiary.services.container import Services

__all__ = ["register"]

COLUMNS = ["id", "user", "status", "apps", "last_active_at", "ip"]


def register(sub: Any) -> None:
    sessions = sub.add_parser("sessions", help="see and end login sessions")
    cmds = sessions.add_subparsers(dest="sessions_command", required=True, metavar="ACTION")
    listing = cmds.add_parser("list", help="list sessions, newest activity first")
    listing.add_argument("--user", metavar="EMAIL_OR_ID", help="only this user's sessions")
    listing.add_argument("--all", action="store_true", help="include ended sessions")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)
    revoke = cmds.add_parser(
        "revoke", help="end a session: its refresh tokens die, web apps are told (back-channel)"
    )
    revoke.add_argument("session_id", metavar="SESSION_ID")
    revoke.add_argument("--json", action="store_true")
    revoke.set_defaults(handler=_revoke)


def session_view(session: Session, email: str) -> dict[str, Any]:
    return {
        "id": session.id,
        "user_id": session.user_id,
        "user": email,
        "status": session.status.value,
        "apps": list(session.authenticated_clients),
        "created_at": session.created_at,
        "last_active_at": session.last_active_at,
        "idle_expires_at": session.idle_expires_at,
        "absolute_expires_at": session.absolute_expires_at,
        "auth_time": session.auth_time,
        "amr": list(session.amr),
        "user_agent": session.user_agent,
        "ip": session.ip,
    }


async def _list(services: Services, args: argparse.Namespace) -> int:
    user_id = (await services.users.get(args.user)).id if args.user else None
    now = services.clock.now()
    emails = {u.id: u.email for u in await services.users.all()}
    rows = [
        session_view(s, emails.get(s.user_id, "?"))
        for s in await services.sessions.all(user_id=user_id)
        if args.all or s.is_live(now)
    ]
    emit(rows, as_json=args.json, columns=COLUMNS)
    return 0


async def _revoke(services: Services, args: argparse.Namespace) -> int:
    session = await services.logout.revoke_session(args.session_id)
    delivered = await services.backchannel.deliver_due()  # try now; the server retries later
    await services.backchannel.close()
    queued = [d for d in await services.backchannel.for_session(session.id)]
    emit(
        {
            "revoked": session.id,
            "backchannel_notices": len(queued),
            "delivered_now": delivered,
        },
        as_json=args.json,
    )
    return 0
