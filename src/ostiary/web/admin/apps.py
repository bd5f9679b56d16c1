"""Applications: list, create, settings (credentials, secrets, behaviour), redirect URLs, delete.

Every change goes through ``AppService``, which checks the whole app before saving: a rejected
value is shown next to its field and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ostiary.domain.apps import MAX_ACTIVE_SECRETS, App, AppType
from ostiary.services.apps import CONSOLE_NAME, MAX_REFRESH_REUSE_INTERVAL
from ostiary.services.errors import Conflict, InvalidInput
from ostiary.web.admin.kit import Page, admin_page
from ostiary.web.admin.reveal import forget_secret, hand_over_secret, take_secret

__all__ = [
    "app_delete",
    "app_redirects",
    "app_settings",
    "apps_list",
    "apps_new",
    "home",
    "secret_create",
    "secret_revoke",
]

TYPES: dict[str, tuple[str, str]] = {
    AppType.WEB: (
        "Web application",
        "Server-side apps that can keep a secret. They get a client secret.",
    ),
    AppType.SPA: (
        "Single-page application",
        "Browser-based apps. A public client: no secret, PKCE is always enforced.",
    ),
    AppType.NATIVE: (
        "Native application",
        "Desktop and mobile apps. A public client: no secret, PKCE is always enforced.",
    ),
}
URL_FIELDS = (
    "redirect_uris",
    "initiate_login_uri",
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
)


def _path(app: App, tail: str = "") -> str:
    return f"/admin/apps/{app.id}{tail}"


@admin_page("apps")
async def home(page: Page) -> Response:
    """``/admin``: the dashboard opens on the applications."""
    return page.redirect("/admin/apps")


@admin_page("apps")
async def apps_list(page: Page) -> Response:
    apps = sorted(await page.services.apps.all(), key=lambda a: (not a.is_console, a.created_at))
    return page.render("admin/apps_list.html", {"apps": apps, "types": TYPES})


@admin_page("apps")
async def apps_new(page: Page) -> Response:
    values = {"name": page.text("name"), "type": page.text("type") or "web"}
    if page.form is None:
        return _new_form(page, values, {})
    try:
        app, secret = await page.services.apps.create(values["name"], values["type"])
    except InvalidInput as err:
        return _new_form(page, values, {err.field: str(err)}, status_code=400)
    response = page.redirect(_path(app), notice=f"{app.name} was created.")
    if secret is not None:
        hand_over_secret(page.request, response, app.id, secret.secret.id, secret.value)
    return response


def _new_form(
    page: Page, values: dict[str, str], errors: dict[str, str], *, status_code: int = 200
) -> Response:
    return page.render(
        "admin/app_new.html",
        {"values": values, "errors": errors, "types": TYPES},
        status_code=status_code,
    )


# -- settings ------------------------------------------------------------------------------------


@admin_page("apps")
async def app_settings(page: Page) -> Response:
    app = await page.services.apps.get(page.param("app_id"))
    if page.form is None:
        revealed = take_secret(page.request, app.id)
        response = await _settings_page(page, app, new_secret=revealed)
        if revealed is not None:
            forget_secret(page.request, response, app.id)
        return response
    values = _settings_values(page, app)
    try:
        changes = _settings_changes(app, values)
        saved = await page.services.apps.update(app.id, **changes)
    except InvalidInput as err:
        return await _settings_page(
            page, app, values=values, errors={err.field: str(err)}, status_code=400
        )
    return page.redirect(_path(saved), notice="Settings saved.")


def _settings_values(page: Page, app: App) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": page.text("name"),
        "access_token_ttl": page.text("access_token_ttl"),
        "refresh_reuse_interval": page.text("refresh_reuse_interval"),
        "third_party": page.flag("third_party"),
        "enforce_pkce": page.flag("enforce_pkce") if app.type is AppType.WEB else True,
        "management_api_access": (
            page.flag("management_api_access") if app.type is AppType.WEB else False
        ),
        "introspect_all_tokens": (
            page.flag("introspect_all_tokens") if app.type is AppType.WEB else False
        ),
    }
    return values


def _stored_values(app: App) -> dict[str, Any]:
    return {
        "name": app.name,
        "access_token_ttl": "" if app.access_token_ttl is None else str(app.access_token_ttl),
        "refresh_reuse_interval": str(app.refresh_reuse_interval),
        "third_party": app.third_party,
        "enforce_pkce": app.requires_pkce,
        "management_api_access": app.management_api_access,
        "introspect_all_tokens": app.introspect_all_tokens,
    }


def _seconds(field: str, text: str, *, optional: bool) -> int | None:
    if not text and optional:
        return None
    try:
        value = int(text)
    except ValueError:
        raise InvalidInput(field, "Enter a whole number of seconds.", rule="not_a_number") from None
    if value < 0:
        raise InvalidInput(field, "Enter a number of seconds, 0 or more.", rule="negative")
    return value


def _settings_changes(app: App, values: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "name": values["name"],
        "third_party": values["third_party"],
        "access_token_ttl": _seconds("access_token_ttl", values["access_token_ttl"], optional=True),
        "refresh_reuse_interval": _seconds(
            "refresh_reuse_interval", values["refresh_reuse_interval"] or "0", optional=False
        ),
    }
    if app.type is AppType.WEB:
        changes["enforce_pkce"] = values["enforce_pkce"]
        changes["management_api_access"] = values["management_api_access"]
        changes["introspect_all_tokens"] = values["introspect_all_tokens"]
    return changes


async def _settings_page(
    page: Page,
    app: App,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    new_secret: tuple[str, str] | None = None,
    secret_error: str | None = None,
    status_code: int = 200,
) -> Response:
    secrets = await page.services.apps.list_secrets(app.id) if app.type is AppType.WEB else []
    settings = page.services.settings
    return page.render(
        "admin/app_settings.html",
        {
            "app": app,
            "types": TYPES,
            "tab": "settings",
            "values": values or _stored_values(app),
            "errors": errors or {},
            "secrets": [s for s in secrets if s.active],
            "revoked_count": sum(1 for s in secrets if not s.active),
            "max_secrets": MAX_ACTIVE_SECRETS,
            "secrets_full": sum(1 for s in secrets if s.active) >= MAX_ACTIVE_SECRETS,
            "new_secret": None
            if new_secret is None
            else {"id": new_secret[0], "value": new_secret[1]},
            "secret_error": secret_error,
            "default_ttl": settings.access_token_ttl,
            "idle_timeout": settings.session_idle_timeout,
            "max_reuse": MAX_REFRESH_REUSE_INTERVAL,
            "console_name": CONSOLE_NAME,
        },
        status_code=status_code,
    )


# -- secrets -------------------------------------------------------------------------------------


@admin_page("apps")
async def secret_create(page: Page) -> Response:
    """Generate a secret; the app's page shows it once (see ``reveal``)."""
    app = await page.services.apps.get(page.param("app_id"))
    try:
        secret = await page.services.apps.create_secret(app.id)
    except (Conflict, InvalidInput) as err:
        return await _settings_page(page, app, secret_error=str(err), status_code=409)
    response = page.redirect(_path(app), notice="A new client secret was generated.")
    hand_over_secret(page.request, response, app.id, secret.secret.id, secret.value)
    return response


