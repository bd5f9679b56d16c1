"""The desktop flow: loopback redirect on 127.0.0.1, tokens in the keyring or a 0600 file,
silent refresh at start-up and logout in the browser, against a real Ostiary."""

from __future__ import annotations

import re
import stat
from urllib.parse import parse_qs, urlsplit

import httpx
import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import PasswordDeleteError

from ostiary_client import LoginTimeout
from ostiary_client.desktop import DesktopApp, LoopbackServer


class ScriptedBrowser:
    """Stands in for the system browser: signs in on Ostiary's page over HTTP and follows the
    redirect to the app's loopback server; keeps Ostiary's cookies like a real browser."""

    def __init__(self, live, email: str) -> None:
        self.live = live
        self.email = email
        self.http = httpx.Client()
        self.opened: list[str] = []
        self.pages: list[httpx.Response] = []

    def __call__(self, url: str) -> bool:
        self.opened.append(url)
        if "/oauth/authorize" in url:
            target = self.live.sign_in(self.http, url, self.email)
            self.pages.append(httpx.get(target))  # the loopback server, like the browser would
        else:
            self.pages.append(self.http.get(url))
        return True


class MemoryKeyring(KeyringBackend):
    """A keyring backend that keeps passwords in a dict (stands in for the OS keyring)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        if (service, username) not in self.entries:
            raise PasswordDeleteError("not found")
        del self.entries[(service, username)]


@pytest.fixture
def keyring_backend():
    """Restore the process's keyring backend after a test sets one."""
    before = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(before)


@pytest.fixture
def native(live_ostiary, unique_email, tmp_path, monkeypatch):
    """A native app registered with the loopback redirect, a user, and a scripted browser;
    the user's config folder is a temporary one."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    email = unique_email("desktop")
    live_ostiary.user(email)
    app, _ = live_ostiary.call(
        live_ostiary.services.apps.create(
            "Orders CLI", "native", redirect_uris=["http://127.0.0.1/callback"]
        )
    )
    browser = ScriptedBrowser(live_ostiary, email)
    yield app.client_id, browser, tmp_path / "config" / "orders-cli" / "ostiary-tokens.json"
    browser.http.close()


def make_app(live, client_id, browser, **kwargs) -> DesktopApp:
    return DesktopApp(live.issuer, client_id, app_name="orders-cli", browser=browser, **kwargs)


def test_loopback_login_with_file_fallback(live_ostiary, native, keyring_backend, capsys):
    """Without a keyring, loopback login stores tokens in a 0600 file and warns once."""
    client_id, browser, path = native
    keyring_backend(fail.Keyring())
    with make_app(live_ostiary, client_id, browser) as app:
        user = app.login()
        assert browser.email == user.email
        redirect_uri = parse_qs(urlsplit(browser.opened[0]).query)["redirect_uri"][0]
        assert redirect_uri.startswith("http://127.0.0.1:") and redirect_uri.endswith("/callback")
        assert 200 == browser.pages[0].status_code
        assert "You are signed in" in browser.pages[0].text
        assert 0o600 == stat.S_IMODE(path.stat().st_mode)
        assert 0o700 == stat.S_IMODE(path.parent.stat().st_mode)
        assert "access_token" not in path.read_text()
        app.client.validate_access_token(app.access_token())
    err = capsys.readouterr().err
    assert 1 == err.count("WARNING: no OS keyring is available")
    assert str(path) in err


def test_session_at_startup_refreshes_silently(live_ostiary, native, keyring_backend, capsys):
    """A second run finds the session by silent refresh, without the browser."""
    client_id, browser, path = native
    keyring_backend(fail.Keyring())
    with make_app(live_ostiary, client_id, browser) as first:
        signed_in = first.login()
    before = path.read_text()
    with make_app(live_ostiary, client_id, browser) as second:
        user = second.session_at_startup()
        assert user is not None and signed_in.sub == user.sub
        assert 1 == len(browser.opened)
        assert before != path.read_text()
    assert 1 == capsys.readouterr().err.count("WARNING")


def test_session_at_startup_is_none_after_signing_out_elsewhere(
    live_ostiary, native, keyring_backend
):
    """When the Ostiary session has ended, start-up finds no session and forgets the tokens."""
    client_id, browser, path = native
    keyring_backend(fail.Keyring())
    with make_app(live_ostiary, client_id, browser) as first:
        user = first.login()
    live_ostiary.call(live_ostiary.services.logout.revoke_session(user.sid))
    with make_app(live_ostiary, client_id, browser) as second:
        assert second.session_at_startup() is None
    assert not path.exists()


def test_logout_forgets_tokens_and_signs_out_in_the_browser(live_ostiary, native, keyring_backend):
    """logout deletes the stored tokens and opens Ostiary's end-session page with the hint."""
    client_id, browser, path = native
    keyring_backend(fail.Keyring())
    with make_app(live_ostiary, client_id, browser) as app:
        app.login()
        url = app.logout()
        assert not path.exists()
        assert url == browser.opened[-1]
        query = parse_qs(urlsplit(url).query)
        assert [client_id] == query["client_id"] and query["id_token_hint"]
        assert 200 == browser.pages[-1].status_code
        assert "signed out" in browser.pages[-1].text
        assert app.session_at_startup() is None


def test_tokens_go_to_the_keyring_when_there_is_one(live_ostiary, native, keyring_backend):
    """With a usable keyring backend the tokens are stored there and no file is written."""
    client_id, browser, path = native
    memory = MemoryKeyring()
    keyring_backend(memory)
    with make_app(live_ostiary, client_id, browser) as app:
        app.login()
        assert [("ostiary:orders-cli", client_id)] == list(memory.entries)
        assert not path.exists()
        with make_app(live_ostiary, client_id, browser) as again:
            assert again.session_at_startup() is not None
        app.logout()
        assert {} == memory.entries


def test_login_times_out_without_a_callback(live_ostiary, native, keyring_backend):
    """If the browser never comes back, login raises LoginTimeout."""
    client_id, _, _ = native
    keyring_backend(MemoryKeyring())
    with make_app(live_ostiary, client_id, lambda url: True) as app, pytest.raises(LoginTimeout):
        app.login(timeout=0.3)


def test_loopback_server_ignores_foreign_callbacks():
    """Requests with another path or state get an error page and do not end the wait."""
    with LoopbackServer(app_name="Orders") as server:
        server.expect("s-1")
        base = server.redirect_uri
        assert 404 == httpx.get(base.replace("/callback", "/favicon.ico")).status_code
        assert 400 == httpx.get(f"{base}?code=evil&state=other").status_code
        with pytest.raises(LoginTimeout):
            server.wait(0.2)
        assert 200 == httpx.get(f"{base}?code=c-1&state=s-1").status_code
        assert {"code": "c-1", "state": "s-1"} == server.wait(1)


def test_the_signed_in_page_is_styled_and_self_contained():
    """The page the browser lands on has its own style (light and dark), a heading, and loads
    nothing from anywhere: no external link or script, and a CSP that allows none."""
    with LoopbackServer(app_name="Orders") as server:
        server.expect("s-1")
        page = httpx.get(f"{server.redirect_uri}?code=c-1&state=s-1")
    assert 200 == page.status_code
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<style>" in page.text and "prefers-color-scheme: dark" in page.text
    assert "<h1>You are signed in</h1>" in page.text
    assert "You can close this tab and return to Orders." in page.text
    assert [] == re.findall(r'(?:src|href)="', page.text)
