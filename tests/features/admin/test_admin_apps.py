"""Applications in the dashboard: create, secrets, settings, redirect URLs, delete."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from pathlib import Path

import httpx
from admin_helpers import ADMIN_EMAIL, AdminBrowser, field_error

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.domain.apps import App
from ostiary.services.clock import Clock
from ostiary.web.app import create_web_app

CALLBACK = "https://billing.example.com/callback"


async def create_app(admin: AdminBrowser, name: str, app_type: str) -> tuple[App, str | None]:
    """Create an app through the form; returns it and the secret shown once (web apps)."""
    created = await admin.post("/admin/apps/new", {"name": name, "type": app_type})
    assert 303 == created.status_code, created.text[:800]
    page = await admin.follow(created)
    assert 200 == page.status_code
    app = await admin.services.apps.get(created.headers["location"].rsplit("/", 1)[1])
    secret = _revealed(page.text)
    return app, secret


def _revealed(html: str) -> str | None:
    found = re.search(r'id="new-secret-value" type="text" value="([^"]+)"', html)
    return found.group(1) if found else None


async def test_web_app_secret_is_shown_exactly_once(admin: AdminBrowser) -> None:
    """Creating a web app shows its first secret on the next page, once; the value works for
    client authentication; reloading shows only its masked end."""
    app, secret = await create_app(admin, "Billing portal", "web")
    assert "Billing portal" == app.name and "web" == app.type
    assert secret is not None and secret.startswith("sec_")
    assert app == await admin.services.apps.authenticate(app.client_id, secret)

    again = await admin.get(f"/admin/apps/{app.id}")
    assert 200 == again.status_code
    assert secret not in again.text
    assert _revealed(again.text) is None
    assert f"sec_••••••••{secret[-4:]}" in again.text
    assert app.client_id in again.text


async def test_public_apps_have_no_secrets_and_pkce_stays_on(admin: AdminBrowser) -> None:
    """A SPA shows PKCE locked on and no secrets; saving its settings keeps PKCE on, and asking
    for a secret is refused with the service's explanation."""
    app, secret = await create_app(admin, "Team calendar", "spa")
    assert secret is None
    page = await admin.get(f"/admin/apps/{app.id}")
    assert "Generate new secret" not in page.text
    assert "Always on" in page.text

    saved = await admin.post(
        f"/admin/apps/{app.id}",
        {"name": "Team calendar", "access_token_ttl": "", "refresh_reuse_interval": "0"},
    )
    assert 303 == saved.status_code
    assert (await admin.services.apps.get(app.id)).requires_pkce

    refused = await admin.post(f"/admin/apps/{app.id}/secrets")
    assert 409 == refused.status_code
    assert "Client secrets are for web apps only" in refused.text


async def test_a_third_active_secret_is_refused_with_the_clear_message(
    admin: AdminBrowser,
) -> None:
    """A second secret is generated and shown once; a third is refused with the service's
    message and no secret is added."""
    app, first = await create_app(admin, "Billing portal", "web")
    generated = await admin.post(f"/admin/apps/{app.id}/secrets")
    page = await admin.follow(generated)
    second = _revealed(page.text)
    assert second is not None and second != first
    assert "A new client secret was generated." in page.text

    refused = await admin.post(f"/admin/apps/{app.id}/secrets")
    assert 409 == refused.status_code
    assert (
        "Billing portal already has 2 active secrets, the most allowed. Revoke one of them "
        "first (the one nothing uses any more), then generate the new one."
    ) == _secret_error(refused.text)
    assert _revealed(refused.text) is None
    assert 2 == len([s for s in await admin.services.apps.list_secrets(app.id) if s.active])


def _secret_error(html: str) -> str | None:
    found = re.search(r'id="secret-error">.*?<p>(.*?)</p>', html, re.S)
    return unescape(found.group(1)) if found else None


def _generate_button(html: str) -> str:
    found = re.search(r"<button[^>]*>(?:(?!</button>).)*Generate new secret", html, re.S)
    assert found is not None, "no Generate new secret button"
    return found.group(0)