@admin_page("apps")
async def secret_revoke(page: Page) -> Response:
    app = await page.services.apps.get(page.param("app_id"))
    secret_id = page.param("secret_id")
    secret = next(
        (
            s
            for s in await page.services.apps.list_secrets(app.id)
            if s.id == secret_id and s.active
        ),
        None,
    )
    if secret is None:
        return page.problem(
            "Secret not found",
            f"{app.name} has no active secret {secret_id}; it may have been revoked already.",
            status_code=404,
            back_url=_path(app),
            back_label=f"Back to {app.name}",
        )
    if page.form is None:
        active = sum(1 for s in await page.services.apps.list_secrets(app.id) if s.active)
        return page.render(
            "admin/confirm.html",
            {
                "title": f"Revoke the secret ending in {secret.hint}?",
                "lede": f"Client secret of {app.name}",
                "message": (
                    "Anything that still uses this secret stops working at once: its token "
                    "requests are refused with invalid_client. Deploy the other secret first."
                ),
                "warning": (
                    "This is the app's only active secret: the app cannot get tokens until you "
                    "generate a new one."
                    if active == 1
                    else None
                ),
                "action": _path(app, f"/secrets/{secret.id}/revoke"),
                "button": "Revoke secret",
                "cancel_url": _path(app),
                "crumbs": [("Applications", "/admin/apps"), (app.name, _path(app))],
            },
        )
    await page.services.apps.revoke_secret(app.id, secret.id)
    return page.redirect(_path(app), notice=f"The secret ending in {secret.hint} was revoked.")


