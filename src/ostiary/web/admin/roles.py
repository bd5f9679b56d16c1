"""Roles: list, create (permissions, extends), edit, delete. ``admin`` and ``member`` are built
in: editable, never deleted."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from ostiary.domain.organizations import DEFAULT_ROLES, Role
from ostiary.services.errors import Conflict, InvalidInput
from ostiary.web.admin.kit import Page, admin_page

__all__ = ["role_delete", "role_edit", "roles_list", "roles_new"]

SEPARATORS = re.compile(r"[\s,]+")


def _path(role: Role, tail: str = "") -> str:
    return f"/admin/roles/{role.id}{tail}"


def _permissions(text: str) -> list[str]:
    return [p for p in SEPARATORS.split(text) if p]


def _values(page: Page) -> dict[str, Any]:
    return {
        "name": page.text("name"),
        "display_name": page.text("display_name"),
        "description": page.text("description"),
        "permissions": page.text("permissions"),
        "extends": page.text("extends"),
    }


@admin_page("roles")
async def roles_list(page: Page) -> Response:
    roles = await page.services.roles.all()
    by_name = {r.name: r for r in roles}
    effective = {r.name: await page.services.roles.effective((r.name,)) for r in roles}
    roles.sort(key=lambda r: (r.name not in DEFAULT_ROLES, r.name))
    return page.render(
        "admin/roles_list.html",
        {"roles": roles, "effective": effective, "built_in": DEFAULT_ROLES, "by_name": by_name},
    )


async def _form(
    page: Page,
    role: Role | None,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    status_code: int = 200,
) -> Response:
    others = [r for r in await page.services.roles.all() if role is None or r.name != role.name]
    return page.render(
        "admin/role_form.html",
        {
            "role": role,
            "values": values,
            "errors": errors,
            "others": others,
            "built_in": DEFAULT_ROLES,
        },
        status_code=status_code,
    )


@admin_page("roles")
async def roles_new(page: Page) -> Response:
    values = _values(page)
    if page.form is None:
        return await _form(page, None, values, {})
    try:
        role = await page.services.roles.create(
            values["name"],
            display_name=values["display_name"] or None,
            description=values["description"] or None,
            permissions=_permissions(values["permissions"]),
            extends=values["extends"] or None,
        )
    except InvalidInput as err:
        return await _form(page, None, values, {err.field: str(err)}, status_code=400)
    except Conflict as err:
        return await _form(page, None, values, {"name": str(err)}, status_code=409)
    return page.redirect(_path(role), notice=f"The role {role.name} was created.")


@admin_page("roles")
async def role_edit(page: Page) -> Response:
    role = await page.services.roles.get(page.param("role_id"))
    if page.form is None:
        values = {
            "name": role.name,
            "display_name": role.display_name,
            "description": role.description or "",
            "permissions": "\n".join(role.permissions),
            "extends": role.extends or "",
        }
        return await _form(page, role, values, {})
    values = {**_values(page), "name": role.name}
    try:
        await page.services.roles.update(
            role.id,
            display_name=values["display_name"] or role.name,
            description=values["description"] or None,
            permissions=_permissions(values["permissions"]),
            extends=values["extends"] or None,
        )
    except InvalidInput as err:
        return await _form(page, role, values, {err.field: str(err)}, status_code=400)
    return page.redirect(_path(role), notice=f"The role {role.name} was saved.")


@admin_page("roles")
async def role_delete(page: Page) -> Response:
    role = await page.services.roles.get(page.param("role_id"))
    if role.name in DEFAULT_ROLES:
        return page.problem(
            f"The {role.name} role is built in",
            "The built-in roles admin and member cannot be deleted; you can change their "
            "permissions.",
            status_code=409,
            back_url=_path(role),
            back_label="Back to the role",
        )
    if page.form is None:
        return page.render(
            "admin/confirm.html",
            {
                "title": f"Delete the role {role.name}?",
                "lede": role.display_name,
                "message": (
                    "Members who hold it lose its permissions in new tokens; tokens already "
                    "issued keep them until they expire. This cannot be undone."
                ),
                "warning": None,
                "action": _path(role, "/delete"),
                "button": "Delete role",
                "cancel_url": _path(role),
                "crumbs": [("Roles", "/admin/roles"), (role.name, _path(role))],
            },
        )
    try:
        await page.services.roles.delete(role.id)
    except Conflict as err:
        return page.problem(
            "Not deleted", str(err), status_code=409, back_url=_path(role), back_label="Back"
        )
    return page.redirect("/admin/roles", notice=f"The role {role.name} was deleted.")
