"""/ui/account/sessions (SPEC §4): a user signs in to see where they are signed in (device, apps,
last active) and ends sessions — another one (its tokens die, its web apps are told) or this
one (this browser is signed out) — but never another user's."""

from __future__ import annotations

import html
import re

from logout_helpers import (
    OTHER_EMAIL,
    SAFARI_IPHONE,
    Browser,
    Harness,
    hidden,
)

from ostiary.domain.sessions import SessionStatus
from ostiary.web.cookies import cookie_names

PATH = "/ui/account/sessions"


def _rows(page: str) -> list[dict[str, str]]:
    """Each listed session: its id, device, apps, last active, and whether it is this device."""
    rows = []
    for item in re.findall(r'<li class="session[^"]*">(.*?)</li>', page, flags=re.S):
        device = re.search(r'class="session-device"[^>]*>\s*<span>([^<]*)</span>', item)
        apps = re.search(r"<dt>Apps</dt>\s*<dd>(.*?)</dd>", item, flags=re.S)
        last = re.search(r"<dt>Last active</dt>\s*<dd>(.*?)</dd>", item, flags=re.S)
        assert device and apps and last, item
        rows.append(
            {
                "id": hidden(item, "session_id"),
                "device": html.unescape(device.group(1)),
                "apps": html.unescape(re.sub(r"<[^>]+>", "", apps.group(1)).strip()),
                "last_active": last.group(1).strip(),
                "current": "yes" if "This device" in item else "no",
            }
        )
    return rows


async def _page(browser: Browser) -> str:
    page = await browser.get(PATH)
    assert 200 == page.status_code, page.text
    return page.text


async def _end(browser: Browser, session_id: str, page: str) -> object:
    return await browser.post(
        PATH, data={"session_id": session_id, "csrf_token": hidden(page, "csrf_token")}
    )


async def test_without_a_session_it_signs_in_and_comes_back(harness: Harness) -> None:
    """No session: the login page; after signing in, back at /ui/account/sessions, which lists
    this browser's session."""
    h = harness
    await h.user()
    first = await h.browser.get(PATH)
    assert (303, "/ui/login") == (first.status_code, first.headers["location"].split("?")[0])
    signed_in = await h.submit_login(h.browser, first.headers["location"])
    assert 303 == signed_in.status_code, signed_in.text
    assert PATH == signed_in.headers["location"].removeprefix(h.issuer)
    rows = _rows(await _page(h.browser))
    assert [("Firefox on Linux", "yes")] == [(r["device"], r["current"]) for r in rows]


async def test_lists_devices_apps_and_last_active(harness: Harness) -> None:
    """Two browsers: each row shows 'browser on system', the names of the apps signed in
    through it, and when it was last active (its latest refresh)."""
    h = harness
    billing, dashboard = await h.web("Billing"), await h.spa("Dashboard")
    await h.user()
    await h.sign_in(h.browser, billing)
    await h.sign_in(h.browser, dashboard)
    phone = h.new_browser(SAFARI_IPHONE)
    h.clock.advance(3600)
    phone_tokens = await h.sign_in(phone, billing)
    h.clock.advance(7200)
    assert 200 == (await h.refresh(billing, phone_tokens.refresh_token)).status_code
    phone_active = h.clock.now().strftime("%d %b %Y, %H:%M UTC")
    rows = {r["device"]: r for r in _rows(await _page(h.browser))}
    assert {"Firefox on Linux", "Safari on iOS"} == set(rows)
    assert ("Billing, Dashboard", "yes") == (
        rows["Firefox on Linux"]["apps"],
        rows["Firefox on Linux"]["current"],
    )
    assert ("Billing", "no", phone_active) == (
        rows["Safari on iOS"]["apps"],
        rows["Safari on iOS"]["current"],
        rows["Safari on iOS"]["last_active"],
    )
    assert await h.sid_of(phone_tokens) == rows["Safari on iOS"]["id"]


