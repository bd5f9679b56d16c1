"""Organizations: list, create, details (settings and members: add by email with roles, change
roles or status, remove), delete."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ostiary.domain.organizations import Membership, MembershipStatus, Organization
from ostiary.services.errors import Conflict, InvalidInput, NotFound
from ostiary.web.admin.kit import Page, admin_page

__all__ = [
    "domain_add",
    "domain_remove",
    "domain_verify",
    "member_add",
    "member_edit",
    "member_remove",
    "org_delete",
    "org_detail",
    "orgs_list",
    "orgs_new",
]

STATUSES = {
    MembershipStatus.ACTIVE: "Active",
    MembershipStatus.PENDING_INVITE: "Invited",
    MembershipStatus.SUSPENDED: "Suspended",
}


def _path(org: Organization, tail: str = "") -> str:
    return f"/admin/organizations/{org.id}{tail}"


@admin_page("organizations")
async def orgs_list(page: Page) -> Response:
    orgs = sorted(await page.services.organizations.all(), key=lambda o: o.display_name.lower())
    return page.render("admin/orgs_list.html", {"organizations": orgs})


@admin_page("organizations")
async def orgs_new(page: Page) -> Response:
    values = {
        "display_name": page.text("display_name"),
        "slug": page.text("slug"),
        "external_id": page.text("external_id"),
    }
    if page.form is None:
        return page.render("admin/org_new.html", {"values": values, "errors": {}})
    try:
        org = await page.services.organizations.create(
            values["display_name"],
            slug=values["slug"] or None,
            external_id=values["external_id"] or None,
        )
    except (InvalidInput, Conflict) as err:
        field = err.field if isinstance(err, InvalidInput) else "slug"
        return page.render(
            "admin/org_new.html", {"values": values, "errors": {field: str(err)}}, status_code=400
        )
    return page.redirect(_path(org), notice=f"{org.display_name} was created.")


@admin_page("organizations")
async def org_detail(page: Page) -> Response:
    org = await page.services.organizations.get(page.param("org_id"))
    if page.form is None:
        return await _detail(page, org)
    values = {
        "display_name": page.text("display_name"),
        "slug": page.text("slug"),
        "external_id": page.text("external_id"),
    }
    try:
        saved = await page.services.organizations.update(
            org.id,
            display_name=values["display_name"],
            slug=values["slug"],
            external_id=values["external_id"] or None,
        )
    except (InvalidInput, Conflict) as err:
        field = err.field if isinstance(err, InvalidInput) else "slug"
        return await _detail(page, org, values=values, errors={field: str(err)}, status_code=400)
    return page.redirect(_path(saved), notice="Organization saved.")


async def _detail(
    page: Page,
    org: Organization,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    member_values: dict[str, Any] | None = None,
    member_errors: dict[str, str] | None = None,
    domain_values: dict[str, str] | None = None,
    domain_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    memberships = await page.services.organizations.members(org.id)
    domains = await page.services.domains.of_organization(org.id)
    users = {u.id: u for u in await page.services.users.all()}
    roles = await page.services.roles.all()
    members = [(m, users.get(m.user_id)) for m in memberships]
    return page.render(
        "admin/org_detail.html",
        {
            "org": org,
            "values": values
            or {
                "display_name": org.display_name,
                "slug": org.slug,
                "external_id": org.external_id or "",
            },
            "errors": errors or {},
            "members": members,
            "roles": roles,
            "statuses": STATUSES,
            "member_values": member_values or {"email": "", "roles": ["member"]},
            "member_errors": member_errors or {},
            "domains": domains,
            "domain_values": domain_values or {"domain": ""},
            "domain_errors": domain_errors or {},
            "manual_verification": not page.services.settings.production,
        },
        status_code=status_code,
    )


# -- domains -------------------------------------------------------------------------------------


@admin_page("organizations")
async def domain_add(page: Page) -> Response:
    org = await page.services.organizations.get(page.param("org_id"))
    values = {"domain": page.text("domain")}
    try:
        domain = await page.services.domains.add(org.id, values["domain"])
    except (InvalidInput, Conflict) as err:
        return await _detail(
            page, org, domain_values=values, domain_errors={"domain": str(err)}, status_code=400
        )
    return page.redirect(
        _path(org, "#domains"),
        notice=f"{domain.name} was added. Publish its TXT record, then verify it.",
    )


@admin_page("organizations")
async def domain_verify(page: Page) -> Response:
    org = await page.services.organizations.get(page.param("org_id"))
    manual = page.text("method") == "manual"
    try:
        domain = await page.services.domains.verify(org.id, page.param("domain_id"), manual=manual)
    except (InvalidInput, Conflict) as err:
        return await _detail(page, org, domain_errors={"verify": str(err)}, status_code=409)
    return page.redirect(_path(org, "#domains"), notice=f"{domain.name} is verified.")


@admin_page("organizations")
async def domain_remove(page: Page) -> Response:
    org = await page.services.organizations.get(page.param("org_id"))
    domain = await page.services.domains.remove(org.id, page.param("domain_id"))
    return page.redirect(_path(org, "#domains"), notice=f"{domain.name} was removed.")


# -- members -------------------------------------------------------------------------------------


@admin_page("organizations")
async def member_add(page: Page) -> Response:
    org = await page.services.organizations.get(page.param("org_id"))
    values: dict[str, Any] = {"email": page.text("email"), "roles": page.texts("roles")}
    try:
        user = await page.services.users.get(values["email"]) if values["email"] else None
    except NotFound:
        user = None
    if user is None:
        message = (
            f"There is no user with the email {values['email']}. Create the user first."
            if values["email"]
            else "Enter the email of an existing user."
        )
        return await _detail(
            page, org, member_values=values, member_errors={"email": message}, status_code=400
        )
    try:
        await page.services.organizations.add_member(org.id, user.id, roles=values["roles"])
    except (InvalidInput, Conflict) as err:
        field = err.field if isinstance(err, InvalidInput) else "email"
        return await _detail(
            page, org, member_values=values, member_errors={field: str(err)}, status_code=400
        )
    return page.redirect(_path(org), notice=f"{user.email} was added to {org.display_name}.")


async def _member(page: Page) -> tuple[Organization, Membership, str]:
    org = await page.services.organizations.get(page.param("org_id"))
    membership = await page.services.organizations.membership(org.id, page.param("user_id"))
    try:
        email = (await page.services.users.get(membership.user_id)).email
    except NotFound:
        email = membership.user_id
    return org, membership, email


@admin_page("organizations")
async def member_edit(page: Page) -> Response:
    org, membership, email = await _member(page)
    roles = await page.services.roles.all()
    context: dict[str, Any] = {
        "org": org,
        "membership": membership,
        "email": email,
        "roles": roles,
        "statuses": STATUSES,
        "values": {"roles": list(membership.roles), "status": membership.status.value},
        "errors": {},
    }
    if page.form is None:
        return page.render("admin/member_edit.html", context)
    chosen, status = page.texts("roles"), page.text("status")
    try:
        await page.services.organizations.update_member(
            org.id, membership.user_id, roles=chosen, status=status
        )
    except InvalidInput as err:
        context.update(values={"roles": chosen, "status": status}, errors={err.field: str(err)})
        return page.render("admin/member_edit.html", context, status_code=400)
    return page.redirect(_path(org), notice=f"The membership of {email} was saved.")


@admin_page("organizations")
async def member_remove(page: Page) -> Response:
    org, membership, email = await _member(page)
    if page.form is None:
        return page.render(
            "admin/confirm.html",
            {
                "title": f"Remove {email} from {org.display_name}?",
                "lede": f"Roles: {', '.join(membership.roles) or 'none'}",
                "message": (
                    "The user keeps their account but loses access to this organization: new "
                    "tokens no longer carry its roles and permissions. Tokens already issued "
                    "keep theirs until they expire."
                ),
                "warning": None,
                "action": _path(org, f"/members/{membership.user_id}/remove"),
                "button": "Remove member",
                "cancel_url": _path(org),
                "crumbs": [
                    ("Organizations", "/admin/organizations"),
                    (org.display_name, _path(org)),
                ],
            },
        )
    await page.services.organizations.remove_member(org.id, membership.user_id)
    return page.redirect(_path(org), notice=f"{email} was removed from {org.display_name}.")


# -- delete --------------------------------------------------------------------------------------


@admin_page("organizations")
async def org_delete(page: Page) -> Response:
    org = await page.services.organizations.get(page.param("org_id"))
    if page.form is None:
        count = len(await page.services.organizations.members(org.id))
        return page.render(
            "admin/confirm.html",
            {
                "title": f"Delete {org.display_name}?",
                "lede": f"{org.slug} · {org.id}",
                "message": (
                    "The organization and its memberships are deleted. The users keep their "
                    "accounts. This cannot be undone."
                ),
                "warning": (
                    f"It has {count} member{'s' if count != 1 else ''}, who lose access to it."
                    if count
                    else None
                ),
                "action": _path(org, "/delete"),
                "button": "Delete organization",
                "cancel_url": _path(org),
                "crumbs": [
                    ("Organizations", "/admin/organizations"),
                    (org.display_name, _path(org)),
                ],
            },
        )
    await page.services.organizations.delete(org.id)
    return page.redirect("/admin/organizations", notice=f"{org.display_name} was deleted.")
