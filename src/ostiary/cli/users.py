"""``ostiary users`` and ``ostiary admins``."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from ostiary.cli.output import emit
from ostiary.domain.users import ADMIN_ROLE, User
from ostiary.services.container import Services
from ostiary.services.errors import ServiceError

__all__ = ["register"]


def register(sub: Any) -> None:
    users = sub.add_parser("users", help="manage users")
    cmds = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    create = cmds.add_parser("create", help="create a user")
    create.add_argument("--email", required=True)
    create.add_argument("--name")
    password = create.add_mutually_exclusive_group()
    password.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    password.add_argument(
        "--no-password",
        action="store_true",
        help="create the user without a password (they sign in with an emailed code or set one "
        "through a password reset); without either flag, a terminal asks for the password",
    )
    create.add_argument("--email-verified", action="store_true", help="mark the email verified")
    create.add_argument("--json", action="store_true")
    create.set_defaults(handler=_create)
    listing = cmds.add_parser("list", help="list users")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)
    for name, handler in (("show", _show), ("delete", _delete)):
        p = cmds.add_parser(name, help=f"{name} a user")
        p.add_argument("user", metavar="EMAIL_OR_ID")
        p.add_argument("--json", action="store_true")
        p.set_defaults(handler=handler)

    admins = sub.add_parser("admins", help="who may enter the dashboard")
    acmds = admins.add_subparsers(dest="admins_command", required=True, metavar="ACTION")
    grant = acmds.add_parser("grant", help=f"give a user the {ADMIN_ROLE} role")
    grant.add_argument("user", metavar="EMAIL_OR_ID")
    grant.add_argument("--json", action="store_true")
    grant.set_defaults(handler=_grant_admin)


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "email_verified": user.email_verified,
        "name": user.name,
        "roles": list(user.roles),
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
    }


def _read_password() -> str:
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _ask_password() -> str:
    """Ask on the terminal, twice, without echo."""
    first = getpass.getpass("Password for the new user: ")
    if getpass.getpass("The same password again: ") != first:
        raise ServiceError("the two passwords differ; nothing was created")
    return first


async def _create(services: Services, args: argparse.Namespace) -> int:
    password: str | None = None
    if args.password_stdin:
        password = _read_password()
    elif not args.no_password:
        if not sys.stdin.isatty():
            raise ServiceError(
                "no password given: pass --password-stdin and write it to standard input, or "
                "--no-password to create a user who signs in with an emailed code or sets a "
                "password through a reset"
            )
        password = _ask_password()
    user = await services.users.create(
        args.email, password=password, name=args.name, email_verified=args.email_verified
    )
    emit(user_view(user), as_json=args.json)
    if password is None and not args.json:
        print(
            "note: this user has no password; they sign in with an emailed code (when "
            "OSTIARY_LOGIN_METHODS allows it) or set one through “Forgot password?”",
            file=sys.stderr,
        )
    return 0


async def _list(services: Services, args: argparse.Namespace) -> int:
    rows = [user_view(u) for u in await services.users.all()]
    emit(rows, as_json=args.json, columns=["id", "email", "name", "roles", "created_at"])
    return 0


async def _show(services: Services, args: argparse.Namespace) -> int:
    emit(user_view(await services.users.get(args.user)), as_json=args.json)
    return 0


async def _delete(services: Services, args: argparse.Namespace) -> int:
    user = await services.users.get(args.user)
    ended = await services.logout.delete_user(user)
    await services.backchannel.deliver_due()  # try now; the server retries what fails
    await services.backchannel.close()
    emit({"deleted": user.id, "email": user.email, "sessions_ended": ended}, as_json=args.json)
    return 0


async def _grant_admin(services: Services, args: argparse.Namespace) -> int:
    user = await services.users.grant_role(args.user, ADMIN_ROLE)
    emit(user_view(user), as_json=args.json)
    return 0
