"""``ostiary organizations``: customer tenants and their email domains."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ostiary.cli.output import emit
from ostiary.domain.domains import Domain
from ostiary.domain.organizations import Organization
from ostiary.services.container import Services

__all__ = ["register"]

LIST_COLUMNS = ["id", "slug", "display_name", "created_at"]
DOMAIN_COLUMNS = ["id", "name", "status", "record_name", "record_value"]


def register(sub: Any) -> None:
    orgs = sub.add_parser("organizations", help="organizations (customer tenants) and domains")
    cmds = orgs.add_subparsers(dest="organizations_command", required=True, metavar="ACTION")

    create = cmds.add_parser("create", help="create an organization")
    create.add_argument("--name", required=True, help="the name people see")
    create.add_argument("--slug", help="a unique short name (derived from the name if left out)")
    create.add_argument("--external-id", help="your own id for it (unique)")
    create.add_argument("--json", action="store_true")
    create.set_defaults(handler=_create)

    listing = cmds.add_parser("list", help="list organizations")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)

    for name, handler, help_text in (
        ("show", _show, "show an organization with its domains"),
        ("delete", _delete, "delete an organization (its memberships and domains go too)"),
    ):
        p = cmds.add_parser(name, help=help_text)
        p.add_argument("org", metavar="ORG", help="org_… id or slug")
        p.add_argument("--json", action="store_true")
        p.set_defaults(handler=handler)

    domains = cmds.add_parser("domains", help="an organization's email domains")
    dcmds = domains.add_subparsers(dest="domains_command", required=True, metavar="ACTION")
    d_list = dcmds.add_parser("list", help="list the domains with their DNS records")
    d_add = dcmds.add_parser("add", help="claim a domain; prints the TXT record to publish")
    d_verify = dcmds.add_parser("verify", help="check the domain's TXT record in DNS")
    d_remove = dcmds.add_parser("remove", help="remove a domain")
    for p in (d_list, d_add, d_verify, d_remove):
        p.add_argument("org", metavar="ORG", help="org_… id or slug")
    for p in (d_add, d_verify, d_remove):
        p.add_argument("domain", metavar="DOMAIN", help="a domain name (or its dom_… id)")
    d_verify.add_argument(
        "--manual",
        action="store_true",
        help="development only: mark it verified without the DNS check",
    )
    for p in (d_list, d_add, d_verify, d_remove):
        p.add_argument("--json", action="store_true")
    d_list.set_defaults(handler=_domains)
    d_add.set_defaults(handler=_domain_add)
    d_verify.set_defaults(handler=_domain_verify)
    d_remove.set_defaults(handler=_domain_remove)


def org_view(org: Organization) -> dict[str, Any]:
    return {
        "id": org.id,
        "display_name": org.display_name,
        "slug": org.slug,
        "external_id": org.external_id,
        "created_at": org.created_at,
    }


def domain_view(domain: Domain) -> dict[str, Any]:
    return {
        "id": domain.id,
        "name": domain.name,
        "status": "verified" if domain.verified else "pending",
        "verified_at": domain.verified_at,
        "verified_by": domain.verified_by,
        "record_type": "TXT",
        "record_name": domain.record_name,
        "record_value": domain.record_value,
    }


async def _create(services: Services, args: argparse.Namespace) -> int:
    org = await services.organizations.create(
        args.name, slug=args.slug, external_id=args.external_id
    )
    emit(org_view(org), as_json=args.json)
    return 0


async def _list(services: Services, args: argparse.Namespace) -> int:
    orgs = await services.organizations.all()
    emit([org_view(o) for o in orgs], as_json=args.json, columns=LIST_COLUMNS)
    return 0


async def _show(services: Services, args: argparse.Namespace) -> int:
    org = await services.organizations.find(args.org)
    view = org_view(org)
    domains = await services.domains.of_organization(org.id)
    if args.json:
        view["domains"] = [domain_view(d) for d in domains]
    else:
        view["domains"] = [f"{d.name} ({'verified' if d.verified else 'pending'})" for d in domains]
    view["members"] = len(await services.organizations.members(org.id))
    emit(view, as_json=args.json)
    return 0


async def _delete(services: Services, args: argparse.Namespace) -> int:
    org = await services.organizations.delete((await services.organizations.find(args.org)).id)
    emit({"deleted": org.id, "display_name": org.display_name}, as_json=args.json)
    return 0


async def _domains(services: Services, args: argparse.Namespace) -> int:
    org = await services.organizations.find(args.org)
    rows = [domain_view(d) for d in await services.domains.of_organization(org.id)]
    emit(rows, as_json=args.json, columns=DOMAIN_COLUMNS)
    return 0


async def _domain_add(services: Services, args: argparse.Namespace) -> int:
    org = await services.organizations.find(args.org)
    domain = await services.domains.add(org.id, args.domain)
    emit(domain_view(domain), as_json=args.json)
    if not args.json:
        print(
            f"\nTo verify {domain.name}, publish this DNS record, then run "
            f"`ostiary organizations domains verify {org.slug} {domain.name}`:\n"
            f'  {domain.record_name}  TXT  "{domain.record_value}"',
            file=sys.stderr,
        )
    return 0


async def _domain_verify(services: Services, args: argparse.Namespace) -> int:
    org = await services.organizations.find(args.org)
    domain = await services.domains.verify(org.id, args.domain, manual=args.manual)
    emit(domain_view(domain), as_json=args.json)
    return 0


async def _domain_remove(services: Services, args: argparse.Namespace) -> int:
    org = await services.organizations.find(args.org)
    domain = await services.domains.remove(org.id, args.domain)
    emit({"removed": domain.id, "name": domain.name}, as_json=args.json)
    return 0