# -- redirect URLs -------------------------------------------------------------------------------


@admin_page("apps")
async def app_redirects(page: Page) -> Response:
    app = await page.services.apps.get(page.param("app_id"))
    if page.form is None:
        return _redirects_page(page, app, _stored_urls(app), {})
    if app.is_console:
        return page.problem(
            "These URLs are fixed",
            f"{CONSOLE_NAME}'s URLs follow the issuer ({page.services.settings.issuer}) so "
            "administrators can always sign in; they cannot be edited.",
            status_code=409,
            back_url=_path(app, "/redirects"),
            back_label="Back to the redirects",
        )
    values = {field: page.text(field) for field in URL_FIELDS}
    changes: dict[str, Any] = {
        "redirect_uris": page.lines("redirect_uris"),
        "post_logout_redirect_uris": page.lines("post_logout_redirect_uris"),
        "initiate_login_uri": values["initiate_login_uri"] or None,
    }
    if app.type is AppType.WEB:
        changes["backchannel_logout_uri"] = values["backchannel_logout_uri"] or None
    try:
        await page.services.apps.update(app.id, **changes)
    except InvalidInput as err:
        errors: dict[str, list[str]] = {}
        for problem in err.problems:
            errors.setdefault(problem.field, []).append(problem.message)
        return _redirects_page(page, app, values, errors, status_code=400)
    return page.redirect(_path(app, "/redirects"), notice="Redirect URLs saved.")


def _stored_urls(app: App) -> dict[str, str]:
    return {
        "redirect_uris": "\n".join(app.redirect_uris),
        "initiate_login_uri": app.initiate_login_uri or "",
        "post_logout_redirect_uris": "\n".join(app.post_logout_redirect_uris),
        "backchannel_logout_uri": app.backchannel_logout_uri or "",
    }


def _redirects_page(
    page: Page,
    app: App,
    values: dict[str, str],
    errors: dict[str, list[str]],
    *,
    status_code: int = 200,
) -> Response:
    return page.render(
        "admin/app_redirects.html",
        {
            "app": app,
            "types": TYPES,
            "tab": "redirects",
            "values": values,
            "errors": errors,
            "error_count": sum(len(messages) for messages in errors.values()),
            "production": page.services.settings.production,
            "console_name": CONSOLE_NAME,
        },
        status_code=status_code,
    )


# -- delete --------------------------------------------------------------------------------------


@admin_page("apps")
async def app_delete(page: Page) -> Response:
    app = await page.services.apps.get(page.param("app_id"))
    if app.is_console:
        return page.problem(
            f"{CONSOLE_NAME} cannot be deleted",
            f"{CONSOLE_NAME} is how administrators sign in to this dashboard, so it cannot be "
            "deleted.",
            status_code=409,
            back_url=_path(app),
            back_label=f"Back to {app.name}",
        )
    if page.form is None:
        return page.render(
            "admin/confirm.html",
            {
                "title": f"Delete {app.name}?",
                "lede": f"{TYPES[app.type][0]} · {app.client_id}",
                "message": (
                    "Its client ID stops working at once: sign-ins through it are refused, its "
                    "refresh tokens are revoked and its secrets are destroyed. Users stay "
                    "signed in to your other apps. This cannot be undone."
                ),
                "warning": None,
                "action": _path(app, "/delete"),
                "button": "Delete application",
                "cancel_url": _path(app),
                "crumbs": [("Applications", "/admin/apps"), (app.name, _path(app))],
            },
        )
    try:
        await page.services.apps.delete(app.id)
    except Conflict as err:
        return page.problem(
            "Not deleted", str(err), status_code=409, back_url=_path(app), back_label="Back"
        )
    return page.redirect("/admin/apps", notice=f"{app.name} was deleted.")
