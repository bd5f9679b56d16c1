"""``ostiary apps``: register and manage applications."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ostiary.cli.output import emit
from ostiary.domain.apps import App
from ostiary.services.apps import NewSecret
from ostiary.services.container import Services
from ostiary.services.errors import Conflict

__all__ = ["register"]

LIST_COLUMNS = ["client_id", "name", "type", "redirect_uris"]


def _settings_flags(parser: argparse.ArgumentParser, *, create: bool) -> None:
    parser.add_argument("--name", required=create, help="a name people recognise")
    parser.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        metavar="URI",
        help="allowed redirect_uri (repeat for several; on update, replaces the list)",
    )
    parser.add_argument(
        "--post-logout-redirect-uri",
        action="append",
        dest="post_logout_redirect_uris",
        metavar="URI",
        help="allowed post_logout_redirect_uri (repeat for several)",
    )
    parser.add_argument("--initiate-login-uri", metavar="URI", help="where a login restarts")
    parser.add_argument(
        "--backchannel-logout-uri", metavar="URI", help="web apps: receives logout tokens"
    )
    parser.add_argument(
        "--access-token-ttl",
        type=int,
        metavar="SECONDS",
        help="access-token lifetime for this app (0 = environment default)",
    )
    parser.add_argument("--refresh-reuse-interval", type=int, metavar="SECONDS")
    for flag, help_text in (
        ("enforce-pkce", "web apps: require PKCE (always on for spa and native)"),
        ("management-api-access", "web apps: may call the management API"),
        (
            "introspect-all-tokens",
            "web apps (resource servers): may introspect every access token, not only their own",
        ),
        ("third-party", "ask users for consent before sharing their data"),
    ):
        parser.add_argument(
            f"--{flag}", action=argparse.BooleanOptionalAction, default=None, help=help_text
        )
    parser.add_argument("--json", action="store_true", help="print JSON")


def register(sub: Any) -> None:
    apps = sub.add_parser("apps", help="register and manage applications (OAuth clients)")
    cmds = apps.add_subparsers(dest="apps_command", required=True, metavar="ACTION")

    create = cmds.add_parser("create", help="register an app; a web app's secret is shown once")
    create.add_argument("--type", required=True, choices=["web", "spa", "native"])
    _settings_flags(create, create=True)
    create.set_defaults(handler=_create)

    listing = cmds.add_parser("list", help="list apps")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)

    for name, handler, help_text in (
        ("show", _show, "show one app"),
        ("delete", _delete, "delete an app (revokes its tokens)"),
    ):
        p = cmds.add_parser(name, help=help_text)
        p.add_argument("app", metavar="CLIENT_ID", help="client_id or app_… id")
        p.add_argument("--json", action="store_true")
        p.set_defaults(handler=handler)

    update = cmds.add_parser("update", help="change an app's settings")
    update.add_argument("app", metavar="CLIENT_ID", help="client_id or app_… id")
    _settings_flags(update, create=False)
    update.set_defaults(handler=_update)

    secrets = cmds.add_parser("secrets", help="web apps: client secrets (at most two active)")
    scmds = secrets.add_subparsers(dest="secrets_command", required=True, metavar="ACTION")
    s_create = scmds.add_parser("create", help="add a secret (shown once)")
    s_list = scmds.add_parser("list", help="list secrets (never their values)")
    s_revoke = scmds.add_parser("revoke", help="revoke a secret")
    for p in (s_create, s_list, s_revoke):
        p.add_argument("app", metavar="CLIENT_ID", help="client_id or app_… id")
        p.add_argument("--json", action="store_true")
    s_revoke.add_argument("secret_id", metavar="SECRET_ID")
    s_create.set_defaults(handler=_secret_create)
    s_list.set_defaults(handler=_secret_list)
    s_revoke.set_defaults(handler=_secret_revoke)


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    names = (
        "redirect_uris",
        "post_logout_redirect_uris",
        "initiate_login_uri",
        "backchannel_logout_uri",
        "refresh_reuse_interval",
        "enforce_pkce",
        "management_api_access",
        "introspect_all_tokens",
        "third_party",
    )
    fields = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    if args.name is not None:
        fields["name"] = args.name
    if args.access_token_ttl is not None:
        fields["access_token_ttl"] = args.access_token_ttl or None
    for uri_field in ("initiate_login_uri", "backchannel_logout_uri"):
        if fields.get(uri_field) == "":
            fields[uri_field] = None
    return fields


def app_view(app: App) -> dict[str, Any]:
    return {
        "id": app.id,
        "client_id": app.client_id,
        "name": app.name,
        "type": app.type.value,
        "enforce_pkce": app.requires_pkce,
        "management_api_access": app.management_api_access,
        "introspect_all_tokens": app.introspect_all_tokens,
        "third_party": app.third_party,
        "access_token_ttl": app.access_token_ttl,
        "refresh_reuse_interval": app.refresh_reuse_interval,
        "redirect_uris": list(app.redirect_uris),
        "post_logout_redirect_uris": list(app.post_logout_redirect_uris),
        "initiate_login_uri": app.initiate_login_uri,
        "backchannel_logout_uri": app.backchannel_logout_uri,
        "is_console": app.is_console,
        "created_at": app.created_at,
        "updated_at": app.updated_at,
    }


def _secret_view(new: NewSecret) -> dict[str, Any]:
    return {"secret_id": new.secret.id, "client_secret": new.value}


async def _create(services: Services, args: argparse.Namespace) -> int:
    fields = _fields(args)
    name = fields.pop("name")
    app, secret = await services.apps.create(name, args.type, **fields)
    view = app_view(app)
    if secret is not None:
        view.update(_secret_view(secret))
    emit(view, as_json=args.json)
    if secret is not None and not args.json:
        print("\nThe client secret is shown only this once: store it now.")
    if not app.redirect_uris:
        print(missing_redirect_note(app), file=sys.stderr)
    return 0


def missing_redirect_note(app: App) -> str:
    """What an app registered without a redirect URI cannot do yet, and how to fix that."""
    can = (
        " It can already get tokens for itself (client_credentials)."
        if app.type.value == "web"
        else ""
    )
    return (
        f"note: {app.name} has no redirect URI, so it cannot sign users in yet.{can} Add one "
        f"with: ostiary apps update {app.client_id} --redirect-uri URI"
    )


async def _list(services: Services, args: argparse.Namespace) -> int:
    emit([app_view(a) for a in await services.apps.all()], as_json=args.json, columns=LIST_COLUMNS)
    return 0


async def _show(services: Services, args: argparse.Namespace) -> int:
    app = await services.apps.get(args.app)
    view = app_view(app)
    view["secrets"] = (
        [
            f"{s.id} (…{s.hint}, {'active' if s.active else 'revoked'})"
            for s in await services.apps.list_secrets(app.id)
        ]
        if not args.json
        else [
            {"id": s.id, "hint": s.hint, "active": s.active, "created_at": s.created_at}
            for s in await services.apps.list_secrets(app.id)
        ]
    )
    emit(view, as_json=args.json)
    return 0


async def _update(services: Services, args: argparse.Namespace) -> int:
    app = await services.apps.update(args.app, **_fields(args))
    emit(app_view(app), as_json=args.json)
    return 0


async def _delete(services: Services, args: argparse.Namespace) -> int:
    app = await services.apps.delete(args.app)
    emit({"deleted": app.client_id, "name": app.name}, as_json=args.json)
    return 0


async def _secret_create(services: Services, args: argparse.Namespace) -> int:
    try:
        secret = await services.apps.create_secret(args.app)
    except Conflict as err:
        raise Conflict(
            f"{err} To revoke: ostiary apps secrets revoke {args.app} SECRET_ID"
        ) from None
    emit(_secret_view(secret), as_json=args.json)
    if not args.json:
        print("\nThe client secret is shown only this once: store it now.")
    return 0


async def _secret_list(services: Services, args: argparse.Namespace) -> int:
    rows = [
        {
            "id": s.id,
            "hint": f"…{s.hint}",
            "status": "active" if s.active else "revoked",
            "created_at": s.created_at,
            "last_used_at": s.last_used_at,
        }
        for s in await services.apps.list_secrets(args.app)
    ]
    emit(rows, as_json=args.json, columns=["id", "hint", "status", "created_at", "last_used_at"])
    return 0


async def _secret_revoke(services: Services, args: argparse.Namespace) -> int:
    await services.apps.revoke_secret(args.app, args.secret_id)
    emit({"revoked": args.secret_id}, as_json=args.json)
    return 0
