"""Users: list (with a search), create, details with sessions and memberships, delete."""

from __future__ import annotations

from starlette.responses import Response

from ostiary.domain.users import ADMIN_ROLE
from ostiary.services.errors import Conflict, InvalidInput
from ostiary.web.admin.kit import Page, admin_page
from ostiary.web.admin.sessions import session_rows

__all__ = ["user_delete", "user_detail", "users_list", "users_new"]


@admin_page("users")
async def users_list(page: Page) -> Response:
    search = page.query("q").strip()
    users = await page.services.users.all()
    if search:
        needle = search.lower()
        users = [u for u in users if needle in u.email.lower() or needle in (u.name or "").lower()]
    users.sort(key=lambda u: u.created_at, reverse=True)
    return page.render(
        "admin/users_list.html", {"users": users, "search": search, "admin_role": ADMIN_ROLE}
    )


@admin_page("users")
async def users_new(page: Page) -> Response:
    email, name, verified = page.text("email"), page.text("name"), page.flag("email_verified")
    values = {"email": email, "name": name, "email_verified": verified}
    if page.form is None:
        return _new_form(page, values, {})
    password = page.form.get("password")
    password = password if isinstance(password, str) else ""
    if not password:
        return _new_form(page, values, {"password": "Enter a password."}, status_code=400)
    try:
        user = await page.services.users.create(
            email, password=password, name=name or None, email_verified=verified
        )
    except InvalidInput as err:
        return _new_form(page, values, {err.field: str(err)}, status_code=400)
    except Conflict as err:
        return _new_form(page, values, {"email": str(err)}, status_code=409)
    return page.redirect(f"/admin/users/{user.id}", notice=f"{user.email} was created.")


def _new_form(
    page: Page, values: dict[str, object], errors: dict[str, str], *, status_code: int = 200
) -> Response:
    return page.render(
        "admin/user_new.html",
        {
            "values": values,
            "errors": errors,
            "password_min_length": page.services.settings.password_min_length,
        },
        status_code=status_code,
    )


@admin_page("users")
async def user_detail(page: Page) -> Response:
    user = await page.services.users.get(page.param("user_id"))
    sessions = await page.services.sessions.for_user(user.id)
    memberships = await page.services.organizations.memberships_of(user.id)
    rows = await session_rows(page, sessions)
    return page.render(
        "admin/user_detail.html",
        {
            "user": user,
            "sessions": rows,
            "memberships": memberships,
            "admin_role": ADMIN_ROLE,
            "is_self": user.id == page.signed_in.user.id,
        },
    )


@admin_page("users")
async def user_delete(page: Page) -> Response:
    user = await page.services.users.get(page.param("user_id"))
    back = f"/admin/users/{user.id}"
    if user.id == page.signed_in.user.id:
        return page.problem(
            "You cannot delete yourself",
            "You are signed in to the dashboard as this user. Ask another administrator to "
            "delete this account.",
            status_code=409,
            back_url=back,
            back_label="Back to the user",
        )
    if page.form is None:
        live = [
            s
            for s in await page.services.sessions.for_user(user.id)
            if s.is_live(page.services.clock.now())
        ]
        return page.render(
            "admin/confirm.html",
            {
                "title": f"Delete {user.email}?",
                "lede": user.name or user.id,
                "message": (
                    "The account, its password, its memberships and its refresh tokens are "
                    "deleted. Apps with a back-channel logout URL are told the user signed out. "
                    "This cannot be undone."
                ),
                "warning": (
                    f"{user.email} is signed in right now ({len(live)} live session"
                    f"{'s' if len(live) != 1 else ''}); every session ends at once."
                    if live
                    else None
                ),
                "action": f"{back}/delete",
                "button": "Delete user",
                "cancel_url": back,
                "crumbs": [("Users", "/admin/users"), (user.email, back)],
            },
        )
    await page.services.logout.delete_user(user)
    return page.redirect("/admin/users", notice=f"{user.email} was deleted.")