async def test_generate_is_disabled_at_two_secrets_and_says_why(admin: AdminBrowser) -> None:
    """With one active secret the button is enabled; with two it is disabled and described by
    a hint that says to revoke one first (in the dashboard, not a CLI command)."""
    app, _ = await create_app(admin, "Billing portal", "web")
    one = await admin.get(f"/admin/apps/{app.id}")
    assert " disabled" not in _generate_button(one.text)

    await admin.services.apps.create_secret(app.id)
    two = await admin.get(f"/admin/apps/{app.id}")
    button = _generate_button(two.text)
    assert " disabled" in button and 'aria-describedby="secret-limit"' in button
    hint = re.search(r'id="secret-limit">(.*?)</p>', two.text, re.S)
    assert hint is not None
    assert (
        "This app has 2 active secrets, the most allowed. Revoke one of them first (the one "
        "nothing uses any more), then generate the new one."
    ) == unescape(hint.group(1))


async def test_revoking_a_secret_asks_first(admin: AdminBrowser) -> None:
    """Revoke shows a confirmation page (nothing revoked yet); confirming revokes that secret
    and it no longer authenticates."""
    app, secret = await create_app(admin, "Billing portal", "web")
    assert secret is not None
    (record,) = await admin.services.apps.list_secrets(app.id)
    path = f"/admin/apps/{app.id}/secrets/{record.id}/revoke"

    confirm = await admin.get(path)
    assert 200 == confirm.status_code
    assert f"Revoke the secret ending in {secret[-4:]}?" in confirm.text
    assert "only active secret" in confirm.text
    assert await admin.services.apps.authenticate(app.client_id, secret) is not None

    done = await admin.post(path)
    page = await admin.follow(done)
    assert f"The secret ending in {secret[-4:]} was revoked." in page.text
    assert await admin.services.apps.authenticate(app.client_id, secret) is None


async def test_invalid_redirect_url_shows_the_rule_by_its_field_and_saves_nothing(
    admin: AdminBrowser,
) -> None:
    """A post-login URL with a query string is refused with the rule's message next to that
    field; none of the four kinds of URL is saved. Valid URLs of every kind are then saved."""
    app, _ = await create_app(admin, "Billing portal", "web")
    form = {
        "redirect_uris": f"{CALLBACK}\nhttps://billing.example.com/cb?next=home",
        "initiate_login_uri": "https://billing.example.com/login",
        "post_logout_redirect_uris": "https://billing.example.com/",
        "backchannel_logout_uri": "https://billing.example.com/backchannel",
    }
    refused = await admin.post(f"/admin/apps/{app.id}/redirects", form)
    assert 400 == refused.status_code
    message = field_error(refused.text, "redirect_uris")
    assert message is not None
    assert "is not allowed (query): it contains a query string ('?next=home')" in message
    assert "Nothing was saved" in refused.text
    for other in ("initiate_login_uri", "post_logout_redirect_uris", "backchannel_logout_uri"):
        assert field_error(refused.text, other) is None
    assert app == await admin.services.apps.get(app.id)

    form["redirect_uris"] = CALLBACK
    saved = await admin.post(f"/admin/apps/{app.id}/redirects", form)
    assert 303 == saved.status_code
    stored = await admin.services.apps.get(app.id)
    assert (CALLBACK,) == stored.redirect_uris
    assert "https://billing.example.com/login" == stored.initiate_login_uri
    assert ("https://billing.example.com/",) == stored.post_logout_redirect_uris
    assert "https://billing.example.com/backchannel" == stored.backchannel_logout_uri


async def test_every_bad_redirect_url_of_the_form_is_reported(admin: AdminBrowser) -> None:
    """Two bad post-login URLs and a bad back-channel URL: each is reported next to its field
    with its own rule, and the banner counts them; nothing is saved."""
    app, _ = await create_app(admin, "Billing portal", "web")
    form = {
        "redirect_uris": f"{CALLBACK}\nhttps://billing.example.com/cb?next=home\n"
        "https://billing.example.com/cb#top",
        "initiate_login_uri": "",
        "post_logout_redirect_uris": "https://billing.example.com/",
        "backchannel_logout_uri": "ftp://billing.example.com/backchannel",
    }
    refused = await admin.post(f"/admin/apps/{app.id}/redirects", form)
    assert 400 == refused.status_code
    post_login = field_error(refused.text, "redirect_uris")
    assert post_login is not None
    first, second = post_login.split("<br>")
    assert "it contains a query string ('?next=home')" in first
    assert "'https://billing.example.com/cb#top' is not allowed" in second
    backchannel = field_error(refused.text, "backchannel_logout_uri")
    assert backchannel is not None and "ftp://billing.example.com/backchannel" in backchannel
    assert field_error(refused.text, "post_logout_redirect_uris") is None
    assert "Nothing was saved: fix the 3 problems marked below." in refused.text
    assert app == await admin.services.apps.get(app.id)


