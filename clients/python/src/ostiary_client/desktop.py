"""Desktop apps (``pip install ostiary-client[desktop]``): sign in through the system browser
with a loopback redirect on 127.0.0.1 (RFC 8252), keep the tokens in the OS keyring, and find
the session again at the next start::

    app = DesktopApp("https://auth.example.com", "ntv_…", app_name="orders-cli")
    user = app.session_at_startup() or app.login()   # silent refresh, else the browser
    httpx.get(API, headers={"authorization": f"Bearer {app.access_token()}"})
    app.logout()                                      # forget the tokens, sign out in the browser

Register ``http://127.0.0.1/callback`` as the native app's redirect URI: Ostiary accepts it
with any port. The app is a public client: no secret, PKCE protects the code.
"""

from __future__ import annotations

import contextlib
import webbrowser
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self, Unpack

import httpx

from ostiary_client._core import DEFAULT_SCOPE
from ostiary_client._loopback import LoopbackServer
from ostiary_client.client import ClientOptions, OstiaryClient
from ostiary_client.errors import LoginRequired, OstiaryError
from ostiary_client.models import TokenSet, User
from ostiary_client.token_storage import (
    FileTokenStorage,
    KeyringTokenStorage,
    TokenStorage,
    default_token_storage,
    user_config_dir,
)

__all__ = [
    "DesktopApp",
    "FileTokenStorage",
    "KeyringTokenStorage",
    "LoopbackServer",
    "TokenStorage",
    "default_token_storage",
    "user_config_dir",
]

Browser = Callable[[str], Any]


class DesktopApp:
    """Sign-in for a desktop (native, public) app.

    ``browser`` opens a URL in the system browser (default ``webbrowser.open``; inject one
    in tests). ``storage`` keeps tokens between runs (default: the OS keyring, or a 0600 file
    under the user's config folder with a warning when there is no keyring). ``client`` or
    ``http`` and the ``ClientOptions`` configure the underlying ``OstiaryClient``.
    """

    def __init__(
        self,
        issuer: str,
        client_id: str,
        *,
        app_name: str | None = None,
        scope: str | Sequence[str] = DEFAULT_SCOPE,
        redirect_path: str = "/callback",
        post_logout_redirect_uri: str | None = None,
        browser: Browser | None = None,
        storage: TokenStorage | None = None,
        client: OstiaryClient | None = None,
        http: httpx.Client | None = None,
        login_timeout: float = 300.0,
        refresh_margin: float = 60.0,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.client = client or OstiaryClient(issuer, client_id, http=http, **options)
        self.app_name = app_name or client_id
        self.scope = tuple(scope.split()) if isinstance(scope, str) else tuple(scope)
        self.redirect_path = redirect_path
        self.post_logout_redirect_uri = post_logout_redirect_uri
        self.login_timeout = login_timeout
        self.refresh_margin = refresh_margin
        self._browser: Browser = browser or webbrowser.open
        self._storage = storage
        self._tokens: TokenSet | None = None

    @property
    def storage(self) -> TokenStorage:
        if self._storage is None:
            self._storage = default_token_storage(self.app_name, self.client.client_id)
        return self._storage

    # -- signing in ----------------------------------------------------------------------

    def session_at_startup(self) -> User | None:
        """The user of the last run, after a silent refresh; None when there is no stored
        session or Ostiary refuses it (signed out elsewhere, session expired): then the stored
        tokens are deleted. Raises ``ProviderError`` when Ostiary cannot be reached (the stored
        session is kept for the next try)."""
        stored = self.storage.load()
        if not stored or not stored.get("refresh_token"):
            return None
        previous = TokenSet.from_dict({**stored, "access_token": ""})
        try:
            self._keep(self.client.refresh(previous))
        except LoginRequired:
            self.forget()
            return None
        return self.user

    def login(
        self,
        *,
        prompt: str | None = None,
        login_hint: str | None = None,
        organization_id: str | None = None,
        timeout: float | None = None,
    ) -> User:
        """Open the system browser at Ostiary's login page and wait for the loopback redirect
        (raises ``LoginTimeout`` after ``timeout`` seconds, or the callback's error)."""
        with LoopbackServer(path=self.redirect_path, app_name=self.app_name) as server:
            request = self.client.authorization_url(
                server.redirect_uri,
                scope=self.scope,
                prompt=prompt,
                login_hint=login_hint,
                organization_id=organization_id,
            )
            server.expect(request.state)
            if self._browser(request.url) is False:
                print(f"Open this address in your browser to sign in:\n{request.url}")
            params = server.wait(self.login_timeout if timeout is None else timeout)
        self._keep(self.client.exchange_code(params, request))
        user = self.user
        assert user is not None
        return user

    @property
    def user(self) -> User | None:
        return User.from_tokens(self._tokens) if self._tokens is not None else None

    def access_token(self) -> str:
        """A current access token, refreshed when it is about to expire. Raises
        ``LoginRequired`` when there is no session or Ostiary refuses the refresh."""
        if self._tokens is None:
            raise LoginRequired("login_required", "Nobody is signed in.")
        if self._tokens.expires_within(self.refresh_margin):
            try:
                self._keep(self.client.refresh(self._tokens))
            except LoginRequired:
                self.forget()
                raise
        return self._tokens.access_token

    # -- signing out ---------------------------------------------------------------------

    def forget(self) -> None:
        """Delete the local tokens (memory and storage) without telling Ostiary."""
        self._tokens = None
        self.storage.delete()

    def logout(self) -> str:
        """Delete the local tokens, revoke the refresh token, then open Ostiary's end-session
        page in the system browser (where Ostiary's session cookie is). Returns its URL."""
        tokens = self._tokens
        stored = self.storage.load() if tokens is None else None
        refresh_token = tokens.refresh_token if tokens else (stored or {}).get("refresh_token")
        id_token = tokens.id_token if tokens else (stored or {}).get("id_token")
        self.forget()
        if refresh_token:
            with contextlib.suppress(OstiaryError):
                self.client.revoke(refresh_token)
        url = self.client.logout_url(
            id_token_hint=id_token, post_logout_redirect_uri=self.post_logout_redirect_uri
        )
        self._browser(url)
        return url

    # -- plumbing ------------------------------------------------------------------------

    def _keep(self, tokens: TokenSet) -> None:
        self._tokens = tokens
        self.storage.save(
            {
                "refresh_token": tokens.refresh_token,
                "id_token": tokens.id_token,
                "id_claims": dict(tokens.id_claims),
                "scope": list(tokens.scope),
            }
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