async def test_ending_another_session_kills_its_tokens(harness: Harness) -> None:
    """Sign out the phone from the laptop: the phone's refresh token fails, its web app is told,
    the list no longer shows it, the laptop stays signed in."""
    h = harness
    web = await h.web("Billing")
    await h.user()
    laptop_tokens = await h.sign_in(h.browser, web)
    phone = h.new_browser(SAFARI_IPHONE)
    phone_tokens = await h.sign_in(phone, web)
    phone_sid = await h.sid_of(phone_tokens)
    page = await _page(h.browser)
    response = await _end(h.browser, phone_sid, page)
    assert (303, PATH) == (response.status_code, response.headers["location"])
    assert SessionStatus.REVOKED == (await h.session(phone_sid)).status
    refreshed = await h.refresh(web, phone_tokens.refresh_token)
    assert (400, "invalid_grant") == (refreshed.status_code, refreshed.json()["error"])
    await h.services.backchannel.run_once()
    (token,) = h.receiver.tokens()
    assert phone_sid == (await h.verify(token))[1]["sid"]
    assert ["Firefox on Linux"] == [r["device"] for r in _rows(await _page(h.browser))]
    assert 200 == (await h.refresh(web, laptop_tokens.refresh_token)).status_code


async def test_ending_the_current_session_signs_this_browser_out(harness: Harness) -> None:
    """Sign out 'This device': the signed-out page with the cookie cleared, its tokens dead, the
    account page asks for a login again."""
    h = harness
    web = await h.web("Billing")
    await h.user()
    tokens = await h.sign_in(h.browser, web)
    sid = await h.sid_of(tokens)
    response = await _end(h.browser, sid, await _page(h.browser))
    assert 200 == response.status_code, response.text
    assert "You are signed out" in response.text
    assert None is h.browser.session_cookie()
    assert SessionStatus.REVOKED == (await h.session(sid)).status
    refreshed = await h.refresh(web, tokens.refresh_token)
    assert (400, "invalid_grant") == (refreshed.status_code, refreshed.json()["error"])
    again = await h.browser.get(PATH)
    assert (303, "/ui/login") == (again.status_code, again.headers["location"].split("?")[0])


async def test_cannot_end_another_users_session(harness: Harness) -> None:
    """Posting another user's session id: 404 page, that session and its tokens untouched."""
    h = harness
    web = await h.web("Billing")
    await h.user()
    await h.user(OTHER_EMAIL)
    await h.sign_in(h.browser, web)
    other = h.new_browser()
    other_tokens = await h.sign_in(other, web, email=OTHER_EMAIL)
    other_sid = await h.sid_of(other_tokens)
    response = await _end(h.browser, other_sid, await _page(h.browser))
    assert 404 == response.status_code, response.text
    assert "Session not found" in response.text
    assert SessionStatus.ACTIVE == (await h.session(other_sid)).status
    assert 200 == (await h.refresh(web, other_tokens.refresh_token)).status_code
    assert [] == await h.deliveries(other_sid)


async def test_ending_a_session_needs_the_csrf_token(harness: Harness) -> None:
    """A post without the CSRF token: 403, nothing ended."""
    h = harness
    web = await h.web("Billing")
    await h.user()
    tokens = await h.sign_in(h.browser, web)
    sid = await h.sid_of(tokens)
    await _page(h.browser)
    response = await h.browser.post(PATH, data={"session_id": sid})
    assert 403 == response.status_code, response.text
    assert SessionStatus.ACTIVE == (await h.session(sid)).status


async def test_ending_a_session_refuses_a_planted_cookie_and_field(harness: Harness) -> None:
    """The sibling-subdomain attack on double-submit: a CSRF cookie set to the attacker's value
    and the same value posted as the token: 403, nothing ended."""
    h = harness
    web = await h.web("Billing")
    await h.user()
    sid = await h.sid_of(await h.sign_in(h.browser, web))
    await _page(h.browser)
    chosen = "a" * 43
    h.browser.http.cookies.set(
        cookie_names(production=False).browser, chosen, domain="127.0.0.1", path="/"
    )
    response = await h.browser.post(PATH, data={"session_id": sid, "csrf_token": chosen})
    assert 403 == response.status_code, response.text
    assert SessionStatus.ACTIVE == (await h.session(sid)).status


async def test_ending_a_session_refuses_another_users_token(harness: Harness) -> None:
    """A token the attacker read on their own account page (their own session) is refused in
    the victim's browser: 403, nothing ended."""
    h = harness
    web = await h.web("Billing")
    await h.user()
    await h.user(OTHER_EMAIL)
    sid = await h.sid_of(await h.sign_in(h.browser, web))
    attacker = h.new_browser()
    await h.sign_in(attacker, web, email=OTHER_EMAIL)
    token = hidden(await _page(attacker), "csrf_token")
    response = await h.browser.post(PATH, data={"session_id": sid, "csrf_token": token})
    assert 403 == response.status_code, response.text
    assert SessionStatus.ACTIVE == (await h.session(sid)).status