async def test_each_kind_of_url_is_checked_by_its_own_field(admin: AdminBrowser) -> None:
    """A bad back-channel logout URL is reported next to the back-channel field, and a
    wildcard initiate-login URL next to its own."""
    app, _ = await create_app(admin, "Billing portal", "web")
    refused = await admin.post(
        f"/admin/apps/{app.id}/redirects",
        {"redirect_uris": CALLBACK, "backchannel_logout_uri": "ftp://billing.example.com/bc"},
    )
    assert 400 == refused.status_code
    assert "Back-channel logout URI" in (field_error(refused.text, "backchannel_logout_uri") or "")
    refused = await admin.post(
        f"/admin/apps/{app.id}/redirects",
        {"initiate_login_uri": "https://*.example.com/login"},
    )
    assert 400 == refused.status_code
    assert "Initiate-login URI" in (field_error(refused.text, "initiate_login_uri") or "")
    assert () == (await admin.services.apps.get(app.id)).redirect_uris


async def test_wildcard_redirect_is_refused_in_production(
    make_settings: Callable[..., Settings], clock: Clock, tmp_path: Path
) -> None:
    """In production a wildcard post-login URL is refused next to its field (development
    allows ``https://*.acme.com/cb``). Production cookies are Secure, so this runs in-process
    over an https base URL rather than in Chromium over plain http."""
    settings = make_settings(
        ENVIRONMENT="production",
        ISSUER="https://auth.example.test",
        SECRET_KEY="s" * 48,
        DATA_DIR=str(tmp_path / "prod"),
    )
    services = build_services(settings, clock=clock)
    await prepare(services, migrate=True)
    try:
        transport = httpx.ASGITransport(app=create_web_app(services))
        async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as client:
            admin = AdminBrowser(client, services)
            await admin.user(ADMIN_EMAIL, admin=True)
            landed = await admin.sign_in()
            assert 200 == landed.status_code, landed.text[:500]
            app, _ = await create_app(admin, "Acme", "web")
            refused = await admin.post(
                f"/admin/apps/{app.id}/redirects", {"redirect_uris": "https://*.acme.com/cb"}
            )
            assert 400 == refused.status_code
            message = field_error(refused.text, "redirect_uris") or ""
            assert "Redirect URI 'https://*.acme.com/cb' is not allowed" in message
            assert "Production rules" in refused.text
            assert () == (await services.apps.get(app.id)).redirect_uris
    finally:
        await services.engine.dispose()


async def test_wildcard_redirect_is_accepted_in_development(admin: AdminBrowser) -> None:
    """The same wildcard URL is accepted in development."""
    app, _ = await create_app(admin, "Acme", "web")
    saved = await admin.post(
        f"/admin/apps/{app.id}/redirects", {"redirect_uris": "https://*.acme.com/cb"}
    )
    assert 303 == saved.status_code
    assert ("https://*.acme.com/cb",) == (await admin.services.apps.get(app.id)).redirect_uris


async def test_settings_save_and_bad_values_are_explained(admin: AdminBrowser) -> None:
    """Token lifetime, reuse interval, PKCE, management access, introspecting every access
    token and consent are saved; a lifetime at or over the session idle timeout is refused
    with the service's message."""
    app, _ = await create_app(admin, "Billing portal", "web")
    saved = await admin.post(
        f"/admin/apps/{app.id}",
        {
            "name": "Billing",
            "access_token_ttl": "120",
            "refresh_reuse_interval": "5",
            "management_api_access": "on",
            "introspect_all_tokens": "on",
            "third_party": "on",
        },
    )
    assert 303 == saved.status_code
    stored = await admin.services.apps.get(app.id)
    assert ("Billing", 120, 5) == (
        stored.name,
        stored.access_token_ttl,
        stored.refresh_reuse_interval,
    )
    assert (False, True, True, True) == (
        stored.enforce_pkce,
        stored.management_api_access,
        stored.introspect_all_tokens,
        stored.third_party,
    )

    idle = admin.services.settings.session_idle_timeout
    refused = await admin.post(
        f"/admin/apps/{app.id}",
        {"name": "Billing", "access_token_ttl": str(idle), "refresh_reuse_interval": "0"},
    )
    assert 400 == refused.status_code
    assert "must be shorter than the session idle timeout" in (
        field_error(refused.text, "access_token_ttl") or ""
    )
    not_a_number = await admin.post(
        f"/admin/apps/{app.id}",
        {"name": "Billing", "access_token_ttl": "", "refresh_reuse_interval": "soon"},
    )
    assert "Enter a whole number of seconds." == field_error(
        not_a_number.text, "refresh_reuse_interval"
    )
    assert stored == await admin.services.apps.get(app.id)


async def test_deleting_an_app_asks_first_and_its_refresh_tokens_then_fail(
    admin: AdminBrowser,
) -> None:
    """After a confirmation page, deleting an app makes the refresh token it was issued
    useless: the token endpoint answers invalid_client."""
    app, secret = await create_app(admin, "Billing portal", "web")
    assert secret is not None
    await admin.post(f"/admin/apps/{app.id}/redirects", {"redirect_uris": CALLBACK})
    refresh_token = await admin.refresh_token_for(app, secret, CALLBACK)
    rotated = await admin.refresh(app, secret, refresh_token)
    assert 200 == rotated.status_code, rotated.text
    refresh_token = rotated.json()["refresh_token"]

    confirm = await admin.get(f"/admin/apps/{app.id}/delete")
    assert 200 == confirm.status_code
    assert "Delete Billing portal?" in confirm.text
    assert await admin.services.apps.find_by_client_id(app.client_id) is not None

    deleted = await admin.post(f"/admin/apps/{app.id}/delete")
    assert "/admin/apps" == deleted.headers["location"]
    assert "Billing portal was deleted." in (await admin.follow(deleted)).text
    assert await admin.services.apps.find_by_client_id(app.client_id) is None
    failed = await admin.refresh(app, secret, refresh_token)
    assert 401 == failed.status_code
    assert "invalid_client" == failed.json()["error"]


async def test_the_console_app_cannot_be_deleted(admin: AdminBrowser) -> None:
    """The Ostiary Console shows no delete button, its delete page and a forced POST are
    refused, and its redirect URLs cannot be edited."""
    console = await admin.console()
    page = await admin.get(f"/admin/apps/{console.id}")
    assert f"/admin/apps/{console.id}/delete" not in page.text
    assert "cannot be deleted" in page.text
    assert 409 == (await admin.get(f"/admin/apps/{console.id}/delete")).status_code
    forced = await admin.post(f"/admin/apps/{console.id}/delete")
    assert 409 == forced.status_code
    assert "cannot be deleted" in forced.text
    edit = await admin.post(
        f"/admin/apps/{console.id}/redirects", {"redirect_uris": "https://evil.example/cb"}
    )
    assert 409 == edit.status_code
    assert console == await admin.console()


def _copy_buttons(html: str) -> dict[str, str]:
    """``{target id: aria-label}`` of the page's copy buttons."""
    return dict(re.findall(r'<button[^>]*data-copy="([^"]+)" aria-label="([^"]+)"', html))


async def test_client_ids_and_the_shown_secret_have_copy_buttons(admin: AdminBrowser) -> None:
    """The page that shows a new secret has a labelled copy button for it and for the client
    ID, a live region announces the copy, and the script that drives them is served; the
    applications list has one per client ID."""
    app, _ = await create_app(admin, "Billing portal", "web")
    created = await admin.post(f"/admin/apps/{app.id}/secrets")
    page = await admin.follow(created)
    expected = {"new-secret-value": "Copy client secret", "client-id": "Copy client ID"}
    assert expected == _copy_buttons(page.text)
    assert 'role="status" aria-live="polite" id="copy-status"' in page.text
    assert '<script src="/ui/static/admin.js" defer></script>' in page.text

    script = await admin.get("/ui/static/admin.js")
    assert 200 == script.status_code
    assert "javascript" in script.headers["content-type"]

    listing = await admin.get("/admin/apps")
    assert f"Copy client ID of {app.name}" == _copy_buttons(listing.text)[f"client-id-{app.id}"]


async def test_the_secret_mask_is_named_by_text_not_an_aria_label_on_code(
    admin: AdminBrowser,
) -> None:
    """The masked secret is read as "Secret ending in XXXX" from visually hidden text; its
    bullets are hidden from screen readers and the <code> carries no aria-label (which many
    screen readers ignore on a non-interactive element)."""
    app, secret = await create_app(admin, "Billing portal", "web")
    assert secret is not None
    page = await admin.get(f"/admin/apps/{app.id}")
    hint = secret[-4:]
    expected = (
        f'<span class="visually-hidden">Secret ending in {hint}</span>'
        f'<code class="secret-mask" aria-hidden="true">sec_••••••••{hint}</code>'
    )
    assert expected in page.text
    assert re.search(r"<code[^>]*aria-label", page.text) is None
